//! Methods: one file each plus one line in [`REGISTRY`] (and the method's entry in
//! `catalogue::methods`).
//!
//! A method owns its networks and optimiser and performs one training step on a batch of
//! paired views; the engine owns everything else (data, schedule, metrics, export). What a
//! method is, as data, lives in the burn-free catalogue (`catalogue::methods::<name>`): its
//! settings, a typed struct declared with [`settings!`] whose [`ParamSpec`]s presets
//! validate and the UI draws without knowing the method, and its [`MethodInfo`]. A method
//! file here reads its settings from there and adds the training. A method with one
//! network and a loss on its projections is a [`plain::Plain`] composition; one with an
//! online network and a momentum (EMA) target is a [`momentum::Momentum`] composition.

pub mod bank_nce;
pub mod barlow_twins;
pub mod byol;
pub mod cmc;
pub mod common;
pub mod cpc;
pub mod dcl;
pub mod dim;
pub mod dino;
pub mod encoder_input;
pub mod hadsell;
pub mod instdisc;
pub mod lars;
pub mod memory;
pub mod moco;
pub mod moco_v3;
pub mod momentum;
pub mod nce;
pub mod nnclr;
pub mod optimizer;
pub mod persist;
pub mod pixpro;
pub mod plain;
pub mod simclr;
pub mod simsiam;
pub mod state;
pub mod sup_con;
pub mod support_set;
pub mod swav;
pub mod swav_parts;
pub mod trainable;
pub mod triplet;
pub mod vicreg;

use burn::module::Module;
use burn::tensor::{Device, Tensor};

pub use crate::catalogue::{
    Diagram, Mark, MethodInfo, MethodSpec, ParamKind, ParamSpec, Params, Stage, find, resolve,
};

use crate::catalogue;
use crate::model::tensor_io::matrix_to_vec;
use crate::model::{Encoder, EncoderConfig};
use crate::preset::TrainSpec;
use crate::views::Normalize;
use crate::views::geometry::ViewGeometry;

/// What an exported encoder takes as input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EncoderInput {
    /// Normalised RGB, 3 channels.
    Rgb,
    /// The L channel of CIE Lab, scaled L/50 - 1.
    LabL,
    /// The a and b channels of CIE Lab, scaled /100.
    LabAb,
    /// The a channel of CIE Lab alone, scaled /100.
    LabA,
    /// The b channel of CIE Lab alone, scaled /100.
    LabB,
    /// Normalised RGB patches of CPC's grid; the image's representation is the mean of the
    /// patches' outputs.
    RgbPatches(crate::views::patch_grid::PatchGrid),
}

impl EncoderInput {
    pub fn channels(self) -> usize {
        match self {
            EncoderInput::Rgb | EncoderInput::RgbPatches(_) => 3,
            EncoderInput::LabL | EncoderInput::LabA | EncoderInput::LabB => 1,
            EncoderInput::LabAb => 2,
        }
    }

    /// The side of what the encoder sees of `image_size`-pixel images: the images
    /// themselves, or CPC's patches.
    pub fn side(self, image_size: usize) -> usize {
        match self {
            EncoderInput::RgbPatches(grid) => grid.patch,
            _ => image_size,
        }
    }
}

/// One network of a method's export.
pub struct ExportedEncoder {
    /// File stem: `<name>.safetensors`, `<name>.bpk`.
    pub name: &'static str,
    pub network: Encoder,
    pub input: EncoderInput,
}

/// One training step's input.
pub struct TrainBatch {
    /// `[2N, 3, H, W]`: rows `i` and `i + N` are two views of one image.
    pub views: Tensor<4>,
    /// The dataset indices of the `N` images (memory banks are keyed by them).
    pub indices: Vec<usize>,
    /// The class of each of the `N` images, for the methods that use labels (SupCon) and
    /// the signals that compare with them (NNCLR's neighbour of the same class).
    pub labels: Vec<u16>,
    /// The step number, for methods with schedules or sampled negatives.
    pub step: u64,
    /// Where each of the `2N` views lies in its source image (crops and flips), for
    /// methods that match positions across views (PixPro).
    pub geometry: Vec<ViewGeometry>,
    /// Multi-crop's local crops `[count * N, 3, s, s]` (crop `k` of image `i` at row
    /// `k * N + i`), when the views settings ask for them.
    pub local: Option<Tensor<4>>,
}

impl TrainBatch {
    /// A batch whose views are the whole images, unmirrored (tests, benchmarks). Its
    /// labels are unknown: each image is its own class (the labels SimCLR implies).
    pub fn untracked(views: Tensor<4>, indices: Vec<usize>, step: u64) -> Self {
        let geometry = vec![ViewGeometry::IDENTITY; 2 * indices.len()];
        Self {
            views,
            labels: (0..indices.len()).map(|i| i as u16).collect(),
            indices,
            step,
            geometry,
            local: None,
        }
    }

    /// `N`, the number of images (half the number of views).
    pub fn images(&self) -> usize {
        self.indices.len()
    }
}

/// A method-specific live value (queue fill, EMA momentum, an MI estimate in nats).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Signal {
    pub name: &'static str,
    pub value: f32,
}

/// What a method reports from one step.
#[derive(Clone, Debug)]
pub struct StepOutput {
    pub loss: f32,
    /// The embeddings the loss compared, `[2N, dim]` (rows i, i+N positive), detached and
    /// left on the device: only reported steps read them back (`read_embeddings`), so a
    /// GPU does not copy them to the host every step.
    pub embeddings: Tensor<2>,
    pub dim: usize,
    /// What `embeddings` are, as the dashboard labels them ("projection z", ...).
    pub space: &'static str,
    /// Method-specific values for the dashboard.
    pub signals: Vec<Signal>,
}

impl StepOutput {
    /// An output with no method-specific signals.
    pub fn new(loss: f32, embeddings: Tensor<2>, dim: usize) -> Self {
        Self {
            loss,
            embeddings: embeddings.detach(),
            dim,
            space: "the loss's embeddings",
            signals: Vec::new(),
        }
    }

    /// `embeddings` on the host, row-major.
    pub fn read_embeddings(&self) -> Vec<f32> {
        matrix_to_vec(self.embeddings.clone())
    }

    /// Names the space `embeddings` live in.
    pub fn in_space(mut self, space: &'static str) -> Self {
        self.space = space;
        self
    }

    pub fn with_signal(mut self, name: &'static str, value: f32) -> Self {
        self.signals.push(Signal { name, value });
        self
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StepError {
    /// The loss was NaN or infinite; the step was not applied, the weights are unchanged.
    #[error("loss is {0}; the update was not applied")]
    NonFinite(f32),
    /// An encoder loaded from a run folder is only for embedding.
    #[error("this encoder was loaded from a run folder and is frozen: it cannot train")]
    Frozen,
}

/// Everything a method needs to build itself.
pub struct BuildContext<'a> {
    pub device: &'a Device,
    pub encoder: &'a EncoderConfig,
    pub params: &'a Params,
    pub train: &'a TrainSpec,
    /// Training images in the dataset (memory banks hold one entry per image).
    pub dataset_len: usize,
    /// Side of the (square) training images in pixels.
    pub image_size: usize,
    /// How the views (and evaluation images) are normalised (CMC undoes it for Lab).
    pub normalize: Normalize,
    /// The experiment seed (methods that sample negatives derive their streams from it).
    pub seed: u64,
}

pub trait Method: Send {
    /// One optimisation step on a batch of paired views.
    fn train_step(&mut self, batch: TrainBatch, lr: f64) -> Result<StepOutput, StepError>;

    /// The encoder being trained (the representation is its output; heads are dropped).
    fn encoder_ref(&self) -> &Encoder;

    /// Representations of `images` in evaluation mode. `images` live on the non-autodiff
    /// device.
    fn embed(&self, images: Tensor<4>) -> Tensor<2> {
        self.encoder_ref().valid().forward(images)
    }

    /// The projection head's output (evaluation mode) for the encoder's output `h`: the
    /// space the loss compares, shown by the picture when the preset asks for it. `None`
    /// for a method without one head on its encoder.
    fn head(&self, _h: Tensor<2>) -> Option<Tensor<2>> {
        None
    }

    /// A copy of the encoder for export.
    fn encoder(&self) -> Encoder {
        self.encoder_ref().clone()
    }

    /// Everything the next steps depend on, each part under its section name: networks
    /// with their optimiser state, momentum targets, queues, memory banks. Checkpoints
    /// save and load through this one list.
    fn state(&mut self) -> Vec<(&'static str, &mut dyn persist::Persist)>;

    /// Writes every part of [`Method::state`] into `state`.
    fn save_state(&mut self, state: &mut state::MethodState) -> Result<(), state::StateError> {
        self.state()
            .into_iter()
            .try_for_each(|(name, part)| part.save(name, state))
    }

    /// Restores what `save_state` wrote, into a method built from the same settings.
    fn load_state(&mut self, state: &state::MethodState) -> Result<(), state::StateError> {
        self.state()
            .into_iter()
            .try_for_each(|(name, part)| part.load(name, state))
    }

    /// Settings that are valid on their own but will not do what they seem to on a
    /// dataset of `train_images` images, each naming its field as in a preset.
    fn warnings(&self, _train_images: usize) -> Vec<String> {
        Vec::new()
    }

    /// The temperature that turns the batch's cosine similarities into the logits its
    /// loss softmaxes, for the dashboard's softmax view; `None` when the loss has none.
    fn logit_temperature(&self) -> Option<f32> {
        None
    }

    /// The method behind the registry's pointer (compositions end their building with it).
    fn boxed(self) -> Box<dyn Method>
    where
        Self: Sized + 'static,
    {
        Box::new(self)
    }

    /// Every encoder to export: file stem, network, what its input is. One RGB encoder for
    /// most methods; CMC has one per view.
    fn export_encoders(&self) -> Vec<ExportedEncoder> {
        vec![ExportedEncoder {
            name: "encoder",
            network: self.encoder(),
            input: EncoderInput::Rgb,
        }]
    }
}

/// How to build one catalogued method for training: the catalogue says what the method is,
/// this says how to train it.
pub struct Registered {
    pub info: &'static MethodInfo,
    pub build: fn(&BuildContext) -> Box<dyn Method>,
}

/// The builder of every catalogued method, registered against its catalogue entry (one
/// each: `the_registry_builds_every_catalogued_method_once` checks it).
pub static REGISTRY: &[Registered] = &[
    Registered {
        info: &catalogue::methods::simclr::INFO,
        build: simclr::build,
    },
    Registered {
        info: &catalogue::methods::moco::INFO,
        build: moco::build,
    },
    Registered {
        info: &catalogue::methods::moco_v3::INFO,
        build: moco_v3::build,
    },
    Registered {
        info: &catalogue::methods::byol::INFO,
        build: byol::build,
    },
    Registered {
        info: &catalogue::methods::simsiam::INFO,
        build: simsiam::build,
    },
    Registered {
        info: &catalogue::methods::barlow_twins::INFO,
        build: barlow_twins::build,
    },
    Registered {
        info: &catalogue::methods::vicreg::INFO,
        build: vicreg::build,
    },
    Registered {
        info: &catalogue::methods::instdisc::INFO,
        build: instdisc::build,
    },
    Registered {
        info: &catalogue::methods::cmc::INFO,
        build: cmc::build,
    },
    Registered {
        info: &catalogue::methods::dim::INFO,
        build: dim::build,
    },
    Registered {
        info: &catalogue::methods::cpc::INFO,
        build: cpc::build,
    },
    Registered {
        info: &catalogue::methods::pixpro::INFO,
        build: pixpro::build,
    },
    Registered {
        info: &catalogue::methods::hadsell::INFO,
        build: hadsell::build,
    },
    Registered {
        info: &catalogue::methods::triplet::INFO,
        build: triplet::build,
    },
    Registered {
        info: &catalogue::methods::nce::INFO,
        build: nce::build,
    },
    Registered {
        info: &catalogue::methods::dino::INFO,
        build: dino::build,
    },
    Registered {
        info: &catalogue::methods::nnclr::INFO,
        build: nnclr::build,
    },
    Registered {
        info: &catalogue::methods::dcl::INFO,
        build: dcl::build,
    },
    Registered {
        info: &catalogue::methods::sup_con::INFO,
        build: sup_con::build,
    },
    Registered {
        info: &catalogue::methods::swav::INFO,
        build: swav::build,
    },
];

/// `info`'s method, built for training.
pub fn build(info: &MethodInfo, ctx: &BuildContext) -> Box<dyn Method> {
    let entry = REGISTRY
        .iter()
        .find(|r| r.info.id == info.id)
        .expect("every catalogued method is registered");
    (entry.build)(ctx)
}

/// What a unit test builds a method from: `params`, a small encoder (8 and 16 channels),
/// 8 images of 16 pixels, the autodiff CPU device.
#[cfg(test)]
pub(crate) struct TestBuild {
    pub device: Device,
    pub encoder: EncoderConfig,
    pub params: Params,
    pub train: TrainSpec,
}

#[cfg(test)]
impl TestBuild {
    /// Method `spec` (TOML, as in a preset's `[method]`) at its settings.
    pub fn new(spec: &str) -> Self {
        let spec: MethodSpec = toml::from_str(spec).expect("a method spec");
        let (_, params) = resolve(&spec).expect("valid settings");
        Self {
            device: Device::flex().autodiff(),
            encoder: EncoderConfig {
                channels: vec![8, 16],
                ..EncoderConfig::default()
            },
            params,
            train: TrainSpec::default(),
        }
    }

    pub fn ctx(&self) -> BuildContext<'_> {
        BuildContext {
            device: &self.device,
            encoder: &self.encoder,
            params: &self.params,
            train: &self.train,
            dataset_len: 8,
            image_size: 16,
            normalize: Normalize::HALF,
            seed: 0,
        }
    }
}

/// Four images' two views (16x16, the size `TestBuild` builds for) at `step`, different at
/// every step.
#[cfg(test)]
pub(crate) fn test_batch(step: u64, device: &Device) -> TrainBatch {
    let data: Vec<f32> = (0..8 * 3 * 16 * 16)
        .map(|i| ((i as u64 * 13 + 7 * step) % 29) as f32 / 14.0 - 1.0)
        .collect();
    let views = Tensor::<4>::from_data(burn::tensor::TensorData::new(data, [8, 3, 16, 16]), device);
    TrainBatch::untracked(views, (0..4).collect(), step)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sizes past the dataset, and a stage past the encoder's, are said by name; the
    /// defaults on a large dataset say nothing.
    #[test]
    fn settings_past_the_data_or_the_encoder_are_warned_of_by_name() {
        let said = |spec: &str, images: usize| {
            let b = TestBuild::new(spec);
            let info = catalogue::methods()
                .find(|m| spec.contains(&format!("\"{}\"", m.id)))
                .expect("a catalogued method");
            build(info, &b.ctx()).warnings(images).join("\n")
        };
        for (spec, field) in [
            (
                "kind = \"nnclr\"\nsupport_size = 64",
                "method.support_size = 64",
            ),
            ("kind = \"swav\"\nqueue_size = 64", "method.queue_size = 64"),
            ("kind = \"moco\"\nqueue_size = 64", "method.queue_size = 64"),
        ] {
            assert!(said(spec, 40).contains(field), "{spec}: {}", said(spec, 40));
            assert!(!said(spec, 4000).contains(field), "{spec}");
        }
        // TestBuild's encoder has two stages (0 and 1).
        let dim = said("kind = \"dim\"\nlocal_stage = 5", 4000);
        assert!(
            dim.contains("method.local_stage = 5") && dim.contains("stage 1"),
            "{dim}"
        );
        assert!(said("kind = \"dim\"\nlocal_stage = 1", 4000).is_empty());
    }

    #[test]
    fn the_registry_builds_every_catalogued_method_once() {
        let catalogued: Vec<&MethodInfo> = catalogue::methods().collect();
        assert!(!catalogued.is_empty());
        for info in &catalogued {
            let builders = REGISTRY
                .iter()
                .filter(|r| std::ptr::eq(r.info, *info))
                .count();
            assert_eq!(builders, 1, "{} has {builders} builders", info.id);
            // `build` finds the builder by id: ids must be unique too.
            let same_id = catalogued.iter().filter(|m| m.id == info.id).count();
            assert_eq!(same_id, 1, "{} is catalogued {same_id} times", info.id);
        }
        for registered in REGISTRY {
            assert!(
                catalogued.iter().any(|m| std::ptr::eq(*m, registered.info)),
                "{} has a builder but no catalogue entry",
                registered.info.id
            );
        }
    }
}
