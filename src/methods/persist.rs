//! One way to save and load a method's training state: a method lists its parts once
//! ([`super::Method::state`]), each under its section name, and checkpoints save and load
//! through that list, so the two directions can never drift apart.

use burn::module::Module;

use super::state::{MethodState, StateError};

/// A part of a method's state that checkpoints keep: a network with its optimiser, a
/// momentum target, a queue, a memory bank, an estimate.
pub trait Persist {
    /// Writes the part as sections whose names start with `name`.
    fn save(&self, name: &str, state: &mut MethodState) -> Result<(), StateError>;
    /// Restores what `save` wrote; a missing or malformed section is an error naming it.
    fn load(&mut self, name: &str, state: &MethodState) -> Result<(), StateError>;
}

/// A momentum (EMA) target, held in an `Option` only so it can move through updates.
impl<M: Module> Persist for Option<M> {
    fn save(&self, name: &str, state: &mut MethodState) -> Result<(), StateError> {
        state.put_target(name, self)
    }

    fn load(&mut self, name: &str, state: &MethodState) -> Result<(), StateError> {
        state.load_target(name, self)
    }
}

/// Several parts of one kind (CMC's banks), saved as `<name>0`, `<name>1`, ...
impl<T: Persist> Persist for Vec<T> {
    fn save(&self, name: &str, state: &mut MethodState) -> Result<(), StateError> {
        self.iter()
            .enumerate()
            .try_for_each(|(k, part)| part.save(&format!("{name}{k}"), state))
    }

    fn load(&mut self, name: &str, state: &MethodState) -> Result<(), StateError> {
        self.iter_mut()
            .enumerate()
            .try_for_each(|(k, part)| part.load(&format!("{name}{k}"), state))
    }
}

/// A number estimated during training (InstDisc's normalisation constant); absent until
/// the first step estimates it, and then absent from the checkpoint too.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Estimate(pub Option<f64>);

impl Persist for Estimate {
    fn save(&self, name: &str, state: &mut MethodState) -> Result<(), StateError> {
        if let Some(v) = self.0 {
            state.put_f64(name, v);
        }
        Ok(())
    }

    fn load(&mut self, name: &str, state: &MethodState) -> Result<(), StateError> {
        self.0 = state
            .sections()
            .contains_key(name)
            .then(|| state.f64(name))
            .transpose()?;
        Ok(())
    }
}
