//! BYOL (Grill et al. 2020, "Bootstrap Your Own Latent"): an online network (encoder,
//! projector, predictor) learns to predict a target network's projection of the other view.
//! The target is an exponential moving average of the online encoder and projector and gets
//! no gradient; there are no negatives.

use burn::tensor::Tensor;

use super::common::{Backbone, PredictorNet, halves};
use super::momentum::{Schedule, momentum};
use super::plain::{Pairs, Scored};
use super::{BuildContext, Method, TrainBatch};
use crate::catalogue::methods::byol::Settings;
use crate::losses::negative_cosine;

pub fn build(ctx: &BuildContext) -> Box<dyn Method> {
    let s = Settings::read(ctx.params);
    let (hidden, dim) = (s.hidden, s.projection_dim);
    let online = PredictorNet::new(ctx, Backbone::new(ctx, hidden, dim, 2), hidden, dim);
    let target = Backbone::new(ctx, hidden, dim, 2);
    momentum(ctx, online, target, Schedule::cosine(ctx, s.tau_base), loss)
        .in_space("online projection z")
        .boxed()
}

/// Each view's prediction against the target's projection of the other view (and, with
/// multi-crop, each local crop's against both).
fn loss(
    net: &PredictorNet,
    batch: TrainBatch,
    target: Tensor<2>,
    _: &Pairs,
) -> (Scored, Tensor<2>) {
    let n = batch.images();
    let (t1, t2) = halves(target, n);
    let (z, p) = net.forward(batch.views);
    let (p1, p2) = halves(p, n);
    // ||a/|a| - b/|b|||^2 = 2 - 2 cos(a, b) = 2 + 2 negative_cosine.
    let mse = |p: Tensor<2>, t: Tensor<2>| negative_cosine(p, t) * 2.0 + 2.0;
    let mut loss = mse(p1, t2.clone()) + mse(p2, t1.clone());
    let mut terms = 2.0;
    // Multi-crop: every local crop predicts the targets of both global views.
    if let Some(local) = batch.local {
        let crops = local.dims()[0] / n;
        let (_, q) = net.forward(local);
        for k in 0..crops {
            let q_k = q.clone().narrow(0, k * n, n);
            loss = loss + mse(q_k.clone(), t1.clone()) + mse(q_k, t2.clone());
            terms += 2.0;
        }
    }
    // The paper's sum of the two symmetric terms, whatever the number of crops.
    ((loss * (2.0 / terms)).into(), z)
}
