//! A run folder written before `.cw-run` markers existed, recognised by its files: it holds
//! an encoder or a checkpoint, and every file in it is one the workbench writes, by name
//! and by content (a README that is an export's, safetensors whose header names this
//! program). A user's own folder that happens to hold an `encoder.safetensors` and notes
//! in a README.md is not one, so an export never overwrites them.

use std::io::Read;
use std::path::Path;

/// Files whose presence makes a folder a candidate.
const RUN_FILES: [&str; 2] = ["checkpoint.safetensors", "encoder.safetensors"];

/// Endings of the files an export, a checkpoint or `embed` writes.
const WRITTEN_ENDINGS: [&str; 9] = [
    ".safetensors",
    ".bpk",
    ".onnx",
    ".toml",
    ".csv",
    ".npy",
    ".tsv",
    ".pbtxt",
    "README.md",
];

/// The first line of every README an export writes.
const README_START: &str = "# Exported encoder";

/// Largest safetensors header read when checking who wrote a file (the format's own cap).
const MAX_HEADER: u64 = 100_000_000;

/// Whether `dir` (a non-empty folder without a marker) is a run folder of this program.
pub fn is_legacy_run(dir: &Path) -> std::io::Result<bool> {
    if !RUN_FILES.iter().any(|f| dir.join(f).is_file()) {
        return Ok(false);
    }
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = entry.path();
        // Only plain files (no folders, links, FIFOs) of the names the program writes.
        if !entry.file_type()?.is_file() || !written_name(&name) {
            return Ok(false);
        }
        if name == "README.md" && !starts_with(&path, README_START)? {
            return Ok(false);
        }
        if name.ends_with(".safetensors") && !written_by_us(&path)? {
            return Ok(false);
        }
    }
    Ok(true)
}

fn written_name(name: &str) -> bool {
    (name.starts_with('.') && name.ends_with(".partial"))
        || name.starts_with("events.out.tfevents.")
        || WRITTEN_ENDINGS.iter().any(|e| name.ends_with(e))
}

fn starts_with(path: &Path, prefix: &str) -> std::io::Result<bool> {
    let mut head = vec![0; prefix.len()];
    let mut file = std::fs::File::open(path)?;
    Ok(file.read_exact(&mut head).is_ok() && head == prefix.as_bytes())
}

/// Whether a safetensors file's header metadata names this program: an export's
/// `producer`, or a checkpoint's `format`.
fn written_by_us(path: &Path) -> std::io::Result<bool> {
    let mut file = std::fs::File::open(path)?;
    let mut len = [0u8; 8];
    if file.read_exact(&mut len).is_err() {
        return Ok(false);
    }
    let len = u64::from_le_bytes(len);
    if len > MAX_HEADER {
        return Ok(false);
    }
    let mut header = Vec::new();
    file.take(len).read_to_end(&mut header)?;
    let Ok(json) = serde_json::from_slice::<serde_json::Value>(&header) else {
        return Ok(false);
    };
    let meta = &json["__metadata__"];
    Ok(meta["producer"] == "contrastive-workbench" || meta["format"] == super::checkpoint::FORMAT)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn safetensors(metadata: &[(&str, &str)]) -> Vec<u8> {
        let data = [0u8; 4];
        let view = safetensors::tensor::TensorView::new(safetensors::Dtype::F32, vec![1], &data)
            .expect("view");
        let meta = metadata
            .iter()
            .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
            .collect();
        safetensors::serialize([("w", view)], Some(meta)).expect("serialise")
    }

    #[test]
    fn only_the_programs_own_files_make_a_legacy_run_folder() {
        let ours = safetensors(&[("producer", "contrastive-workbench")]);
        let theirs = safetensors(&[("format", "pt")]);
        let dir = tempfile::tempdir().expect("tempdir");
        let put = |name: &str, bytes: &[u8]| std::fs::write(dir.path().join(name), bytes);
        put("encoder.safetensors", &ours).expect("write");
        put("README.md", b"# Exported encoder: x\n").expect("write");
        put("metrics.csv", b"step\n").expect("write");
        assert!(is_legacy_run(dir.path()).expect("read"));
        // Notes of the user's own in the README.
        put("README.md", b"my notes").expect("write");
        assert!(!is_legacy_run(dir.path()).expect("read"));
        put("README.md", b"# Exported encoder: x\n").expect("write");
        // A file of another kind.
        put("notes.txt", b"mine").expect("write");
        assert!(!is_legacy_run(dir.path()).expect("read"));
        std::fs::remove_file(dir.path().join("notes.txt")).expect("rm");
        // An encoder another program wrote.
        put("encoder.safetensors", &theirs).expect("write");
        assert!(!is_legacy_run(dir.path()).expect("read"));
        // No encoder or checkpoint at all.
        std::fs::remove_file(dir.path().join("encoder.safetensors")).expect("rm");
        assert!(!is_legacy_run(dir.path()).expect("read"));
    }
}
