//! HTTP/1.1 read and written by hand, for the stand-ins that must answer
//! what no real service here answers on demand (a throttling refusal, a
//! stall), one request at a time.

use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

/// Reads from `connection` until `buffer` holds one whole request (its head
/// and a `content-length` body) and takes it out of `buffer`; `None` at the
/// end of the stream.
pub async fn read_request(connection: &mut TcpStream, buffer: &mut Vec<u8>) -> Option<Vec<u8>> {
    loop {
        if let Some(head_end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buffer[..head_end]).to_ascii_lowercase();
            let body_length: usize = head
                .lines()
                .find_map(|line| line.strip_prefix("content-length:"))
                .and_then(|value| value.trim().parse().ok())
                .unwrap_or(0);
            let end = head_end + 4 + body_length;
            if buffer.len() >= end {
                return Some(buffer.drain(..end).collect());
            }
        }
        let mut chunk = [0u8; 4096];
        match connection.read(&mut chunk).await {
            Ok(0) | Err(_) => return None,
            Ok(read) => buffer.extend_from_slice(&chunk[..read]),
        }
    }
}

/// A whole response: `status` such as `400 Bad Request`, the extra header
/// lines, and a JSON body.
pub fn response(status: &str, headers: &[(&str, &str)], body: &str) -> Vec<u8> {
    let mut head = format!("HTTP/1.1 {status}\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    format!("{head}content-length: {}\r\n\r\n{body}", body.len()).into_bytes()
}

/// `message` (a request or a response) with `connection: close` added to
/// its head, so that each side ends the exchange after it.
pub fn closing(message: &[u8]) -> Vec<u8> {
    match message.windows(2).position(|w| w == b"\r\n") {
        Some(first_line_end) => {
            let mut closed = message[..first_line_end + 2].to_vec();
            closed.extend_from_slice(b"connection: close\r\n");
            closed.extend_from_slice(&message[first_line_end + 2..]);
            closed
        }
        None => message.to_vec(),
    }
}
