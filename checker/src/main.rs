use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use checker::{run, Check, HOW_TO_GIVE_THE_TOKEN};
use clap::Parser;
use secrecy::SecretString;

/// Checks a deployed seed service: POSTs a fresh value, GETs it back N times
/// and reports whether every answer agrees, which instances answered, the
/// latency percentiles and any error. Exit status 0: pass; 1: fail; 2: the
/// check could not run.
///
/// A write-protected service needs its write token with the POST: set
/// SEED_CHECK_TOKEN to it, or name a file that holds it with --token-file.
/// The token is never taken on the command line, where other users of the
/// machine could read it, and never printed.
#[derive(Parser)]
#[command(name = "seed-check", version)]
struct Args {
    /// The service's URL: the load balancer's DNS name or the Function URL,
    /// for example http://my-alb-123.eu-west-1.elb.amazonaws.com/
    url: String,

    /// How many GETs to make after the POST.
    #[arg(long, env = "SEED_CHECK_GETS", default_value_t = 20)]
    gets: usize,

    /// How long one request may take.
    #[arg(long, env = "SEED_CHECK_TIMEOUT", value_parser = humantime::parse_duration, default_value = "5s")]
    timeout: Duration,

    /// The integer to store; by default a fresh one from the clock.
    #[arg(long, allow_hyphen_values = true)]
    value: Option<String>,

    /// A file holding the write token (one line), sent with the POST as
    /// `Authorization: Bearer`. Or put the token itself in SEED_CHECK_TOKEN.
    #[arg(long, env = "SEED_CHECK_TOKEN_FILE")]
    token_file: Option<PathBuf>,
}

/// The variable that may hold the write token itself.
const TOKEN_VARIABLE: &str = "SEED_CHECK_TOKEN";

/// The write token from `--token-file` or SEED_CHECK_TOKEN (an empty
/// variable is an unset one), refusing both at once.
fn write_token(file: Option<&Path>) -> Result<Option<SecretString>, String> {
    let variable = std::env::var_os(TOKEN_VARIABLE).filter(|value| !value.is_empty());
    let text = match (file, variable) {
        (Some(_), Some(_)) => {
            return Err(format!(
                "both --token-file and {TOKEN_VARIABLE} are set; keep one"
            ))
        }
        (None, None) => return Ok(None),
        (Some(path), None) => std::fs::read_to_string(path)
            .map_err(|error| format!("cannot read the token file {}: {error}", path.display()))?,
        (None, Some(value)) => value
            .into_string()
            .map_err(|_| format!("{TOKEN_VARIABLE} is not UTF-8"))?,
    };
    let token = text.trim();
    if token.is_empty() || token.contains(char::is_whitespace) {
        return Err(format!(
            "the write token given with {HOW_TO_GIVE_THE_TOKEN} is empty or has white space in it"
        ));
    }
    Ok(Some(SecretString::from(token)))
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args = Args::parse();
    let token = match write_token(args.token_file.as_deref()) {
        Ok(token) => token,
        Err(error) => {
            eprintln!("seed-check: {error}");
            return ExitCode::from(2);
        }
    };
    let check = Check {
        url: args.url,
        gets: args.gets,
        timeout: args.timeout,
        value: args.value,
        token,
    };
    match run(&check).await {
        Ok(report) => {
            print!("{}", report.render());
            if report.passed() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(error) => {
            eprintln!("seed-check: {error}");
            ExitCode::from(2)
        }
    }
}
