//! NNCLR (Dwibedi et al. 2021, "With a Little Help from My Friends: Nearest-Neighbor
//! Contrastive Learning of Visual Representations"): SimCLR whose positive for each image
//! is the nearest neighbour of its embedding in a support set of earlier embeddings, so
//! the positive is another image that looks alike rather than an augmentation of the same
//! one. Networks as in the paper (sec. 4): a three-layer BatchNorm projector and a
//! two-layer predictor; the support set is updated with view 2's embeddings after the
//! lookup, as lightly's `NNMemoryBankModule` is.

use super::common::{Backbone, PredictorNet, halves};
use super::persist::Persist;
use super::support_set::{Owner, SupportSet};
use super::trainable::Trainable;
use super::{BuildContext, Method, StepError, StepOutput, TrainBatch};
use crate::catalogue::methods::nnclr::Settings;
use crate::losses::{l2_normalize, nearest_neighbours, nnclr};
use crate::model::Encoder;
use crate::seeding::{Stream, rng_for};

pub struct Nnclr {
    net: Trainable<PredictorNet>,
    support: SupportSet,
    temperature: f64,
    dim: usize,
}

pub fn build(ctx: &BuildContext) -> Box<dyn Method> {
    let s = Settings::read(ctx.params);
    let (hidden, dim) = (s.hidden, s.projection_dim);
    let backbone = Backbone::with_output_bn(ctx, hidden, dim, 3);
    let net = PredictorNet::new(ctx, backbone, hidden, dim);
    let mut rng = rng_for(ctx.seed, Stream::Method, &[]);
    Box::new(Nnclr {
        net: Trainable::new(net, super::optimizer::build_optimizer(ctx.train)),
        support: SupportSet::new(s.support_size, dim, &mut rng),
        temperature: s.temperature,
        dim,
    })
}

impl Method for Nnclr {
    fn warnings(&self, train_images: usize) -> Vec<String> {
        let size = self.support.capacity();
        (size > train_images)
            .then(|| {
                format!(
                    "method.support_size = {size} is larger than the {train_images} training \
                     images: the set holds several earlier embeddings of every image, so an \
                     image's nearest neighbour is often itself (the dashboard's \"neighbour is \
                     the same image\")"
                )
            })
            .into_iter()
            .collect()
    }

    fn train_step(&mut self, batch: TrainBatch, lr: f64) -> Result<StepOutput, StepError> {
        let n = batch.images();
        let anchors: Vec<Owner> = (batch.indices.iter().zip(&batch.labels))
            .map(|(&image, &label)| Owner { image, label })
            .collect();
        let support = self.support.tensor(&batch.views.device());
        let t = self.temperature;
        let (loss, (z, found)) = self.net.step(lr, |net| {
            let (z, p) = net.forward(batch.views);
            let (z1, z2) = halves(z.clone(), n);
            let (nn1, found) = nearest_neighbours(z1, support.clone());
            let (nn2, _) = nearest_neighbours(z2, support);
            (nnclr((nn1, nn2), halves(p, n), t), (z, found))
        })?;
        // Only an applied step adds to the support set.
        let stats = self.support.stats(&found, &anchors);
        let (_, z2) = halves(l2_normalize(z.clone().detach()), n);
        self.support.push(z2, &anchors, batch.step);
        let out = StepOutput::new(loss, z, self.dim)
            .in_space("projection z")
            .with_signal("support set fill", self.support.fill())
            .with_signal("neighbour is the same image", stats.same_image);
        Ok(match stats.same_class {
            Some(same_class) => out.with_signal("neighbour of the same class", same_class),
            None => out,
        })
    }

    fn encoder_ref(&self) -> &Encoder {
        &self.net.net().backbone.encoder
    }

    fn state(&mut self) -> Vec<(&'static str, &mut dyn Persist)> {
        vec![("net", &mut self.net), ("support", &mut self.support)]
    }

    fn logit_temperature(&self) -> Option<f32> {
        Some(self.temperature as f32)
    }
}
