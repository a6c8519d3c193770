//! Checkpoints: everything needed to continue a run exactly where it was: the step, the
//! preset, the metrics so far, and the method's state (networks, optimiser moments,
//! momentum targets, queues, memory banks). The views and every seeded choice are
//! functions of (seed, step), and burn's generator is re-seeded from (seed, step) before
//! each step, so no random-generator state needs saving.
//!
//! One file, `checkpoint.safetensors`: each state section is a byte (U8) tensor, and the
//! step, preset and dataset fingerprint are header metadata, so the format is a standard
//! container any safetensors reader can list. The metrics log lies beside it, appended
//! (`metrics_journal`), so a checkpoint's cost does not grow with the run. The header
//! carries a CRC-32C of each section and of its own fields: a changed byte anywhere is
//! reported as damage, naming the file and the section, before anything is used. It is
//! written to a temporary file and renamed into place: a writer killed midway leaves the
//! previous checkpoint intact.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use anyhow::{Context, anyhow, bail, ensure};
use safetensors::tensor::{Dtype, SafeTensors, TensorView};

use super::export::MetricsLog;
use super::metrics_journal::{self, JournalMark, MetricsJournal};
use super::run_folder::{claim, plain_file, write_atomically};
use crate::methods::state::MethodState;
use crate::preset::Experiment;

pub const CHECKPOINT_FILE: &str = "checkpoint.safetensors";
pub(crate) const FORMAT: &str = "contrastive-workbench checkpoint 2";
/// Metrics in the header, no checksums: still read, so older runs resume.
const FORMAT_1: &str = "contrastive-workbench checkpoint 1";

pub struct Checkpoint {
    /// Steps completed; a resumed run continues with step `step`.
    pub step: u64,
    pub experiment: Experiment,
    pub metrics: MetricsLog,
    pub state: MethodState,
    /// The dataset it trained on (`Dataset::fingerprint`); `None` when unknown (a format 1
    /// file).
    pub dataset: Option<String>,
    /// How much of the metrics journal beside it this checkpoint stands on.
    pub journal: JournalMark,
}

/// What a run hands over to be checkpointed, borrowed: the metrics log is only read for
/// what the journal has not seen yet.
pub struct CheckpointDraft<'a> {
    pub step: u64,
    pub experiment: &'a Experiment,
    pub metrics: &'a MetricsLog,
    pub state: &'a MethodState,
    /// `Dataset::fingerprint` of the data it trained on.
    pub dataset: &'a str,
}

impl CheckpointDraft<'_> {
    /// Appends the new metrics to the journal in `dir`, then writes
    /// `<dir>/checkpoint.safetensors` atomically; returns its path.
    pub fn write(&self, dir: &Path, journal: &mut MetricsJournal) -> anyhow::Result<PathBuf> {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let _claim = claim(dir, false)?;
        let mark = journal.append(dir, self.metrics)?;
        let views = self
            .state
            .sections()
            .iter()
            .map(|(name, bytes)| {
                TensorView::new(Dtype::U8, vec![bytes.len()], bytes).map(|v| (name.clone(), v))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut meta = BTreeMap::from([
            ("format".to_string(), FORMAT.to_string()),
            ("step".to_string(), self.step.to_string()),
            ("preset".to_string(), self.experiment.to_toml()),
            ("dataset".to_string(), self.dataset.to_string()),
            ("metrics_bytes".to_string(), mark.bytes.to_string()),
            ("metrics_crc32c".to_string(), format!("{:08x}", mark.crc32c)),
            (
                "sections".to_string(),
                section_sums(self.state.sections().iter()),
            ),
        ]);
        meta.insert("checksum".to_string(), format!("{:08x}", header_sum(&meta)));
        let bytes =
            safetensors::serialize(views, Some(meta.into_iter().collect::<HashMap<_, _>>()))?;
        let path = dir.join(CHECKPOINT_FILE);
        write_atomically(&path, &bytes)?;
        Ok(path)
    }
}

/// The checkpoint of a run folder (or `path` itself when it is a file), refused when it is
/// not a plain file: a FIFO would block the reader, a link to a device never end.
fn checkpoint_file(path: &Path) -> anyhow::Result<PathBuf> {
    let file = if path.is_dir() {
        path.join(CHECKPOINT_FILE)
    } else {
        path.to_path_buf()
    };
    plain_file(&file)?;
    Ok(file)
}

impl Checkpoint {
    /// Reads a checkpoint from a run folder (or the file itself), with the metrics from the
    /// journal beside it. Errors name the file; a changed byte is "damaged".
    pub fn read(path: &Path) -> anyhow::Result<Self> {
        let file = checkpoint_file(path)?;
        let bytes = std::fs::read(&file)
            .with_context(|| format!("cannot read checkpoint {}", file.display()))?;
        let (mut ckpt, journaled) = Self::parse(&bytes)
            .with_context(|| format!("{} is not a usable checkpoint", file.display()))?;
        if journaled {
            ckpt.metrics =
                metrics_journal::read(&metrics_journal::journal_beside(&file), ckpt.journal)?;
        }
        Ok(ckpt)
    }

    /// The step and preset of the checkpoint in a run folder (or the file itself), reading
    /// only the file's header (not its sections, nor the metrics journal).
    pub fn peek(path: &Path) -> anyhow::Result<(u64, Experiment)> {
        use std::io::Read;
        let file = checkpoint_file(path)?;
        let mut f = std::fs::File::open(&file)
            .with_context(|| format!("cannot read checkpoint {}", file.display()))?;
        let mut len = [0u8; 8];
        f.read_exact(&mut len).with_context(|| {
            format!(
                "{} is truncated: shorter than a checkpoint's 8-byte header length",
                file.display()
            )
        })?;
        let n = u64::from_le_bytes(len);
        anyhow::ensure!(n < 100_000_000, "{}: header too large", file.display());
        let mut header = vec![0u8; n as usize];
        f.read_exact(&mut header)
            .with_context(|| format!("{} is truncated", file.display()))?;
        let json: serde_json::Value = serde_json::from_slice(&header)
            .with_context(|| format!("{} has a broken header", file.display()))?;
        let meta: BTreeMap<String, String> = serde_json::from_value(json["__metadata__"].clone())
            .with_context(|| {
            format!("{} is damaged: its header has no metadata", file.display())
        })?;
        if let Some(recorded) = meta.get("checksum") {
            ensure!(
                *recorded == format!("{:08x}", header_sum(&meta)),
                "{} is damaged: its header does not match its checksum",
                file.display()
            );
        }
        let step = meta
            .get("step")
            .and_then(|s| s.parse().ok())
            .with_context(|| format!("{}: no step", file.display()))?;
        let preset = meta
            .get("preset")
            .with_context(|| format!("{}: no preset", file.display()))?;
        Ok((
            step,
            Experiment::from_toml(preset, &file.display().to_string())?,
        ))
    }

    /// The checkpoint, and whether its metrics are in the journal (format 2) rather than
    /// already read from its header (format 1).
    fn parse(bytes: &[u8]) -> anyhow::Result<(Self, bool)> {
        let (_, header) = SafeTensors::read_metadata(bytes)
            .map_err(|e| anyhow!("it is damaged: its header cannot be read ({e})"))?;
        let meta: BTreeMap<String, String> = header
            .metadata()
            .clone()
            .ok_or_else(|| {
                anyhow!("it is damaged or not a checkpoint: its header has no metadata")
            })?
            .into_iter()
            .collect();
        let field = |k: &str| {
            meta.get(k)
                .map(String::as_str)
                .ok_or_else(|| anyhow!("it is damaged: its header has no {k}"))
        };
        let format = field("format")?;
        // Only a format 1 file has no checksum: one with a checksum was changed.
        if format == FORMAT_1 && !meta.contains_key("checksum") {
            return Ok((Self::parse_format_1(bytes, &meta)?, false));
        }
        ensure!(
            format == FORMAT,
            "it is damaged or not a checkpoint: unknown format {format:?}"
        );
        let recorded = field("checksum")?;
        ensure!(
            recorded == format!("{:08x}", header_sum(&meta)),
            "it is damaged: its header does not match its checksum"
        );
        let tensors = SafeTensors::deserialize(bytes)
            .map_err(|e| anyhow!("it is damaged: its sections cannot be read ({e})"))?;
        let sections: BTreeMap<String, Vec<u8>> = tensors
            .tensors()
            .into_iter()
            .map(|(name, view)| (name, view.data().to_vec()))
            .collect();
        let recorded = field("sections")?;
        if section_sums(sections.iter()) != recorded {
            let damaged = damaged_sections(&sections, recorded);
            bail!("it is damaged: {damaged}");
        }
        let hex =
            |k: &str| u32::from_str_radix(field(k)?, 16).map_err(|_| anyhow!("it is damaged: {k}"));
        let dataset = field("dataset")?;
        let ckpt = Self {
            step: field("step")?.parse().context("it is damaged: step")?,
            experiment: Experiment::from_toml(field("preset")?, "the checkpoint's preset")?,
            metrics: MetricsLog::default(),
            state: MethodState::from_sections(sections),
            dataset: (!dataset.is_empty()).then(|| dataset.to_string()),
            journal: JournalMark {
                bytes: field("metrics_bytes")?
                    .parse()
                    .context("it is damaged: metrics_bytes")?,
                crc32c: hex("metrics_crc32c")?,
            },
        };
        Ok((ckpt, true))
    }

    fn parse_format_1(bytes: &[u8], meta: &BTreeMap<String, String>) -> anyhow::Result<Self> {
        let field = |k: &str| meta.get(k).ok_or_else(|| anyhow!("metadata has no {k}"));
        let tensors = SafeTensors::deserialize(bytes).map_err(|e| anyhow!("{e}"))?;
        Ok(Self {
            step: field("step")?.parse().context("step")?,
            experiment: Experiment::from_toml(field("preset")?, "the checkpoint's preset")?,
            metrics: toml::from_str(field("metrics")?).context("metrics")?,
            state: MethodState::from_sections(
                tensors
                    .tensors()
                    .into_iter()
                    .map(|(name, view)| (name, view.data().to_vec()))
                    .collect(),
            ),
            dataset: None,
            journal: JournalMark::default(),
        })
    }
}

/// `name=crc32c` of each section, one per line, in name order.
fn section_sums<'a>(sections: impl Iterator<Item = (&'a String, &'a Vec<u8>)>) -> String {
    sections
        .map(|(name, bytes)| format!("{name}={:08x}\n", crc32c::crc32c(bytes)))
        .collect()
}

/// Which sections differ from the sums recorded in the header, for the message.
fn damaged_sections(sections: &BTreeMap<String, Vec<u8>>, recorded: &str) -> String {
    let recorded: BTreeMap<&str, &str> =
        recorded.lines().filter_map(|l| l.split_once('=')).collect();
    let mut problems = Vec::new();
    for (name, bytes) in sections {
        match recorded.get(name.as_str()) {
            None => problems.push(format!("section {name} is not one it was written with")),
            Some(sum) if *sum != format!("{:08x}", crc32c::crc32c(bytes)) => {
                problems.push(format!("section {name} does not match its checksum"));
            }
            Some(_) => {}
        }
    }
    for name in recorded.keys().filter(|n| !sections.contains_key(**n)) {
        problems.push(format!("section {name} is missing"));
    }
    if problems.is_empty() {
        problems.push("its sections do not match their checksums".into());
    }
    problems.join("; ")
}

/// CRC-32C of every header field but the checksum itself, in key order.
fn header_sum(meta: &BTreeMap<String, String>) -> u32 {
    meta.iter()
        .filter(|(k, _)| *k != "checksum")
        .fold(0, |crc, (k, v)| {
            let crc = crc32c::crc32c_append(crc, k.as_bytes());
            let crc = crc32c::crc32c_append(crc, &[0]);
            let crc = crc32c::crc32c_append(crc, v.as_bytes());
            crc32c::crc32c_append(crc, &[0])
        })
}
