//! Training on another process's device: burn's remote backend over WebSocket, served by
//! `contrastive-workbench serve` (see `cli::serve`). The networks' tensors live on the
//! server; this process sends the operations and reads back only what it asks for
//! (losses, metrics, evaluation features, checkpoints).

use std::path::Path;
use std::time::{Duration, Instant};

use burn::tensor::{Device, Tensor};

use crate::engine::BackendInfo;

/// The token in `file` (its first line, trimmed), or a message naming the file.
pub fn read_token(file: &Path) -> Result<String, String> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| format!("token file {}: cannot read it: {e}", file.display()))?;
    let token = text.lines().next().unwrap_or("").trim().to_string();
    if token.is_empty() {
        return Err(format!(
            "token file {}: it is empty (the token is its first line)",
            file.display()
        ));
    }
    Ok(token)
}

/// Connects to the server at `url` with the token in `token_file` (empty: none).
#[cfg(feature = "remote")]
pub fn connect(url: &str, token_file: &str) -> Result<(Device, BackendInfo), String> {
    use burn::remote::{ConnectError, RemoteHost};
    let mut host = RemoteHost::websocket(url);
    if !token_file.is_empty() {
        host = host.with_credential(read_token(Path::new(token_file))?);
    }
    let devices = host.devices().map_err(|e| match e {
        ConnectError::Unauthorized => format!(
            "the server at {url} refused this client: wrong or missing token \
             (train.remote_token_file = {token_file:?})"
        ),
        ConnectError::Unreachable { reason } => format!(
            "nothing answers at {url} ({reason}): start `contrastive-workbench serve` there"
        ),
        other => format!("cannot connect to the server at {url}: {other}"),
    })?;
    let count = devices.len();
    let device = devices
        .into_iter()
        .next()
        .ok_or_else(|| format!("the server at {url} hosts no device"))?;
    let rtt = round_trip(&device).unwrap_or_default();
    Ok((
        device,
        BackendInfo {
            name: format!("remote ({url})"),
            reason: format!(
                "the server's device 0 of {count} (its name is on the server's console); \
                 round trip {:.1} ms",
                rtt.as_secs_f64() * 1e3
            ),
        },
    ))
}

#[cfg(not(feature = "remote"))]
pub fn connect(_url: &str, _token_file: &str) -> Result<(Device, BackendInfo), String> {
    Err("this build has no remote backend (rebuild with `--features remote`)".into())
}

/// Whether `device` lives in another process.
pub fn is_remote(device: &Device) -> bool {
    #[cfg(feature = "remote")]
    {
        matches!(
            device.clone().without_autodiff().as_dispatch(),
            burn::backend::DispatchDevice::Remote(_)
        )
    }
    #[cfg(not(feature = "remote"))]
    {
        let _ = device;
        false
    }
}

/// The time to send one value to the server and read it back, for remote devices only.
/// Called between steps, when no work is queued, so it measures the network and the
/// server's dispatch, not the training step.
pub fn round_trip(device: &Device) -> Option<Duration> {
    if !is_remote(device) {
        return None;
    }
    let device = device.clone().without_autodiff();
    let start = Instant::now();
    let _ = Tensor::<1>::from_floats([1.0], &device).into_data();
    Some(start.elapsed())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_file_is_read_and_bad_ones_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let good = dir.path().join("token");
        std::fs::write(&good, "s3cret \nignored\n").unwrap();
        assert_eq!(read_token(&good).unwrap(), "s3cret");
        let empty = dir.path().join("empty");
        std::fs::write(&empty, "\n").unwrap();
        let err = read_token(&empty).unwrap_err();
        assert!(err.contains("empty") && err.contains("empty"), "{err}");
        let err = read_token(&dir.path().join("missing")).unwrap_err();
        assert!(
            err.contains("missing") && err.contains("cannot read"),
            "{err}"
        );
    }

    #[test]
    fn local_devices_have_no_round_trip() {
        assert!(round_trip(&Device::flex()).is_none());
        assert!(!is_remote(&Device::flex().autodiff()));
    }
}
