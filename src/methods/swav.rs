//! SwAV (Caron et al. 2020, "Unsupervised Learning of Visual Features by Contrasting Cluster
//! Assignments"), as the reference `main_swav.py`: the encoder (run once per crop
//! resolution, so the global views and the local crops have BatchNorm statistics of their
//! own) and the projector (Linear, BatchNorm, ReLU, Linear, on all crops together) give z,
//! L2-normalised; K prototypes, unit rows renormalised before every step without gradient,
//! score it. Each global view's scores give Sinkhorn codes, which every other crop
//! predicts (`losses::swav`). The prototypes get no update for the first steps; an optional
//! queue per global view adds earlier embeddings to Sinkhorn (`swav_parts`).

use burn::module::{Module, Param};
use burn::tensor::Tensor;

use super::common::{Backbone, halves, random_unit_rows, tensor_2d};
use super::persist::Persist;
use super::swav_parts::{CodeQueues, Usage};
use super::trainable::Trainable;
use super::{BuildContext, Method, StepError, StepOutput, TrainBatch};
use crate::catalogue::methods::swav::Settings;
use crate::losses::{l2_normalize, sinkhorn, swapped_prediction};
use crate::model::Encoder;
use crate::seeding::{Stream, rng_for};

/// The backbone and the prototypes.
#[derive(Module, Debug)]
pub struct SwavNet {
    pub backbone: Backbone,
    /// `[K, dim]`, unit rows at the start of every step.
    pub prototypes: Param<Tensor<2>>,
}

impl SwavNet {
    /// Unit embeddings z of the global views (`[2N, ...]`) then of the local crops.
    pub fn forward(&self, views: Tensor<4>, local: Option<Tensor<4>>) -> Tensor<2> {
        let mut h = vec![self.backbone.encoder.forward(views)];
        h.extend(local.map(|l| self.backbone.encoder.forward(l)));
        l2_normalize(self.backbone.projector.forward(Tensor::cat(h, 0)))
    }

    /// The prototypes scaled to unit rows, outside the graph (the reference's
    /// `torch.no_grad()` normalisation at the start of each iteration).
    fn normalized(self) -> Self {
        let prototypes = self.prototypes.map(|c| {
            let trained = c.is_require_grad();
            l2_normalize(c.detach()).detach().set_require_grad(trained)
        });
        Self { prototypes, ..self }
    }
}

pub struct Swav {
    net: Trainable<SwavNet>,
    queues: CodeQueues,
    s: Settings,
    batch_size: usize,
}

pub fn build(ctx: &BuildContext) -> Box<dyn Method> {
    let s = Settings::read(ctx.params);
    let net = SwavNet::new(ctx, &s);
    Box::new(Swav::from_parts(net, s, ctx))
}

impl SwavNet {
    /// The projector of the reference (two layers, no BatchNorm on its output) and K random
    /// unit prototypes from the method's own stream.
    fn new(ctx: &BuildContext, s: &Settings) -> Self {
        let (k, dim) = (s.prototypes, s.projection_dim);
        let mut rng = rng_for(ctx.seed, Stream::Method, &[0]);
        let start = tensor_2d(random_unit_rows(k, dim, &mut rng), k, dim, ctx.device);
        Self {
            backbone: Backbone::new(ctx, s.hidden, dim, 2),
            prototypes: Param::from_tensor(start),
        }
    }
}

impl Swav {
    fn from_parts(net: SwavNet, s: Settings, ctx: &BuildContext) -> Self {
        let dim = s.projection_dim;
        Self {
            net: Trainable::new(net, super::optimizer::build_optimizer(ctx.train)),
            queues: CodeQueues::new(s.queue_size, s.queue_start_step, dim, ctx.seed),
            batch_size: ctx.train.batch_size,
            s,
        }
    }
}

/// The Sinkhorn codes `[N, K]` of one global view's scores `own`, with the scores of the
/// queued embeddings (by today's prototypes `c`) above them when the queue is in use, as
/// `main_swav.py` does: only the batch's rows are kept.
fn codes(
    own: Tensor<2>,
    queue: Option<Tensor<2>>,
    c: Tensor<2>,
    s: &Settings,
    usage: &mut Usage,
) -> Tensor<2> {
    let n = own.dims()[0];
    usage.nearest(own.clone());
    let all = match queue {
        Some(q) => Tensor::cat(vec![q.matmul(c.transpose()), own], 0),
        None => own,
    };
    let q = sinkhorn(all, s.epsilon, s.sinkhorn_iterations);
    usage.marginals(q.clone());
    let rows = q.dims()[0];
    q.narrow(0, rows - n, n)
}

impl Method for Swav {
    fn train_step(&mut self, batch: TrainBatch, lr: f64) -> Result<StepOutput, StepError> {
        let (n, step, s) = (batch.images(), batch.step, self.s.clone());
        let crops = 2 + batch.local.as_ref().map_or(0, |l| l.dims()[0] / n);
        self.net.map(SwavNet::normalized);
        let frozen: Vec<_> = (step < s.freeze_prototypes_steps as u64)
            .then(|| self.net.net().prototypes.id)
            .into_iter()
            .collect();
        let queued = self.queues.in_use(&batch.views.device());
        let (loss, (z, usage)) = self.net.step_freezing(lr, &frozen, |net| {
            let z = net.forward(batch.views, batch.local);
            let c = net.prototypes.val();
            let scores = z.clone().matmul(c.clone().transpose());
            let mut usage = Usage::default();
            let codes = [0, 1].map(|v| {
                let own = scores.clone().narrow(0, v * n, n).detach();
                let queue = queued.as_ref().map(|q| q[v].clone());
                codes(own, queue, c.clone().detach(), &s, &mut usage)
            });
            let loss = swapped_prediction(scores, crops, codes, s.temperature);
            (loss, (z.narrow(0, 0, 2 * n).detach(), usage))
        })?;
        // Only an applied step adds to the queues.
        let (z1, z2) = halves(z.clone(), n);
        self.queues.push([z1, z2], step);
        let mut out = StepOutput::new(loss, z, s.projection_dim).in_space("projection z");
        out = out
            .with_signal("prototype usage entropy", usage.entropy(s.prototypes))
            .with_signal("Sinkhorn marginal error", usage.marginal_error);
        if let Some(fill) = self.queues.fill() {
            out = out.with_signal("queue fill", fill);
        }
        Ok(out)
    }

    fn encoder_ref(&self) -> &Encoder {
        &self.net.net().backbone.encoder
    }

    fn state(&mut self) -> Vec<(&'static str, &mut dyn Persist)> {
        vec![("net", &mut self.net), ("queue", &mut self.queues)]
    }

    fn logit_temperature(&self) -> Option<f32> {
        Some(self.s.temperature as f32)
    }

    fn warnings(&self, train_images: usize) -> Vec<String> {
        let queue = self.s.queue_size;
        let stale = (queue > train_images).then(|| {
            format!(
                "method.queue_size = {queue} is larger than the {train_images} training images: \
                 the queues hold several earlier embeddings of every image, which Sinkhorn then \
                 spreads over the prototypes with the batch"
            )
        });
        // A batch holds at most the whole training set.
        let spread = self.batch_size.min(train_images) + self.s.queue_size;
        (self.s.prototypes > spread)
            .then(|| {
                format!(
                    "method.prototypes = {} is more than the {spread} embeddings Sinkhorn \
                     spreads over each step (train.batch_size + method.queue_size): equal use \
                     then splits every image over several prototypes; the paper adds a queue \
                     for small batches",
                    self.s.prototypes
                )
            })
            .into_iter()
            .chain(stale)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::methods::state::MethodState;
    use crate::methods::{TestBuild, test_batch as batch};

    /// SwAV with six prototypes and `spec`'s settings, on `net` or a new network.
    fn swav(spec: &str, net: Option<&SwavNet>) -> (Swav, burn::tensor::Device) {
        let b = TestBuild::new(&format!("kind = \"swav\"\nprototypes = 6\n{spec}"));
        let s = Settings::read(&b.params);
        // A clone has the same weights (burn's generator is shared by parallel tests).
        let net = net.cloned().unwrap_or_else(|| SwavNet::new(&b.ctx(), &s));
        (Swav::from_parts(net, s, &b.ctx()), b.device.clone())
    }

    fn prototypes(m: &Swav) -> Vec<f32> {
        m.net
            .net()
            .prototypes
            .val()
            .into_data()
            .iter::<f32>()
            .collect()
    }

    fn losses(
        m: &mut Swav,
        steps: std::ops::Range<u64>,
        device: &burn::tensor::Device,
    ) -> Vec<f32> {
        steps
            .map(|step| m.train_step(batch(step, device), 1e-2).unwrap().loss)
            .collect()
    }

    #[test]
    fn the_prototypes_are_unit_rows_frozen_for_their_steps_then_trained() {
        let (mut m, device) = swav("freeze_prototypes_steps = 2", None);
        let start = prototypes(&m);
        losses(&mut m, 0..2, &device);
        let frozen = prototypes(&m);
        for (a, b) in start.iter().zip(&frozen) {
            assert!((a - b).abs() < 1e-6, "a frozen prototype moved: {a} -> {b}");
        }
        losses(&mut m, 2..3, &device);
        let trained = prototypes(&m);
        assert!(
            start
                .iter()
                .zip(&trained)
                .any(|(a, b)| (a - b).abs() > 1e-4)
        );
        // The next step starts from unit rows again.
        m.net.map(SwavNet::normalized);
        for row in prototypes(&m).chunks_exact(m.s.projection_dim) {
            let norm: f32 = row.iter().map(|v| v * v).sum::<f32>().sqrt();
            assert!((norm - 1.0).abs() < 1e-5, "{norm}");
        }
    }

    #[test]
    fn more_prototypes_than_sinkhorn_sees_is_warned_of_by_name() {
        let (few, _) = swav("", None);
        assert!(few.warnings(4000).is_empty());
        let b = TestBuild::new("kind = \"swav\"\nprototypes = 4096\nqueue_size = 64");
        let many = build(&b.ctx());
        let said = many.warnings(4000).join("\n");
        let seen = b.train.batch_size + 64;
        assert!(
            said.contains("method.prototypes = 4096") && said.contains(&format!("{seen} ")),
            "{said}"
        );
    }

    #[test]
    fn the_queue_joins_sinkhorn_once_full_and_resumes_exactly() {
        // Queues of 8 take two batches of 4: steps 0 and 1 fill them, step 2 uses them.
        let queued = "queue_size = 8\nqueue_start_step = 0\nfreeze_prototypes_steps = 1";
        let (mut with, device) = swav(queued, None);
        let net = with.net.net().clone();
        let (mut without, _) = swav("freeze_prototypes_steps = 1", Some(&net));
        let (mut first, _) = swav(queued, Some(&net));
        let (mut resumed, _) = swav(queued, None);
        let a = losses(&mut with, 0..4, &device);
        let b = losses(&mut without, 0..4, &device);
        assert_eq!(a[..2], b[..2], "a queue that is not full yet is not used");
        assert_ne!(a[2], b[2], "a full queue changes the codes");
        let out = with.train_step(batch(4, &device), 1e-2).unwrap();
        let signal = |name| out.signals.iter().find(|s| s.name == name).map(|s| s.value);
        assert_eq!(signal("queue fill"), Some(1.0));
        assert!(signal("prototype usage entropy").is_some_and(|e| (0.0..=1.0).contains(&e)));
        assert!(signal("Sinkhorn marginal error").is_some_and(f32::is_finite));

        // Stopped after step 2, saved and loaded into a fresh method: steps 3 and 4 as
        // the uninterrupted run took them.
        assert_eq!(losses(&mut first, 0..3, &device), a[..3]);
        let mut state = MethodState::default();
        first.save_state(&mut state).unwrap();
        resumed.load_state(&state).unwrap();
        assert_eq!(losses(&mut resumed, 3..5, &device), [a[3], out.loss]);
    }
}
