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
    try_read_response(stream, within)
        .await
        .unwrap_or_else(|why| panic!("{why}"))
}

/// Reads one response, or says why there was none (closed, timed out,
/// malformed): for tests that count lost requests instead of stopping at
/// the first.
pub async fn try_read_response(
    stream: &mut TcpStream,
    within: Duration,
) -> Result<RawResponse, String> {
    tokio::time::timeout(within, read_response_inner(stream))
        .await
        .unwrap_or_else(|_| Err(format!("no complete response within {within:?}")))
}

/// Reads exactly one response and nothing after it, so that pipelined
/// responses can be read one by one: the head a byte at a time, then the
/// body by its `Content-Length`.
async fn read_response_inner(stream: &mut TcpStream) -> Result<RawResponse, String> {
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut byte = [0u8; 1];
        let read = stream.read(&mut byte).await.map_err(|error| {
            format!(
                "reading the response failed after {:?}: {error}",
                String::from_utf8_lossy(&head)
            )
        })?;
        if read == 0 {
            return Err(format!(
                "connection closed before a response: {:?}",
                String::from_utf8_lossy(&head)
            ));
        }
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head).to_string();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| format!("no status line in {head:?}"))?;
    let length: usize = head
        .lines()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse().ok())
                .flatten()
        })
        .unwrap_or(0);
    let mut body = vec![0u8; length];
    stream
        .read_exact(&mut body)
        .await
        .map_err(|error| format!("reading the body after {head:?}: {error}"))?;
    Ok(RawResponse { status, head, body })
}

impl RawResponse {
    /// Whether the server said it will close the connection after this.
    pub fn says_close(&self) -> bool {
        self.head
            .to_ascii_lowercase()
            .contains("\r\nconnection: close\r\n")
    }
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

/// Waits until the server has read every byte sent on `stream` (the
/// kernel's receive queue of the server's end of the connection is empty),
/// failing the test after `within`: for tests that measure what a
/// connection makes the server hold, or that act once a request is in
/// the server's hands. A connection still in the listen backlog is not
/// read. Linux only (it reads /proc/net/tcp).
pub async fn wait_until_server_has_read(stream: &TcpStream, within: Duration) {
    let client = stream.local_addr().expect("the client's address");
    let server = stream.peer_addr().expect("the server's address");
    let started = std::time::Instant::now();
    loop {
        let unread = server_unread_bytes(server, client);
        if unread == Some(0) {
            return;
        }
        assert!(
            started.elapsed() < within,
            "the server did not read what {client} sent to {server} within {within:?} \
             ({unread:?} bytes unread)"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The bytes waiting in the receive queue of the server's end (local
/// `server`, remote `client`) of a loopback connection, from the kernel's
/// socket table; `None` if the table has no such connection.
fn server_unread_bytes(server: SocketAddr, client: SocketAddr) -> Option<u64> {
    let hex = |address: SocketAddr| match address {
        // The table gives an IPv4 address as one native-endian u32.
        SocketAddr::V4(v4) => format!(
            "{:08X}:{:04X}",
            u32::from_ne_bytes(v4.ip().octets()),
            v4.port()
        ),
        SocketAddr::V6(_) => String::new(),
    };
    let (local, remote) = (hex(server), hex(client));
    let table = std::fs::read_to_string("/proc/net/tcp").ok()?;
    table.lines().skip(1).find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.get(1) != Some(&local.as_str()) || fields.get(2) != Some(&remote.as_str()) {
            return None;
        }
        let (_, receive_queue) = fields.get(4)?.split_once(':')?;
        u64::from_str_radix(receive_queue, 16).ok()
    })
}
