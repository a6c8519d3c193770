//! The single-network composition: an encoder and a projection head trained by a loss on
//! the projections of the paired views. SimCLR, Barlow Twins, VICReg, the margin and
//! triplet losses and NCE are each this composition plus their loss (as lightly builds a
//! method from backbone + head + loss).

use burn::module::Module;
use burn::tensor::{Device, Tensor};

use super::common::{Backbone, HeadNet};
use super::persist::Persist;
use super::trainable::Trainable;
use super::{BuildContext, Method, Signal, StepError, StepOutput, TrainBatch};
use crate::losses::l2_normalize;
use crate::model::Encoder;

/// A network that maps a batch of images to the vectors a loss compares.
pub trait ProjectionNet: Module {
    fn project(&self, images: Tensor<4>) -> Tensor<2>;
    fn encoder(&self) -> &Encoder;
    /// The head applied to the encoder's output, where there is one.
    fn head_of(&self, _h: Tensor<2>) -> Option<Tensor<2>> {
        None
    }
}

impl ProjectionNet for HeadNet {
    fn project(&self, images: Tensor<4>) -> Tensor<2> {
        self.forward(images)
    }

    fn encoder(&self) -> &Encoder {
        &self.encoder
    }

    fn head_of(&self, h: Tensor<2>) -> Option<Tensor<2>> {
        Some(self.head.forward(h))
    }
}

impl ProjectionNet for Backbone {
    fn project(&self, images: Tensor<4>) -> Tensor<2> {
        self.forward(images)
    }

    fn encoder(&self) -> &Encoder {
        &self.encoder
    }
}

/// What a plain loss knows about its batch besides the projections `[2N, d]` (rows `i`
/// and `i + N` are two views of image `i`).
pub struct Pairs {
    /// `N`, the number of images.
    pub images: usize,
    /// The step number (seeds the negatives a loss samples).
    pub step: u64,
    /// The class of each image (`TrainBatch::labels`), for the losses that use labels.
    pub labels: Vec<u16>,
    pub device: Device,
    /// The composition's temperature ([`Plain::temperature`],
    /// [`super::momentum::Momentum::temperature`]).
    temperature: Option<f64>,
}

impl Pairs {
    /// What a composition given `temperature` tells its loss about `batch`.
    pub(super) fn of(batch: &TrainBatch, temperature: Option<f64>) -> Self {
        Self {
            images: batch.images(),
            step: batch.step,
            labels: batch.labels.clone(),
            device: batch.views.device(),
            temperature,
        }
    }

    /// The softmax temperature given to the composition with [`Plain::temperature`] (or
    /// [`super::momentum::Momentum::temperature`]). A loss
    /// reads it here, so the temperature it trains with is the one the dashboard shows
    /// ([`Method::logit_temperature`]): it is stated once.
    ///
    /// # Panics
    /// When the composition was given no temperature (a method's first step shows it).
    pub fn temperature(&self) -> f64 {
        self.temperature
            .expect("a loss that reads the temperature is built with one (Plain::temperature)")
    }
}

/// A loss value and the method-specific signals computed with it.
pub struct Scored {
    pub loss: Tensor<1>,
    pub signals: Vec<Signal>,
}

impl Scored {
    pub fn with_signal(mut self, name: &'static str, value: f32) -> Self {
        self.signals.push(Signal { name, value });
        self
    }
}

impl From<Tensor<1>> for Scored {
    fn from(loss: Tensor<1>) -> Self {
        Self {
            loss,
            signals: Vec::new(),
        }
    }
}

/// One network, its optimiser and a loss on its projections.
pub struct Plain<N: Module, L> {
    net: Trainable<N>,
    loss: L,
    /// The projections are L2-normalised before the loss (and the dashboard sees them so).
    normalized: bool,
    /// Handed to the loss in [`Pairs`] and shown by the dashboard.
    temperature: Option<f64>,
}

/// `net` trained by `loss` with the experiment's optimiser.
pub fn plain<N, L>(ctx: &BuildContext, net: N, loss: L) -> Plain<N, L>
where
    N: ProjectionNet,
    L: FnMut(Tensor<2>, &Pairs) -> Scored + Send,
{
    Plain {
        net: Trainable::new(net, super::optimizer::build_optimizer(ctx.train)),
        loss,
        normalized: false,
        temperature: None,
    }
}

impl<N: Module, L> Plain<N, L> {
    /// The loss sees unit-length projections.
    pub fn normalized(mut self) -> Self {
        self.normalized = true;
        self
    }

    /// The loss softmaxes cosine similarities at temperature `t`: it reads `t` from
    /// [`Pairs::temperature`], and [`Method::logit_temperature`] reports it.
    pub fn temperature(mut self, t: f64) -> Self {
        self.temperature = Some(t);
        self
    }
}

impl<N, L> Method for Plain<N, L>
where
    N: ProjectionNet,
    L: FnMut(Tensor<2>, &Pairs) -> Scored + Send,
{
    fn train_step(&mut self, batch: TrainBatch, lr: f64) -> Result<StepOutput, StepError> {
        let pairs = Pairs::of(&batch, self.temperature);
        let Self {
            net,
            loss,
            normalized,
            ..
        } = self;
        let (value, (z, signals)) = net.step(lr, |net| {
            let z = net.project(batch.views);
            let z = if *normalized { l2_normalize(z) } else { z };
            let scored = loss(z.clone(), &pairs);
            (scored.loss, (z, scored.signals))
        })?;
        let dim = z.dims()[1];
        let mut out = StepOutput::new(value, z, dim).in_space("projection z");
        out.signals = signals;
        Ok(out)
    }

    fn encoder_ref(&self) -> &Encoder {
        self.net.net().encoder()
    }

    fn head(&self, h: Tensor<2>) -> Option<Tensor<2>> {
        self.net.net().valid().head_of(h)
    }

    fn state(&mut self) -> Vec<(&'static str, &mut dyn Persist)> {
        vec![("net", &mut self.net)]
    }

    fn logit_temperature(&self) -> Option<f32> {
        self.temperature.map(|t| t as f32)
    }
}
