//! Every setting of the server, from flags with `SEED_*` environment
//! fallbacks. `ec2-server --help` lists them; the README documents them.
//! The settings the Lambda function shares (store, table, store timeout,
//! write token) take their names, defaults and parsers from
//! [`shared::settings`], so both targets read them alike.

use std::ffi::OsString;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use clap::{CommandFactory, FromArgMatches, Parser, ValueEnum};
use shared::settings::{self, parse_delay, parse_duration, InvalidSetting, StoreKind};
use shared::WriteToken;

#[derive(Debug, Clone, Parser)]
#[command(
    name = "ec2-server",
    version,
    about = "Serves the seed over HTTP: GET / answers it, POST / {\"num\": N} stores it."
)]
pub struct Settings {
    /// Address to listen on. Use 0.0.0.0 behind a load balancer.
    #[arg(long, env = "SEED_ADDRESS", default_value = "127.0.0.1")]
    pub address: IpAddr,

    /// TCP port to listen on; 0 picks a free one (it is logged).
    #[arg(long, env = "SEED_PORT", default_value_t = 8080)]
    pub port: u16,

    /// Where the seed lives: `memory` keeps it in this process only;
    /// `dynamodb` shares it between every instance and keeps it across
    /// restarts (needs --table). Unset: `dynamodb` when --table is given,
    /// else `memory`.
    #[arg(long = "store", value_name = "STORE", env = settings::store::VARIABLE, value_parser = settings::store::parse)]
    pub store_flag: Option<StoreKind>,

    /// DynamoDB table holding the seed (partition key `id`, a string). Region,
    /// credentials and endpoint come from the standard AWS chain
    /// (AWS_REGION, AWS_ENDPOINT_URL_DYNAMODB, instance profile).
    #[arg(long, env = settings::table::VARIABLE, value_parser = settings::table::parse, required_if_eq("store_flag", "dynamodb"))]
    pub table: Option<String>,

    /// Bound on one store call, the SDK's retries included; past it the
    /// client gets 503 with Retry-After.
    #[arg(long, env = settings::store_timeout::VARIABLE, value_parser = settings::store_timeout::parse, default_value = settings::store_timeout::DEFAULT_TEXT)]
    pub store_timeout: Duration,

    /// Create the DynamoDB table at start-up if it is missing. For local
    /// development: it needs CreateTable and DescribeTable permissions.
    #[arg(long, env = "SEED_CREATE_TABLE")]
    pub create_table: bool,

    /// Log filter: a level (`info`, `debug`), or a default level and
    /// per-target levels (`warn,shared=debug`). `debug` logs one line per
    /// request.
    #[arg(long, env = "SEED_LOG_LEVEL", default_value = "info")]
    pub log_level: String,

    /// Log line format.
    #[arg(long, env = "SEED_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// How long a client may take to send a request's headers, from its first
    /// byte. Slower clients are disconnected.
    #[arg(long, env = "SEED_HEADER_READ_TIMEOUT", value_parser = parse_duration, default_value = "10s")]
    pub header_read_timeout: Duration,

    /// How long a client may take to send a request body, from the end of its
    /// headers. Slower clients get 408 and are disconnected.
    #[arg(long, env = "SEED_BODY_READ_TIMEOUT", value_parser = parse_duration, default_value = "10s")]
    pub body_read_timeout: Duration,

    /// How long an idle keep-alive connection is kept open. Keep it longer
    /// than the load balancer's idle timeout (60 s on an ALB).
    #[arg(long, env = "SEED_IDLE_TIMEOUT", value_parser = parse_duration, default_value = "75s")]
    pub idle_timeout: Duration,

    /// On SIGTERM or SIGINT, how long to keep serving as a lame duck before
    /// draining: health checks from a load balancer (User-Agent
    /// ELB-HealthChecker/...) get 503 and every response says Connection:
    /// close, so the balancer stops routing here before the server stops
    /// accepting. Set it above the time the balancer's health check takes to
    /// mark a target down (the EC2 stack's unit sets 30s); 0s stops at once.
    #[arg(long, env = "SEED_SHUTDOWN_DELAY", value_parser = parse_delay, default_value = "0s")]
    pub shutdown_delay: Duration,

    /// On SIGTERM or SIGINT, after the shutdown delay, how long in-flight
    /// requests may take to finish before the server exits anyway.
    #[arg(long, env = "SEED_SHUTDOWN_TIMEOUT", value_parser = parse_duration, default_value = "10s")]
    pub shutdown_timeout: Duration,

    /// A name for this instance (an EC2 instance id, say), sent in an
    /// `X-Seed-Instance` header on every response. Unset: no header.
    #[arg(long, env = "SEED_INSTANCE_NAME")]
    pub instance_name: Option<String>,

    /// A file holding the write token: POST then needs `Authorization: Bearer
    /// <token>`; GET stays open. Or put the token itself in SEED_WRITE_TOKEN
    /// (there is no flag for it: command lines are visible to other users).
    /// Unset: anyone may POST, as the classic service allows.
    #[arg(long, env = "SEED_WRITE_TOKEN_FILE")]
    pub write_token_file: Option<std::path::PathBuf>,

    /// Most client connections open at once; further clients wait in the
    /// listen backlog until one closes. Each connection can make the server
    /// hold at most about 81 KiB (a 64 KiB body being read), so the default
    /// bounds the server near 330 MiB, within a 1 GiB instance.
    #[arg(long, env = "SEED_MAX_CONNECTIONS", default_value_t = 4096, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_connections: u32,

    /// The value of SEED_WRITE_TOKEN, which has no flag: read by
    /// [`Settings::load`] only, so that settings built from flags alone (the
    /// tests') see nothing of the shell they run in.
    #[arg(skip)]
    pub write_token_variable: Option<OsString>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

/// Where the write token came from, for the start-up log (never the token).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenSource {
    File,
    Environment,
}

#[derive(Debug, thiserror::Error)]
pub enum WriteTokenError {
    #[error("cannot read the write token file {path}")]
    Unreadable {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("the write token from {from} is not usable")]
    Invalid {
        from: String,
        source: InvalidSetting,
    },
    #[error("both --write-token-file and SEED_WRITE_TOKEN are set; keep one")]
    Ambiguous,
}

impl Settings {
    /// The settings from the command line and the environment; exits with
    /// clap's message (and usage) when they are not valid. An empty `SEED_*`
    /// variable counts as unset, as on Lambda ([`shared::settings`]).
    pub fn load() -> Self {
        let command = ignoring_environment(Settings::command(), |name| {
            std::env::var_os(name).is_some_and(|value| value.is_empty())
        });
        let matches = command.get_matches();
        let mut settings =
            Settings::from_arg_matches(&matches).unwrap_or_else(|error| error.exit());
        settings.write_token_variable = std::env::var_os(settings::write_token::VARIABLE);
        settings
    }

    /// The settings these flags give, every environment fallback ignored:
    /// what a `SEED_*` variable exported in the caller's shell says does not
    /// count.
    pub fn try_from_flags<I, T>(flags: I) -> Result<Self, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<OsString> + Clone,
    {
        let command = ignoring_environment(Settings::command(), |_| true);
        Settings::from_arg_matches(&command.try_get_matches_from(flags)?)
    }

    /// The write token, from the file named by `--write-token-file` or from
    /// `SEED_WRITE_TOKEN`, with where it came from.
    pub fn write_token(&self) -> Result<Option<(WriteToken, TokenSource)>, WriteTokenError> {
        resolve_write_token(
            self.write_token_file.as_deref(),
            self.write_token_variable.clone(),
        )
    }

    /// The store: the one named, or the one the table implies.
    pub fn store(&self) -> StoreKind {
        self.store_flag
            .unwrap_or_else(|| settings::store::default_for(self.table.as_deref()))
    }

    pub fn listen_address(&self) -> SocketAddr {
        SocketAddr::new(self.address, self.port)
    }

    /// The settings a test wants: loopback, a free port, the in-memory store
    /// and the defaults for everything else.
    pub fn for_tests() -> Self {
        Settings::try_from_flags(["ec2-server", "--port", "0"])
            .unwrap_or_else(|error| panic!("the test settings are valid: {error}"))
    }
}

/// `command` without the environment fallback of each argument whose
/// variable is `ignored`, so that clap reads such a variable as unset.
fn ignoring_environment(
    command: clap::Command,
    ignored: impl Fn(&std::ffi::OsStr) -> bool,
) -> clap::Command {
    let without_fallback: Vec<clap::Id> = command
        .get_arguments()
        .filter(|arg| arg.get_env().is_some_and(&ignored))
        .map(|arg| arg.get_id().clone())
        .collect();
    without_fallback.into_iter().fold(command, |command, id| {
        command.mut_arg(id, |arg| arg.env(None))
    })
}

/// The write token from a file or the environment's value, refusing both.
pub fn resolve_write_token(
    file: Option<&std::path::Path>,
    environment: Option<OsString>,
) -> Result<Option<(WriteToken, TokenSource)>, WriteTokenError> {
    // Not UTF-8 cannot be a token: the lossy text is refused by the parser.
    let environment =
        settings::non_empty(environment.map(|value| value.to_string_lossy().into_owned()));
    let (text, from, source) = match (file, environment) {
        (Some(_), Some(_)) => return Err(WriteTokenError::Ambiguous),
        (None, None) => return Ok(None),
        (Some(path), None) => {
            let text =
                std::fs::read_to_string(path).map_err(|source| WriteTokenError::Unreadable {
                    path: path.to_path_buf(),
                    source,
                })?;
            (text, path.display().to_string(), TokenSource::File)
        }
        (None, Some(text)) => (
            text,
            settings::write_token::VARIABLE.to_string(),
            TokenSource::Environment,
        ),
    };
    let token = settings::write_token::parse(&text)
        .map_err(|source| WriteTokenError::Invalid { from, source })?;
    Ok(Some((token, source)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn flags_are_consistent() {
        Settings::command().debug_assert();
    }

    #[test]
    fn durations_are_human_and_positive() {
        let settings = Settings::try_from_flags([
            "ec2-server",
            "--idle-timeout",
            "2m",
            "--body-read-timeout",
            "500ms",
        ])
        .unwrap();
        assert_eq!(settings.idle_timeout, Duration::from_secs(120));
        assert_eq!(settings.body_read_timeout, Duration::from_millis(500));
        assert!(Settings::try_from_flags(["ec2-server", "--idle-timeout", "0s"]).is_err());
        assert!(Settings::try_from_flags(["ec2-server", "--idle-timeout", "soon"]).is_err());
    }

    #[test]
    fn the_shutdown_delay_is_off_by_default_and_may_be_zero() {
        let settings = Settings::try_from_flags(["ec2-server"]).unwrap();
        assert_eq!(settings.shutdown_delay, Duration::ZERO);
        let settings = Settings::try_from_flags(["ec2-server", "--shutdown-delay", "30s"]).unwrap();
        assert_eq!(settings.shutdown_delay, Duration::from_secs(30));
        assert!(Settings::try_from_flags(["ec2-server", "--shutdown-delay", "later"]).is_err());
    }

    #[test]
    fn dynamodb_needs_a_table() {
        assert!(Settings::try_from_flags(["ec2-server", "--store", "dynamodb"]).is_err());
        let settings =
            Settings::try_from_flags(["ec2-server", "--store", "dynamodb", "--table", "seeds"])
                .unwrap();
        assert_eq!(settings.store(), StoreKind::Dynamodb);
        let implied = Settings::try_from_flags(["ec2-server", "--table", "seeds"]).unwrap();
        assert_eq!(implied.store(), StoreKind::Dynamodb);
        let default = Settings::try_from_flags(["ec2-server"]).unwrap();
        assert_eq!(default.store(), StoreKind::Memory);
        assert_eq!(settings.table.as_deref(), Some("seeds"));
        assert_eq!(settings.store_timeout, Duration::from_secs(2));
    }
}
