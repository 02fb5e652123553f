//! Every setting of the server, from flags with `SEED_*` environment
//! fallbacks. `ec2-server --help` lists them; docs/configuration.md
//! documents them. The ones the Lambda function shares are
//! [`SharedSettings`], read alike by both.

use std::ffi::OsString;
use std::io;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::error::ErrorKind;
use clap::{CommandFactory, Parser, ValueEnum};
use shared::settings::{
    self, parse_delay, parse_duration, SettingsError, SharedSettings, TokenSource,
};
use shared::{InvalidWriteToken, WriteToken};

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

    #[command(flatten)]
    pub shared: SharedSettings,

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

    /// A file holding the write token: POST then needs `Authorization: Bearer
    /// <token>`; GET stays open. Or put the token itself in SEED_WRITE_TOKEN
    /// (there is no flag for it: command lines are visible to other users).
    /// Unset: anyone may POST, as the classic service allows.
    #[arg(long, env = "SEED_WRITE_TOKEN_FILE")]
    pub write_token_file: Option<PathBuf>,

    /// Most client connections open at once; further clients wait in the
    /// listen backlog until one closes. Each connection can make the server
    /// hold at most about 81 KiB (a 64 KiB body being read), so the default
    /// bounds the server near 330 MiB, within a 1 GiB instance.
    #[arg(long, env = "SEED_MAX_CONNECTIONS", default_value_t = 4096, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_connections: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

#[derive(Debug, thiserror::Error)]
pub enum WriteTokenError {
    #[error("cannot read the write token file {path}")]
    Unreadable { path: PathBuf, source: io::Error },
    #[error("the write token in {path} is not usable")]
    Invalid {
        path: PathBuf,
        source: InvalidWriteToken,
    },
    #[error(transparent)]
    Ambiguous(#[from] SettingsError),
}

impl AsMut<SharedSettings> for Settings {
    fn as_mut(&mut self) -> &mut SharedSettings {
        &mut self.shared
    }
}

impl Settings {
    /// The settings from the command line over the environment; exits with
    /// clap's message (and usage) when they are not valid.
    pub fn load() -> Self {
        settings::read(std::env::args_os().collect(), |name| {
            std::env::var(name).ok()
        })
        .unwrap_or_else(|error| match error {
            SettingsError::Arguments(error) => error.exit(),
            other => Settings::command()
                .error(ErrorKind::ValueValidation, other)
                .exit(),
        })
    }

    /// The settings these flags give, the caller's environment unread.
    pub fn try_from_flags<T: Into<OsString>>(
        flags: impl IntoIterator<Item = T>,
    ) -> Result<Self, SettingsError> {
        settings::read(flags.into_iter().map(Into::into).collect(), |_| None)
    }

    /// The write token and where it is from, its file read if it has one.
    pub fn write_token(
        &self,
    ) -> Result<Option<(WriteToken, TokenSource<PathBuf>)>, WriteTokenError> {
        let source = self
            .shared
            .write_token(self.write_token_file.clone(), "SEED_WRITE_TOKEN_FILE")?;
        let token = match &source {
            None => return Ok(None),
            Some(TokenSource::Variable(token)) => token.clone(),
            Some(TokenSource::Reference(path)) => read_token_file(path)?,
        };
        Ok(source.map(|source| (token, source)))
    }
}

fn read_token_file(path: &Path) -> Result<WriteToken, WriteTokenError> {
    let text = std::fs::read_to_string(path).map_err(|source| WriteTokenError::Unreadable {
        path: path.to_path_buf(),
        source,
    })?;
    WriteToken::new(&text).map_err(|source| WriteTokenError::Invalid {
        path: path.to_path_buf(),
        source,
    })
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
}
