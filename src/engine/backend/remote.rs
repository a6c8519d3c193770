//! Training on another process's device: burn's remote backend over WebSocket, served by
//! `contrastive-workbench serve` (see `cli::serve`). The networks' tensors live on the
//! server; this process sends the operations and reads back only what it asks for
//! (losses, metrics, evaluation features, checkpoints).
//!
//! A `backend = "remote"` device is a burn device like any other: the networks, optimiser
//! and method state live on the server, while data loading, augmentation, metrics,
//! evaluation maths and the window stay on the client. The fused CPU stage
//! (`model::fast_block`) is flex-only, so a remote flex server runs burn's ops. `connect`
//! reads the token file, asks the server for its device's name and measures the round
//! trip. burn's protocol carries no device names, so `serve` registers one custom
//! operation, `DEVICE_NAME_OP` (a handler per backend it can host), whose output is the
//! name as bytes; the client asks it once, through the same authorised session, and names
//! the server's device in `BackendInfo`.

use std::path::Path;
use std::time::{Duration, Instant};

use burn::tensor::{Device, Tensor};

use crate::engine::BackendInfo;

/// The most a token file is read: a token is one line, far shorter.
const MAX_TOKEN_FILE: u64 = 4096;
/// Tokens shorter than this are warned of (a guessable secret).
const MIN_TOKEN_CHARS: usize = 16;

/// The token in `file` (its first line, trimmed), or a message naming the file. Only a
/// regular file is opened (a FIFO nobody writes would hang, /dev/zero would never end),
/// and it must be short.
pub fn read_token(file: &Path) -> Result<String, String> {
    use std::io::Read;
    let named = |what: String| format!("token file {}: {what}", file.display());
    let meta = std::fs::metadata(file).map_err(|e| named(format!("cannot read it: {e}")))?;
    if !meta.is_file() {
        return Err(named(
            "not a regular file (a device, FIFO or folder); write the token into a file".into(),
        ));
    }
    let mut text = String::new();
    std::fs::File::open(file)
        .and_then(|f| f.take(MAX_TOKEN_FILE + 1).read_to_string(&mut text))
        .map_err(|e| named(format!("cannot read it as text: {e}")))?;
    if text.len() as u64 > MAX_TOKEN_FILE {
        return Err(named(format!(
            "longer than {MAX_TOKEN_FILE} bytes; a token file holds one line"
        )));
    }
    let token = text.lines().next().unwrap_or("").trim().to_string();
    if token.is_empty() {
        return Err(format!(
            "token file {}: it is empty (the token is its first line)",
            file.display()
        ));
    }
    Ok(token)
}

/// What is weak about `token` and its `file`: a short token, a file others can read.
pub fn token_warnings(file: &Path, token: &str) -> Vec<String> {
    use std::os::unix::fs::PermissionsExt;
    let mut warnings = Vec::new();
    let chars = token.chars().count();
    if chars < MIN_TOKEN_CHARS {
        warnings.push(format!(
            "token file {}: the token is {chars} characters, easy to guess; use at least \
             {MIN_TOKEN_CHARS} random ones (`openssl rand -hex 16`)",
            file.display()
        ));
    }
    if let Ok(meta) = std::fs::metadata(file)
        && meta.permissions().mode() & 0o077 != 0
    {
        warnings.push(format!(
            "token file {}: other users of this machine can read it (mode {:o}); \
             `chmod 600` it",
            file.display(),
            meta.permissions().mode() & 0o777
        ));
    }
    warnings
}

/// Connects to the server at `url` with the token in `token_file` (empty: none).
#[cfg(feature = "remote")]
pub fn connect(url: &str, token_file: &str) -> Result<(Device, BackendInfo), String> {
    use burn::remote::{ConnectError, RemoteHost};
    let token = if token_file.is_empty() {
        None
    } else {
        Some(read_token(Path::new(token_file))?)
    };
    // burn's client reaches the server through a relay that can time out and close the link.
    let relay = super::remote_link::relay_for(url, token.as_deref().unwrap_or(""))?;
    let mut host = RemoteHost::websocket(&relay.local_url);
    if let Some(token) = token {
        host = host.with_credential(token);
    }
    let devices = host.devices().map_err(|e| {
        if let Some(end) = relay.ended() {
            return end.describe(url);
        }
        match e {
            ConnectError::Unauthorized => format!(
                "the server at {url} refused this client: wrong or missing token \
             (train.remote_token_file = {token_file:?})"
            ),
            ConnectError::Unreachable { reason } => format!(
                "nothing answers at {url} ({reason}): start `contrastive-workbench serve` there"
            ),
            other => format!("cannot connect to the server at {url}: {other}"),
        }
    })?;
    let count = devices.len();
    let device = devices
        .into_iter()
        .next()
        .ok_or_else(|| format!("the server at {url} hosts no device"))?;
    let server_device = device_name(&device).ok_or_else(|| {
        format!(
            "the server at {url} did not say which device it hosts: it is not a \
             contrastive-workbench `serve` of this version (update it there)"
        )
    })?;
    let rtt = round_trip(&device).unwrap_or_default();
    Ok((
        device,
        BackendInfo {
            name: format!("remote {server_device} at {url}"),
            reason: format!(
                "the server's device 0 of {count}; round trip {:.1} ms",
                rtt.as_secs_f64() * 1e3
            ),
        },
    ))
}

/// The custom operation a workbench server answers with the name of its device: burn's
/// protocol carries no device names, and asking through it needs no second port and passes
/// the same token check as the training. Versioned, so a later encoding gets a new id.
pub const DEVICE_NAME_OP: &str = "contrastive-workbench/device-name/v1";

/// How many bytes of the name travel (as one f32 each, exact for 0..=255); longer names
/// are cut at a character boundary.
const DEVICE_NAME_BYTES: usize = 96;

/// `name` as the op's output values: its UTF-8 bytes, zero-padded.
pub fn encode_device_name(name: &str) -> Vec<f32> {
    let mut end = name.len().min(DEVICE_NAME_BYTES);
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    let mut values: Vec<f32> = name.as_bytes()[..end]
        .iter()
        .map(|&b| f32::from(b))
        .collect();
    values.resize(DEVICE_NAME_BYTES, 0.0);
    values
}

/// The name back from the op's output values, or `None` when they are not a name.
pub fn decode_device_name(values: &[f32]) -> Option<String> {
    let bytes = values
        .iter()
        .take_while(|&&v| v != 0.0)
        .map(|&v| (v.fract() == 0.0 && (1.0..=255.0).contains(&v)).then_some(v as u8))
        .collect::<Option<Vec<u8>>>()?;
    String::from_utf8(bytes)
        .ok()
        .filter(|name| !name.is_empty())
}

/// The server-side handler of [`DEVICE_NAME_OP`] for backend `B`: its one output is the
/// encoded `name`.
#[cfg(feature = "remote")]
pub fn device_name_handler<B: burn::backend::ir::BackendIr>(
    name: String,
) -> impl Fn(&mut burn::server::HandleContainer<B::Handle>, &burn::server::CustomOpIr, &B::Device)
+ Send
+ Sync
+ 'static {
    use burn::tensor::TensorData;
    move |handles, op, device| {
        let values = encode_device_name(&name);
        let tensor = B::float_from_data(TensorData::new(values, [DEVICE_NAME_BYTES]), device);
        handles.register_float_tensor::<B>(&op.outputs[0].id, tensor);
    }
}

/// What the server says its device is; `None` when it does not answer (a server that is
/// not a workbench's of this version, whose session then ends).
#[cfg(feature = "remote")]
fn device_name(device: &Device) -> Option<String> {
    use burn::backend::ir::TensorIr;
    use burn::backend::ops::FloatTensorOps;
    use burn::backend::{DispatchDevice, Remote};
    use burn::server::CustomOpIr;
    use burn::tensor::{DType, Shape};
    let device = device.clone().without_autodiff();
    let DispatchDevice::Remote(remote) = device.as_dispatch() else {
        return None;
    };
    // A server without the op panics in its session; this side then fails its read.
    let asked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let client = burn::remote::CustomOpClient::new(remote);
        let output = TensorIr::uninit(
            client.create_empty_handle(),
            Shape::new([DEVICE_NAME_BYTES]),
            DType::F32,
        );
        let answer = client
            .register(CustomOpIr::new(DEVICE_NAME_OP, &[], &[output]))
            .remove(0);
        burn::tensor::read_sync(<Remote as FloatTensorOps<Remote>>::float_into_data(answer))
            .ok()
            .and_then(|data| data.try_to_vec::<f32>().ok())
    }));
    asked
        .ok()
        .flatten()
        .and_then(|values| decode_device_name(&values))
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
        // Never read whole, never waited on.
        let err = read_token(Path::new("/dev/zero")).unwrap_err();
        assert!(err.contains("not a regular file"), "{err}");
        let long = dir.path().join("long");
        std::fs::write(&long, vec![b'x'; 10_000]).unwrap();
        assert!(read_token(&long).unwrap_err().contains("longer than"));
        let fifo = dir.path().join("fifo");
        assert!(
            std::process::Command::new("mkfifo")
                .arg(&fifo)
                .status()
                .unwrap()
                .success()
        );
        assert!(
            read_token(&fifo)
                .unwrap_err()
                .contains("not a regular file")
        );
    }

    #[test]
    fn a_short_token_and_a_readable_file_are_warned_of() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("token");
        std::fs::write(&file, "x\n").unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        let w = token_warnings(&file, "x");
        assert_eq!(w.len(), 2, "{w:?}");
        assert!(
            w[0].contains("1 characters") && w[1].contains("chmod 600"),
            "{w:?}"
        );
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert!(token_warnings(&file, "0123456789abcdef0123").is_empty());
    }

    #[test]
    fn a_device_name_survives_its_encoding_and_long_ones_are_cut_whole() {
        for name in ["CPU (flex)", "GPU (wgpu: NVIDIA H200)", "CUDA 0 (Größe)"] {
            assert_eq!(
                decode_device_name(&encode_device_name(name)).as_deref(),
                Some(name)
            );
        }
        let long = "é".repeat(DEVICE_NAME_BYTES);
        let cut = decode_device_name(&encode_device_name(&long)).unwrap();
        assert_eq!(cut, "é".repeat(DEVICE_NAME_BYTES / 2));
        // Values that are not bytes are not a name: an empty answer, fractions, out of range.
        assert_eq!(decode_device_name(&[0.0; 4]), None);
        assert_eq!(decode_device_name(&[65.5, 0.0]), None);
        assert_eq!(decode_device_name(&[300.0, 0.0]), None);
    }

    #[test]
    fn local_devices_have_no_round_trip() {
        assert!(round_trip(&Device::flex()).is_none());
        assert!(!is_remote(&Device::flex().autodiff()));
    }
}
