//! The HTTP/1.1 upgrade that opens a WebSocket, read with a bound on its size and passed
//! on with only what the guard allows: the `/session` path, and no extension offers.

use std::io::{self, BufRead};

/// The most bytes an upgrade request or response head may take.
pub const MAX_HEAD: usize = 16 * 1024;

/// Reads an HTTP head (up to and including the blank line), at most `MAX_HEAD` bytes.
pub fn read_head(r: &mut impl BufRead) -> io::Result<Vec<u8>> {
    let mut head = Vec::new();
    loop {
        let before = head.len();
        let mut bounded = io::Read::take(&mut *r, (MAX_HEAD - before) as u64);
        let n = bounded.read_until(b'\n', &mut head)?;
        if n == 0 {
            let what = if head.len() >= MAX_HEAD {
                "an HTTP head over 16 KiB"
            } else {
                "the connection closed mid-request"
            };
            return Err(io::Error::new(io::ErrorKind::InvalidData, what));
        }
        if head.ends_with(b"\r\n\r\n") || head == b"\r\n" {
            return Ok(head);
        }
    }
}

/// An upgrade request the guard passes on: the request re-written without extension
/// offers (the frame reader allows no reserved bits).
pub fn upgrade_request(head: &[u8]) -> Result<Vec<u8>, String> {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut request = httparse::Request::new(&mut headers);
    match request.parse(head) {
        Ok(httparse::Status::Complete(_)) => {}
        Ok(httparse::Status::Partial) => return Err("an incomplete HTTP request".into()),
        Err(e) => return Err(format!("not an HTTP request ({e})")),
    }
    if request.method != Some("GET") {
        return Err("not a GET request".into());
    }
    // burn's server also routes `/data` (transfers between servers), never offered here.
    if request.path != Some("/session") {
        return Err(format!("no such path {:?}", request.path.unwrap_or("")));
    }
    let upgrade = request.headers.iter().any(|h| {
        h.name.eq_ignore_ascii_case("upgrade") && h.value.eq_ignore_ascii_case(b"websocket")
    });
    if !upgrade {
        return Err("not a WebSocket upgrade".into());
    }
    let mut out = b"GET /session HTTP/1.1\r\n".to_vec();
    for h in request.headers.iter() {
        if h.name.eq_ignore_ascii_case("sec-websocket-extensions") {
            continue;
        }
        out.extend_from_slice(h.name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(h.value);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    Ok(out)
}

/// The server's answer, which must switch protocols; `extra` headers are added to it.
pub fn switching_response(head: &[u8], extra: &str) -> Result<Vec<u8>, String> {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut response = httparse::Response::new(&mut headers);
    match response.parse(head) {
        Ok(httparse::Status::Complete(_)) if response.code == Some(101) => {}
        Ok(_) => return Err(format!("the device server answered {:?}", response.code)),
        Err(e) => return Err(format!("the device server's answer is not HTTP ({e})")),
    }
    let mut out = head[..head.len() - 2].to_vec();
    out.extend_from_slice(extra.as_bytes());
    out.extend_from_slice(b"\r\n");
    Ok(out)
}

/// A short plain-text HTTP answer that closes the connection.
pub fn refusal(status: &str, body: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    const REQUEST: &[u8] = b"GET /session HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n\
        Connection: Upgrade\r\nSec-WebSocket-Key: k\r\nSec-WebSocket-Version: 13\r\n\
        Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n";

    #[test]
    fn an_upgrade_to_session_passes_without_its_extensions() {
        let out = String::from_utf8(upgrade_request(REQUEST).unwrap()).unwrap();
        assert!(out.starts_with("GET /session HTTP/1.1\r\n") && out.ends_with("\r\n\r\n"));
        assert!(out.contains("Sec-WebSocket-Key: k\r\n"));
        assert!(!out.to_lowercase().contains("extensions"), "{out}");
    }

    #[test]
    fn other_paths_and_plain_requests_are_refused() {
        let data = String::from_utf8_lossy(REQUEST).replace("/session", "/data");
        assert!(
            upgrade_request(data.as_bytes())
                .unwrap_err()
                .contains("/data")
        );
        let plain = b"GET /session HTTP/1.1\r\nHost: x\r\n\r\n";
        assert!(
            upgrade_request(plain)
                .unwrap_err()
                .contains("not a WebSocket")
        );
        assert!(upgrade_request(b"\x16\x03\x01garbage\r\n\r\n").is_err());
    }

    #[test]
    fn heads_are_bounded_and_responses_gain_a_header() {
        let long = vec![b'a'; MAX_HEAD + 10];
        assert!(read_head(&mut &long[..]).is_err());
        let mut r = &b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\nrest"[..];
        let head = read_head(&mut r).unwrap();
        assert_eq!(r, b"rest");
        let out = switching_response(&head, "x-workbench-heartbeat: 5\r\n").unwrap();
        assert!(
            String::from_utf8(out)
                .unwrap()
                .ends_with("x-workbench-heartbeat: 5\r\n\r\n")
        );
        let refused = b"HTTP/1.1 404 Not Found\r\n\r\n";
        assert!(switching_response(refused, "").is_err());
    }
}
