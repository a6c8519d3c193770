//! MoCo v3 (Chen, Xie & He 2021, "An Empirical Study of Training Self-Supervised Vision
//! Transformers"): a query encoder (backbone, BatchNorm projection MLP, prediction MLP) and
//! a momentum encoder (a moving average of the backbone and projector, no gradient) encode
//! both views; each view's query must pick out the other view's key among the keys of the
//! batch (no queue, Algorithm 1). The loss is ctr(q1, k2) + ctr(q2, k1), each scaled by 2t as
//! in the reference code, and the momentum rises from m to 1 on a cosine. The reference
//! updates the momentum encoder before a step's keys; here it is after each applied step,
//! which is the same but for the step whose momentum it uses.

use burn::tensor::Tensor;

use super::common::{Backbone, PredictorNet, halves};
use super::momentum::{Schedule, momentum};
use super::plain::{Pairs, Scored};
use super::{BuildContext, Method, TrainBatch};
use crate::catalogue::methods::moco_v3::Settings;
use crate::losses::{l2_normalize, logit_gap, moco_v3};
use crate::model::tensor_io::scalar;

pub fn build(ctx: &BuildContext) -> Box<dyn Method> {
    let s = Settings::read(ctx.params);
    let (online, fresh) = networks(ctx, &s);
    momentum(ctx, online, fresh, Schedule::cosine(ctx, s.momentum), loss)
        .temperature(s.temperature)
        .in_space("query q1 and key k2")
        .momentum_signal("key momentum")
        .boxed()
}

/// The query encoder and a fresh momentum encoder (its backbone's shape): the projector
/// has two layers and BatchNorm on its output, the predictor two layers (ResNet's MLPs in
/// the reference `MoCo_ResNet`, whose linear layers have no bias and whose last BatchNorm
/// no affine parameters; here both keep theirs).
pub fn networks(ctx: &BuildContext, s: &Settings) -> (PredictorNet, Backbone) {
    let (hidden, dim) = (s.hidden, s.projection_dim);
    let backbone = || Backbone::with_output_bn(ctx, hidden, dim, 2);
    (PredictorNet::new(ctx, backbone(), hidden, dim), backbone())
}

/// The symmetric loss on the queries (predictions) of both views and the keys; the
/// dashboard sees view 1's queries and view 2's keys, unit length.
fn loss(
    net: &PredictorNet,
    batch: TrainBatch,
    keys: Tensor<2>,
    pairs: &Pairs,
) -> (Scored, Tensor<2>) {
    let (n, t) = (batch.images(), pairs.temperature());
    let (_, q) = net.forward(batch.views);
    let (q1, q2) = halves(q, n);
    let (k1, k2) = halves(keys, n);
    let gap = scalar(logit_gap(q1.clone().detach(), k2.clone(), t));
    let loss = moco_v3((q1.clone(), q2), (k1, k2.clone()), t);
    let shown = Tensor::cat(vec![l2_normalize(q1), l2_normalize(k2)], 0);
    (
        Scored::from(loss).with_signal("positive - negative logit", gap),
        shown,
    )
}
