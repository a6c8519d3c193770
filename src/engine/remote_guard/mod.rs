//! The guard in front of burn's remote server (`serve`). burn's server reads a client's
//! first message whole (up to 1 GiB, reserved from the length the client sends) before it
//! looks at the token, limits neither connections nor sessions and times nothing out; it
//! has no setting for any of these. So `serve` gives burn a private loopback listener and
//! puts this guard on the public address. For each connection it:
//! - refuses beyond `max_connections` at once, with an HTTP 503 that says so;
//! - reads the upgrade request (at most 16 KiB, only `/session`) and the session's opening
//!   frame (at most 64 KiB) within `handshake` seconds, and checks the token itself;
//! - opens one session at a time (`max_sessions`): the device's random generator is one
//!   per process, so two clients' runs would draw from it in turn and train other numbers
//!   than alone; a second client is told the server is busy (HTTP 503);
//! - then passes frames on, each message bounded by `max_message`, and closes a session
//!   whose client sent nothing for `idle`, or stopped answering the pings it sends every
//!   `heartbeat`, so a vanished client frees the device.
//!
//! burn's gate (`cli::serve`) opens only sessions that came through the guard.

mod connection;
mod frame;
pub(crate) mod http;
mod wire;

use std::collections::HashSet;
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What the guard allows.
#[derive(Clone, Debug)]
pub struct GuardLimits {
    pub max_connections: usize,
    pub max_sessions: usize,
    pub handshake: Duration,
    /// The session's opening frame, read before the token is known.
    pub first_frame: u64,
    /// Any later message, from an admitted client.
    pub max_message: u64,
    pub idle: Duration,
    pub heartbeat: Duration,
}

impl Default for GuardLimits {
    fn default() -> Self {
        Self {
            max_connections: 128,
            max_sessions: 1,
            handshake: Duration::from_secs(10),
            first_frame: 64 * 1024,
            max_message: 512 * 1024 * 1024,
            idle: Duration::from_secs(30 * 60),
            heartbeat: Duration::from_secs(5),
        }
    }
}

/// The header the guard adds to the upgrade response: the client may expect a ping (or any
/// bytes) at least this often, in seconds, and treat a longer silence as a stalled server.
pub const HEARTBEAT_HEADER: &str = "x-workbench-heartbeat";

/// Which of burn's connections came through the guard, as burn sees their address.
#[derive(Default)]
pub struct Admissions {
    admitted: Mutex<HashSet<SocketAddr>>,
}

impl Admissions {
    /// Whether burn's client at `address` is a connection the guard admitted.
    pub fn admits(&self, address: &SocketAddr) -> bool {
        self.admitted
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .contains(address)
    }

    fn set(&self, address: SocketAddr, admitted: bool) {
        let mut set = self
            .admitted
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if admitted {
            set.insert(address);
        } else {
            set.remove(&address);
        }
    }
}

/// Counters shared by the connections.
struct Shared {
    limits: GuardLimits,
    upstream: SocketAddr,
    token: Option<burn::server::TokenAuthorizer>,
    admissions: Arc<Admissions>,
    connections: AtomicUsize,
    sessions: AtomicUsize,
}

impl Shared {
    /// Takes a session slot if one is free.
    fn open_session(&self) -> bool {
        self.sessions
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                (n < self.limits.max_sessions).then_some(n + 1)
            })
            .is_ok()
    }

    fn sessions_full(&self) -> bool {
        self.sessions.load(Ordering::SeqCst) >= self.limits.max_sessions
    }
}

/// Serves `public` on a thread of its own, passing admitted sessions to burn's server at
/// `upstream`. Returns who burn's gate should admit.
pub fn spawn(
    public: TcpListener,
    upstream: SocketAddr,
    limits: GuardLimits,
    token: Option<burn::server::TokenAuthorizer>,
) -> std::io::Result<Arc<Admissions>> {
    let admissions = Arc::new(Admissions::default());
    let shared = Arc::new(Shared {
        limits,
        upstream,
        token,
        admissions: admissions.clone(),
        connections: AtomicUsize::new(0),
        sessions: AtomicUsize::new(0),
    });
    std::thread::Builder::new()
        .name("remote-guard".into())
        .spawn(move || accept_loop(&public, &shared))?;
    Ok(admissions)
}

fn accept_loop(public: &TcpListener, shared: &Arc<Shared>) {
    loop {
        let (stream, peer) = match public.accept() {
            Ok(pair) => pair,
            Err(e) => {
                // Out of file descriptors (or a connection reset before it was accepted):
                // wait for some to close rather than spin.
                crate::errln!("guard: cannot accept a connection ({e})");
                std::thread::sleep(Duration::from_millis(100));
                continue;
            }
        };
        let open = shared.connections.fetch_add(1, Ordering::SeqCst);
        if open >= shared.limits.max_connections {
            shared.connections.fetch_sub(1, Ordering::SeqCst);
            connection::refuse_now(
                stream,
                &format!(
                    "the server holds its limit of {} connections; try again later",
                    shared.limits.max_connections
                ),
            );
            continue;
        }
        let (shared, counted) = (shared.clone(), shared.clone());
        let spawned = std::thread::Builder::new()
            .name("remote-guard-conn".into())
            .stack_size(256 * 1024)
            .spawn(move || {
                connection::serve(stream, peer, &shared);
                shared.connections.fetch_sub(1, Ordering::SeqCst);
            });
        if spawned.is_err() {
            counted.connections.fetch_sub(1, Ordering::SeqCst);
            crate::errln!("guard: no thread for {peer}; its connection is closed");
        }
    }
}
