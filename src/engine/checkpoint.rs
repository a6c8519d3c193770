//! Checkpoints: everything needed to continue a run exactly where it was: the step, the
//! preset, the metrics so far, and the method's state (networks, optimiser moments,
//! momentum targets, queues, memory banks). The views and every seeded choice are
//! functions of (seed, step), and burn's generator is re-seeded from (seed, step) before
//! each step, so no random-generator state needs saving.
//!
//! One file, `checkpoint.safetensors`: each state section is a byte (U8) tensor, and the
//! step, preset and metrics (TOML) are header metadata, so the format is a
//! standard container any safetensors reader can list. It is written to a temporary file
//! and renamed into place: a writer killed midway leaves the previous checkpoint intact.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use anyhow::{Context, anyhow, bail};
use safetensors::tensor::{Dtype, SafeTensors, TensorView};

use super::export::MetricsLog;
use super::run_folder::{claim, write_atomically};
use crate::methods::state::MethodState;
use crate::preset::Experiment;

pub const CHECKPOINT_FILE: &str = "checkpoint.safetensors";
pub(crate) const FORMAT: &str = "contrastive-workbench checkpoint 1";

pub struct Checkpoint {
    /// Steps completed; a resumed run continues with step `step`.
    pub step: u64,
    pub experiment: Experiment,
    pub metrics: MetricsLog,
    pub state: MethodState,
}

impl Checkpoint {
    /// Writes `<dir>/checkpoint.safetensors` atomically; returns its path.
    pub fn write(&self, dir: &Path) -> anyhow::Result<PathBuf> {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let views = self
            .state
            .sections()
            .iter()
            .map(|(name, bytes)| {
                TensorView::new(Dtype::U8, vec![bytes.len()], bytes).map(|v| (name.clone(), v))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let metadata = HashMap::from([
            ("format".to_string(), FORMAT.to_string()),
            ("step".to_string(), self.step.to_string()),
            ("preset".to_string(), self.experiment.to_toml()),
            // TOML, not JSON: it keeps NaN (an undefined signal, a missing baseline).
            ("metrics".to_string(), toml::to_string(&self.metrics)?),
        ]);
        let bytes = safetensors::serialize(views, Some(metadata))?;
        let _claim = claim(dir, false)?;
        let path = dir.join(CHECKPOINT_FILE);
        write_atomically(&path, &bytes)?;
        Ok(path)
    }

    /// Reads a checkpoint from a run folder (or the file itself). Errors name the file.
    pub fn read(path: &Path) -> anyhow::Result<Self> {
        let file = if path.is_dir() {
            path.join(CHECKPOINT_FILE)
        } else {
            path.to_path_buf()
        };
        let bytes = std::fs::read(&file)
            .with_context(|| format!("cannot read checkpoint {}", file.display()))?;
        Self::parse(&bytes)
            .with_context(|| format!("{} is not a usable checkpoint", file.display()))
    }

    /// The step and preset of the checkpoint in `dir`, reading only the file's header.
    pub fn peek(dir: &Path) -> anyhow::Result<(u64, Experiment)> {
        use std::io::Read;
        let file = dir.join(CHECKPOINT_FILE);
        let mut f = std::fs::File::open(&file)
            .with_context(|| format!("cannot read checkpoint {}", file.display()))?;
        let mut len = [0u8; 8];
        f.read_exact(&mut len)?;
        let n = u64::from_le_bytes(len);
        anyhow::ensure!(n < 100_000_000, "{}: header too large", file.display());
        let mut header = vec![0u8; n as usize];
        f.read_exact(&mut header)
            .with_context(|| format!("{} is truncated", file.display()))?;
        let json: serde_json::Value = serde_json::from_slice(&header)
            .with_context(|| format!("{} has a broken header", file.display()))?;
        let meta = &json["__metadata__"];
        let step = meta["step"]
            .as_str()
            .and_then(|s| s.parse().ok())
            .with_context(|| format!("{}: no step", file.display()))?;
        let preset = meta["preset"]
            .as_str()
            .with_context(|| format!("{}: no preset", file.display()))?;
        Ok((
            step,
            Experiment::from_toml(preset, &file.display().to_string())?,
        ))
    }

    fn parse(bytes: &[u8]) -> anyhow::Result<Self> {
        let (_, header) = SafeTensors::read_metadata(bytes).map_err(|e| anyhow!("{e}"))?;
        let meta = header
            .metadata()
            .clone()
            .ok_or_else(|| anyhow!("no checkpoint metadata"))?;
        let field = |k: &str| meta.get(k).ok_or_else(|| anyhow!("metadata has no {k}"));
        if field("format")? != FORMAT {
            bail!("unknown format {:?}", field("format")?);
        }
        let step = field("step")?.parse().context("step")?;
        let experiment = Experiment::from_toml(field("preset")?, "the checkpoint's preset")?;
        let metrics = toml::from_str(field("metrics")?).context("metrics")?;
        let tensors = SafeTensors::deserialize(bytes).map_err(|e| anyhow!("{e}"))?;
        let sections: BTreeMap<String, Vec<u8>> = tensors
            .tensors()
            .into_iter()
            .map(|(name, view)| (name, view.data().to_vec()))
            .collect();
        Ok(Self {
            step,
            experiment,
            metrics,
            state: MethodState::from_sections(sections),
        })
    }
}
