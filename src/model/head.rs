//! MLP heads: SimCLR's projection g(h) = W2 ReLU(W1 h) (Chen et al. 2020, sec. 2.1),
//! and the same shape serves as predictor for BYOL/SimSiam later.

use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor};

#[derive(Clone, Debug, PartialEq)]
pub struct MlpHeadConfig {
    pub input: usize,
    pub hidden: usize,
    pub output: usize,
}

impl MlpHeadConfig {
    pub fn init(&self, device: &Device) -> MlpHead {
        MlpHead {
            fc1: LinearConfig::new(self.input, self.hidden).init(device),
            fc2: LinearConfig::new(self.hidden, self.output).init(device),
        }
    }
}

#[derive(Module, Debug)]
pub struct MlpHead {
    pub fc1: Linear,
    pub fc2: Linear,
}

impl MlpHead {
    pub fn forward(&self, h: Tensor<2>) -> Tensor<2> {
        self.fc2.forward(relu(self.fc1.forward(h)))
    }
}
