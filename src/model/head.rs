//! MLP heads: `MlpHead`, SimCLR's projection g(h) = W2 ReLU(W1 h) (Chen et al. 2020,
//! sec. 2.1), also DIM's critics; and `BnMlp`, the BatchNorm MLP that BYOL, SimSiam,
//! Barlow Twins, VICReg and PixPro use as projector and predictor.

use burn::module::Module;
use burn::nn::{BatchNorm, BatchNormConfig, Linear, LinearConfig};
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

/// The BatchNorm MLP of BYOL, SimSiam, Barlow Twins and VICReg: `layers - 1` hidden
/// Linear -> BatchNorm -> ReLU stages, then a Linear output, optionally followed by
/// BatchNorm (SimSiam's projector).
#[derive(Clone, Debug, PartialEq)]
pub struct BnMlpConfig {
    pub input: usize,
    pub hidden: usize,
    pub output: usize,
    /// Linear layers in all (at least 1).
    pub layers: usize,
    pub bn_last: bool,
}

impl BnMlpConfig {
    pub fn init(&self, device: &Device) -> BnMlp {
        let mut c_in = self.input;
        let hidden = (1..self.layers.max(1))
            .map(|_| {
                let stage = BnStage {
                    fc: LinearConfig::new(c_in, self.hidden).init(device),
                    bn: BatchNormConfig::new(self.hidden).init(device),
                };
                c_in = self.hidden;
                stage
            })
            .collect();
        BnMlp {
            hidden,
            out: LinearConfig::new(c_in, self.output).init(device),
            out_bn: self
                .bn_last
                .then(|| BatchNormConfig::new(self.output).init(device)),
        }
    }
}

#[derive(Module, Debug)]
pub struct BnStage {
    pub fc: Linear,
    pub bn: BatchNorm,
}

#[derive(Module, Debug)]
pub struct BnMlp {
    pub hidden: Vec<BnStage>,
    pub out: Linear,
    pub out_bn: Option<BatchNorm>,
}

impl BnMlp {
    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        let mut h = x;
        for s in &self.hidden {
            h = relu(s.bn.forward(s.fc.forward(h)));
        }
        let y = self.out.forward(h);
        match &self.out_bn {
            Some(bn) => bn.forward(y),
            None => y,
        }
    }
}
