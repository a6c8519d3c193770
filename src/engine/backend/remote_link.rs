//! The client's side of the link to a `serve`: burn's client talks to a relay on loopback,
//! and the relay to the server. burn's client has no timeouts: a server that never answers
//! the handshake, or stalls mid-run (a suspended host), leaves it waiting for ever, and the
//! first Ctrl-C, which stops a run between steps, seems ignored. The relay owns the socket
//! to the server, so it can close it, which fails every call burn is waiting on (the run
//! then stops with its last checkpoint kept). It closes it when:
//! - the server takes longer than `CONNECT` to accept, or the handshake time (30 s) to answer;
//! - nothing came from the server for four heartbeats (a guard pings every heartbeat,
//!   whatever the device is doing, and says how often in its upgrade answer);
//! - the user interrupts while the server is silent ([`interrupt`]).
//!
//! One relay per server and token, kept while its connection lives: burn keeps one session
//! per address, and runs in one process (a sweep's members) share it.

use std::collections::HashMap;
use std::io::{BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use crate::engine::remote_guard::{HEARTBEAT_HEADER, http};

const CONNECT: Duration = Duration::from_secs(10);

/// How long a server has to answer the upgrade and the session's opening: 30 s, or
/// `CW_REMOTE_HANDSHAKE_SECS` (a slow link, or a test).
fn handshake() -> Duration {
    let secs = std::env::var("CW_REMOTE_HANDSHAKE_SECS")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .filter(|&s| s > 0)
        .unwrap_or(30);
    Duration::from_secs(secs)
}

/// Why the link ended, when it was not the client closing it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LinkEnd {
    Unreachable(String),
    /// The server answered the upgrade with this status and text.
    Refused(String),
    HandshakeTimeout,
    Stalled(Duration),
    Interrupted,
}

impl LinkEnd {
    pub fn describe(&self, url: &str) -> String {
        match self {
            Self::Unreachable(why) => {
                format!(
                    "nothing answers at {url} ({why}): start `contrastive-workbench serve` there"
                )
            }
            Self::Refused(text) => format!("the server at {url} refused this client: {text}"),
            Self::HandshakeTimeout => format!(
                "the server at {url} accepted the connection but did not answer within {} s \
                 (is its host suspended, or is it not a `serve`?)",
                handshake().as_secs()
            ),
            Self::Stalled(silent) => format!(
                "the server at {url} has sent nothing for {} s, not even its pings (its host \
                 is suspended, or the network is down)",
                silent.as_secs()
            ),
            Self::Interrupted => format!("interrupted while waiting for the server at {url}"),
        }
    }
}

#[derive(Default)]
struct LinkState {
    ended: Option<LinkEnd>,
    dead: bool,
    last_bytes: Option<Instant>,
    heartbeat: Option<Duration>,
    sockets: Vec<TcpStream>,
}

/// A relay: the loopback address burn's client is given for one server.
pub struct Relay {
    pub local_url: String,
    state: Arc<Mutex<LinkState>>,
}

impl Relay {
    /// Why the link ended, if it ended on a problem this side saw.
    pub fn ended(&self) -> Option<LinkEnd> {
        lock(&self.state).ended.clone()
    }
}

fn lock(state: &Mutex<LinkState>) -> std::sync::MutexGuard<'_, LinkState> {
    state.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The live relays, by server URL and token.
type Relays = HashMap<(String, String), Arc<Relay>>;

fn relays() -> &'static Mutex<Relays> {
    static RELAYS: OnceLock<Mutex<Relays>> = OnceLock::new();
    RELAYS.get_or_init(Mutex::default)
}

/// The live relay to `url` for `token`, or a new one.
pub fn relay_for(url: &str, token: &str) -> Result<Arc<Relay>, String> {
    let mut relays = relays().lock().unwrap_or_else(PoisonError::into_inner);
    let key = (url.to_string(), token.to_string());
    if let Some(relay) = relays.get(&key)
        && !lock(&relay.state).dead
    {
        return Ok(relay.clone());
    }
    let relay = Arc::new(start(url)?);
    relays.insert(key, relay.clone());
    Ok(relay)
}

/// The relay's word on why the link to `url` ended, if one ended on a problem.
pub fn problem(url: &str) -> Option<String> {
    let relays = relays().lock().unwrap_or_else(PoisonError::into_inner);
    relays
        .iter()
        .filter(|((u, _), _)| u == url)
        .find_map(|(_, r)| r.ended())
        .map(|end| end.describe(url))
}

/// The user interrupted: links whose server has been silent for over a heartbeat are
/// closed now (their run stops at once, its last checkpoint kept); a server that is
/// answering finishes the step, and the run stops after it as usual.
pub fn interrupt() {
    let relays = relays().lock().unwrap_or_else(PoisonError::into_inner);
    for relay in relays.values() {
        let mut state = lock(&relay.state);
        let silent = match (state.last_bytes, state.heartbeat) {
            (Some(last), Some(beat)) => last.elapsed() > beat + Duration::from_millis(500),
            // No server bytes yet (still connecting), or a server without pings.
            _ => true,
        };
        if silent && !state.dead {
            close(&mut state, LinkEnd::Interrupted);
        }
    }
}

fn close(state: &mut LinkState, why: LinkEnd) {
    state.ended.get_or_insert(why);
    state.dead = true;
    for s in state.sockets.drain(..) {
        let _ = s.shutdown(Shutdown::Both);
    }
}

fn server_address(url: &str) -> Result<SocketAddr, String> {
    let rest = url
        .strip_prefix("ws://")
        .ok_or_else(|| format!("train.remote = {url:?} is not a ws://host:port address"))?;
    let host_port = rest.split('/').next().unwrap_or(rest);
    host_port
        .to_socket_addrs()
        .map_err(|e| format!("train.remote = {url:?}: {e}"))?
        .next()
        .ok_or_else(|| format!("train.remote = {url:?} names no address"))
}

fn start(url: &str) -> Result<Relay, String> {
    let server = server_address(url)?;
    let listener =
        TcpListener::bind("127.0.0.1:0").map_err(|e| format!("no loopback port: {e}"))?;
    let local = listener.local_addr().map_err(|e| e.to_string())?;
    let state = Arc::new(Mutex::new(LinkState::default()));
    let shared = state.clone();
    std::thread::Builder::new()
        .name("remote-link".into())
        .spawn(move || {
            // One connection: burn's session. When it ends, so does the relay.
            if let Ok((burn, _)) = listener.accept() {
                drop(listener);
                link(burn, server, &shared);
            }
            lock(&shared).dead = true;
        })
        .map_err(|e| e.to_string())?;
    Ok(Relay {
        local_url: format!("ws://{local}"),
        state,
    })
}

fn link(burn: TcpStream, server: SocketAddr, state: &Arc<Mutex<LinkState>>) {
    let _ = burn.set_nodelay(true);
    let to_server = match TcpStream::connect_timeout(&server, CONNECT) {
        Ok(s) => s,
        Err(e) => {
            let mut st = lock(state);
            st.sockets.push(burn);
            close(&mut st, LinkEnd::Unreachable(e.to_string()));
            return;
        }
    };
    let _ = to_server.set_nodelay(true);
    let (Ok(from_server), Ok(mut to_burn), Ok(mut from_burn), Ok(mut up)) = (
        to_server.try_clone(),
        burn.try_clone(),
        burn.try_clone(),
        to_server.try_clone(),
    ) else {
        return;
    };
    {
        let mut st = lock(state);
        st.sockets.extend([burn, to_server]);
        if st.dead {
            close(&mut st, LinkEnd::Interrupted);
            return;
        }
    }
    let upstream = std::thread::Builder::new()
        .name("remote-link-up".into())
        .spawn(move || {
            let _ = std::io::copy(&mut from_burn, &mut up);
            let _ = up.shutdown(Shutdown::Write);
        });
    let why = downstream(from_server, &mut to_burn, state);
    let mut st = lock(state);
    match why {
        Some(why) => close(&mut st, why),
        None => {
            st.dead = true;
            for s in st.sockets.drain(..) {
                let _ = s.shutdown(Shutdown::Both);
            }
        }
    }
    drop(st);
    if let Ok(t) = upstream {
        let _ = t.join();
    }
}

/// The server's bytes to burn: the upgrade answer (a refusal is kept as the reason), then
/// everything, each read bounded by the stall rule.
fn downstream(
    from_server: TcpStream,
    to_burn: &mut TcpStream,
    state: &Mutex<LinkState>,
) -> Option<LinkEnd> {
    let handshake = handshake();
    let _ = from_server.set_read_timeout(Some(handshake));
    let mut reader = BufReader::new(from_server);
    let head = match http::read_head(&mut reader) {
        Ok(head) => head,
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ) =>
        {
            return Some(LinkEnd::HandshakeTimeout);
        }
        Err(e) => {
            return Some(LinkEnd::Unreachable(format!(
                "it closed the connection ({e})"
            )));
        }
    };
    let text = String::from_utf8_lossy(&head).into_owned();
    let status = text.lines().next().unwrap_or("").to_string();
    if !status.contains(" 101 ") {
        let mut body = String::new();
        let _ = (&mut reader).take(4096).read_to_string(&mut body);
        let code = status
            .split_once(' ')
            .map_or(status.as_str(), |(_, s)| s)
            .trim();
        let reason = body.trim();
        let refused = LinkEnd::Refused(if reason.is_empty() {
            code.to_string()
        } else {
            format!("{reason} ({code})")
        });
        // The reason is recorded before burn sees the refusal: burn's error returns at
        // once, and the caller asks the relay why.
        lock(state).ended.get_or_insert(refused.clone());
        let _ = to_burn.write_all(&head);
        let _ = to_burn.write_all(body.as_bytes());
        return Some(refused);
    }
    let heartbeat = text.lines().find_map(|l| {
        let (name, value) = l.split_once(':')?;
        name.trim()
            .eq_ignore_ascii_case(HEARTBEAT_HEADER)
            .then(|| value.trim().parse::<u64>().ok())
            .flatten()
            .map(Duration::from_secs)
    });
    {
        let mut st = lock(state);
        st.heartbeat = heartbeat;
        st.last_bytes = Some(Instant::now());
    }
    if to_burn.write_all(&head).is_err() {
        return None;
    }
    // Until the session's answer: the handshake's bound; then four heartbeats, or none
    // for a server without pings (an older `serve`).
    let mut limit = Some(handshake);
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let _ = reader.get_ref().set_read_timeout(limit);
        match reader.read(&mut buf) {
            Ok(0) => return None,
            Ok(n) => {
                lock(state).last_bytes = Some(Instant::now());
                if to_burn.write_all(&buf[..n]).is_err() {
                    return None;
                }
                limit = heartbeat.map(|b| b * 4);
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                let st = lock(state);
                if st.dead {
                    return None;
                }
                return Some(match (heartbeat, st.last_bytes) {
                    (Some(_), Some(last)) if limit != Some(handshake) => {
                        LinkEnd::Stalled(last.elapsed())
                    }
                    _ => LinkEnd::HandshakeTimeout,
                });
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return None,
        }
    }
}
