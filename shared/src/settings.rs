//! The settings both targets share, as clap arguments, and the one way both
//! read their `SEED_*` variables ([`read`]). An empty variable is unset:
//! deployment tools set to empty what they cannot leave out (a template's
//! empty default, `sam local`'s `AWS::NoValue`, systemd's `Environment=N=`).

use std::ffi::OsString;
use std::time::Duration;

use clap::builder::{FalseyValueParser, TypedValueParser};
use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::parser::ValueSource;
use clap::{Args, ValueEnum};

use crate::handler::InstanceName;
use crate::telemetry::TelemetrySettings;
use crate::write_token::WriteToken;

/// The store's call bound when none is set.
pub const DEFAULT_STORE_TIMEOUT: Duration = Duration::from_secs(2);

/// The variable holding the write token; no flag, as command lines are public.
pub const WRITE_TOKEN_VARIABLE: &str = "SEED_WRITE_TOKEN";

/// What both targets read alike.
#[derive(Debug, Clone, Args)]
pub struct SharedSettings {
    /// Where the seed lives: `memory` keeps it in this process only;
    /// `dynamodb` shares it between every instance and keeps it across
    /// restarts (needs --table). Unset: `dynamodb` when --table is given,
    /// else `memory`.
    #[arg(long = "store", value_name = "STORE", env = "SEED_STORE", value_enum)]
    store: Option<StoreKind>,

    /// DynamoDB table holding the seed (partition key `id`, a string). Region,
    /// credentials and endpoint come from the standard AWS chain
    /// (AWS_REGION, AWS_ENDPOINT_URL_DYNAMODB, instance profile).
    #[arg(long, env = "SEED_TABLE", value_parser = parse_table)]
    table: Option<String>,

    /// Bound on one store call, the SDK's retries included; past it the
    /// client gets 503 with Retry-After.
    #[arg(long, env = "SEED_STORE_TIMEOUT", value_parser = parse_duration, default_value = "2s")]
    pub store_timeout: Duration,

    /// A name for this instance (an EC2 instance id, say), sent in an
    /// `X-Seed-Instance` header on every response. Unset: no header.
    #[arg(long, env = "SEED_INSTANCE_NAME", value_parser = InstanceName::parse)]
    pub instance_name: Option<InstanceName>,

    #[command(flatten)]
    pub telemetry: TelemetrySettings,

    /// The write token from `SEED_WRITE_TOKEN`, filled in by [`read`].
    #[arg(skip)]
    write_token: Option<WriteToken>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum StoreKind {
    /// In this process only: lost on exit, not shared between instances.
    Memory,
    /// One item in a DynamoDB table: shared and durable.
    Dynamodb,
}

/// Where the write token comes from: `SEED_WRITE_TOKEN`, or the target's own
/// source (a file on the server, a Parameter Store name on Lambda).
#[derive(Debug, Clone)]
pub enum TokenSource<Reference> {
    Variable(WriteToken),
    Reference(Reference),
}

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// `setting` names the variable, and its value unless it is secret.
    #[error("{setting} is not usable: {reason}")]
    Variable { setting: String, reason: String },
    #[error("the dynamodb store needs a table: set --table or SEED_TABLE")]
    TableMissing,
    #[error("both {WRITE_TOKEN_VARIABLE} and {0} are set; keep one")]
    AmbiguousWriteToken(&'static str),
    #[error(transparent)]
    Arguments(#[from] clap::Error),
}

impl SharedSettings {
    /// The table when the store is DynamoDB, named or implied by a table.
    pub fn dynamodb_table(&self) -> Option<&str> {
        match self.store {
            Some(StoreKind::Memory) => None,
            Some(StoreKind::Dynamodb) | None => self.table.as_deref(),
        }
    }

    /// The write token's source: `SEED_WRITE_TOKEN` or the target's own
    /// `reference` (set through `variable`), never both.
    pub fn write_token<R>(
        &self,
        reference: Option<R>,
        variable: &'static str,
    ) -> Result<Option<TokenSource<R>>, SettingsError> {
        match (self.write_token.clone(), reference) {
            (Some(_), Some(_)) => Err(SettingsError::AmbiguousWriteToken(variable)),
            (Some(token), None) => Ok(Some(TokenSource::Variable(token))),
            (None, reference) => Ok(reference.map(TokenSource::Reference)),
        }
    }

    /// Refuses DynamoDB without a table, and adds the token, which has no flag.
    fn check_and_add_token(
        &mut self,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<(), SettingsError> {
        if self.store == Some(StoreKind::Dynamodb) && self.table.is_none() {
            return Err(SettingsError::TableMissing);
        }
        let token = non_empty(lookup(WRITE_TOKEN_VARIABLE)).map(|text| WriteToken::new(&text));
        self.write_token = token.transpose().map_err(|error| SettingsError::Variable {
            setting: WRITE_TOKEN_VARIABLE.to_string(),
            reason: error.to_string(),
        })?;
        Ok(())
    }
}

/// Reads a target's settings from `args` over the variables `lookup` gives,
/// as clap's `env` would, but empty is unset, a refusal names its variable,
/// and tests need not touch the process environment.
pub fn read<T: clap::Parser + AsMut<SharedSettings>>(
    args: Vec<OsString>,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<T, SettingsError> {
    let declared = T::command();
    let command = declared
        .clone()
        .args_override_self(true)
        .mut_args(|arg| arg.env(None));
    // The variables of flags not given become flags ahead of the given ones.
    let given = command_line(&command, &declared, &args)?;
    let on_command_line = |arg: &clap::Arg| {
        let id = arg.get_id().as_str();
        given.as_ref().and_then(|given| given.value_source(id)) == Some(ValueSource::CommandLine)
    };
    let mut argv = args;
    let first_flag = argv.len().min(1);
    let from_environment = environment_flags(&declared, &lookup, on_command_line)?;
    argv.splice(first_flag..first_flag, from_environment);
    let matches = command.try_get_matches_from(argv)?;
    let mut settings = T::from_arg_matches(&matches)?;
    settings.as_mut().check_and_add_token(&lookup)?;
    Ok(settings)
}

/// What the command line alone gives; on `--help` or `--version`, the
/// declared command's answer, which shows each variable.
fn command_line(
    command: &clap::Command,
    declared: &clap::Command,
    args: &[OsString],
) -> Result<Option<clap::ArgMatches>, SettingsError> {
    match command
        .clone()
        .ignore_errors(true)
        .try_get_matches_from(args)
    {
        Err(help)
            if matches!(
                help.kind(),
                ErrorKind::DisplayHelp | ErrorKind::DisplayVersion
            ) =>
        {
            let shown = declared.clone().try_get_matches_from(args).err();
            Err(shown.unwrap_or(help).into())
        }
        given => Ok(given.ok()),
    }
}

/// Each set variable of a flag not on the command line, as that flag, checked
/// by its parser so that a refusal names the variable.
fn environment_flags(
    command: &clap::Command,
    lookup: &impl Fn(&str) -> Option<String>,
    on_command_line: impl Fn(&clap::Arg) -> bool,
) -> Result<Vec<OsString>, SettingsError> {
    let mut flags = Vec::new();
    for arg in command.get_arguments().filter(|arg| !on_command_line(arg)) {
        let (Some(variable), Some(long)) = (arg.get_env(), arg.get_long()) else {
            continue;
        };
        let variable = variable.to_string_lossy();
        let Some(value) = non_empty(lookup(&variable)) else {
            continue;
        };
        let refused = |error: clap::Error| SettingsError::Variable {
            setting: format!("{variable}={value:?}"),
            reason: refusal(&error),
        };
        if !arg.get_action().takes_values() {
            // A switch, set by a true-ish value as clap's own fallback reads it.
            let set = FalseyValueParser::new().parse_ref(command, Some(arg), value.as_ref());
            if set.map_err(refused)? {
                flags.push(format!("--{long}").into());
            }
            continue;
        }
        let flag = OsString::from(format!("--{long}={value}"));
        let alone = clap::Command::new("setting")
            .no_binary_name(true)
            .arg(arg.clone().env(None));
        alone.try_get_matches_from([&flag]).map_err(refused)?;
        flags.push(flag);
    }
    Ok(flags)
}

/// Why clap's parser refused a value, without the flag it names.
fn refusal(error: &clap::Error) -> String {
    if let Some(why) = std::error::Error::source(error) {
        return why.to_string();
    }
    match error.get(ContextKind::ValidValue) {
        Some(ContextValue::Strings(valid)) => format!("write one of {}", valid.join(", ")),
        _ => error.kind().to_string(),
    }
}

/// A variable's value as the settings read it: `None` when unset or empty.
pub fn non_empty(value: Option<String>) -> Option<String> {
    value.filter(|value| !value.is_empty())
}

/// DynamoDB's naming rules, so a typo stops start-up, not every request.
fn parse_table(text: &str) -> Result<String, String> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.');
    if !(3..=255).contains(&text.len()) || !text.chars().all(allowed) {
        return Err(format!(
            "{text:?} is not a DynamoDB table name (3 to 255 of a-z, A-Z, 0-9, _, - and .)"
        ));
    }
    Ok(text.to_string())
}

/// A duration longer than zero, written as `500ms`, `10s` or `2m`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let duration = parse_delay(text)?;
    if duration.is_zero() {
        return Err(format!("{text:?} is zero; it must be longer than zero"));
    }
    Ok(duration)
}

/// A duration that may be zero (no delay).
pub fn parse_delay(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text).map_err(|error| {
        format!("{text:?} is not a duration ({error}); write one such as 500ms, 10s or 2m")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, clap::Parser)]
    struct Target {
        #[command(flatten)]
        shared: SharedSettings,
        /// A target's own switch.
        #[arg(long, env = "SEED_SWITCH")]
        switch: bool,
        /// A target's own token source.
        #[arg(long, env = "SEED_TOKEN_FILE")]
        token_file: Option<String>,
    }

    impl AsMut<SharedSettings> for Target {
        fn as_mut(&mut self) -> &mut SharedSettings {
            &mut self.shared
        }
    }

    fn read_with(flags: &[&str], variables: &[(&str, &str)]) -> Result<Target, SettingsError> {
        let args = std::iter::once("target").chain(flags.iter().copied());
        let lookup = |name: &str| {
            let found = variables.iter().find(|(variable, _)| *variable == name);
            found.map(|(_, value)| value.to_string())
        };
        read(args.map(OsString::from).collect(), lookup)
    }

    #[test]
    fn the_default_store_timeout_is_the_constant() {
        let defaults = read_with(&[], &[]).unwrap();
        assert_eq!(defaults.shared.store_timeout, DEFAULT_STORE_TIMEOUT);
        assert_eq!(format!("{DEFAULT_STORE_TIMEOUT:?}"), "2s");
    }

    #[test]
    fn a_table_implies_dynamodb_which_needs_one() {
        let table = |flags: &[&str], variables: &[(&str, &str)]| {
            let settings = read_with(flags, variables).unwrap();
            settings.shared.dynamodb_table().map(str::to_string)
        };
        assert_eq!(table(&[], &[]), None);
        assert_eq!(table(&["--table", "seeds"], &[]), Some("seeds".into()));
        assert_eq!(table(&[], &[("SEED_TABLE", "seeds")]), Some("seeds".into()));
        assert_eq!(table(&["--store", "memory", "--table", "seeds"], &[]), None);
        let flagged = read_with(&["--store", "dynamodb"], &[]);
        assert!(matches!(flagged, Err(SettingsError::TableMissing)));
        let empty = read_with(&[], &[("SEED_STORE", "dynamodb"), ("SEED_TABLE", "")]);
        assert!(matches!(empty, Err(SettingsError::TableMissing)));
    }

    #[test]
    fn flags_override_variables_and_empty_variables_are_unset() {
        for variable in ["1s", "soon"] {
            let both = read_with(
                &["--store-timeout", "3s"],
                &[("SEED_STORE_TIMEOUT", variable)],
            );
            assert_eq!(both.unwrap().shared.store_timeout, Duration::from_secs(3));
        }
        let variable = read_with(&[], &[("SEED_STORE_TIMEOUT", "1s")]).unwrap();
        assert_eq!(variable.shared.store_timeout, Duration::from_secs(1));
        let empty = read_with(&[], &[("SEED_STORE_TIMEOUT", ""), ("SEED_STORE", "")]).unwrap();
        assert_eq!(empty.shared.store_timeout, DEFAULT_STORE_TIMEOUT);
        for (value, set) in [("true", true), ("1", true), ("false", false), ("0", false)] {
            let read = read_with(&[], &[("SEED_SWITCH", value)]).unwrap();
            assert_eq!(read.switch, set, "{value}");
        }
    }

    #[test]
    fn a_refused_variable_is_named_with_the_reason() {
        for (variable, value, reason) in [
            ("SEED_TABLE", "ab", "not a DynamoDB table name"),
            ("SEED_STORE", "redis", "write one of memory, dynamodb"),
            ("SEED_STORE_TIMEOUT", "0s", "is zero"),
            ("SEED_WRITE_TOKEN", "two words", "visible ASCII"),
        ] {
            let error = read_with(&[], &[(variable, value)])
                .unwrap_err()
                .to_string();
            assert!(error.starts_with(variable), "{error}");
            assert!(error.contains("is not usable"), "{error}");
            assert!(error.contains(reason), "{error}");
        }
    }

    #[test]
    fn the_write_token_comes_from_one_source() {
        let source = |variables: &[(&str, &str)]| {
            let settings = read_with(&[], variables).unwrap();
            let reference = settings.token_file.clone();
            settings.shared.write_token(reference, "SEED_TOKEN_FILE")
        };
        assert!(matches!(source(&[]), Ok(None)));
        let variable = source(&[("SEED_WRITE_TOKEN", "t0ken")]);
        assert!(matches!(variable, Ok(Some(TokenSource::Variable(_)))));
        let file = source(&[("SEED_TOKEN_FILE", "/run/token")]);
        assert!(matches!(file, Ok(Some(TokenSource::Reference(path))) if path == "/run/token"));
        let both = source(&[
            ("SEED_WRITE_TOKEN", "t0ken"),
            ("SEED_TOKEN_FILE", "/run/token"),
        ]);
        let error = both.unwrap_err().to_string();
        assert!(
            error.contains("SEED_WRITE_TOKEN and SEED_TOKEN_FILE"),
            "{error}"
        );
    }

    #[test]
    fn durations_are_human_and_empty_is_refused() {
        assert_eq!(parse_duration("750ms"), Ok(Duration::from_millis(750)));
        assert_eq!(parse_delay("0s"), Ok(Duration::ZERO));
        for bad in ["", "0s", "soon", "2", "-1s"] {
            assert!(parse_duration(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn table_names_follow_dynamodb() {
        assert_eq!(
            parse_table("seed-table_1.x"),
            Ok("seed-table_1.x".to_string())
        );
        for bad in ["", "ab", "has space", "slash/", &"t".repeat(256)] {
            assert!(parse_table(bad).is_err(), "{bad:?}");
        }
    }
}
