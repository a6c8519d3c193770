//! `SHA256SUMS` in an exported run folder: the SHA-256 of every file the export wrote, in
//! the format of coreutils' `sha256sum` (so `sha256sum -c SHA256SUMS` checks a copy by
//! hand). Loading a run folder back (`embed`, `eval`, the window's browse) checks the
//! files it lists first: a changed byte is "damaged", naming the file, and never becomes
//! different embeddings. A folder exported before the manifest existed has none and is
//! read as before.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context, bail, ensure};
use sha2::{Digest, Sha256};

use super::run_folder::{plain_file, write_atomically};

pub const MANIFEST_FILE: &str = "SHA256SUMS";

/// The largest `SHA256SUMS` read: an export's lists about 15 files in 1.5 KiB.
const LARGEST_MANIFEST: u64 = 1 << 20;

fn sha256_of(path: &Path) -> anyhow::Result<String> {
    plain_file(path)?;
    let mut file =
        std::fs::File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut hasher = Sha256::new();
    std::io::copy(&mut file, &mut hasher)
        .with_context(|| format!("cannot read {}", path.display()))?;
    Ok(hasher
        .finalize()
        .iter()
        .fold(String::with_capacity(64), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        }))
}

/// Writes `<dir>/SHA256SUMS` for `files` (names in `dir`), hashing them as they lie on disk.
pub fn write_manifest(dir: &Path, files: &[String]) -> anyhow::Result<()> {
    let mut text = String::new();
    for name in files {
        let _ = writeln!(text, "{}  {name}", sha256_of(&dir.join(name))?);
    }
    write_atomically(&dir.join(MANIFEST_FILE), text.as_bytes())
}

/// Checks every file `<dir>/SHA256SUMS` lists, and that each of `needed` is listed.
/// Returns the names listed, or `None` when the folder has no manifest (an export older
/// than it, read as before).
pub fn verify(dir: &Path, needed: &[String]) -> anyhow::Result<Option<Vec<String>>> {
    let path = dir.join(MANIFEST_FILE);
    if !path.exists() {
        return Ok(None);
    }
    let damaged = |why: &str| format!("{} is damaged: {why}", path.display());
    plain_file(&path)?;
    let size = std::fs::metadata(&path)
        .with_context(|| format!("cannot read {}", path.display()))?
        .len();
    ensure!(
        size <= LARGEST_MANIFEST,
        damaged(&format!(
            "it is {size} bytes, larger than any export's manifest"
        ))
    );
    let text = std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
    let text = String::from_utf8(text).map_err(|_| anyhow::anyhow!(damaged("it is not text")))?;
    let mut listed = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let Some((sum, name)) = line.split_once("  ") else {
            bail!(damaged(&format!(
                "line {} is not `<sha256>  <file>`",
                n + 1
            )));
        };
        let plain = !name.is_empty() && !name.contains(['/', '\\']) && name != "..";
        let hex = sum.len() == 64
            && sum
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        ensure!(
            plain && hex,
            damaged(&format!("line {} is not `<sha256>  <file>`", n + 1))
        );
        let file = dir.join(name);
        if !file.exists() && !needed.iter().any(|w| w == name) {
            // A file the user removed (the TensorBoard log, say) is not needed to load.
            listed.push(name.to_string());
            continue;
        }
        ensure!(
            sha256_of(&file)? == sum,
            "{} is damaged: it is not the file the export wrote (its SHA-256 differs from the \
             one in {MANIFEST_FILE}); export the run again, or copy it again from where it \
             came from",
            file.display()
        );
        listed.push(name.to_string());
    }
    for name in needed {
        ensure!(
            listed.contains(name),
            "{}: {name} is not listed in it, so it is not the file the export wrote",
            damaged("a file is missing from it")
        );
    }
    Ok(Some(listed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_agree_with_coreutils_format_and_catch_one_changed_bit() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.bin"), b"abc").unwrap();
        std::fs::write(dir.path().join("b.txt"), b"hello").unwrap();
        let files = vec!["a.bin".to_string(), "b.txt".to_string()];
        write_manifest(dir.path(), &files).unwrap();
        let text = std::fs::read_to_string(dir.path().join(MANIFEST_FILE)).unwrap();
        // SHA-256("abc"), FIPS 180-2's first example.
        assert!(
            text.starts_with(
                "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad  a.bin\n"
            ),
            "{text}"
        );
        verify(dir.path(), &files).unwrap();
        std::fs::write(dir.path().join("a.bin"), b"abb").unwrap();
        let e = format!("{:#}", verify(dir.path(), &files).unwrap_err());
        assert!(e.contains("a.bin is damaged"), "{e}");
        std::fs::write(dir.path().join("a.bin"), b"abc").unwrap();
        // A file needed but not listed, and a manifest that is not one, are damage too.
        let e = format!(
            "{:#}",
            verify(dir.path(), &["c.bpk".to_string()]).unwrap_err()
        );
        assert!(e.contains("c.bpk is not listed"), "{e}");
        std::fs::write(dir.path().join(MANIFEST_FILE), "xyz  ../a.bin\n").unwrap();
        let e = format!("{:#}", verify(dir.path(), &files).unwrap_err());
        assert!(e.contains("SHA256SUMS is damaged"), "{e}");
        // No manifest: an older export, read as before.
        std::fs::remove_file(dir.path().join(MANIFEST_FILE)).unwrap();
        verify(dir.path(), &files).unwrap();
    }

    #[test]
    fn a_listed_fifo_or_device_is_refused_not_read() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.bin"), b"abc").unwrap();
        let files = vec!["a.bin".to_string()];
        write_manifest(dir.path(), &files).unwrap();
        // A line naming a link to /dev/zero: hashing it would never end.
        std::os::unix::fs::symlink("/dev/zero", dir.path().join("zero")).unwrap();
        let mut text = std::fs::read_to_string(dir.path().join(MANIFEST_FILE)).unwrap();
        text.push_str(&format!("{}  zero\n", "0".repeat(64)));
        std::fs::write(dir.path().join(MANIFEST_FILE), &text).unwrap();
        let e = format!("{:#}", verify(dir.path(), &files).unwrap_err());
        assert!(e.contains("zero") && e.contains("a device"), "{e}");
        // The manifest itself as a FIFO: reading it would block.
        std::fs::remove_file(dir.path().join(MANIFEST_FILE)).unwrap();
        let made = std::process::Command::new("mkfifo")
            .arg(dir.path().join(MANIFEST_FILE))
            .status()
            .unwrap();
        assert!(made.success());
        let e = format!("{:#}", verify(dir.path(), &files).unwrap_err());
        assert!(e.contains("FIFO"), "{e}");
    }
}
