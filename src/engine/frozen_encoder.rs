//! An exported run folder loaded back as a frozen encoder: the preset says which method and
//! encoder architecture it was, the `<name>.bpk` records hold the weights. It implements
//! `Method` (its step refuses to train), so evaluation, projection and the embeddings
//! export use it exactly as they use a method being trained.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use burn::module::Module;
use burn::tensor::{Device, Tensor};

use crate::methods::encoder_input::embed_with;
use crate::methods::persist::Persist;
use crate::methods::state::{MethodState, StateError};
use crate::methods::{
    self, BuildContext, EncoderInput, ExportedEncoder, Method, StepError, StepOutput, TrainBatch,
};
use crate::model::Encoder;
use crate::preset::Experiment;

pub struct FrozenEncoder {
    /// The run folder it came from.
    pub dir: PathBuf,
    /// The preset the run was trained with (its normalisation is the encoder's input's).
    pub experiment: Experiment,
    encoders: Vec<(&'static str, Encoder, EncoderInput)>,
}

impl FrozenEncoder {
    /// Loads `dir` (a folder written by Export or `train --out`) for images of side
    /// `image_size` (CPC's patch grid depends on it). Errors name the file and the problem.
    pub fn load(dir: &Path, image_size: usize, device: &Device) -> anyhow::Result<Self> {
        Self::open(dir, image_size, true, device)
    }

    /// The same networks at the initialisation the run started from (same preset, same
    /// seed), without the trained weights: the random-init baseline.
    pub fn random_init(dir: &Path, image_size: usize, device: &Device) -> anyhow::Result<Self> {
        Self::open(dir, image_size, false, device)
    }

    fn open(dir: &Path, image_size: usize, trained: bool, plain: &Device) -> anyhow::Result<Self> {
        let preset = dir.join("preset.toml");
        if !preset.exists() {
            bail!(
                "{} has no preset.toml: not a run folder written by Export or `train --out`",
                dir.display()
            );
        }
        // Every file the export listed is checked before any is used.
        let listed = super::manifest::verify(dir, &["preset.toml".to_string()])?;
        let experiment = Experiment::load(&preset)?;
        let (info, params) = methods::resolve(&experiment.method)
            .map_err(|e| anyhow::anyhow!("{}: {e}", preset.display()))?;
        let images = format!("the {image_size}-pixel images asked for");
        super::session::prepare::vit_inputs_fit(&experiment, info, &params, image_size, &images)
            .map_err(|e| anyhow::anyhow!("{}: {e}", dir.display()))?;
        // Built only for its architecture; the weights come from the records below.
        plain.seed(experiment.seed);
        let device = plain.clone().autodiff();
        let method = methods::build(
            info,
            &BuildContext {
                device: &device,
                encoder: &experiment.encoder,
                params: &params,
                train: &experiment.train,
                dataset_len: 2,
                image_size,
                normalize: experiment.views.normalize,
                seed: experiment.seed,
            },
        );
        let mut encoders = Vec::new();
        for ExportedEncoder {
            name,
            network,
            input,
        } in method.export_encoders()
        {
            if !trained {
                encoders.push((name, network, input));
                continue;
            }
            let path = dir.join(format!("{name}.bpk"));
            if !path.exists() {
                bail!(
                    "{} is missing: a {} run exports it",
                    path.display(),
                    info.name
                );
            }
            if let Some(listed) = &listed
                && !listed.contains(&format!("{name}.bpk"))
            {
                // The sums file lists every file the export wrote: one without this file
                // was changed (or this file was not written by the export).
                bail!(
                    "{} is damaged: {name}.bpk is not listed in it, so {} cannot be checked                      (export the run again, or copy it again from where it came from)",
                    dir.join(super::manifest::MANIFEST_FILE).display(),
                    path.display()
                );
            }
            let network = network.try_load_file(&path).with_context(|| {
                format!("{}: cannot load the encoder's weights", path.display())
            })?;
            encoders.push((name, network, input));
        }
        Ok(Self {
            dir: dir.to_path_buf(),
            experiment,
            encoders,
        })
    }

    /// What the representation is made of, for messages: "encoder (RGB)" etc.
    pub fn describe(&self) -> String {
        self.encoders
            .iter()
            .map(|(name, _, input)| format!("{name} ({input:?})"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl Method for FrozenEncoder {
    fn train_step(&mut self, _batch: TrainBatch, _lr: f64) -> Result<StepOutput, StepError> {
        Err(StepError::Frozen)
    }

    fn encoder_ref(&self) -> &Encoder {
        &self.encoders[0].1
    }

    fn state(&mut self) -> Vec<(&'static str, &mut dyn Persist)> {
        Vec::new()
    }

    fn save_state(&mut self, _state: &mut MethodState) -> Result<(), StateError> {
        Err(StateError::Refused(
            "a frozen encoder has no training state to checkpoint",
        ))
    }

    fn load_state(&mut self, _state: &MethodState) -> Result<(), StateError> {
        Err(StateError::Refused(
            "a frozen encoder cannot resume training",
        ))
    }

    fn embed(&self, images: Tensor<4>) -> Tensor<2> {
        let list: Vec<_> = self
            .encoders
            .iter()
            .map(|(_, net, input)| (net, *input))
            .collect();
        embed_with(&list, images, &self.experiment.views.normalize)
    }

    fn export_encoders(&self) -> Vec<ExportedEncoder> {
        self.encoders
            .iter()
            .map(|(name, net, input)| ExportedEncoder {
                name,
                network: net.clone(),
                input: *input,
            })
            .collect()
    }
}
