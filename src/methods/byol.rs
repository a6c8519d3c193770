//! BYOL (Grill et al. 2020, "Bootstrap Your Own Latent"): an online network (encoder,
//! projector, predictor) learns to predict a target network's projection of the other view.
//! The target is an exponential moving average of the online encoder and projector and gets
//! no gradient; there are no negatives.

use burn::module::Module;
use burn::tensor::Tensor;

use super::common::{Backbone, halves};
use super::persist::Persist;
use super::trainable::Trainable;
use super::{BuildContext, Method, StepError, StepOutput, TrainBatch};
use crate::catalogue::methods::byol::Settings;
use crate::losses::negative_cosine;
use crate::model::ema::{ema_update, momentum_copy};
use crate::model::{BnMlp, BnMlpConfig, Encoder};

#[derive(Module, Debug)]
pub struct ByolOnline {
    pub backbone: Backbone,
    pub predictor: BnMlp,
}

pub struct Byol {
    online: Trainable<ByolOnline>,
    target: Option<Backbone>,
    tau_base: f64,
    total_steps: u64,
    dim: usize,
}

/// BYOL's momentum schedule (sec. 3.2): 1 - (1 - tau_base)(cos(pi k / K) + 1) / 2.
pub fn tau_at(tau_base: f64, step: u64, total: u64) -> f64 {
    let progress = step as f64 / total.max(1) as f64;
    1.0 - (1.0 - tau_base) * ((std::f64::consts::PI * progress).cos() + 1.0) / 2.0
}

pub fn build(ctx: &BuildContext) -> Box<dyn Method> {
    let s = Settings::read(ctx.params);
    let (hidden, dim) = (s.hidden, s.projection_dim);
    let online = ByolOnline {
        backbone: Backbone::new(ctx, hidden, dim, 2),
        predictor: BnMlpConfig {
            input: dim,
            hidden,
            output: dim,
            layers: 2,
            bn_last: false,
        }
        .init(ctx.device),
    };
    let target = momentum_copy(Backbone::new(ctx, hidden, dim, 2), &online.backbone);
    Box::new(Byol {
        online: Trainable::new(online, super::optimizer::build_optimizer(ctx.train)),
        target: Some(target),
        tau_base: s.tau_base,
        total_steps: ctx.train.steps,
        dim,
    })
}

impl Method for Byol {
    fn state(&mut self) -> Vec<(&'static str, &mut dyn Persist)> {
        vec![("online", &mut self.online), ("target", &mut self.target)]
    }

    fn train_step(&mut self, batch: TrainBatch, lr: f64) -> Result<StepOutput, StepError> {
        let n = batch.images();
        let target = self.target.take().expect("target present between steps");
        let z_target = target.forward(batch.views.clone()).detach();
        let (t1, t2) = halves(z_target, n);
        let local = batch.local;
        let result = self.online.step(lr, |net| {
            let z = net.backbone.forward(batch.views);
            let (p1, p2) = halves(net.predictor.forward(z.clone()), n);
            // ||a/|a| - b/|b|||^2 = 2 - 2 cos(a, b) = 2 + 2 negative_cosine.
            let mse = |p: Tensor<2>, t: Tensor<2>| negative_cosine(p, t) * 2.0 + 2.0;
            let mut loss = mse(p1, t2.clone()) + mse(p2, t1.clone());
            let mut terms = 2.0;
            // Multi-crop: every local crop predicts the targets of both global views.
            if let Some(local) = local {
                let crops = local.dims()[0] / n;
                let q = net.predictor.forward(net.backbone.forward(local));
                for k in 0..crops {
                    let q_k = q.clone().narrow(0, k * n, n);
                    loss = loss + mse(q_k.clone(), t1.clone()) + mse(q_k, t2.clone());
                    terms += 2.0;
                }
            }
            // The paper's sum of the two symmetric terms, whatever the number of crops.
            (loss * (2.0 / terms), z)
        });
        let (loss, z) = match result {
            Ok(ok) => ok,
            Err(e) => {
                self.target = Some(target);
                return Err(e);
            }
        };
        let tau = tau_at(self.tau_base, batch.step, self.total_steps);
        self.target = Some(ema_update(target, &self.online.net().backbone, tau));
        Ok(StepOutput::new(loss, z, self.dim)
            .in_space("online projection z")
            .with_signal("target tau", tau as f32))
    }

    fn encoder_ref(&self) -> &Encoder {
        &self.online.net().backbone.encoder
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_momentum_schedule_runs_from_tau_base_to_one() {
        assert!((tau_at(0.996, 0, 100) - 0.996).abs() < 1e-12);
        assert!((tau_at(0.996, 50, 100) - 0.998).abs() < 1e-12);
        assert!((tau_at(0.996, 100, 100) - 1.0).abs() < 1e-12);
    }
}
