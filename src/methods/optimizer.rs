//! Builds burn's optimiser from the preset's `[train]` settings.

use burn::optim::decay::WeightDecayConfig;
use burn::optim::momentum::MomentumConfig;
use burn::optim::{AdamConfig, ModuleOptimizer, SgdConfig};

use crate::preset::{OptimizerKind, TrainSpec};

pub fn build_optimizer(train: &TrainSpec) -> ModuleOptimizer {
    let decay = (train.weight_decay > 0.0).then_some(WeightDecayConfig {
        penalty: train.weight_decay as f32,
    });
    match train.optimizer {
        OptimizerKind::Adam => AdamConfig::new().with_weight_decay(decay).init(),
        OptimizerKind::Sgd => SgdConfig::new()
            .with_weight_decay(decay)
            .with_momentum(Some(MomentumConfig {
                momentum: train.momentum,
                dampening: 0.0,
                nesterov: false,
            }))
            .init(),
        OptimizerKind::Lars => {
            super::lars::Lars::new(train.momentum, train.weight_decay, train.trust_coefficient)
                .into_module_optimizer()
        }
    }
}
