# shellcheck shell=bash
# Helpers the scripts share; source it: . "$(dirname "$0")/lib.sh"
# It sets `root` (the workspace) and `tools` (.tools/, what the scripts
# install), and defines the functions below.

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tools="$root/.tools"

# free_port: a loopback port no socket uses right now, from the kernel's
# ephemeral range as bind(0) would pick, at random so that two callers
# rarely pick alike (the tests' ports, harness/src/ports.rs, lie below it).
free_port() {
  local low high port
  read -r low high < /proc/sys/net/ipv4/ip_local_port_range
  for _ in $(seq 100); do
    port=$((low + (RANDOM * 32768 + RANDOM) % (high - low)))
    used_sockets "$port" any | grep -q . || { echo "$port"; return 0; }
  done
  echo "no free loopback port in $low..$high" >&2
  return 1
}

# used_sockets PORT listening|any: the socket inodes (socket:[N]) on PORT.
used_sockets() {
  awk -v port="$(printf ':%04X' "$1")" -v state="$2" \
    'FNR > 1 && substr($2, length($2) - 4) == port && (state == "any" || $4 == "0A") {
       print "socket:[" $10 "]" }' /proc/net/tcp /proc/net/tcp6 2>/dev/null
}

# alive PID: whether PID runs (a zombie nobody has reaped holds no socket).
alive() {
  [ -r "/proc/$1/stat" ] && ! grep -qE '^[0-9]+ \(.*\) Z ' "/proc/$1/stat" 2>/dev/null
}

# wait_for_port PID PORT SECONDS NAME LOG: until process PID itself listens
# on loopback PORT. A port chosen free can be taken by another process
# before PID binds it; then PID fails to bind and exits, while something
# else answers on the port: so what counts is a listening socket among
# PID's own. Fails, printing the end of LOG, if PID exits or SECONDS pass.
wait_for_port() {
  local deadline=$((SECONDS + $3)) listening
  while alive "$1" && [ "$SECONDS" -lt "$deadline" ]; do
    listening=$(used_sockets "$2" listening)
    if [ -n "$listening" ] && find "/proc/$1/fd" -maxdepth 1 -type l -printf '%l\n' 2>/dev/null \
        | grep -qxF "$listening"; then
      return 0
    fi
    sleep 0.2
  done
  echo "$4 (pid $1) did not listen on port $2 within $3 s; the end of its log ($5):" >&2
  tail -n 30 "$5" >&2 || true
  return 1
}

# pinned NAME: NAME's version from scripts/tools.pins, the one list of the
# tools' versions; fails if NAME is not there.
pinned() {
  local version
  version=$(awk -v name="$1" '$1 !~ /^#/ && $2 == name { print $3 }' "$root/scripts/tools.pins")
  [ -n "$version" ] || { echo "$1 has no version in scripts/tools.pins" >&2; return 1; }
  echo "$version"
}

# The Python tools, in one venv of the project's own (stock Debian and
# Ubuntu refuse pip installs into the system Python): the SAM CLI (with its
# cfn-lint), cargo-lambda and zig, its linker, at their pinned versions.
# Installs what is missing or at another version and puts the venv first on
# PATH, so `sam`, `cfn-lint`, `cargo lambda` and the `python3 -m ziglang`
# that cargo-lambda runs are these.
python_tools() {
  local venv="$tools/venv" package wanted=() missing=()
  for package in aws-sam-cli cfn-lint cargo-lambda ziglang; do
    wanted+=("$package==$(pinned "$package")")
  done
  for package in "${wanted[@]}"; do
    [ "$("$venv/bin/python" -c 'import importlib.metadata as m, sys; print(m.version(sys.argv[1]))' \
        "${package%%==*}" 2>/dev/null)" = "${package##*==}" ] || missing+=("$package")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "==> installing ${missing[*]} (pip, into .tools/venv)" >&2
    [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "${wanted[@]}" >&2 # pinned
  fi
  export PATH="$venv/bin:$PATH"
  export SAM_CLI_TELEMETRY=0
}

# pinned_tool PACKAGE [EXTRAS]: PACKAGE[EXTRAS] at its pinned version in a
# venv of its own, .tools/PACKAGE, installed unless that version is there.
pinned_tool() {
  local venv="$tools/$1" installed version
  version=$(pinned "$1") || return 1
  installed=$("$venv/bin/python" -c \
    'import importlib.metadata as m, sys; print(m.version(sys.argv[1]))' "$1" 2>/dev/null || true)
  if [ "$installed" != "$version" ]; then
    echo "==> installing $1${2:-}==$version (pip, into .tools/$1)" >&2
    [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "$1${2:-}==$version" >&2 # pinned
  fi
}

# checkov, the templates' security scanner (its dependencies pin versions
# the SAM CLI's clash with); pinned, so that a new release's new checks
# cannot turn the suite red by themselves. Prints the path of its
# executable.
checkov_tool() {
  pinned_tool checkov
  echo "$tools/checkov/bin/checkov"
}

# moto, the tests' stand-in for SSM Parameter Store, which cannot run here
# (harness/src/parameter_store.rs). Prints the path of its server.
moto_tool() {
  pinned_tool moto "[server]"
  echo "$tools/moto/bin/moto_server"
}

# The API's OpenAPI document's validator and schemathesis, the API tester
# run from it (harness/src/openapi.rs). Each prints its executable's path.
openapi_validator_tool() {
  pinned_tool openapi-spec-validator
  echo "$tools/openapi-spec-validator/bin/openapi-spec-validator"
}
schemathesis_tool() {
  pinned_tool schemathesis
  echo "$tools/schemathesis/bin/st"
}

# cargo_tool NAME: the crate NAME's binaries at their pinned version, in
# cargo's own bin folder (shared by every clone on the machine: built from
# source once, which takes minutes), unless that version is there.
cargo_tool() {
  local version
  version=$(pinned "$1") || return 1
  if ! cargo install --list | grep -qx "$1 v$version:"; then
    echo "==> installing $1 $version (cargo install)" >&2
    cargo install --quiet --locked --force "$1@$version" >&2 # pinned
  fi
}

# docker_daemon LOG: starts the Docker daemon (logging to LOG) unless one
# answers already, and waits until it does. Sets started_dockerd to the
# daemon's pid when it started it; stop_dockerd stops only that one.
started_dockerd=""
docker_daemon() {
  docker info >/dev/null 2>&1 && return 0
  echo "==> starting the Docker daemon" >&2
  dockerd > "$1" 2>&1 &
  started_dockerd=$!
  local deadline=$((SECONDS + 60))
  until docker info >/dev/null 2>&1; do
    if [ $SECONDS -ge $deadline ] || ! kill -0 "$started_dockerd" 2>/dev/null; then
      echo "the Docker daemon did not start; its log:" >&2
      tail -n 30 "$1" >&2
      return 1
    fi
    sleep 0.5
  done
}
stop_dockerd() {
  if [ -n "$started_dockerd" ]; then
    kill "$started_dockerd" 2>/dev/null || true
    wait "$started_dockerd" 2>/dev/null || true
    started_dockerd=""
  fi
}

# busybox_image IMAGE BINARY [DIR...]: imports IMAGE into Docker unless it
# exists: busybox and its applets in /bin, /tmp, the C libraries BINARY
# links, and the empty folders DIR... (nothing can be pulled here).
busybox_image() {
  local image=$1 binary=$2 rootfs applet library
  shift 2
  docker image inspect "$image" >/dev/null 2>&1 && return 0
  echo "==> building $image (busybox and the C libraries of $(basename "$binary"))" >&2
  rootfs=$(mktemp -d)
  mkdir -p "$rootfs/bin" "$rootfs/tmp"
  chmod 1777 "$rootfs/tmp"
  for dir in "$@"; do mkdir -p "$rootfs$dir"; done
  cp /bin/busybox "$rootfs/bin/busybox"
  for applet in $("$rootfs/bin/busybox" --list); do
    [ -e "$rootfs/bin/$applet" ] || ln -s busybox "$rootfs/bin/$applet"
  done
  for library in $(ldd "$binary" | grep -o '/[^ ]*'); do
    mkdir -p "$rootfs$(dirname "$library")"
    cp -L "$library" "$rootfs$library"
  done
  tar -C "$rootfs" -c . | docker import - "$image" >/dev/null
  rm -rf "$rootfs"
}

# apt_install PACKAGE...: installs Debian packages that are missing (root).
apt_install() {
  local missing=()
  for package in "$@"; do
    dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" != 0 ]; then
    echo "needed: sudo apt-get install -y ${missing[*]}" >&2
    return 1
  fi
  echo "==> installing ${missing[*]} (apt)" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}
