//! Methods: one file each plus one line in [`REGISTRY`].
//!
//! A method owns its networks and optimiser and performs one training step on a batch of
//! paired views; the engine owns everything else (data, schedule, metrics, export). Its
//! settings are declared as [`ParamSpec`]s, so presets validate them and the UI draws
//! them without knowing the method.

pub mod optimizer;
pub mod params;
pub mod simclr;
pub mod simsiam;
pub mod trainable;

use burn::tensor::{Device, Tensor};

pub use params::{MethodSpec, ParamSpec, Params, resolve};

use crate::model::{SmallCnn, SmallCnnConfig};
use crate::preset::TrainSpec;

/// What a method reports from one step.
#[derive(Clone, Debug)]
pub struct StepOutput {
    pub loss: f32,
    /// The embeddings the loss compared, `[2N, dim]` row-major (rows i, i+N positive).
    pub embeddings: Vec<f32>,
    pub dim: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum StepError {
    /// The loss was NaN or infinite; the step was not applied, the weights are unchanged.
    #[error("loss is {0}; the update was not applied")]
    NonFinite(f32),
}

/// Everything a method needs to build itself.
pub struct BuildContext<'a> {
    pub device: &'a Device,
    pub encoder: &'a SmallCnnConfig,
    pub params: &'a Params,
    pub train: &'a TrainSpec,
}

pub trait Method: Send {
    /// One optimisation step. `views` is `[2N, 3, H, W]` with rows `i` and `i + N` two
    /// views of one image.
    fn train_step(&mut self, views: Tensor<4>, lr: f64) -> Result<StepOutput, StepError>;

    /// Representations (the encoder's output, no head) of `images`, in evaluation mode.
    /// `images` live on the non-autodiff device.
    fn embed(&self, images: Tensor<4>) -> Tensor<2>;

    /// A copy of the encoder for export.
    fn encoder(&self) -> SmallCnn;
}

/// A registry entry: how to describe, configure and build a method.
#[derive(Debug)]
pub struct MethodInfo {
    /// The `kind` in presets.
    pub id: &'static str,
    pub name: &'static str,
    pub paper: &'static str,
    /// A few sentences for the method panel.
    pub summary: &'static str,
    /// The loss, written out for the method panel.
    pub formula: &'static str,
    pub params: &'static [ParamSpec],
    pub build: fn(&BuildContext) -> Box<dyn Method>,
}

/// Every method the workbench offers.
pub static REGISTRY: &[&MethodInfo] = &[&simclr::INFO, &simsiam::INFO];

pub fn find(id: &str) -> Option<&'static MethodInfo> {
    REGISTRY.iter().copied().find(|m| m.id == id)
}
