//! SimSiam (Chen & He 2021, "Exploring Simple Siamese Representation Learning"): two views
//! through one encoder f and projector g give z1, z2; a predictor h maps each to p1, p2;
//! the loss is the negative cosine D(p1, sg(z2))/2 + D(p2, sg(z1))/2 with a stop-gradient
//! sg on the targets. No negatives, no momentum encoder: the paper shows the stop-gradient
//! is what prevents collapse (sec. 4.1, fig. 2). The projector here is the paper's CIFAR
//! variant (two layers, BatchNorm on the output).

use burn::module::ParamGroup;
use burn::optim::lr_scheduler::LrSchedulerConfig;
use burn::optim::lr_scheduler::module_lr_scheduler::{ModuleLearningRate, ModuleLrSchedulerConfig};
use burn::tensor::Tensor;

use super::common::{Backbone, PredictorNet};
use super::persist::Persist;

use super::trainable::Trainable;
use super::{BuildContext, Method, StepError, StepOutput, TrainBatch};
use crate::catalogue::methods::simsiam::Settings;
use crate::losses::negative_cosine;
use crate::model::Encoder;

pub struct SimSiam {
    /// Encoder f and projector g (the CIFAR variant: two layers, BatchNorm on the output),
    /// and predictor h with a bottleneck hidden layer.
    net: Trainable<PredictorNet>,
    stop_gradient: bool,
    /// The rate the predictor keeps, when it is fixed.
    fixed_predictor: Option<f64>,
    dim: usize,
}

impl SimSiam {
    /// The scheduled `lr` for the encoder and projector; the predictor's own when fixed.
    fn rates(&self, lr: f64) -> ModuleLearningRate {
        let Some(base) = &self.fixed_predictor else {
            return lr.into();
        };
        // The group is taken from the network as it is now: loading a checkpoint gives its
        // parameters the ids they were saved with.
        let predictor = ParamGroup::ids_from_module(self.net.net().predictor.clone());
        ModuleLrSchedulerConfig::new(LrSchedulerConfig::Constant(lr))
            .with_group(predictor, LrSchedulerConfig::Constant(*base))
            .init()
            .expect("constant rates always build")
            .step()
    }
}

pub fn build(ctx: &BuildContext) -> Box<dyn Method> {
    let s = Settings::read(ctx.params);
    let dim = s.projection_dim;
    let backbone = Backbone::with_output_bn(ctx, ctx.encoder.output_dim(), dim, 2);
    let net = PredictorNet::new(ctx, backbone, s.predictor_hidden, dim);
    let fixed_predictor = s.fixed_predictor_lr.then_some(ctx.train.learning_rate);
    Box::new(SimSiam {
        net: Trainable::new(net, super::optimizer::build_optimizer(ctx.train)),
        stop_gradient: s.stop_gradient,
        fixed_predictor,
        dim,
    })
}

impl Method for SimSiam {
    fn state(&mut self) -> Vec<(&'static str, &mut dyn Persist)> {
        vec![("net", &mut self.net)]
    }

    fn train_step(&mut self, batch: TrainBatch, lr: f64) -> Result<StepOutput, StepError> {
        let views = batch.views;
        let stop_gradient = self.stop_gradient;
        let target = |t: Tensor<2>| if stop_gradient { t.detach() } else { t };
        let [rows, _, _, _] = views.dims();
        let n = rows / 2;
        let local = batch.local;
        let rates = self.rates(lr);
        let (loss, z) = self.net.step(rates, |net| {
            let (z, p) = net.forward(views);
            let (z1, z2) = (z.clone().narrow(0, 0, n), z.clone().narrow(0, n, n));
            let (p1, p2) = (p.clone().narrow(0, 0, n), p.narrow(0, n, n));
            let mut loss =
                negative_cosine(p1, target(z2.clone())) + negative_cosine(p2, target(z1.clone()));
            let mut terms = 2.0;
            // Multi-crop: every local crop predicts both global views (never the reverse).
            if let Some(local) = local {
                let crops = local.dims()[0] / n;
                let (_, p_local) = net.forward(local);
                for k in 0..crops {
                    let p_k = p_local.clone().narrow(0, k * n, n);
                    loss = loss
                        + negative_cosine(p_k.clone(), target(z1.clone()))
                        + negative_cosine(p_k, target(z2.clone()));
                    terms += 2.0;
                }
            }
            (loss / terms, z)
        })?;
        Ok(StepOutput::new(loss, z, self.dim).in_space("projection z"))
    }

    fn encoder_ref(&self) -> &Encoder {
        &self.net.net().backbone.encoder
    }
}
