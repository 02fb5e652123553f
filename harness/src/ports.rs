//! Loopback ports for child processes that must be told where to listen
//! (in-process servers bind port 0 themselves).
//!
//! A port found free with `bind(0)` can be taken again before the child
//! binds it: by another test's `bind(0)`, here or in the test binary
//! running beside this one, or as the source port of an outgoing
//! connection. Then the child fails to bind while something else answers
//! on its port. So ports come from below the kernel's ephemeral range,
//! which those draw from, and each is claimed for this process's life by
//! an abstract Unix socket of the same number, which the kernel gives to
//! one process only and drops when it exits.

use std::net::TcpListener;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixListener};
use std::sync::Mutex;

/// How many ports below the ephemeral range the tests may use.
const SPAN: u16 = 16_384;

/// A loopback port nothing listens on, claimed by no other test.
pub fn free_port() -> u16 {
    static CLAIMS: Mutex<Vec<UnixListener>> = Mutex::new(Vec::new());
    let mut claims = shared::lock(&CLAIMS);
    let end = first_ephemeral_port();
    let start = end.saturating_sub(SPAN).max(1024);
    // Ports below start + claims.len() are all claimed already, by this
    // process or another.
    let unclaimed = start.saturating_add(u16::try_from(claims.len()).unwrap_or(u16::MAX));
    for port in unclaimed..end {
        let Some(claim) = claim(port) else { continue };
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            claims.push(claim);
            return port;
        }
    }
    panic!("no free loopback port in {start}..{end}");
}

/// The socket that claims `port`, if no process holds it yet.
fn claim(port: u16) -> Option<UnixListener> {
    let name = format!("seed-test-port-{port}");
    let address = SocketAddr::from_abstract_name(name.as_bytes()).ok()?;
    UnixListener::bind_addr(&address).ok()
}

/// The low end of `net.ipv4.ip_local_port_range`.
fn first_ephemeral_port() -> u16 {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|range| range.split_whitespace().next()?.parse().ok())
        .unwrap_or(32_768)
}

#[cfg(test)]
mod tests {
    use super::*;

    // One test, so that no other test of this process claims ports between
    // its calls.
    #[test]
    fn ports_are_below_the_ephemeral_range_unused_and_handed_out_once() {
        let mut ports: Vec<u16> = (0..50).map(|_| free_port()).collect();
        let next = ports[49] + 1;
        let _listening = TcpListener::bind(("127.0.0.1", next)).expect("the next port is free");
        ports.push(free_port());
        assert_ne!(
            ports[50], next,
            "a port something listens on was handed out"
        );
        let mut distinct = ports.clone();
        distinct.sort_unstable();
        distinct.dedup();
        assert_eq!(
            distinct.len(),
            ports.len(),
            "a port handed out twice: {ports:?}"
        );
        assert!(
            ports.iter().all(|port| *port < first_ephemeral_port()),
            "{ports:?}"
        );
        assert!(
            claim(ports[0]).is_none(),
            "a port handed out is still claimed, so another process cannot take it"
        );
    }
}
