//! The optimisation step every method shares: compute the loss, refuse it when it is not
//! finite, otherwise back-propagate and let the optimiser update the network.

use burn::module::{Module, ParamId, list_param_ids};
use burn::optim::lr_scheduler::module_lr_scheduler::ModuleLearningRate;
use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::tensor::Tensor;

use super::StepError;
use super::persist::Persist;
use super::state::{MethodState, StateError};
use crate::model::tensor_io::scalar;

/// A network and its optimiser.
pub struct Trainable<N: Module> {
    /// `None` only transiently, while burn's optimiser consumes and returns the network.
    net: Option<N>,
    optim: ModuleOptimizer,
}

impl<N: Module> Trainable<N> {
    pub fn new(net: N, optim: ModuleOptimizer) -> Self {
        Self {
            net: Some(net),
            optim,
        }
    }

    pub fn net(&self) -> &N {
        self.net.as_ref().expect("network present between steps")
    }

    /// Runs `forward` (the loss and whatever the method wants back), then applies the update
    /// only when the loss is finite. Returns the loss value and the extra output. `lr` is
    /// one rate, or rates per parameter group (SimSiam's fixed-rate predictor).
    pub fn step<T>(
        &mut self,
        lr: impl Into<ModuleLearningRate>,
        forward: impl FnOnce(&N) -> (Tensor<1>, T),
    ) -> Result<(f32, T), StepError> {
        self.step_freezing(lr, &[], forward)
    }

    /// As [`Trainable::step`], with the gradients of the `frozen` parameters dropped before
    /// the update: the optimiser then leaves them and their state (moments, momentum,
    /// weight decay) untouched, as PyTorch's does for a parameter whose `.grad` is `None`
    /// (SwAV's frozen prototypes).
    pub fn step_freezing<T>(
        &mut self,
        lr: impl Into<ModuleLearningRate>,
        frozen: &[ParamId],
        forward: impl FnOnce(&N) -> (Tensor<1>, T),
    ) -> Result<(f32, T), StepError> {
        let net = self.net.take().expect("network present between steps");
        let (loss, extra) = forward(&net);
        // Back-propagate before reading the loss: the read waits for the device, and a GPU
        // then has the backward pass queued behind the forward one instead of idling
        // while the host launches it. A non-finite loss's gradients are dropped unused.
        let mut grads = loss.backward();
        let value = scalar(loss);
        if !value.is_finite() {
            self.net = Some(net);
            return Err(StepError::NonFinite(value));
        }
        let grads = if frozen.is_empty() {
            GradientsParams::from_grads(grads, &net)
        } else {
            let kept: Vec<ParamId> = list_param_ids(&net)
                .into_iter()
                .filter(|id| !frozen.contains(id))
                .collect();
            GradientsParams::from_params(&mut grads, &net, &kept)
        };
        self.net = Some(self.optim.step(lr, net, grads));
        Ok((value, extra))
    }

    /// Changes the network between steps (SwAV normalises its prototypes before each).
    pub fn map(&mut self, f: impl FnOnce(N) -> N) {
        let net = self.net.take().expect("network present between steps");
        self.net = Some(f(net));
    }
}

/// The network and its optimiser's state, as sections `<name>.net` and `<name>.optim`.
impl<N: Module> Persist for Trainable<N> {
    fn save(&self, name: &str, state: &mut MethodState) -> Result<(), StateError> {
        state.put_module(&format!("{name}.net"), self.net())?;
        state.put_optimizer(&format!("{name}.optim"), &self.optim)
    }

    /// Restores what `save` wrote; on error nothing changes.
    fn load(&mut self, name: &str, state: &MethodState) -> Result<(), StateError> {
        let net = state.module(&format!("{name}.net"), self.net().clone())?;
        let optim = state.optimizer(&format!("{name}.optim"), self.optim.clone())?;
        self.net = Some(net);
        self.optim = optim;
        Ok(())
    }
}
