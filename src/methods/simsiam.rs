//! SimSiam (Chen & He 2021, "Exploring Simple Siamese Representation Learning"): two views
//! through one encoder f and projector g give z1, z2; a predictor h maps each to p1, p2;
//! the loss is the negative cosine D(p1, sg(z2))/2 + D(p2, sg(z1))/2 with a stop-gradient
//! sg on the targets. No negatives, no momentum encoder: the paper shows the stop-gradient
//! is what prevents collapse (sec. 4.1, fig. 2). The projector here is the paper's CIFAR
//! variant (two layers, BatchNorm on the output).

use burn::module::Module;
use burn::nn::{BatchNorm, BatchNormConfig, Linear, LinearConfig};
use burn::tensor::Tensor;
use burn::tensor::activation::relu;

use super::trainable::Trainable;
use super::{BuildContext, Method, MethodInfo, ParamSpec, StepError, StepOutput};
use crate::losses::negative_cosine;
use crate::model::SmallCnn;
use crate::model::tensor_io::matrix_to_vec;

pub static INFO: MethodInfo = MethodInfo {
    id: "simsiam",
    name: "SimSiam",
    paper: "Chen & He 2021, Exploring Simple Siamese Representation Learning",
    summary: "Two views share one encoder and projector; a small predictor tries to turn one \
              view's projection into the other's. There are no negatives: the target side's \
              gradient is stopped, which the paper shows is what keeps the representation from \
              collapsing to a constant.",
    formula: "L = D(p1, sg(z2))/2 + D(p2, sg(z1))/2,  D(p, z) = -cos(p, z),  p = h(z),  \
              z = g(f(x))",
    params: &[
        ParamSpec {
            key: "projection_dim",
            label: "projection dim",
            help: "Output of the projector g (and of the predictor h)",
            default: 128.0,
            min: 2.0,
            max: 2048.0,
            integer: true,
            logarithmic: true,
        },
        ParamSpec {
            key: "predictor_hidden",
            label: "predictor bottleneck",
            help: "Hidden width of the predictor h (the paper uses a 4x bottleneck)",
            default: 32.0,
            min: 2.0,
            max: 2048.0,
            integer: true,
            logarithmic: true,
        },
        ParamSpec {
            key: "stop_gradient",
            label: "stop-gradient (1 on, 0 off)",
            help: "Off, a constant output minimises the loss; the paper reports collapse",
            default: 1.0,
            min: 0.0,
            max: 1.0,
            integer: true,
            logarithmic: false,
        },
    ],
    build,
};

/// Linear -> BatchNorm -> ReLU -> Linear -> BatchNorm: the CIFAR variant of the projector.
#[derive(Module, Debug)]
pub struct Projector {
    pub fc1: Linear,
    pub bn1: BatchNorm,
    pub fc2: Linear,
    pub bn2: BatchNorm,
}

/// Linear -> BatchNorm -> ReLU -> Linear, with a bottleneck hidden layer.
#[derive(Module, Debug)]
pub struct Predictor {
    pub fc1: Linear,
    pub bn1: BatchNorm,
    pub fc2: Linear,
}

#[derive(Module, Debug)]
pub struct SimSiamNet {
    pub encoder: SmallCnn,
    pub projector: Projector,
    pub predictor: Predictor,
}

impl SimSiamNet {
    /// Projections z and predictions p of a `[B, 3, H, W]` batch.
    fn forward(&self, x: Tensor<4>) -> (Tensor<2>, Tensor<2>) {
        let h = self.encoder.forward(x);
        let g = &self.projector;
        let z = g
            .bn2
            .forward(g.fc2.forward(relu(g.bn1.forward(g.fc1.forward(h)))));
        let q = &self.predictor;
        let p = q.fc2.forward(relu(q.bn1.forward(q.fc1.forward(z.clone()))));
        (z, p)
    }
}

pub struct SimSiam {
    net: Trainable<SimSiamNet>,
    stop_gradient: bool,
    dim: usize,
}

fn build(ctx: &BuildContext) -> Box<dyn Method> {
    let d = ctx.device;
    let rep = ctx.encoder.output_dim();
    let dim = ctx.params.get("projection_dim") as usize;
    let hidden = ctx.params.get("predictor_hidden") as usize;
    let net = SimSiamNet {
        encoder: ctx.encoder.init(d),
        projector: Projector {
            fc1: LinearConfig::new(rep, rep).init(d),
            bn1: BatchNormConfig::new(rep).init(d),
            fc2: LinearConfig::new(rep, dim).init(d),
            bn2: BatchNormConfig::new(dim).init(d),
        },
        predictor: Predictor {
            fc1: LinearConfig::new(dim, hidden).init(d),
            bn1: BatchNormConfig::new(hidden).init(d),
            fc2: LinearConfig::new(hidden, dim).init(d),
        },
    };
    Box::new(SimSiam {
        net: Trainable::new(net, super::optimizer::build_optimizer(ctx.train)),
        stop_gradient: ctx.params.get("stop_gradient") >= 0.5,
        dim,
    })
}

impl Method for SimSiam {
    fn train_step(&mut self, views: Tensor<4>, lr: f64) -> Result<StepOutput, StepError> {
        let stop_gradient = self.stop_gradient;
        let target = |t: Tensor<2>| if stop_gradient { t.detach() } else { t };
        let [rows, _, _, _] = views.dims();
        let n = rows / 2;
        let (loss, z) = self.net.step(lr, |net| {
            let (z, p) = net.forward(views);
            let (z1, z2) = (z.clone().narrow(0, 0, n), z.clone().narrow(0, n, n));
            let (p1, p2) = (p.clone().narrow(0, 0, n), p.narrow(0, n, n));
            let loss = (negative_cosine(p1, target(z2)) + negative_cosine(p2, target(z1))) / 2.0;
            (loss, z)
        })?;
        Ok(StepOutput {
            loss,
            embeddings: matrix_to_vec(z.detach()),
            dim: self.dim,
        })
    }

    fn embed(&self, images: Tensor<4>) -> Tensor<2> {
        self.net.net().encoder.valid().forward(images)
    }

    fn encoder(&self) -> SmallCnn {
        self.net.net().encoder.clone()
    }
}
