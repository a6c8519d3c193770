//! DINO's projection head (Caron et al. 2021, sec. 3.1 and the reference `DINOHead`): a
//! three-layer MLP with GELU to a bottleneck, L2 normalisation, then a weight-normalised
//! linear layer without bias to K outputs. Its weight norm `g` is fixed at 1
//! (`norm_last_layer`), so each output is a cosine between the normalised bottleneck and
//! one normalised row of `V`: the last layer is K prototypes on the sphere.

use burn::module::{Module, Param};
use burn::nn::{Linear, LinearConfig};
use burn::tensor::activation::gelu;
use burn::tensor::{Device, Distribution, Tensor};

use crate::losses::l2_normalize;

#[derive(Clone, Debug, PartialEq)]
pub struct DinoHeadConfig {
    pub input: usize,
    pub hidden: usize,
    pub bottleneck: usize,
    pub outputs: usize,
}

impl DinoHeadConfig {
    pub fn init(&self, device: &Device) -> DinoHead {
        let (hidden, bottleneck) = (self.hidden, self.bottleneck);
        // The reference initialises the last layer's direction with a truncated normal
        // (std 0.02); only the direction matters once it is normalised.
        let v = Tensor::<2>::random(
            [self.outputs, bottleneck],
            Distribution::Normal(0.0, 0.02),
            device,
        );
        DinoHead {
            mlp: vec![
                LinearConfig::new(self.input, hidden).init(device),
                LinearConfig::new(hidden, hidden).init(device),
                LinearConfig::new(hidden, bottleneck).init(device),
            ],
            last: LastLayer {
                direction: Param::from_tensor(v),
            },
        }
    }
}

/// The weight-normalised last layer: `W = V / |V|` row by row (`g = 1`).
#[derive(Module, Debug)]
pub struct LastLayer {
    pub direction: Param<Tensor<2>>,
}

#[derive(Module, Debug)]
pub struct DinoHead {
    pub mlp: Vec<Linear>,
    pub last: LastLayer,
}

impl DinoHead {
    /// `[B, K]` outputs of `[B, input]` features.
    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        let layers = self.mlp.len();
        let mut h = x;
        for (i, fc) in self.mlp.iter().enumerate() {
            h = fc.forward(h);
            if i + 1 < layers {
                h = gelu(h);
            }
        }
        let w = l2_normalize(self.last.direction.val());
        l2_normalize(h).matmul(w.transpose())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outputs_are_cosines_whatever_the_last_layers_scale() {
        let device = Device::flex();
        let head = DinoHeadConfig {
            input: 6,
            hidden: 8,
            bottleneck: 4,
            outputs: 5,
        }
        .init(&device);
        let x = Tensor::<2>::random([3, 6], Distribution::Default, &device);
        let out = head.forward(x.clone());
        assert_eq!(out.dims(), [3, 5]);
        let values: Vec<f32> = out.clone().into_data().iter::<f32>().collect();
        assert!(values.iter().all(|v| v.abs() <= 1.0 + 1e-5), "{values:?}");
        // Scaling V changes nothing: g is fixed at 1.
        let scaled = DinoHead {
            last: LastLayer {
                direction: Param::from_tensor(head.last.direction.val() * 7.0),
            },
            ..head
        };
        let again: Vec<f32> = scaled.forward(x).into_data().iter::<f32>().collect();
        for (a, b) in values.iter().zip(&again) {
            assert!((a - b).abs() < 1e-5);
        }
    }
}
