//! The run's metrics log beside its checkpoint, `checkpoint.metrics`: appended at each
//! checkpoint with what was logged since the last one, so a checkpoint costs the same at
//! step 200,000 as at step 100 (the log used to be rewritten into the checkpoint's header,
//! which grew with the run until safetensors' 100 MB header limit refused it).
//!
//! The file is a sequence of frames, each a little-endian u32 length and a TOML document
//! holding one entry (TOML, not JSON: it keeps NaN, an undefined signal). The checkpoint
//! records how many bytes of the journal belong to it and their CRC-32C: bytes past that
//! (appended by a writer killed before its checkpoint was renamed into place) are cut off
//! when a run resumes, and a prefix that does not match its checksum is "damaged".

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail, ensure};
use serde::{Deserialize, Serialize};

use super::export::MetricsLog;
use super::protocol::{EvalReport, FullEvalReport, ProbeReport, StepMetrics};

pub const JOURNAL_FILE: &str = "checkpoint.metrics";

/// The part of the journal a checkpoint stands on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct JournalMark {
    pub bytes: u64,
    pub crc32c: u32,
}

#[derive(Serialize, Deserialize)]
enum Entry {
    Step(StepMetrics),
    Eval(EvalReport),
    Probe(ProbeReport),
    FullEval(FullEvalReport),
}

/// The writer's position: how many entries of each kind of the log are in the journal.
#[derive(Default)]
pub struct MetricsJournal {
    mark: JournalMark,
    written: [usize; 4],
}

impl MetricsJournal {
    /// A journal that continues `log`, whose entries the journal up to `mark` holds.
    pub fn continuing(log: &MetricsLog, mark: JournalMark) -> Self {
        Self {
            mark,
            written: counts(log),
        }
    }

    /// Appends what `log` gained since the last call to `<dir>/checkpoint.metrics`, cutting
    /// off whatever a killed writer left past the last mark first, and syncs the file.
    /// Returns the mark for the checkpoint about to be written.
    pub fn append(&mut self, dir: &Path, log: &MetricsLog) -> anyhow::Result<JournalMark> {
        let path = dir.join(JOURNAL_FILE);
        let mut frames = Vec::new();
        let [steps, evals, probes, fulls] = self.written;
        let new = log
            .steps
            .get(steps..)
            .unwrap_or_default()
            .iter()
            .map(|m| Entry::Step(m.clone()));
        let new = new
            .chain(
                log.evals
                    .get(evals..)
                    .unwrap_or_default()
                    .iter()
                    .map(|e| Entry::Eval(e.clone())),
            )
            .chain(
                log.probes
                    .get(probes..)
                    .unwrap_or_default()
                    .iter()
                    .map(|p| Entry::Probe(p.clone())),
            )
            .chain(
                log.full_evals
                    .get(fulls..)
                    .unwrap_or_default()
                    .iter()
                    .map(|f| Entry::FullEval(f.clone())),
            );
        for entry in new {
            let text = toml::to_string(&entry).context("cannot record the metrics")?;
            let len = u32::try_from(text.len()).context("a metrics entry over 4 GiB")?;
            frames.extend_from_slice(&len.to_le_bytes());
            frames.extend_from_slice(text.as_bytes());
        }
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(false)
            .open(&path)
            .with_context(|| format!("cannot open {}", path.display()))?;
        let written = (|| {
            file.set_len(self.mark.bytes)?;
            std::io::Seek::seek(&mut file, std::io::SeekFrom::Start(self.mark.bytes))?;
            file.write_all(&frames)?;
            file.sync_data()
        })();
        written.with_context(|| format!("cannot write {}", path.display()))?;
        self.mark = JournalMark {
            bytes: self.mark.bytes + frames.len() as u64,
            crc32c: crc32c::crc32c_append(self.mark.crc32c, &frames),
        };
        self.written = counts(log);
        Ok(self.mark)
    }
}

fn counts(log: &MetricsLog) -> [usize; 4] {
    [
        log.steps.len(),
        log.evals.len(),
        log.probes.len(),
        log.full_evals.len(),
    ]
}

/// The journal's path in the folder of the checkpoint `file`.
pub fn journal_beside(file: &Path) -> PathBuf {
    file.parent().unwrap_or(Path::new(".")).join(JOURNAL_FILE)
}

/// Reads the log that `mark` of the journal at `path` holds. A missing file, a short one
/// or a prefix that does not match the checksum is an error naming the file.
pub fn read(path: &Path, mark: JournalMark) -> anyhow::Result<MetricsLog> {
    let bytes = std::fs::read(path)
        .with_context(|| format!("cannot read {} (the checkpoint's metrics)", path.display()))?;
    let Ok(len) = usize::try_from(mark.bytes) else {
        bail!(
            "{} is damaged: the checkpoint asks for {} bytes",
            path.display(),
            mark.bytes
        );
    };
    ensure!(
        bytes.len() >= len,
        "{} is damaged: it holds {} bytes, the checkpoint was written after {}",
        path.display(),
        bytes.len(),
        len
    );
    let prefix = &bytes[..len];
    ensure!(
        crc32c::crc32c(prefix) == mark.crc32c,
        "{} is damaged (or belongs to another checkpoint): its first {len} bytes do not \
         match the checksum the checkpoint recorded",
        path.display()
    );
    parse(prefix).with_context(|| format!("{} is damaged", path.display()))
}

fn parse(mut rest: &[u8]) -> anyhow::Result<MetricsLog> {
    let mut log = MetricsLog::default();
    while !rest.is_empty() {
        ensure!(rest.len() >= 4, "a frame is cut short");
        let (len, tail) = rest.split_at(4);
        let len = u32::from_le_bytes([len[0], len[1], len[2], len[3]]) as usize;
        ensure!(tail.len() >= len, "a frame is cut short");
        let (text, tail) = tail.split_at(len);
        let text = std::str::from_utf8(text).context("an entry is not text")?;
        match toml::from_str(text).context("an entry cannot be read")? {
            Entry::Step(m) => log.steps.push(m),
            Entry::Eval(e) => log.evals.push(e),
            Entry::Probe(p) => log.probes.push(p),
            Entry::FullEval(f) => log.full_evals.push(f),
        }
        rest = tail;
    }
    Ok(log)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(n: u64, loss: f32) -> StepMetrics {
        StepMetrics {
            step: n,
            loss,
            ..StepMetrics::default()
        }
    }

    #[test]
    fn appends_only_what_is_new_and_reads_back_the_marked_prefix() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = MetricsLog::default();
        log.steps.push(step(1, 0.5));
        let mut journal = MetricsJournal::default();
        let first = journal.append(dir.path(), &log).unwrap();
        log.steps.push(step(2, f32::NAN));
        let second = journal.append(dir.path(), &log).unwrap();
        let len = std::fs::metadata(dir.path().join(JOURNAL_FILE))
            .unwrap()
            .len();
        assert_eq!(len, second.bytes);
        assert!(
            second.bytes < 2 * first.bytes + 8,
            "rewrote the log: {second:?}"
        );
        let back = read(&dir.path().join(JOURNAL_FILE), second).unwrap();
        assert_eq!(back.steps.len(), 2);
        assert!(back.steps[1].loss.is_nan());
        // The earlier checkpoint reads its own prefix.
        let earlier = read(&dir.path().join(JOURNAL_FILE), first).unwrap();
        assert_eq!(earlier.steps.len(), 1);
    }

    #[test]
    fn a_killed_writers_tail_is_cut_off_and_a_changed_byte_is_damage() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(JOURNAL_FILE);
        let mut log = MetricsLog::default();
        log.steps.push(step(1, 0.5));
        let mark = MetricsJournal::default().append(dir.path(), &log).unwrap();
        // A writer killed after appending, before its checkpoint: the old mark still reads.
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(b"junk")
            .unwrap();
        assert_eq!(read(&path, mark).unwrap().steps.len(), 1);
        // The resumed run's next append replaces the junk.
        let mut journal = MetricsJournal::continuing(&log, mark);
        log.steps.push(step(2, 0.25));
        let next = journal.append(dir.path(), &log).unwrap();
        assert_eq!(read(&path, next).unwrap().steps.len(), 2);
        assert_eq!(std::fs::metadata(&path).unwrap().len(), next.bytes);
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[6] ^= 0x10;
        std::fs::write(&path, &bytes).unwrap();
        let e = format!("{:#}", read(&path, next).unwrap_err());
        assert!(e.contains("damaged") && e.contains(JOURNAL_FILE), "{e}");
        std::fs::write(&path, &bytes[..10]).unwrap();
        let e = format!("{:#}", read(&path, next).unwrap_err());
        assert!(e.contains("damaged") && e.contains("holds 10 bytes"), "{e}");
    }
}
