//! Every registered method learns: a short CPU run on the built-in shapes raises kNN
//! accuracy on held-out images above the same encoder's accuracy at random initialisation.
//! A loop over the registry, so a new method is tested the day it is registered.
#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

mod common;

use contrastive_workbench::engine::Event;
use contrastive_workbench::engine::session::run_experiment;
use contrastive_workbench::methods::{MethodSpec, REGISTRY};

/// Steps of 64 images each method gets (test-sized; the README lists longer runs).
const STEPS: u64 = 300;
/// Required gain over the random-init kNN accuracy (0.01 = 1 accuracy point). Measured at
/// this budget: gains of 1.2 (triplet, CMC) to 7 points (SimCLR, VICReg, NCE); the runs
/// are seeded and deterministic on the CPU backend.
const MARGIN: f32 = 0.01;
/// The trained accuracy is the mean of the last evaluations: one kNN evaluation on 400
/// queries moves by about 2 points from one to the next, three together much less.
const LAST_EVALS: usize = 3;

#[test]
fn every_method_beats_the_random_init_baseline() {
    let mut failures = Vec::new();
    for info in REGISTRY {
        let mut exp = common::tiny_experiment(100, 64, STEPS);
        exp.encoder.channels = vec![16, 32, 64, 128];
        exp.method = MethodSpec::with_defaults(info);
        exp.train.log_every = 10;
        exp.eval.every = 50;
        exp.eval.bank_size = 800;
        exp.eval.query_size = 400;
        let dataset = exp.dataset.load().unwrap();
        let (_keep, commands) = crossbeam_channel::bounded(1);
        let mut evals = Vec::new();
        let result = run_experiment(&exp, &dataset, &commands, &mut |ev| {
            if let Event::Eval(e) = ev {
                evals.push(e);
            }
        });
        assert!(result.failed.is_none(), "{}: {:?}", info.id, result.failed);
        let baseline = evals.first().unwrap().knn_top1;
        let tail = &evals[evals.len() - LAST_EVALS..];
        assert_eq!(tail.last().unwrap().step, STEPS);
        let trained = tail.iter().map(|e| e.knn_top1).sum::<f32>() / LAST_EVALS as f32;
        eprintln!(
            "{:14} kNN top-1: random init {baseline:.3} -> trained {trained:.3} (mean of the \
             last {LAST_EVALS} evaluations)",
            info.id
        );
        if trained <= baseline + MARGIN {
            failures.push(format!("{}: {baseline:.3} -> {trained:.3}", info.id));
        }
    }
    assert!(failures.is_empty(), "did not learn: {failures:?}");
}
