//! `runtime-api --bootstrap PATH --port PORT`: the bootstrap polling
//! [`harness::runtime_api`]'s Runtime API, its HTTP face on PORT, for
//! `bench/run`. The function gets this process's `SEED_*` and `AWS_*`
//! variables (`AWS_LAMBDA_MAX_CONCURRENCY` among them, for Managed
//! Instances). Prints the function's pid, then serves until SIGTERM or
//! Ctrl-C, and stops the function before it exits.

use std::path::PathBuf;

use harness::runtime_api::FunctionUnderRuntimeApi;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let (mut bootstrap, mut port) = (None, 0);
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args
            .next()
            .unwrap_or_else(|| usage(&format!("{flag} needs a value")));
        match flag.as_str() {
            "--bootstrap" => bootstrap = Some(PathBuf::from(value)),
            "--port" => {
                port = (value.parse())
                    .unwrap_or_else(|_| usage(&format!("--port {value}: not a number")))
            }
            _ => usage(&format!("unknown flag {flag}")),
        }
    }
    let bootstrap = bootstrap.unwrap_or_else(|| usage("--bootstrap PATH is needed"));
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .unwrap_or_else(|error| usage(&format!("cannot listen on port {port}: {error}")));
    let env: Vec<(String, String)> = std::env::vars()
        .filter(|(name, _)| name.starts_with("SEED_") || name.starts_with("AWS_"))
        .collect();
    let env: Vec<(&str, String)> = env.iter().map(|(n, v)| (n.as_str(), v.clone())).collect();
    let function = FunctionUnderRuntimeApi::start_on(listener, &bootstrap, &env).await;
    println!("function pid {}", function.pid());
    stop_signal().await;
    // Dropping the guard stops the function, which would otherwise outlive
    // this process (and spin, polling a Runtime API that is gone).
    drop(function);
}

async fn stop_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut terminate = signal(SignalKind::terminate()).expect("watch for SIGTERM");
    tokio::select! {
        _ = terminate.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}

fn usage(problem: &str) -> ! {
    eprintln!("runtime-api: {problem}\nusage: runtime-api --bootstrap PATH --port PORT");
    std::process::exit(2)
}
