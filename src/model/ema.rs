//! Momentum (EMA) targets, as in MoCo's key encoder and BYOL's target network:
//! `target <- tau * target + (1 - tau) * online`, parameter by parameter.
//!
//! A target is a separate module of the same type: it must not share BatchNorm running
//! statistics with the online network (burn's `clone` shares them), so it is built fresh and
//! then given the online weights. Its parameters never require gradients, so the optimiser
//! never sees it and no gradient reaches it.

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
use burn::tensor::Tensor;

/// Collects every float parameter's value, flattened, in visiting order.
struct Collect(Vec<Tensor<1>>);

impl ModuleVisitor for Collect {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let t = param.val().detach();
        let n = t.shape().num_elements();
        self.0.push(t.reshape([n]));
    }
}

/// Replaces each parameter with its EMA against the collected online values.
struct Blend {
    online: std::vec::IntoIter<Tensor<1>>,
    tau: f64,
}

impl ModuleMapper for Blend {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let online = self
            .online
            .next()
            .expect("online and target networks have the same parameters");
        let tau = self.tau;
        param
            .map(|t| {
                let shape = t.shape();
                let o = online.reshape(shape).to_device(&t.device());
                (t.detach() * tau + o * (1.0 - tau)).detach()
            })
            .set_require_grad(false)
    }
}

/// One EMA step: returns `tau * target + (1 - tau) * online` for every parameter.
/// `tau = 0` copies the online weights; `tau = 1` leaves the target unchanged.
///
/// # Panics
/// If the two modules do not have the same parameters (a programming error).
pub fn ema_update<M: Module>(target: M, online: &M, tau: f64) -> M {
    let mut collect = Collect(Vec::new());
    online.visit(&mut collect);
    let mut blend = Blend {
        online: collect.0.into_iter(),
        tau,
    };
    let out = target.map(&mut blend);
    assert!(
        blend.online.next().is_none(),
        "online network has more parameters than the target"
    );
    out
}

/// A momentum target for `online`: `fresh` (a newly initialised module of the same shape,
/// so it has its own BatchNorm statistics) with the online weights copied in and gradients
/// switched off.
pub fn momentum_copy<M: Module>(fresh: M, online: &M) -> M {
    ema_update(fresh.no_grad(), online, 0.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::nn::{Linear, LinearConfig};
    use burn::tensor::Device;

    fn values(l: &Linear) -> Vec<f32> {
        let mut v: Vec<f32> = l.weight.val().into_data().iter::<f32>().collect();
        if let Some(b) = &l.bias {
            v.extend(b.val().into_data().iter::<f32>());
        }
        v
    }

    #[test]
    fn the_update_matches_the_formula_for_every_parameter() {
        let device = Device::flex();
        let online = LinearConfig::new(3, 2).init(&device);
        let target = LinearConfig::new(3, 2).init(&device);
        let (o, t) = (values(&online), values(&target));
        assert_ne!(o, t);
        let tau = 0.9;
        let updated = values(&ema_update(target, &online, tau));
        for ((u, o), t) in updated.iter().zip(&o).zip(&t) {
            let expected = tau as f32 * t + (1.0 - tau as f32) * o;
            assert!((u - expected).abs() < 1e-6, "{u} vs {expected}");
        }
    }

    #[test]
    fn a_momentum_copy_equals_the_online_weights_and_takes_no_gradient() {
        let device = Device::flex().autodiff();
        let online = LinearConfig::new(3, 2).init(&device);
        let copy = momentum_copy(LinearConfig::new(3, 2).init(&device), &online);
        assert_eq!(values(&copy), values(&online));
        let x = Tensor::<2>::ones([4, 3], &device).require_grad();
        let grads = copy.forward(x.clone()).sum().backward();
        assert!(copy.weight.val().grad(&grads).is_none());
        assert!(
            x.grad(&grads).is_some(),
            "the input still gets its gradient"
        );
    }
}
