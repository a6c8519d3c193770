//! InstDisc (Wu, Xiong, Yu, Lin 2018, "Unsupervised Feature Learning via Non-Parametric
//! Instance Discrimination"): every training image is its own class. A memory bank holds one
//! L2-normalised feature per image; a view of image i must score its own bank entry above
//! the others, through NCE with sampled negatives or the full non-parametric softmax. The
//! bank entry is then moved toward the new feature with momentum.

use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::activation::log_softmax;
use burn::tensor::{Int, Tensor, TensorData};

use super::bank_nce::{noise_indices, noise_logits, normalised_nce};
use super::memory::MemoryBank;
use super::persist::{Estimate, Persist};
use super::trainable::Trainable;
use super::{BuildContext, Method, StepError, StepOutput, TrainBatch};
use crate::catalogue::methods::instdisc::Settings;
use crate::losses::l2_normalize;
use crate::model::Encoder;
use crate::model::tensor_io::matrix_to_vec;
use crate::seeding::{Stream, rng_for};

#[derive(Module, Debug)]
pub struct InstDiscNet {
    pub encoder: Encoder,
    pub fc: Linear,
}

pub struct InstDisc {
    net: Trainable<InstDiscNet>,
    bank: MemoryBank,
    softmax: bool,
    negatives: usize,
    temperature: f64,
    momentum: f32,
    /// The NCE normalising constant, estimated once from the first batch as in the paper.
    log_z: Estimate,
    seed: u64,
    dim: usize,
}

pub fn build(ctx: &BuildContext) -> Box<dyn Method> {
    let s = Settings::read(ctx.params);
    let dim = s.feature_dim;
    let net = InstDiscNet {
        encoder: ctx.encoder.init(ctx.device),
        fc: LinearConfig::new(ctx.encoder.output_dim(), dim).init(ctx.device),
    };
    let len = ctx.dataset_len.max(2);
    Box::new(InstDisc {
        net: Trainable::new(net, super::optimizer::build_optimizer(ctx.train)),
        bank: MemoryBank::new(len, dim, &mut rng_for(ctx.seed, Stream::Method, &[])),
        softmax: s.objective == "softmax",
        negatives: s.negatives.min(len - 1),
        temperature: s.temperature,
        momentum: s.bank_momentum as f32,
        log_z: Estimate(None),
        seed: ctx.seed,
        dim,
    })
}

/// The bank entries a step's features are scored against.
enum Candidates {
    /// Every entry (the non-parametric softmax).
    WholeBank(Tensor<2>),
    /// `m` sampled noise entries per anchor, `[n, m, d]` (NCE).
    Noise(Tensor<3>),
}

impl Method for InstDisc {
    fn state(&mut self) -> Vec<(&'static str, &mut dyn Persist)> {
        vec![
            ("net", &mut self.net),
            ("bank", &mut self.bank),
            ("log_z", &mut self.log_z),
        ]
    }

    fn logit_temperature(&self) -> Option<f32> {
        Some(self.temperature as f32)
    }

    fn train_step(&mut self, batch: TrainBatch, lr: f64) -> Result<StepOutput, StepError> {
        let n = batch.images();
        let device = batch.views.device();
        let t = self.temperature;
        // The positive is image i's own (older) bank entry.
        let positives = self.bank.gather(&batch.indices, &device);
        // What each feature is scored against: the whole bank, or sampled noise entries.
        let candidates = if self.softmax {
            Candidates::WholeBank(self.bank.tensor(&device))
        } else {
            let mut rng = rng_for(self.seed, Stream::Method, &[1, batch.step]);
            let noise = noise_indices(n, self.negatives, self.bank.len(), &mut rng);
            let rows = self.bank.gather(&noise, &device);
            Candidates::Noise(rows.reshape([n, self.negatives, self.dim]))
        };
        let targets: Vec<i64> = batch.indices.iter().map(|&i| i as i64).collect();
        let targets = Tensor::<2, Int>::from_data(TensorData::new(targets, [n, 1]), &device);
        let len = self.bank.len();
        let mut log_z = self.log_z.0;
        // One view per image, as in the paper.
        let (loss, f) = self.net.step(lr, |net| {
            let f = l2_normalize(
                net.fc
                    .forward(net.encoder.forward(batch.views.narrow(0, 0, n))),
            );
            let loss = match candidates {
                Candidates::WholeBank(bank) => {
                    let logits = f.clone().matmul(bank.transpose()) / t;
                    -log_softmax(logits, 1).gather(1, targets).mean()
                }
                Candidates::Noise(noise) => {
                    let pos = (f.clone() * positives.clone()).sum_dim(1) / t;
                    let neg = noise_logits(f.clone(), noise) / t;
                    normalised_nce(pos, neg, &mut log_z, len)
                }
            };
            (loss, f)
        })?;
        self.log_z = Estimate(log_z);
        let features = matrix_to_vec(f.clone().detach());
        let staleness = self.bank.mean_age_of(&batch.indices, batch.step);
        self.bank
            .update(&batch.indices, &features, self.momentum, batch.step);
        // What the loss compared: each feature and its bank entry.
        let both = Tensor::cat(vec![f.detach(), positives], 0);
        Ok(StepOutput::new(loss, both, self.dim)
            .in_space("feature f and its bank entry")
            .with_signal("bank coverage", self.bank.coverage())
            .with_signal("bank entry age (steps)", staleness))
    }

    fn encoder_ref(&self) -> &Encoder {
        &self.net.net().encoder
    }
}
