//! Deep InfoMax (Hjelm et al. 2019, "Learning deep representations by mutual information
//! estimation and maximization"): the global representation y of an image should carry the
//! information in its feature map. Critics score pairs "encode and dot" style; pairs from
//! the same image are positives, pairs across images negatives, and the encoder maximises
//! a mutual-information estimate (JSD, DV or InfoNCE). The objective is the paper's
//! alpha * global MI (y against the whole flattened map) + beta * local MI (y against every
//! map position) + gamma * prior matching (an adversarial discriminator pushes the
//! squashed y toward a uniform prior). No views are needed: each image is used on its own
//! (the cross-view switch takes the map from the other view instead, as AMDIM does).

use burn::module::Module;
use burn::tensor::{Int, Tensor, TensorData};

use super::persist::Persist;
use super::trainable::Trainable;
use super::{BuildContext, Method, StepError, StepOutput, TrainBatch};
use crate::catalogue::methods::dim::Settings;
use crate::losses::{MiEstimator, mi_estimate, prior_discriminator_loss, prior_encoder_loss};
use crate::model::tensor_io::scalar;
use crate::model::{Encoder, MlpHead, MlpHeadConfig};

#[derive(Module, Debug)]
pub struct DimNet {
    pub encoder: Encoder,
    /// phi: embeds the global vector for both objectives.
    pub global_critic: MlpHead,
    /// psi: embeds one position of the feature map (local objective).
    pub local_critic: MlpHead,
    /// rho: embeds the whole flattened feature map (global objective), when alpha > 0.
    pub map_critic: Option<MlpHead>,
}

pub struct Dim {
    net: Trainable<DimNet>,
    /// The prior's discriminator, trained by its own optimiser, when gamma > 0.
    prior: Option<Trainable<MlpHead>>,
    estimator: MiEstimator,
    stage: usize,
    /// `method.local_stage` as asked for, when the encoder has fewer stages (`stage` is
    /// then its last).
    stage_asked: Option<usize>,
    cross_view: bool,
    weights: Weights,
    seed: u64,
    dim: usize,
}

/// alpha, beta, gamma.
#[derive(Clone, Copy)]
struct Weights {
    global: f64,
    local: f64,
    prior: f64,
}

/// `1 - e^-y`: maps the encoder's non-negative output onto [0, 1), the prior's support.
fn squash(y: Tensor<2>) -> Tensor<2> {
    -(-y).exp() + 1.0
}

pub fn build(ctx: &BuildContext) -> Box<dyn Method> {
    Box::new(Dim::new(ctx))
}

impl Dim {
    fn new(ctx: &BuildContext) -> Self {
        let s = Settings::read(ctx.params);
        let channels = ctx.encoder.stage_channels();
        let stage = s.local_stage.min(channels.len().saturating_sub(1));
        let critic = s.critic_dim;
        let head = |input, output| {
            MlpHeadConfig {
                input,
                hidden: critic,
                output,
            }
            .init(ctx.device)
        };
        let weights = Weights {
            global: s.global_weight,
            local: s.local_weight,
            prior: s.prior_weight,
        };
        let side = ctx.encoder.map_side(ctx.image_size, stage);
        let dim = ctx.encoder.output_dim();
        let net = DimNet {
            encoder: ctx.encoder.init(ctx.device),
            global_critic: head(dim, critic),
            local_critic: head(channels[stage], critic),
            map_critic: (weights.global > 0.0).then(|| head(channels[stage] * side * side, critic)),
        };
        let prior = (weights.prior > 0.0)
            .then(|| Trainable::new(head(dim, 1), super::optimizer::build_optimizer(ctx.train)));
        Dim {
            net: Trainable::new(net, super::optimizer::build_optimizer(ctx.train)),
            prior,
            estimator: match s.estimator {
                "dv" => MiEstimator::DonskerVaradhan,
                "infonce" => MiEstimator::InfoNce,
                _ => MiEstimator::Jsd,
            },
            stage,
            stage_asked: (s.local_stage != stage).then_some(s.local_stage),
            cross_view: s.cross_view,
            weights,
            seed: ctx.seed,
            dim,
        }
    }
}

/// What one encoder step measured, for the dashboard and the prior's own step.
struct Measured {
    y: Tensor<2>,
    local: Option<Tensor<1>>,
    global: Option<Tensor<1>>,
}

impl Method for Dim {
    fn warnings(&self, _train_images: usize) -> Vec<String> {
        self.stage_asked
            .map(|asked| {
                format!(
                    "method.local_stage = {asked} is past the encoder's last stage ({last}, \
                     counting from 0): the local critic uses stage {last}",
                    last = self.stage
                )
            })
            .into_iter()
            .collect()
    }

    fn state(&mut self) -> Vec<(&'static str, &mut dyn Persist)> {
        let mut parts: Vec<(&'static str, &mut dyn Persist)> = vec![("net", &mut self.net)];
        if let Some(prior) = &mut self.prior {
            parts.push(("prior", prior));
        }
        parts
    }

    fn train_step(&mut self, batch: TrainBatch, lr: f64) -> Result<StepOutput, StepError> {
        let (estimator, stage, w) = (self.estimator, self.stage, self.weights);
        let n = batch.images();
        let device = batch.views.device();
        // Cross-view: the map of row i comes from the other view of the same image, so the
        // positive pairs on the diagonal pair view 1 with view 2.
        let other_view = self.cross_view.then(|| {
            let rows: Vec<i64> = (0..2 * n).map(|i| ((i + n) % (2 * n)) as i64).collect();
            Tensor::<1, Int>::from_data(TensorData::new(rows, [2 * n]), &device)
        });
        let discriminator = self.prior.as_ref().map(Trainable::net);
        let (loss, m) = self.net.step(lr, |net| {
            let (y, map) = net.encoder.forward_with_map(batch.views, stage);
            let map = match other_view {
                Some(rows) => map.select(0, rows),
                None => map,
            };
            let [b, c, h, wd] = map.dims();
            let g = net.global_critic.forward(y.clone());
            let local = (w.local > 0.0).then(|| {
                // Local features as rows: [b, c, h, w] -> [b * h * w, c].
                let positions = h * wd;
                let l = map
                    .clone()
                    .reshape([b, c, positions])
                    .swap_dims(1, 2)
                    .reshape([b * positions, c]);
                let l = net.local_critic.forward(l);
                let scores = g.clone().matmul(l.transpose()).reshape([b, b, positions]);
                mi_estimate(scores, estimator, n)
            });
            let global = net.map_critic.as_ref().map(|rho| {
                let whole = rho.forward(map.clone().reshape([b, c * h * wd]));
                mi_estimate(
                    g.clone().matmul(whole.transpose()).reshape([b, b, 1]),
                    estimator,
                    n,
                )
            });
            let mut objective = Tensor::<1>::zeros([1], &y.device());
            if let Some(mi) = &local {
                objective = objective + mi.clone() * w.local;
            }
            if let Some(mi) = &global {
                objective = objective + mi.clone() * w.global;
            }
            let mut loss = -objective;
            if let Some(d) = discriminator {
                // D's weights get gradients here too, but only this network's optimiser
                // steps: D is trained below, on its own loss.
                loss = loss + prior_encoder_loss(d.forward(squash(y.clone()))) * w.prior;
            }
            (loss, Measured { y, local, global })
        })?;
        let y = m.y.detach();
        let mut out = StepOutput::new(loss, y.clone(), self.dim).in_space("global feature y");
        // JSD is a divergence score, not nats; the others bound the MI in nats.
        let (local_label, global_label) = match estimator {
            MiEstimator::Jsd => ("local JSD estimate", "global JSD estimate"),
            _ => ("local MI estimate (nats)", "global MI estimate (nats)"),
        };
        if let Some(mi) = m.local {
            out = out.with_signal(local_label, scalar(mi.detach()));
        }
        if let Some(mi) = m.global {
            out = out.with_signal(global_label, scalar(mi.detach()));
        }
        if let Some(prior) = &mut self.prior {
            // The discriminator's step: prior samples vs this batch's (detached) outputs.
            let [rows, dim] = y.dims();
            let mut rng = crate::seeding::rng_for(
                self.seed,
                crate::seeding::Stream::Method,
                &[3, batch.step],
            );
            let samples = uniform_samples(rows * dim, &mut rng);
            let samples = super::common::tensor_2d(samples, rows, dim, &device);
            let encoded = squash(y);
            let (d_loss, ()) = prior.step(lr, |d| {
                (
                    prior_discriminator_loss(d.forward(samples), d.forward(encoded)),
                    (),
                )
            })?;
            out = out.with_signal("prior discriminator loss", d_loss);
        }
        Ok(out)
    }

    fn encoder_ref(&self) -> &Encoder {
        &self.net.net().encoder
    }
}

/// `count` values uniform on [0, 1), seeded (the prior's samples).
fn uniform_samples(count: usize, rng: &mut crate::seeding::Rng) -> Vec<f32> {
    use rand::RngExt;
    (0..count).map(|_| rng.random_range(0.0..1.0)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(t: Tensor<2>) -> Vec<f32> {
        crate::model::tensor_io::matrix_to_vec(t)
    }

    #[test]
    fn all_three_terms_are_reported_and_the_discriminator_trains_on_its_own_step() {
        let build = crate::methods::TestBuild::new(
            "kind = \"dim\"\nglobal_weight = 1.0\nprior_weight = 0.5",
        );
        let device = &build.device;
        let mut dim = Dim::new(&build.ctx());
        let disc = |d: &Dim| values(d.prior.as_ref().unwrap().net().fc1.weight.val());
        let before = disc(&dim);
        let views =
            Tensor::<4>::random([8, 3, 16, 16], burn::tensor::Distribution::Default, device);
        let out = dim
            .train_step(TrainBatch::untracked(views, (0..4).collect(), 0), 1e-3)
            .unwrap();
        let names: Vec<&str> = out.signals.iter().map(|s| s.name).collect();
        assert_eq!(
            names,
            [
                "local JSD estimate",
                "global JSD estimate",
                "prior discriminator loss"
            ]
        );
        assert!(out.signals.iter().all(|s| s.value.is_finite()));
        // A discriminator that has seen nothing scores about 0: loss near 2 ln 2.
        assert!(
            (out.signals[2].value - 2.0 * 2f32.ln()).abs() < 0.3,
            "{:?}",
            out.signals
        );
        assert_ne!(before, disc(&dim), "the discriminator did not learn");
    }

    #[test]
    fn squash_maps_non_negative_values_onto_the_unit_interval() {
        let d = burn::tensor::Device::flex();
        let y = Tensor::<2>::from_data(TensorData::new(vec![0.0f32, 1.0, 50.0], [1, 3]), &d);
        let v = crate::model::tensor_io::matrix_to_vec(squash(y));
        assert_eq!(v[0], 0.0);
        assert!((v[1] - (1.0 - (-1f32).exp())).abs() < 1e-6);
        assert!((v[2] - 1.0).abs() < 1e-6);
    }
}
