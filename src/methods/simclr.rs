//! SimCLR (Chen, Kornblith, Norouzi, Hinton 2020): two augmented views of each image pass
//! through a shared encoder f and projection head g; NT-Xent pulls each pair together
//! against the other 2N-2 views of the batch. The representation is h = f(x).

use burn::module::Module;
use burn::tensor::Tensor;

use super::trainable::Trainable;
use super::{BuildContext, Method, MethodInfo, ParamSpec, StepError, StepOutput};
use crate::losses::nt_xent;
use crate::model::tensor_io::matrix_to_vec;
use crate::model::{MlpHead, MlpHeadConfig, SmallCnn};

pub static INFO: MethodInfo = MethodInfo {
    id: "simclr",
    name: "SimCLR",
    paper: "Chen et al. 2020, A Simple Framework for Contrastive Learning of Visual Representations",
    summary: "Two random augmentations of each image go through the same encoder and a small \
              MLP projection head. Each view must pick out its partner among all other views \
              in the batch, which act as negatives. The head is thrown away after training: \
              the encoder's output is the representation.",
    formula: "l(i,j) = -log exp(sim(z_i, z_j)/t) / sum_{k != i} exp(sim(z_i, z_k)/t),  \
              sim = cosine,  loss = mean over all 2N views",
    params: &[
        ParamSpec {
            key: "temperature",
            label: "temperature t",
            help: "Softmax temperature of NT-Xent; lower sharpens the contrast between negatives",
            // 0.5 in the paper's ImageNet runs; 0.2 learns faster on small data (as solo-learn's
            // CIFAR settings).
            default: 0.2,
            min: 0.01,
            max: 10.0,
            integer: false,
            logarithmic: true,
        },
        ParamSpec {
            key: "projection_hidden",
            label: "head hidden width",
            help: "Hidden units of the projection MLP",
            default: 256.0,
            min: 8.0,
            max: 4096.0,
            integer: true,
            logarithmic: true,
        },
        ParamSpec {
            key: "projection_dim",
            label: "projection dim",
            help: "Output dimension of the projection head (the space the loss sees)",
            default: 128.0,
            min: 2.0,
            max: 2048.0,
            integer: true,
            logarithmic: true,
        },
    ],
    build,
};

#[derive(Module, Debug)]
pub struct SimClrNet {
    pub encoder: SmallCnn,
    pub head: MlpHead,
}

pub struct SimClr {
    net: Trainable<SimClrNet>,
    temperature: f32,
    projection_dim: usize,
}

fn build(ctx: &BuildContext) -> Box<dyn Method> {
    let projection_dim = ctx.params.get("projection_dim") as usize;
    let net = SimClrNet {
        encoder: ctx.encoder.init(ctx.device),
        head: MlpHeadConfig {
            input: ctx.encoder.output_dim(),
            hidden: ctx.params.get("projection_hidden") as usize,
            output: projection_dim,
        }
        .init(ctx.device),
    };
    Box::new(SimClr {
        net: Trainable::new(net, super::optimizer::build_optimizer(ctx.train)),
        temperature: ctx.params.get("temperature") as f32,
        projection_dim,
    })
}

impl Method for SimClr {
    fn train_step(&mut self, views: Tensor<4>, lr: f64) -> Result<StepOutput, StepError> {
        let temperature = self.temperature;
        let (loss, z) = self.net.step(lr, |net| {
            let z = net.head.forward(net.encoder.forward(views));
            (nt_xent(z.clone(), temperature), z)
        })?;
        Ok(StepOutput {
            loss,
            embeddings: matrix_to_vec(z.detach()),
            dim: self.projection_dim,
        })
    }

    fn embed(&self, images: Tensor<4>) -> Tensor<2> {
        self.net.net().encoder.valid().forward(images)
    }

    fn encoder(&self) -> SmallCnn {
        self.net.net().encoder.clone()
    }
}
