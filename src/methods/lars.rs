//! LARS (You, Gitman, Ginsburg 2017, "Large Batch Training of Convolutional Networks"), the
//! optimiser of SimCLR's large-batch runs: SGD with momentum in which each weight tensor's
//! step is scaled by a trust ratio eta * ||w|| / ||g + wd * w||. As in SimCLR, biases and
//! BatchNorm parameters (the one-dimensional tensors) get neither the trust ratio nor weight
//! decay. burn 0.22 has no LARS (it has LAMB, the Adam-based relative), hence this file.

use burn::optim::momentum::{Momentum, MomentumConfig};
use burn::optim::{ModuleOptimizer, Optimizer, SgdState};
use burn::tensor::{Device, Tensor};

#[derive(Clone)]
pub struct Lars {
    momentum: Momentum,
    weight_decay: f64,
    trust: f64,
}

impl Lars {
    pub fn new(momentum: f64, weight_decay: f64, trust: f64) -> Self {
        Self {
            momentum: Momentum::new(&MomentumConfig {
                momentum,
                dampening: 0.0,
                nesterov: false,
            }),
            weight_decay,
            trust,
        }
    }

    pub fn into_module_optimizer(self) -> ModuleOptimizer {
        ModuleOptimizer::from(self)
    }
}

/// The trust ratio eta * ||w|| / ||g||, or 1 where either norm is zero, as a `[1]` tensor.
fn trust_ratio<const D: usize>(w: &Tensor<D>, g: &Tensor<D>, eta: f64) -> Tensor<1> {
    let norm = |t: &Tensor<D>| t.clone().powf_scalar(2.0).sum().sqrt();
    let (wn, gn) = (norm(w), norm(g));
    let usable = wn
        .clone()
        .greater_elem(0.0)
        .bool_and(gn.clone().greater_elem(0.0));
    let ratio = wn * eta / gn.clamp_min(1e-12);
    ratio.ones_like().mask_where(usable, ratio)
}

impl Optimizer for Lars {
    type State<const D: usize> = SgdState<D>;

    fn step<const D: usize>(
        &self,
        lr: f64,
        tensor: Tensor<D>,
        grad: Tensor<D>,
        state: Option<Self::State<D>>,
    ) -> (Tensor<D>, Option<Self::State<D>>) {
        let scaled = if D > 1 {
            let g = grad + tensor.clone() * self.weight_decay;
            let ratio = trust_ratio(&tensor, &g, self.trust);
            g * ratio.reshape([1; D])
        } else {
            grad
        };
        let (velocity, momentum) = self
            .momentum
            .transform(scaled, state.and_then(|s| s.momentum));
        (tensor - velocity * lr, Some(SgdState::new(Some(momentum))))
    }

    fn to_device<const D: usize>(mut state: Self::State<D>, device: &Device) -> Self::State<D> {
        state.momentum = state.momentum.map(|m| m.to_device(device));
        state
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::TensorData;

    fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
        t.into_data().iter::<f32>().collect()
    }

    #[test]
    fn the_first_step_matches_the_formula() {
        let device = Device::flex();
        let w = Tensor::<2>::from_data(TensorData::new(vec![3.0f32, 4.0], [1, 2]), &device);
        let g = Tensor::<2>::from_data(TensorData::new(vec![0.6f32, 0.0], [1, 2]), &device);
        let (wd, eta, lr) = (0.1, 0.001, 0.5);
        let (out, _) = Lars::new(0.9, wd, eta).step(lr, w, g, None);
        // g' = g + wd w = (0.9, 0.4); ||w|| = 5, ||g'|| = sqrt(0.97); ratio = eta 5 / ||g'||.
        let gn = (0.9f64 * 0.9 + 0.4 * 0.4).sqrt();
        let ratio = eta * 5.0 / gn;
        let expected = [3.0 - lr * ratio * 0.9, 4.0 - lr * ratio * 0.4];
        for (o, e) in values(out).iter().zip(expected) {
            assert!((f64::from(*o) - e).abs() < 1e-6, "{o} vs {e}");
        }
    }

    #[test]
    fn biases_take_plain_momentum_sgd_steps() {
        let device = Device::flex();
        let b = Tensor::<1>::from_data(TensorData::new(vec![1.0f32, -2.0], [2]), &device);
        let g = Tensor::<1>::from_data(TensorData::new(vec![0.5f32, 0.25], [2]), &device);
        let (out, _) = Lars::new(0.9, 0.1, 0.001).step(0.1, b, g, None);
        assert_eq!(values(out), vec![1.0 - 0.05, -2.0 - 0.025]);
    }
}
