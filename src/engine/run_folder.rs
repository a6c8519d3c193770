//! A run folder: where a run's export and checkpoints go. Two guarantees:
//! - one writer at a time: a process holds an OS lock on `<dir>/.cw-run` (which also marks
//!   the folder as a run folder) while it writes there; a second process is refused with
//!   the holder's process id and command line;
//! - an export never overwrites files it did not write: a non-empty folder that is not a
//!   run folder is refused unless the caller forces it.
//!
//! Writes are atomic ([`write_atomically`]): a temporary file unique to the process and the
//! call, then a rename, so an interrupted write leaves the previous file and two writers
//! never share a temporary.

use std::collections::HashMap;
use std::fs::{File, OpenOptions, TryLockError};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use anyhow::Context;

/// The marker and lock file of a run folder.
pub const MARKER: &str = ".cw-run";

/// A held claim on a run folder; the lock is released when the last claim of this process
/// on the folder is dropped.
#[derive(Debug)]
pub struct RunFolderClaim {
    dir: PathBuf,
    _lock: Arc<File>,
}

impl RunFolderClaim {
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Drop for RunFolderClaim {
    fn drop(&mut self) {
        let mut held = held().lock().unwrap_or_else(|e| e.into_inner());
        if let Some(entry) = held.get_mut(&self.dir) {
            entry.1 -= 1;
            if entry.1 == 0 {
                held.remove(&self.dir);
            }
        }
    }
}

/// The folders this process holds, with how many claims share each lock. A second lock
/// from the same process on Linux would conflict with its own first one, so claims within
/// a process share one.
type HeldFolders = Mutex<HashMap<PathBuf, (Arc<File>, usize)>>;

fn held() -> &'static HeldFolders {
    static HELD: OnceLock<HeldFolders> = OnceLock::new();
    HELD.get_or_init(Default::default)
}

/// Why a folder cannot be claimed as a run folder.
#[derive(Debug, thiserror::Error)]
pub enum ClaimError {
    #[error("cannot use {} as the run folder: it is a file, not a folder", .0.display())]
    NotAFolder(PathBuf),
    #[error(
        "{} already holds files this program did not write; choose an empty folder or a run \
         folder (the train command's --force writes into it anyway)",
        .0.display()
    )]
    ForeignFiles(PathBuf),
    #[error(
        "{} is in use by another run ({holder}); wait for it to finish or choose another folder",
        dir.display()
    )]
    InUse { dir: PathBuf, holder: String },
    #[error(
        "{} is not a plain file (a symbolic link, or something else): a run folder's marker is \
         written in place, never through a link; remove it or choose another folder",
        .0.display()
    )]
    MarkerNotAFile(PathBuf),
    /// The reason is part of the message (not a `source`), so a chain prints it once.
    #[error("cannot {action} {}: {reason}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        reason: std::io::Error,
    },
}

fn io(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> ClaimError {
    let path = path.to_path_buf();
    move |reason| ClaimError::Io {
        action,
        path,
        reason,
    }
}

/// Claims `dir` for writing (creating it): refused when another process holds it, or when
/// it is a non-empty folder that is not a run folder and `force` is false.
pub fn claim(dir: &Path, force: bool) -> Result<RunFolderClaim, ClaimError> {
    if dir.exists() && !dir.is_dir() {
        return Err(ClaimError::NotAFolder(dir.to_path_buf()));
    }
    std::fs::create_dir_all(dir).map_err(io("create", dir))?;
    let canonical = dir.canonicalize().map_err(io("resolve", dir))?;
    let mut held = held().lock().unwrap_or_else(|e| e.into_inner());
    if let Some((lock, count)) = held.get_mut(&canonical) {
        *count += 1;
        return Ok(RunFolderClaim {
            dir: canonical,
            _lock: lock.clone(),
        });
    }
    let marker = canonical.join(MARKER);
    let has_marker = match std::fs::symlink_metadata(&marker) {
        Ok(meta) if meta.file_type().is_file() => true,
        Ok(_) => return Err(ClaimError::MarkerNotAFile(marker)),
        Err(_) => false,
    };
    if !has_marker && !force && !is_empty_or_legacy_run(&canonical)? {
        return Err(ClaimError::ForeignFiles(dir.to_path_buf()));
    }
    let mut file = open_marker(&marker)?;
    match file.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => {
            let holder = std::fs::read_to_string(&marker).unwrap_or_default();
            return Err(ClaimError::InUse {
                dir: dir.to_path_buf(),
                holder: describe_holder(&holder),
            });
        }
        Err(TryLockError::Error(e)) => return Err(io("lock", &marker)(e)),
    }
    let me = format!(
        "pid={}\ncommand={}\n",
        std::process::id(),
        std::env::args().collect::<Vec<_>>().join(" ")
    );
    file.set_len(0)
        .and_then(|()| file.write_all(me.as_bytes()))
        .and_then(|()| file.sync_all())
        .map_err(io("write", &marker))?;
    remove_stale_temporaries(&canonical);
    let lock = Arc::new(file);
    held.insert(canonical.clone(), (lock.clone(), 1));
    Ok(RunFolderClaim {
        dir: canonical,
        _lock: lock,
    })
}

fn describe_holder(marker: &str) -> String {
    let field = |key: &str| {
        marker
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .map(str::trim)
            .filter(|v| !v.is_empty())
    };
    match (field("pid="), field("command=")) {
        (Some(pid), Some(cmd)) => format!("process {pid}: {cmd}"),
        (Some(pid), None) => format!("process {pid}"),
        _ => "another process".into(),
    }
}

/// Opens (creating) the marker without following a link planted in its place, which would
/// make the lock's write land in the link's target.
fn open_marker(marker: &Path) -> Result<File, ClaimError> {
    use std::os::unix::fs::OpenOptionsExt;
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .custom_flags(libc::O_NOFOLLOW)
        .open(marker)
        .map_err(|e| {
            if e.raw_os_error() == Some(libc::ELOOP) {
                ClaimError::MarkerNotAFile(marker.to_path_buf())
            } else {
                io("write", marker)(e)
            }
        })
}

fn is_empty_or_legacy_run(dir: &Path) -> Result<bool, ClaimError> {
    let mut entries = std::fs::read_dir(dir)
        .map_err(io("read", dir))?
        .filter_map(Result::ok);
    let Some(_) = entries.next() else {
        return Ok(true);
    };
    super::legacy_run::is_legacy_run(dir).map_err(io("read", dir))
}

/// Temporaries of writers that died mid-write (`.<name>.<pid>-<n>.partial`, and the older
/// `.<name>.partial`): only removed while the folder is held, so never a live writer's.
fn remove_stale_temporaries(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.filter_map(Result::ok) {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') && name.ends_with(".partial") {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// Refuses, naming it, a run folder's file that is not a plain file: a FIFO would block
/// its reader, a link to a device would never end.
pub fn plain_file(path: &Path) -> anyhow::Result<()> {
    match crate::data::image_folder::not_a_plain_file(path) {
        None => Ok(()),
        Some(problem) => anyhow::bail!("{}: {problem}", path.display()),
    }
}

/// A temporary path beside `target`, unique to this process and call.
pub fn temporary_beside(target: &Path) -> PathBuf {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let file_name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    target.with_file_name(format!(".{file_name}.{}-{n}.partial", std::process::id()))
}

/// Runs `write` on a fresh temporary path beside `target`, then renames it over `target`.
/// On failure the temporary is removed and `target` is untouched.
pub fn atomically(
    target: &Path,
    write: impl FnOnce(&Path) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let tmp = temporary_beside(target);
    let outcome = write(&tmp).with_context(|| format!("cannot write {}", target.display()));
    if let Err(e) = outcome {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    std::fs::rename(&tmp, target)
        .with_context(|| format!("cannot move {} into place", target.display()))
        .inspect_err(|_| {
            let _ = std::fs::remove_file(&tmp);
        })
}

/// Writes `bytes` to `target` atomically, synced to disk, with the usual permissions.
pub fn write_atomically(target: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    atomically(target, |tmp| {
        let mut f = OpenOptions::new().write(true).create_new(true).open(tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temporary_names_are_unique_per_process_and_call() {
        let a = temporary_beside(Path::new("/x/encoder.safetensors"));
        let b = temporary_beside(Path::new("/x/encoder.safetensors"));
        assert_ne!(a, b);
        let pid = std::process::id().to_string();
        assert!(a.to_string_lossy().contains(&pid), "{}", a.display());
        assert!(a.to_string_lossy().ends_with(".partial"));
    }

    #[test]
    fn a_folder_of_someone_elses_files_is_refused_unless_forced() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("README.md"), "mine").expect("write");
        let err = claim(dir.path(), false).expect_err("refused");
        assert!(err.to_string().contains("did not write"), "{err}");
        drop(claim(dir.path(), true).expect("forced"));
        assert_eq!(
            std::fs::read_to_string(dir.path().join("README.md")).expect("read"),
            "mine"
        );
        // Once claimed, it is a run folder.
        drop(claim(dir.path(), false).expect("now a run folder"));
    }

    /// A marker replaced by a link (planted, or copied with `cp -a`) is refused, and the
    /// link's target is not written through.
    #[test]
    fn a_marker_that_is_a_link_is_refused_and_its_target_untouched() {
        let dir = tempfile::tempdir().expect("tempdir");
        let victim = dir.path().join("victim.txt");
        std::fs::write(&victim, "precious").expect("write");
        let run = dir.path().join("run");
        std::fs::create_dir(&run).expect("mkdir");
        std::os::unix::fs::symlink(&victim, run.join(MARKER)).expect("link");
        for force in [false, true] {
            let err = claim(&run, force).expect_err("refused");
            assert!(err.to_string().contains("symbolic link"), "{err}");
        }
        assert_eq!(std::fs::read_to_string(&victim).expect("read"), "precious");
    }

    #[test]
    fn a_folder_locked_elsewhere_is_refused_with_its_holder_named() {
        let dir = tempfile::tempdir().expect("tempdir");
        let marker = dir.path().join(MARKER);
        std::fs::write(&marker, "pid=4242\ncommand=contrastive-workbench train\n").expect("w");
        // A separate open file description conflicts even within one process.
        let other = File::open(&marker).expect("open");
        other.try_lock().expect("lock");
        let err = claim(dir.path(), false).expect_err("refused");
        assert!(err.to_string().contains("process 4242"), "{err}");
        drop(other);
        drop(claim(dir.path(), false).expect("free again"));
    }

    #[test]
    fn claims_within_a_process_share_the_lock_and_a_file_is_no_folder() {
        let dir = tempfile::tempdir().expect("tempdir");
        let a = claim(dir.path(), false).expect("first");
        let b = claim(dir.path(), false).expect("second claim of the same process");
        drop((a, b));
        let file = dir.path().join("plain");
        std::fs::write(&file, "x").expect("write");
        let err = claim(&file, false).expect_err("a file");
        assert!(err.to_string().contains("is a file"), "{err}");
    }
}
