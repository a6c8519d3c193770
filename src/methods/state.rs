//! A method's training state as named byte sections, for checkpoints: networks (burn
//! module records, which keep their parameter ids so the optimiser state still matches),
//! optimiser records (Adam moments, momentum buffers), and plain arrays (queues, memory
//! banks, their write steps). Reading a section that is missing or malformed is an error
//! naming the section, never a panic.

use std::collections::BTreeMap;

use burn::module::Module;
use burn::optim::{ModuleOptimizer, OptimizerRecord};
use burn::store::ModuleRecord;

/// Why a method's state could not be written or read back; each names its section.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("the checkpoint has no section {0}")]
    Missing(String),
    #[error("section {section} holds {bytes} bytes, {expected} expected ({what})")]
    Size {
        section: String,
        bytes: usize,
        expected: usize,
        what: String,
    },
    #[error("section {section}: {reason}")]
    Malformed { section: String, reason: String },
    #[error("cannot record {section}: {reason}")]
    Record { section: String, reason: String },
    /// A method that has no training state to save or restore (a frozen encoder).
    #[error("{0}")]
    Refused(&'static str),
}

fn malformed(section: &str, reason: impl std::fmt::Display) -> StateError {
    StateError::Malformed {
        section: section.into(),
        reason: reason.to_string(),
    }
}

/// `bytes` of section `section` must be `expected` long.
fn sized(
    section: &str,
    bytes: &[u8],
    expected: usize,
    what: impl FnOnce() -> String,
) -> Result<(), StateError> {
    if bytes.len() == expected {
        return Ok(());
    }
    Err(StateError::Size {
        section: section.into(),
        bytes: bytes.len(),
        expected,
        what: what(),
    })
}

fn unrecordable(section: &str, reason: impl std::fmt::Display) -> StateError {
    StateError::Record {
        section: section.into(),
        reason: reason.to_string(),
    }
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct MethodState {
    sections: BTreeMap<String, Vec<u8>>,
}

impl MethodState {
    pub fn sections(&self) -> &BTreeMap<String, Vec<u8>> {
        &self.sections
    }

    pub fn from_sections(sections: BTreeMap<String, Vec<u8>>) -> Self {
        Self { sections }
    }

    fn take(&self, name: &str) -> Result<&[u8], StateError> {
        self.sections
            .get(name)
            .map(Vec::as_slice)
            .ok_or_else(|| StateError::Missing(name.into()))
    }

    pub fn put_module<M: Module>(&mut self, name: &str, module: &M) -> Result<(), StateError> {
        // BatchNorm's running statistics hold their latest update aside until read;
        // `valid` folds it in (in place: the state is shared), so the record is current.
        let _ = module.valid();
        let bytes = module
            .clone()
            .into_record()
            .into_bytes()
            .map_err(|e| unrecordable(name, e))?;
        self.sections.insert(name.into(), bytes.to_vec());
        Ok(())
    }

    /// `module` with the weights (and parameter ids) of section `name`.
    pub fn module<M: Module>(&self, name: &str, module: M) -> Result<M, StateError> {
        let record = ModuleRecord::from_bytes(burn::tensor::Bytes::from_bytes_vec(
            self.take(name)?.to_vec(),
        ))
        .map_err(|e| malformed(name, e))?;
        module
            .try_load_record(record)
            .map_err(|e| malformed(name, e))
    }

    /// A momentum target (held in an `Option` only so it can be moved through updates).
    pub fn put_target<M: Module>(
        &mut self,
        name: &str,
        target: &Option<M>,
    ) -> Result<(), StateError> {
        self.put_module(name, target.as_ref().expect("target present between steps"))
    }

    pub fn load_target<M: Module>(
        &self,
        name: &str,
        target: &mut Option<M>,
    ) -> Result<(), StateError> {
        let current = target
            .as_ref()
            .expect("target present between steps")
            .clone();
        *target = Some(self.module(name, current)?);
        Ok(())
    }

    pub fn put_optimizer(&mut self, name: &str, optim: &ModuleOptimizer) -> Result<(), StateError> {
        let bytes = optim
            .to_record()
            .into_bytes()
            .map_err(|e| unrecordable(name, e))?;
        self.sections.insert(name.into(), bytes.to_vec());
        Ok(())
    }

    pub fn optimizer(
        &self,
        name: &str,
        optim: ModuleOptimizer,
    ) -> Result<ModuleOptimizer, StateError> {
        let record = OptimizerRecord::from_bytes(burn::tensor::Bytes::from_bytes_vec(
            self.take(name)?.to_vec(),
        ))
        .map_err(|e| malformed(name, e))?;
        Ok(optim.load_record(record))
    }

    pub fn put_f32s(&mut self, name: &str, values: &[f32]) {
        let bytes = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.sections.insert(name.into(), bytes);
    }

    /// Section `name` as `len` floats.
    pub fn f32s(&self, name: &str, len: usize) -> Result<Vec<f32>, StateError> {
        let bytes = self.take(name)?;
        sized(name, bytes, 4 * len, || format!("{len} floats"))?;
        Ok(bytes
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect())
    }

    /// Optional step numbers (`None` is stored as `u64::MAX`).
    pub fn put_steps(&mut self, name: &str, values: &[Option<u64>]) {
        let bytes = values
            .iter()
            .flat_map(|v| v.unwrap_or(u64::MAX).to_le_bytes())
            .collect();
        self.sections.insert(name.into(), bytes);
    }

    pub fn steps(&self, name: &str, len: usize) -> Result<Vec<Option<u64>>, StateError> {
        let bytes = self.take(name)?;
        sized(name, bytes, 8 * len, || format!("{len} steps"))?;
        Ok(bytes
            .chunks_exact(8)
            .map(|c| {
                let v = u64::from_le_bytes(c.try_into().expect("8 bytes"));
                (v != u64::MAX).then_some(v)
            })
            .collect())
    }

    pub fn put_f64(&mut self, name: &str, value: f64) {
        self.sections
            .insert(name.into(), value.to_le_bytes().to_vec());
    }

    pub fn f64(&self, name: &str) -> Result<f64, StateError> {
        let bytes: [u8; 8] = self
            .take(name)?
            .try_into()
            .map_err(|_| malformed(name, "not one number"))?;
        Ok(f64::from_le_bytes(bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arrays_round_trip_and_bad_sections_are_named() {
        let mut s = MethodState::default();
        s.put_f32s("bank.data", &[1.5, -2.0]);
        s.put_steps("bank.written_at", &[Some(3), None]);
        s.put_f64("log_z", 7.25);
        assert_eq!(s.f32s("bank.data", 2).unwrap(), vec![1.5, -2.0]);
        assert_eq!(s.steps("bank.written_at", 2).unwrap(), vec![Some(3), None]);
        assert_eq!(s.f64("log_z").unwrap(), 7.25);
        let e = s.f32s("bank.data", 3).unwrap_err().to_string();
        assert!(e.contains("bank.data") && e.contains("12 expected"), "{e}");
        let e = s.f32s("queue.data", 1).unwrap_err().to_string();
        assert!(e.contains("no section queue.data"), "{e}");
    }
}
