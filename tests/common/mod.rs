//! Small experiments for integration tests: real code paths, test-sized data.
#![allow(dead_code)]

use contrastive_workbench::data::DatasetSpec;
use contrastive_workbench::data::shapes::ShapesSpec;
use contrastive_workbench::preset::{BackendChoice, Experiment, Schedule};

/// SimCLR on a small shapes set, CPU backend, evaluation on a small sample.
pub fn tiny_experiment(train_per_class: usize, batch: usize, steps: u64) -> Experiment {
    let mut e = Experiment {
        name: "test".into(),
        dataset: DatasetSpec::Shapes(ShapesSpec {
            seed: 1,
            train_per_class,
            test_per_class: 50,
            size: 32,
        }),
        ..Experiment::default()
    };
    e.train.batch_size = batch;
    e.train.steps = steps;
    e.train.backend = BackendChoice::Cpu;
    e.train.schedule = Schedule::Constant;
    e.train.warmup_steps = 0;
    e.train.log_every = 1;
    e.eval.every = steps.max(1);
    e.eval.bank_size = 400;
    e.eval.query_size = 200;
    e
}
