//! MoCo (He et al. 2020, "Momentum Contrast for Unsupervised Visual Representation
//! Learning"; v2: Chen et al. 2020, "Improved Baselines with Momentum Contrastive Learning").
//! A query encoder is trained by InfoNCE to pick its key (the other view, encoded by a
//! momentum copy of the query encoder) out of a queue of keys from earlier batches.
//!
//! Shuffling BN (sec. 3.3): BatchNorm computes its statistics over a batch, which lets a
//! query find its positive key by the batch they share rather than by content; the paper
//! shuffles the keys across GPUs to close this shortcut. One device has it too: the
//! positive key would be the only candidate (the queued keys come from earlier batches)
//! normalised with the statistics of its query's images. So [`shuffled_forward`] does what
//! the MoCo CIFAR demo's SplitBatchNorm does: the keys are shuffled and passed through the
//! key encoder in `key_bn_splits` groups, each with statistics of its own (default 4; 1
//! turns it off and leaves the shortcut open).

use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::{Int, Tensor, TensorData};

use super::memory::KeyQueue;
use super::momentum::{Online, OnlineTarget, Schedule};
use super::persist::Persist;
use super::{BuildContext, Method, StepError, StepOutput, TrainBatch};
use crate::catalogue::methods::moco::Settings;
use crate::losses::{info_nce, l2_normalize};
use crate::model::{Encoder, MlpHead, MlpHeadConfig};
use crate::seeding::{Stream, rng_for};

/// Encoder plus v1's linear layer or v2's MLP head.
#[derive(Module, Debug)]
pub struct MocoNet {
    pub encoder: Encoder,
    pub linear: Option<Linear>,
    pub mlp: Option<MlpHead>,
}

impl MocoNet {
    fn new(ctx: &BuildContext, mlp_head: bool, dim: usize) -> Self {
        let rep = ctx.encoder.output_dim();
        Self {
            encoder: ctx.encoder.init(ctx.device),
            linear: (!mlp_head).then(|| LinearConfig::new(rep, dim).init(ctx.device)),
            mlp: mlp_head.then(|| {
                MlpHeadConfig {
                    input: rep,
                    hidden: rep,
                    output: dim,
                }
                .init(ctx.device)
            }),
        }
    }

    /// L2-normalised `[B, dim]` queries or keys.
    fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        let h = self.encoder.forward(x);
        let z = match (&self.linear, &self.mlp) {
            (Some(fc), _) => fc.forward(h),
            (None, Some(mlp)) => mlp.forward(h),
            (None, None) => h,
        };
        l2_normalize(z)
    }
}

/// A queue longer than the dataset holds several stale keys of each image.
fn queue_warning(queue: usize, train_images: usize) -> Option<String> {
    (queue > train_images).then(|| {
        format!(
            "method.queue_size = {queue} is larger than the {train_images} training images: the \
             queue holds several stale keys of every image, which then act as its own negatives"
        )
    })
}

pub struct Moco {
    /// The query encoder and the momentum key encoder (never trained, only moved toward it).
    nets: OnlineTarget<MocoNet>,
    queue: KeyQueue,
    temperature: f64,
    key_bn_splits: usize,
    seed: u64,
}

/// The key encoder follows the whole query encoder.
impl Online for MocoNet {
    type Target = MocoNet;

    fn followed(&self) -> &MocoNet {
        self
    }
}

/// A random order of `n` rows and its inverse.
pub fn shuffle(n: usize, rng: &mut crate::seeding::Rng) -> (Vec<i64>, Vec<i64>) {
    let order = rand::seq::index::sample(rng, n, n).into_vec();
    let mut inverse = vec![0i64; n];
    for (position, &row) in order.iter().enumerate() {
        inverse[row] = position as i64;
    }
    (order.into_iter().map(|r| r as i64).collect(), inverse)
}

/// `net` on the rows of `x` in `groups` shuffled groups, each normalised by its own batch
/// statistics, returned in the rows' own order.
pub fn shuffled_forward(
    net: &MocoNet,
    x: Tensor<4>,
    groups: usize,
    rng: &mut crate::seeding::Rng,
) -> Tensor<2> {
    let n = x.dims()[0];
    let groups = groups.clamp(1, (n / 2).max(1));
    if groups == 1 {
        return net.forward(x);
    }
    let device = x.device();
    let index = |v: Vec<i64>| Tensor::<1, Int>::from_data(TensorData::new(v, [n]), &device);
    let (order, inverse) = shuffle(n, rng);
    let shuffled = x.select(0, index(order));
    let size = n.div_ceil(groups);
    let parts: Vec<Tensor<2>> = (0..n)
        .step_by(size)
        .map(|start| net.forward(shuffled.clone().narrow(0, start, size.min(n - start))))
        .collect();
    Tensor::cat(parts, 0).select(0, index(inverse))
}

pub fn build(ctx: &BuildContext) -> Box<dyn Method> {
    let s = Settings::read(ctx.params);
    let (dim, mlp) = (s.projection_dim, s.mlp_head);
    let query = MocoNet::new(ctx, mlp, dim);
    let nets = OnlineTarget::new(
        ctx,
        query,
        MocoNet::new(ctx, mlp, dim),
        Schedule::Constant(s.momentum),
    )
    .named("query", "key");
    let queue = KeyQueue::new(
        s.queue_size,
        dim,
        &mut rng_for(ctx.seed, Stream::Method, &[]),
    );
    Box::new(Moco {
        nets,
        queue,
        temperature: s.temperature,
        key_bn_splits: s.key_bn_splits,
        seed: ctx.seed,
    })
}

impl Method for Moco {
    fn state(&mut self) -> Vec<(&'static str, &mut dyn Persist)> {
        let mut parts = self.nets.parts();
        parts.push(("queue", &mut self.queue));
        parts
    }

    fn logit_temperature(&self) -> Option<f32> {
        Some(self.temperature as f32)
    }

    fn warnings(&self, train_images: usize) -> Vec<String> {
        queue_warning(self.queue.capacity(), train_images)
            .into_iter()
            .collect()
    }

    fn train_step(&mut self, batch: TrainBatch, lr: f64) -> Result<StepOutput, StepError> {
        let n = batch.images();
        let views = batch.views;
        // Keys: second views through the momentum encoder, no gradient, in shuffled groups.
        let mut rng = rng_for(self.seed, Stream::Method, &[4, batch.step]);
        let keys_in = views.clone().narrow(0, n, n);
        let splits = self.key_bn_splits;
        let queue = self.queue.tensor(&views.device());
        let t = self.temperature;
        let (loss, (q, k), m) = self.nets.step(
            lr,
            batch.step,
            |key_net| shuffled_forward(key_net, keys_in, splits, &mut rng).detach(),
            |net, k| {
                let q = net.forward(views.narrow(0, 0, n));
                let pos = (q.clone() * k.clone()).sum_dim(1) / t;
                let neg = q.clone().matmul(queue.transpose()) / t;
                (info_nce(pos, neg), (q, k))
            },
        )?;
        self.queue.enqueue(k.clone(), batch.step);
        let both = Tensor::cat(vec![q.detach(), k], 0);
        let dim = both.dims()[1];
        Ok(StepOutput::new(loss, both, dim)
            .in_space("query q and key k")
            .with_signal("queue fill", self.queue.fill())
            .with_signal("queue mean age (steps)", self.queue.mean_age(batch.step))
            .with_signal("key momentum", m as f32))
    }

    fn encoder_ref(&self) -> &Encoder {
        &self.nets.online().encoder
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::tensor_io::matrix_to_vec;

    #[test]
    fn a_shuffle_and_its_inverse_restore_every_row() {
        let mut rng = rng_for(3, Stream::Method, &[]);
        let (order, inverse) = shuffle(10, &mut rng);
        let mut seen = order.clone();
        seen.sort_unstable();
        assert_eq!(seen, (0..10).collect::<Vec<i64>>());
        for (row, &position) in inverse.iter().enumerate() {
            assert_eq!(order[position as usize], row as i64);
        }
    }

    #[test]
    fn grouped_keys_come_back_in_order_with_their_own_statistics() {
        use burn::tensor::Device;
        // Training-mode BatchNorm (batch statistics) runs on the autodiff device, as keys do.
        let device = Device::flex().autodiff();
        let encoder = crate::model::EncoderConfig {
            channels: vec![4, 8],
            ..crate::model::EncoderConfig::default()
        };
        let net = MocoNet {
            encoder: encoder.init(&device),
            linear: Some(LinearConfig::new(encoder.output_dim(), 6).init(&device)),
            mlp: None,
        };
        let values: Vec<f32> = (0..8 * 3 * 8 * 8)
            .map(|i| ((i * 29) % 97) as f32 / 48.0 - 1.0)
            .collect();
        let x = Tensor::<4>::from_data(TensorData::new(values, [8, 3, 8, 8]), &device);
        let rows = |t: Tensor<2>| matrix_to_vec(t);
        let mut rng = rng_for(0, Stream::Method, &[]);
        let whole = rows(net.forward(x.clone()));
        // One group is the plain forward; with four, each key is normalised with one other
        // image's statistics, not the whole batch's, so it differs.
        assert_eq!(rows(shuffled_forward(&net, x.clone(), 1, &mut rng)), whole);
        let stream = || rng_for(0, Stream::Method, &[5]);
        let grouped = rows(shuffled_forward(&net, x.clone(), 4, &mut stream()));
        assert_ne!(grouped, whole);
        // Row i of the result is image i's key, computed with the other image of its group:
        // the same draw gives the groups, and each is checked on its own.
        let (order, _) = shuffle(8, &mut stream());
        for pair in order.chunks(2) {
            let idx = Tensor::<1, Int>::from_data(TensorData::new(pair.to_vec(), [2]), &device);
            let alone = rows(net.forward(x.clone().select(0, idx)));
            for (k, &row) in pair.iter().enumerate() {
                let row = row as usize;
                for c in 0..6 {
                    assert!((grouped[row * 6 + c] - alone[k * 6 + c]).abs() < 1e-5);
                }
            }
        }
    }

    #[test]
    fn a_queue_longer_than_the_dataset_is_named() {
        let said = super::queue_warning(4096, 800).expect("a warning");
        assert!(
            said.contains("method.queue_size = 4096") && said.contains("800"),
            "{said}"
        );
        assert_eq!(super::queue_warning(512, 800), None);
    }
}
