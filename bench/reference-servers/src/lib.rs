//! Reference servers for the benchmarks (bench/README.md): the stack
//! ec2-server is built on, with nothing of ec2-server's own, so that
//! `bench/instructions` and `bench/run` show what the stack itself costs.
//!
//! - `bare-hyper`: hyper's HTTP/1 on one current_thread runtime;
//! - `bare-warp`: warp's filters over hyper, on the multi-thread runtime.

/// `--port P`, as ec2-server takes it (8080 without it); other arguments
/// are ignored.
pub fn port_argument() -> u16 {
    let arguments: Vec<String> = std::env::args().collect();
    arguments
        .windows(2)
        .find(|pair| pair[0] == "--port")
        .and_then(|pair| pair[1].parse().ok())
        .unwrap_or(8080)
}

/// A POST's body, `{"num": N}`, as both servers read it.
#[derive(serde::Deserialize)]
pub struct SeedInput {
    pub num: i64,
}
