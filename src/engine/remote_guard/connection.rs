//! One client connection through the guard: the bounded handshake, then the session's
//! frames passed both ways until either side ends it or a limit does.

use std::io::{self, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use burn::server::{AuthorizationRequest, ClientId, Credential, PeerAuthorizer};

use super::frame::{self, FrameError, FrameHeader};
use super::{GuardLimits, HEARTBEAT_HEADER, Shared, http, wire};

/// Answers with an HTTP 503 and closes, without reading the request.
pub fn refuse_now(mut stream: TcpStream, why: &str) {
    let _ = stream.set_write_timeout(Some(Duration::from_secs(1)));
    let _ = stream.write_all(&http::refusal("503 Service Unavailable", why));
    let _ = stream.shutdown(Shutdown::Both);
}

/// How the client's socket is read: before admission against one deadline for the whole
/// handshake; after it, with the liveness rule (some bytes, pongs included, every few
/// heartbeats).
enum Pace {
    Handshake {
        deadline: Instant,
    },
    Session {
        heartbeat: Duration,
        last_bytes: Instant,
    },
}

struct ClientReader {
    stream: TcpStream,
    pace: Pace,
}

impl Read for ClientReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            let wait = match &self.pace {
                Pace::Handshake { deadline } => deadline.saturating_duration_since(Instant::now()),
                Pace::Session { heartbeat, .. } => *heartbeat,
            };
            if wait.is_zero() {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "the handshake took too long",
                ));
            }
            self.stream.set_read_timeout(Some(wait))?;
            match self.stream.read(buf) {
                Ok(n) => {
                    if let Pace::Session { last_bytes, .. } = &mut self.pace {
                        *last_bytes = Instant::now();
                    }
                    return Ok(n);
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    if let Pace::Session {
                        heartbeat,
                        last_bytes,
                    } = &self.pace
                        && last_bytes.elapsed() > *heartbeat * 4
                    {
                        return Err(io::Error::new(
                            io::ErrorKind::TimedOut,
                            "the client stopped answering the server's pings",
                        ));
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }
}

/// Why a connection ended, for the server's log.
type Ended = String;

pub fn serve(client: TcpStream, peer: SocketAddr, shared: &Shared) {
    let _ = client.set_nodelay(true);
    match run(client, peer, shared) {
        Ok(message) => crate::errln!("session of WebSocket client {peer} closed: {message}"),
        Err(message) => crate::errln!("refused WebSocket client {peer}: {message}"),
    }
}

fn run(client: TcpStream, peer: SocketAddr, shared: &Shared) -> Result<Ended, Ended> {
    let limits = &shared.limits;
    let writer = client.try_clone().map_err(|e| e.to_string())?;
    let mut reader = BufReader::new(ClientReader {
        stream: client,
        pace: Pace::Handshake {
            deadline: Instant::now() + limits.handshake,
        },
    });
    let mut to_client = writer;
    let refuse = |w: &mut TcpStream, status: &str, why: String| {
        let _ = w.write_all(&http::refusal(status, &why));
        let _ = w.shutdown(Shutdown::Both);
        Err(why)
    };
    let head =
        http::read_head(&mut reader).map_err(|e| format!("it closed during the handshake: {e}"))?;
    let request = match http::upgrade_request(&head) {
        Ok(request) => request,
        Err(why) => return refuse(&mut to_client, "404 Not Found", why),
    };
    if shared.sessions_full() {
        return refuse(&mut to_client, "503 Service Unavailable", busy(shared));
    }
    let upstream =
        TcpStream::connect(shared.upstream).map_err(|e| format!("the device server: {e}"))?;
    let _ = upstream.set_nodelay(true);
    let upstream_address = upstream.local_addr().map_err(|e| e.to_string())?;
    let mut to_upstream = upstream.try_clone().map_err(|e| e.to_string())?;
    upstream
        .set_read_timeout(Some(limits.handshake))
        .map_err(|e| e.to_string())?;
    let mut from_upstream = BufReader::new(upstream);
    let forwarded = (|| -> Result<Vec<u8>, String> {
        to_upstream.write_all(&request).map_err(|e| e.to_string())?;
        let answer = http::read_head(&mut from_upstream).map_err(|e| e.to_string())?;
        let extra = format!(
            "{HEARTBEAT_HEADER}: {}\r\n",
            limits.heartbeat.as_secs().max(1)
        );
        http::switching_response(&answer, &extra)
    })();
    let answer = match forwarded {
        Ok(answer) => answer,
        Err(why) => return refuse(&mut to_client, "502 Bad Gateway", why),
    };
    to_client.write_all(&answer).map_err(|e| e.to_string())?;

    let (first, payload, ask) = read_opening(&mut reader, &mut to_client, limits)?;
    let authorized = shared.token.as_ref().is_none_or(|token| {
        token
            .authorize(AuthorizationRequest {
                client: ClientId::WebSocket(peer),
                device_index: ask.device_index,
                credential: &Credential::from(ask.credential),
            })
            .is_ok()
    });
    // A wrong token still reaches burn, unadmitted: its gate refuses it with the answer
    // burn's clients understand ("wrong or missing token").
    let slot = authorized && shared.open_session();
    if authorized && !slot {
        let _ = to_client.write_all(&frame::close_frame(1013, &busy(shared)));
        return Err(busy(shared));
    }
    let session = slot.then(|| SessionSlot::open(shared, upstream_address));
    if session.is_some() {
        crate::errln!("session opened for WebSocket client {peer}");
    }
    // The opening frame goes on as it came (masked), then the frames that follow.
    let mut opening = first.raw.clone();
    let mut masked = payload;
    if let Some(mask) = first.mask {
        for (i, b) in masked.iter_mut().enumerate() {
            *b ^= mask[i % 4];
        }
    }
    opening.extend_from_slice(&masked);
    to_upstream.write_all(&opening).map_err(|e| e.to_string())?;
    reader.get_mut().pace = Pace::Session {
        heartbeat: limits.heartbeat,
        last_bytes: Instant::now(),
    };
    let _ = from_upstream.get_ref().set_read_timeout(None);
    let max = if session.is_some() {
        limits.max_message
    } else {
        limits.first_frame
    };
    let ended = relay(reader, to_upstream, from_upstream, to_client, max, shared);
    drop(session);
    if authorized {
        Ok(ended)
    } else {
        Err("it presented the wrong token".into())
    }
}

/// The session's opening frame, bounded before the token is known: its header, its
/// (unmasked) payload and what it asks for.
fn read_opening(
    reader: &mut BufReader<ClientReader>,
    to_client: &mut TcpStream,
    limits: &GuardLimits,
) -> Result<(FrameHeader, Vec<u8>, wire::SessionAsk), Ended> {
    let first = frame::read_header(reader, limits.first_frame).map_err(|e| match e {
        FrameError::TooLong { len, .. } => format!(
            "its first message announced {len} bytes, over the {} allowed before the token is \
             checked",
            limits.first_frame
        ),
        other => format!("it closed during the handshake: {other}"),
    })?;
    if first.opcode != frame::OP_BINARY || !first.fin || first.mask.is_none() {
        let _ = to_client.write_all(&frame::close_frame(1002, "expected a session's opening"));
        return Err("its first frame does not open a session".into());
    }
    let payload = frame::read_payload(reader, &first).map_err(|e| e.to_string())?;
    let ask = match wire::session_ask(&payload) {
        Ok(ask) => ask,
        Err(why) => {
            let _ = to_client.write_all(&frame::close_frame(1002, "expected a session's opening"));
            return Err(why);
        }
    };
    Ok((first, payload, ask))
}

fn busy(shared: &Shared) -> String {
    format!(
        "the server is busy: it serves {} session(s) at a time (its device's random generator \
         is one per process, so concurrent runs would not train what they train alone); \
         try again when the current run ends",
        shared.limits.max_sessions
    )
}

/// A taken session slot and burn's admission, released when dropped.
struct SessionSlot<'a> {
    shared: &'a Shared,
    upstream: SocketAddr,
}

impl<'a> SessionSlot<'a> {
    fn open(shared: &'a Shared, upstream: SocketAddr) -> Self {
        shared.admissions.set(upstream, true);
        Self { shared, upstream }
    }
}

impl Drop for SessionSlot<'_> {
    fn drop(&mut self) {
        self.shared.admissions.set(self.upstream, false);
        self.shared.sessions.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Passes frames both ways until one side ends, a limit is hit or the client goes quiet.
fn relay(
    mut from_client: BufReader<ClientReader>,
    mut to_upstream: TcpStream,
    mut from_upstream: BufReader<TcpStream>,
    to_client: TcpStream,
    max_message: u64,
    shared: &Shared,
) -> Ended {
    let client_socket = from_client.get_ref().stream.try_clone();
    let to_client = Arc::new(Mutex::new(to_client));
    let downstream = {
        let to_client = to_client.clone();
        std::thread::Builder::new()
            .name("remote-guard-down".into())
            .stack_size(256 * 1024)
            .spawn(move || {
                let ended = server_to_client(&mut from_upstream, &to_client);
                if let Ok(w) = to_client.lock() {
                    let _ = w.shutdown(Shutdown::Both);
                }
                ended
            })
    };
    // Dropping `stop` wakes the pinger at once (no wait for its next beat).
    let (stop, stopped) = crossbeam_channel::bounded::<()>(0);
    let pinger = {
        let to_client = to_client.clone();
        let heartbeat = shared.limits.heartbeat;
        std::thread::Builder::new()
            .name("remote-guard-ping".into())
            .stack_size(64 * 1024)
            .spawn(move || {
                while let Err(crossbeam_channel::RecvTimeoutError::Timeout) =
                    stopped.recv_timeout(heartbeat)
                {
                    let Ok(mut w) = to_client.lock() else { break };
                    if w.write_all(&frame::control_frame(frame::OP_PING, b""))
                        .is_err()
                    {
                        break;
                    }
                }
            })
    };
    let ended = client_to_server(
        &mut from_client,
        &mut to_upstream,
        max_message,
        shared.limits.idle,
    );
    drop(stop);
    if let Some(reason) = &ended.close
        && let Ok(mut w) = to_client.lock()
    {
        let _ = w.write_all(&frame::close_frame(reason.0, &reason.1));
    }
    let _ = to_upstream.shutdown(Shutdown::Both);
    if let Ok(s) = &client_socket {
        let _ = s.shutdown(Shutdown::Both);
    }
    let down = downstream.ok().and_then(|t| t.join().ok());
    if let Ok(p) = pinger {
        let _ = p.join();
    }
    match down {
        Some(Some(why)) if ended.close.is_none() => why,
        _ => ended.why,
    }
}

struct ClientEnd {
    why: String,
    /// The Close frame the client is sent, when the guard ends the session.
    close: Option<(u16, String)>,
}

fn client_to_server(
    r: &mut BufReader<ClientReader>,
    w: &mut TcpStream,
    max_message: u64,
    idle: Duration,
) -> ClientEnd {
    let mut message_len = 0u64;
    let mut last_data = Instant::now();
    loop {
        let header = match frame::read_header(r, max_message.saturating_sub(message_len)) {
            Ok(h) => h,
            Err(FrameError::TooLong { .. }) => {
                let why = format!("a message over the limit of {max_message} bytes");
                return ClientEnd {
                    close: Some((1009, why.clone())),
                    why,
                };
            }
            Err(FrameError::Io(e)) if e.kind() == io::ErrorKind::TimedOut => {
                return ClientEnd {
                    why: e.to_string(),
                    close: Some((1001, e.to_string())),
                };
            }
            Err(e) => {
                return ClientEnd {
                    why: format!("the client ended it ({e})"),
                    close: None,
                };
            }
        };
        if header.is_control() {
            if header.opcode == frame::OP_PONG {
                // The answer to the guard's ping: liveness, not activity; burn never pinged.
                if frame::copy_payload(r, &mut io::sink(), header.len).is_err() {
                    return ClientEnd {
                        why: "the client went away".into(),
                        close: None,
                    };
                }
                if last_data.elapsed() > idle {
                    let why = format!("idle for {} s", idle.as_secs());
                    return ClientEnd {
                        close: Some((1001, why.clone())),
                        why,
                    };
                }
                continue;
            }
        } else {
            last_data = Instant::now();
            message_len = if header.opcode == frame::OP_CONTINUATION {
                message_len + header.len
            } else {
                header.len
            };
            if header.fin {
                message_len = 0;
            }
        }
        if let Err(e) = forward(&header, r, w) {
            return ClientEnd {
                why: format!("the connection ended ({e})"),
                close: None,
            };
        }
    }
}

fn forward(header: &FrameHeader, r: &mut impl Read, w: &mut impl Write) -> io::Result<()> {
    w.write_all(&header.raw)?;
    frame::copy_payload(r, w, header.len)
}

/// burn's frames to the client, each whole under the writer's lock (pings go between).
fn server_to_client(r: &mut BufReader<TcpStream>, to_client: &Mutex<TcpStream>) -> Option<String> {
    loop {
        let header = match frame::read_header(r, u64::MAX >> 1) {
            Ok(h) => h,
            Err(FrameError::Io(_)) => return None,
            Err(e) => return Some(format!("the device server sent {e}")),
        };
        let Ok(mut w) = to_client.lock() else {
            return None;
        };
        if forward(&header, r, &mut *w).is_err() {
            return None;
        }
        if header.opcode == frame::OP_CLOSE {
            return Some("the device server closed it".into());
        }
    }
}
