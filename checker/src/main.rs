use std::process::ExitCode;
use std::time::Duration;

use checker::{run, Check};
use clap::Parser;

/// Checks a deployed seed service: POSTs a fresh value, GETs it back N times
/// and reports whether every answer agrees, which instances answered, the
/// latency percentiles and any error. Exit status 0: pass; 1: fail; 2: the
/// check could not run.
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
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args = Args::parse();
    let check = Check {
        url: args.url,
        gets: args.gets,
        timeout: args.timeout,
        value: args.value,
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
