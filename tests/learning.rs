//! SimCLR learns: a short CPU run on the built-in shapes raises kNN accuracy on held-out
//! images above the same encoder's accuracy at random initialisation.
#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

mod common;

use contrastive_workbench::engine::Event;
use contrastive_workbench::engine::session::run_experiment;

#[test]
fn simclr_on_shapes_beats_the_random_init_baseline() {
    // Same settings as presets/simclr-shapes.toml, test-sized: 800 images, 200 steps of 64.
    let mut exp = common::tiny_experiment(100, 64, 200);
    exp.eval.every = 100;
    exp.eval.bank_size = 800;
    exp.eval.query_size = 400;
    let dataset = exp.dataset.load().unwrap();
    let (_keep, commands) = crossbeam_channel::bounded(1);
    let mut evals = Vec::new();
    let mut losses = Vec::new();
    let result = run_experiment(&exp, &dataset, &commands, &mut |ev| match ev {
        Event::Eval(e) => evals.push(e),
        Event::Step(m) => losses.push(m.loss),
        _ => {}
    });
    assert!(result.failed.is_none(), "{:?}", result.failed);
    assert_eq!(result.steps_done, 200);
    let first = evals.first().unwrap();
    let last = evals.last().unwrap();
    assert_eq!(first.step, 0);
    assert_eq!(last.step, 200);
    eprintln!(
        "kNN top-1: random init {:.3} -> trained {:.3}",
        first.knn_top1, last.knn_top1
    );
    assert!(
        last.knn_top1 > first.baseline_top1 + 0.03,
        "kNN {:.3} did not beat the random-init baseline {:.3}",
        last.knn_top1,
        first.baseline_top1
    );
    // The contrastive loss itself went down.
    let head: f32 = losses[..10].iter().sum::<f32>() / 10.0;
    let tail: f32 = losses[losses.len() - 10..].iter().sum::<f32>() / 10.0;
    assert!(tail < head, "loss {head} -> {tail}");
}
