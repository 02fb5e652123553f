//! Raw HTTP/1.1 over TCP, for the clients a proper HTTP library will not
//! imitate: slow ones, broken ones, ones that stop half-way.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub async fn connect(address: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(address)
        .await
        .unwrap_or_else(|error| panic!("cannot connect to {address}: {error}"));
    stream
        .set_nodelay(true)
        .expect("TCP_NODELAY on a fresh socket");
    stream
}

/// A response as read off the wire.
#[derive(Debug)]
pub struct RawResponse {
    pub status: u16,
    pub head: String,
    pub body: Vec<u8>,
}

/// Reads one response with a `Content-Length` body, failing the test if it
/// does not arrive within `within`.
pub async fn read_response(stream: &mut TcpStream, within: Duration) -> RawResponse {
    tokio::time::timeout(within, read_response_inner(stream))
        .await
        .unwrap_or_else(|_| panic!("no complete response within {within:?}"))
}

async fn read_response_inner(stream: &mut TcpStream) -> RawResponse {
    let mut buffer = Vec::new();
    let head_end = loop {
        if let Some(end) = find(&buffer, b"\r\n\r\n") {
            break end + 4;
        }
        let mut chunk = [0u8; 4096];
        let read = stream.read(&mut chunk).await.unwrap_or_else(|error| {
            panic!(
                "reading the response failed after {:?}: {error}",
                String::from_utf8_lossy(&buffer)
            )
        });
        assert!(
            read > 0,
            "connection closed before a response: {:?}",
            String::from_utf8_lossy(&buffer)
        );
        buffer.extend_from_slice(&chunk[..read]);
    };
    let head = String::from_utf8_lossy(&buffer[..head_end]).to_string();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {head:?}"));
    let length: usize = head
        .lines()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse().ok())
                .flatten()
        })
        .unwrap_or(0);
    let mut body = buffer[head_end..].to_vec();
    while body.len() < length {
        let mut chunk = vec![0u8; length - body.len()];
        let read = stream.read(&mut chunk).await.expect("reading the body");
        assert!(read > 0, "connection closed inside the body");
        body.extend_from_slice(&chunk[..read]);
    }
    RawResponse { status, head, body }
}

/// Whether the server closes the connection within `within` (reading nothing
/// more, or only a response, before the end of the stream).
pub async fn closes_within(stream: &mut TcpStream, within: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + within;
    let mut sink = [0u8; 4096];
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut sink)).await {
            Err(_) => return false,
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => continue,
        }
    }
}

/// Writes, ignoring a connection the server has already closed: the point of
/// the callers is to see what the server does, not whether it listens.
pub async fn write_lossy(stream: &mut TcpStream, bytes: &[u8]) -> bool {
    stream.write_all(bytes).await.is_ok()
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}
