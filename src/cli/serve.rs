//! `serve`: host this machine's best device for other workbenches (`backend = "remote"`),
//! with burn's remote backend server over WebSocket.
//!
//! Security: the server listens on loopback unless told otherwise, and refuses to listen
//! beyond it without a token. WebSocket is unencrypted: the token keeps stray clients
//! out of a trusted network, it does not hide the traffic (see the README's threat model;
//! across networks, reach a loopback server through an SSH tunnel).

use std::io::Write;
use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;

use anyhow::{Context, anyhow, bail};

use crate::engine::backend::remote::{read_token, token_warnings};
use crate::engine::backend::select_local;
use crate::preset::BackendChoice;

/// What `serve` was asked for on the command line.
pub struct ServeArgs {
    pub listen: String,
    pub device: BackendChoice,
    pub token_file: Option<PathBuf>,
    /// The device process's heap bound in GiB (None: three quarters of this machine's).
    pub max_memory_gib: Option<u64>,
    #[cfg(feature = "remote")]
    pub limits: crate::engine::remote_guard::GuardLimits,
    #[cfg(not(feature = "remote"))]
    pub limits: (),
}

/// Where to listen, refused when it reaches beyond this machine without a token.
pub fn listen_address(listen: &str, has_token: bool) -> anyhow::Result<SocketAddr> {
    let address: SocketAddr = listen.parse().map_err(|e| {
        anyhow!("--listen {listen:?} is not an address and port such as 127.0.0.1:3000 ({e})")
    })?;
    if !address.ip().is_loopback() && !has_token {
        bail!(
            "--listen {address} reaches beyond this machine, which needs a token \
             (--token-file FILE): without one, anyone who reaches the port can run work on \
             this device and read every tensor. To stay on this machine, listen on \
             127.0.0.1 (and reach it from elsewhere through an SSH tunnel)"
        );
    }
    Ok(address)
}

/// Checks the token file and the address here, then runs the device server in a child
/// process that is restarted when a session ends it (`serve_supervisor`).
#[cfg(feature = "remote")]
pub fn serve(args: ServeArgs) -> anyhow::Result<()> {
    use super::serve_supervisor::{WORKER_ENV, exit_with_supervisor, heap_bound, supervise};
    if std::env::var_os(WORKER_ENV).is_some() {
        exit_with_supervisor();
        return serve_device(args);
    }
    let token = args
        .token_file
        .as_deref()
        .map(read_token)
        .transpose()
        .map_err(|m| anyhow!("--token-file: {m}"))?;
    if let (Some(file), Some(token)) = (&args.token_file, &token) {
        for warning in token_warnings(file, token) {
            crate::errln!("warning: {warning}");
        }
    }
    listen_address(&args.listen, token.is_some())?;
    let sessions = args.limits.max_sessions;
    if sessions > 1 {
        crate::errln!(
            "warning: --max-sessions {sessions}: the sessions share this device's random \
             generator (a run no longer trains the numbers it trains alone) and one memory \
             bound (a session past it ends every session); 1 keeps each run isolated"
        );
    }
    supervise(heap_bound(args.max_memory_gib))
}

/// The device server itself: the guard on the public address, burn's server behind it.
#[cfg(feature = "remote")]
fn serve_device(args: ServeArgs) -> anyhow::Result<()> {
    use crate::engine::backend::remote::{DEVICE_NAME_OP, device_name_handler};
    use burn::backend::{DispatchDevice, Flex};
    use burn::server::{RemoteServer, TokenAuthorizer, WebSocketTransport};
    let token = args
        .token_file
        .as_deref()
        .map(read_token)
        .transpose()
        .map_err(|m| anyhow!("--token-file: {m}"))?;
    // A restarted device server listens where the first one did (its port included).
    let listen = std::env::var(super::serve_supervisor::LISTEN_ENV).unwrap_or(args.listen);
    let address = listen_address(&listen, token.is_some())?;
    let (device, info) = select_local(args.device).map_err(|m| anyhow!("--device: {m}"))?;
    let listener = TcpListener::bind(address)
        .with_context(|| format!("--listen {address}: cannot listen there"))?;
    let url = format!("ws://{}", listener.local_addr()?);
    let token = token
        .map(TokenAuthorizer::new)
        .transpose()
        .map_err(|_| anyhow!("--token-file: the token is empty"))?;
    // burn listens on a private loopback port; clients reach it only through the guard.
    let private =
        TcpListener::bind("127.0.0.1:0").context("cannot open the device server's port")?;
    let admissions = crate::engine::remote_guard::spawn(
        listener,
        private.local_addr()?,
        args.limits.clone(),
        token.clone(),
    )
    .context("cannot start the connection guard")?;
    let gate = Gate { token, admissions };
    crate::errln!(
        "serving {} ({}) on {url}{}; a client sets backend = \"remote\", remote = \"{url}\"",
        info.name,
        info.reason,
        if gate.token.is_some() {
            " with a token"
        } else {
            ""
        }
    );
    // One JSON line on stdout, for scripts (and the tests) that start a server on port 0.
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "{}",
        serde_json::json!({"event": "serving", "url": url, "device": info.name})
    )?;
    out.flush()?;
    drop(out);
    // Clients ask for the device's name with a custom op. Its handler is typed by the
    // backend, and burn refuses to serve with a handler for any other than the device's.
    let server = RemoteServer::new([device.clone()]).with_authorizer(gate);
    let server = match device.without_autodiff().as_dispatch() {
        DispatchDevice::Flex(_) => server.with_custom_op::<Flex, _>(
            DEVICE_NAME_OP,
            device_name_handler::<Flex>(info.name.clone()),
        ),
        #[cfg(any(feature = "gpu", feature = "cuda"))]
        DispatchDevice::Cube(_) => server.with_custom_op::<burn::backend::Cube, _>(
            DEVICE_NAME_OP,
            device_name_handler::<burn::backend::Cube>(info.name.clone()),
        ),
        _ => bail!("--device: {} cannot be served", info.name),
    };
    server
        .serve(WebSocketTransport::from_listener(private))
        .map_err(|e| anyhow!("the server stopped: {e}"))
}

#[cfg(not(feature = "remote"))]
pub fn serve(_args: ServeArgs) -> anyhow::Result<()> {
    bail!("this build has no remote backend (rebuild with `--features remote`)")
}

/// Opens only the sessions the guard admitted (it checked the token and holds a session
/// slot for them), checking the token again. The guard logs each client by its own
/// address; burn sees only the guard's.
#[cfg(feature = "remote")]
struct Gate {
    token: Option<burn::server::TokenAuthorizer>,
    admissions: std::sync::Arc<crate::engine::remote_guard::Admissions>,
}

#[cfg(feature = "remote")]
impl burn::server::PeerAuthorizer for Gate {
    fn authorize(&self, request: burn::server::AuthorizationRequest<'_>) -> Result<(), String> {
        let burn::server::ClientId::WebSocket(address) = request.client else {
            return Err("not a WebSocket client".into());
        };
        if !self.admissions.admits(&address) {
            return Err(
                "not admitted by the guard (a wrong or missing token, or not through it)".into(),
            );
        }
        match &self.token {
            Some(token) => token.authorize(request),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_needs_no_token_and_other_addresses_do() {
        assert!(listen_address("127.0.0.1:3000", false).is_ok());
        assert!(listen_address("[::1]:3000", false).is_ok());
        let err = listen_address("0.0.0.0:3000", false)
            .unwrap_err()
            .to_string();
        assert!(err.contains("needs a token"), "{err}");
        assert!(listen_address("0.0.0.0:3000", true).is_ok());
        let err = listen_address("localhost", false).unwrap_err().to_string();
        assert!(err.contains("not an address"), "{err}");
    }
}
