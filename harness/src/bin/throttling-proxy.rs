//! `throttling-proxy --target IP:PORT --port PORT [--reads-per-second N]
//! [--writes-per-second N]`: [`harness::throttling_proxy`] as a process,
//! for `bench/run`. Serves until killed.

use contract::socket_address;
use harness::throttling_proxy::{Budget, ThrottlingProxy};

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let (mut target, mut port, mut budget) = (None, 0, Budget::default());
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args
            .next()
            .unwrap_or_else(|| usage(&format!("{flag} needs a value")));
        let number = || {
            value
                .parse()
                .unwrap_or_else(|_| usage(&format!("{flag} {value}: not a number")))
        };
        match flag.as_str() {
            "--target" => target = socket_address(&value),
            "--port" => port = number() as u16,
            "--reads-per-second" => budget.reads_per_second = Some(number()),
            "--writes-per-second" => budget.writes_per_second = Some(number()),
            _ => usage(&format!("unknown flag {flag}")),
        }
    }
    let target = target.unwrap_or_else(|| usage("--target IP:PORT is needed"));
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .unwrap_or_else(|error| usage(&format!("cannot listen on port {port}: {error}")));
    let _proxy = ThrottlingProxy::serve(listener, target, budget);
    std::future::pending::<()>().await;
}

fn usage(problem: &str) -> ! {
    eprintln!("throttling-proxy: {problem}\nusage: throttling-proxy --target IP:PORT --port PORT [--reads-per-second N] [--writes-per-second N]");
    std::process::exit(2)
}
