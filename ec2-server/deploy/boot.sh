#!/bin/sh
# What an instance of the EC2 stack runs at boot: its user data is a header
# that sets the variables below, then this file verbatim (a test keeps the
# two equal). It installs ec2-server and its unit, starts the server, and
# tells CloudFormation whether the server answers GET / on this instance:
# SUCCESS only after a 200, FAILURE on anything else, so that a wrong
# binary, a wrong architecture or a missing table rolls the deployment
# back instead of completing it.
#
#   SEED_BINARY_URL       s3://bucket/key of the ec2-server binary
#   SEED_TABLE            the DynamoDB table
#   AWS_REGION            the stack's region
#   SEED_STACK            the stack's name
#   SEED_SIGNAL_RESOURCE  the logical id of the Auto Scaling group
#   SEED_WRITE_TOKEN_PARAMETER  an SSM SecureString holding the write token,
#                         or empty for open writes
#   SEED_LOG_GROUP        the CloudWatch Logs group the server's log goes to
#   SEED_READY_SECONDS    how long the server may take to answer (default 120)
set -eu
: "${SEED_BINARY_URL:?}" "${SEED_TABLE:?}" "${AWS_REGION:?}" "${SEED_STACK:?}" "${SEED_SIGNAL_RESOURCE:?}"
: "${SEED_LOG_GROUP:?}"
ready_seconds="${SEED_READY_SECONDS:-120}"

# The instance id, from the instance metadata service (IMDSv2).
metadata_token=$(curl -fsS -X PUT http://169.254.169.254/latest/api/token \
  -H 'X-aws-ec2-metadata-token-ttl-seconds: 60')
instance=$(curl -fsS -H "X-aws-ec2-metadata-token: $metadata_token" \
  http://169.254.169.254/latest/meta-data/instance-id)

signal() {
  aws cloudformation signal-resource --region "$AWS_REGION" \
    --stack-name "$SEED_STACK" --logical-resource-id "$SEED_SIGNAL_RESOURCE" \
    --unique-id "$instance" --status "$1"
}
# Whatever fails from here on (set -e) reports FAILURE.
trap 'signal FAILURE' EXIT

aws s3 cp "$SEED_BINARY_URL" /usr/local/bin/ec2-server
chmod 0755 /usr/local/bin/ec2-server
mkdir -p /etc/seed
cat > /etc/seed/seed.env <<ENV
SEED_ADDRESS=0.0.0.0
SEED_PORT=80
SEED_STORE=dynamodb
SEED_TABLE=$SEED_TABLE
SEED_INSTANCE_NAME=$instance
SEED_SERVICE=$SEED_STACK
AWS_REGION=$AWS_REGION
ENV
if [ -n "${SEED_WRITE_TOKEN_PARAMETER:-}" ]; then
  # The token goes from the parameter store into a root-only file (the
  # umask holds from its first byte), never into the environment or a
  # unit; systemd hands it to the service's dynamic user as a credential.
  (umask 077 && aws ssm get-parameter --region "$AWS_REGION" \
    --name "$SEED_WRITE_TOKEN_PARAMETER" --with-decryption \
    --query Parameter.Value --output text > /etc/seed/write-token)
  mkdir -p /etc/systemd/system/seed.service.d
  cat > /etc/systemd/system/seed.service.d/write-token.conf <<'DROPIN'
[Service]
LoadCredential=write-token:/etc/seed/write-token
Environment=SEED_WRITE_TOKEN_FILE=%d/write-token
DROPIN
fi
cat > /etc/systemd/system/seed.service <<'UNIT'
[Unit]
Description=seed service (ec2-server)
Wants=network-online.target
After=network-online.target

[Service]
Type=exec
ExecStart=/usr/local/bin/ec2-server
EnvironmentFile=/etc/seed/seed.env
Environment=SEED_LOG_FORMAT=json
StandardOutput=append:/var/log/seed.log
StandardError=inherit
DynamicUser=yes
AmbientCapabilities=CAP_NET_BIND_SERVICE
CapabilityBoundingSet=CAP_NET_BIND_SERVICE
NoNewPrivileges=yes
ProtectSystem=strict
ProtectHome=yes
PrivateTmp=yes
PrivateDevices=yes
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectKernelLogs=yes
ProtectControlGroups=yes
ProtectClock=yes
ProtectHostname=yes
ProtectProc=invisible
RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX
RestrictNamespaces=yes
RestrictRealtime=yes
RestrictSUIDSGID=yes
LockPersonality=yes
MemoryDenyWriteExecute=yes
SystemCallArchitectures=native
SystemCallFilter=@system-service
SystemCallFilter=~@privileged @resources
UMask=0077
LimitNOFILE=65536
Environment=SEED_SHUTDOWN_DELAY=30s
Restart=on-failure
RestartSec=1s
KillSignal=SIGTERM
TimeoutStopSec=50s

[Install]
WantedBy=multi-user.target
UNIT

# The server's log file (the unit's StandardOutput) goes to the stack's log
# group, one stream per instance, through the CloudWatch agent; logrotate
# keeps the copy on disk small (copytruncate: systemd holds the file open).
dnf install -y amazon-cloudwatch-agent logrotate
cat > /etc/logrotate.d/seed <<'ROTATE'
/var/log/seed.log {
    daily
    maxsize 50M
    rotate 3
    compress
    missingok
    notifempty
    copytruncate
}
ROTATE
agent=/opt/aws/amazon-cloudwatch-agent
cat > "$agent/etc/seed.json" <<AGENT
{
  "logs": {
    "logs_collected": {
      "files": {
        "collect_list": [
          {
            "file_path": "/var/log/seed.log",
            "log_group_name": "$SEED_LOG_GROUP",
            "log_stream_name": "{instance_id}",
            "timezone": "UTC"
          }
        ]
      }
    }
  }
}
AGENT
"$agent/bin/amazon-cloudwatch-agent-ctl" -a fetch-config -m ec2 -s -c "file:$agent/etc/seed.json"

systemctl daemon-reload
systemctl enable --now seed.service

# Serving means answering GET / with 200, which reads the table: the same
# check the balancer makes.
waited=0
until curl -fsS -o /dev/null --max-time 5 http://127.0.0.1/; do
  waited=$((waited + 1))
  if [ "$waited" -ge "$ready_seconds" ]; then
    echo "ec2-server did not answer GET / within $ready_seconds s" >&2
    exit 1
  fi
  sleep 1
done
trap - EXIT
signal SUCCESS
