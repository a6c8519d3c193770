//! Every registered method learns: a short CPU run on the built-in shapes raises kNN
//! accuracy on held-out images above the same encoder's accuracy at random initialisation.
//! One test per method, in the slow tier (`cargo test --release --test method_learning
//! simclr -- --ignored`; `.ci/run` runs them all), and a fast test that every registered
//! method has one, so a new method is tested the day it is registered.
#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

mod common;

use contrastive_workbench::catalogue::{MethodSpec, find, methods};
use contrastive_workbench::engine::Event;
use contrastive_workbench::engine::session::run_experiment;
use contrastive_workbench::model::EncoderConfig;

/// Steps of 64 images each method gets (test-sized; the README lists longer runs).
const STEPS: u64 = 300;
/// The least mean gain over the random-init kNN accuracy across [`SEEDS`] any method may
/// show (0.005 = half an accuracy point), for ResNet-18's test and as a floor.
const MARGIN: f32 = 0.005;
/// Each method's measured mean kNN gain (accuracy points) over [`SEEDS`] at this budget,
/// from `cargo test --release --test method_learning -- --ignored --nocapture`. A method
/// must keep at least half of it: a change that halves what a method learns fails here,
/// where the old half-point margin let a method lose 90% of its learning unseen.
///
/// The CPU backend is deterministic on one machine, but not across machines of our class:
/// their CPUs take different SIMD paths, the rounding differs, and a 300-step run's
/// trajectory diverges from there. The same commit measured barlow_twins 4.50 and instdisc
/// 2.30 on the machine of 2026-12-04 and 2.17 and 0.96 on CI's and ours of 2026-12-06
/// (seeds 0 / 1: 1.42 / 2.92 and 1.50 / 0.42). So each figure is the lowest seen on any
/// machine: the others are from 2026-12-04 and 2026-12-05 and passed on both machines.
const MEASURED_GAIN: &[(&str, f32)] = &[
    ("simclr", 5.35),
    ("moco", 3.10),
    ("byol", 4.10),
    ("simsiam", 3.10),
    ("barlow_twins", 2.17),
    ("vicreg", 5.95),
    ("instdisc", 0.96),
    ("cmc", 1.40),
    ("dim", 5.60),
    ("cpc", 2.30),
    ("pixpro", 2.40),
    ("hadsell", 3.75),
    ("triplet", 1.25),
    ("nce", 5.20),
    ("mocov3", 3.30),
    ("dino", 2.15),
    ("nnclr", 2.55),
    ("dcl", 5.40),
    ("supcon", 19.90),
    ("swav", 3.90),
];

/// The mean gain `id` must exceed: half its measured gain, never below [`MARGIN`].
fn required_gain(id: &str) -> f32 {
    let measured = MEASURED_GAIN
        .iter()
        .find(|(m, _)| *m == id)
        .map_or(0.0, |(_, g)| g / 100.0);
    (0.5 * measured).max(MARGIN)
}
/// The seeds each method is trained at; their mean gain is tested.
const SEEDS: [u64; 2] = [0, 1];
/// The trained accuracy is the mean of the last evaluations: one kNN evaluation on 400
/// queries moves by about 2 points from one to the next, three together much less.
const LAST_EVALS: usize = 3;

/// One run at a time: burn's generator is process-wide, so two runs side by side would
/// draw from each other's streams and a method's result would depend on the scheduling.
/// One at a time, each test gives what it gives alone (the figures in [`MEASURED_GAIN`]).
static SEEDED: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// kNN gain of `id` after the test budget, at `seed`: (random init, trained).
fn knn_gain(id: &str, seed: u64) -> (f32, f32) {
    let encoder = EncoderConfig {
        channels: vec![16, 32, 64, 128],
        ..EncoderConfig::default()
    };
    knn_gain_with(id, seed, encoder)
}

/// The same with `encoder` as the backbone.
fn knn_gain_with(id: &str, seed: u64, encoder: EncoderConfig) -> (f32, f32) {
    let _turn = SEEDED.lock().unwrap_or_else(|p| p.into_inner());
    let info = find(id).unwrap();
    let mut exp = common::tiny_experiment(100, 64, STEPS);
    exp.seed = seed;
    exp.encoder = encoder;
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
    assert!(result.failed.is_none(), "{id}: {:?}", result.failed);
    let baseline = evals.first().unwrap().knn_top1;
    let tail = &evals[evals.len() - LAST_EVALS..];
    assert_eq!(tail.last().unwrap().step, STEPS);
    let trained = tail.iter().map(|e| e.knn_top1).sum::<f32>() / LAST_EVALS as f32;
    (baseline, trained)
}

#[test]
#[ignore = "slow tier (minutes): cargo test --release -- --ignored"]
fn simclr_learns_with_resnet18() {
    // A narrow ResNet-18 (width 8: stages 8-16-32-64), so the budget stays test-sized.
    let (baseline, trained) = knn_gain_with("simclr", 0, EncoderConfig::resnet18(8));
    eprintln!("simclr + resnet18(8): kNN top-1 random init {baseline:.3} -> trained {trained:.3}");
    assert!(
        trained > baseline + MARGIN,
        "SimCLR on ResNet-18 did not learn: {baseline} -> {trained}"
    );
}

#[test]
#[ignore = "slow tier (minutes): cargo test --release -- --ignored"]
fn simclr_learns_with_a_vit() {
    // A ViT narrowed to the test budget: 64 tokens of width 32, two blocks of two heads,
    // class-token pooling. Measured at seed 0: 0.175 -> 0.200. (MoCo v3 and mean pooling
    // gain under a point at this budget: ViTs from scratch need longer schedules.)
    let vit = EncoderConfig {
        embed_dim: 32,
        depth: 2,
        heads: 2,
        ..EncoderConfig::vit()
    };
    let (baseline, trained) = knn_gain_with("simclr", 0, vit);
    eprintln!("simclr + vit(32x2): kNN top-1 random init {baseline:.3} -> trained {trained:.3}");
    assert!(
        trained > baseline + MARGIN,
        "SimCLR on a ViT did not learn: {baseline} -> {trained}"
    );
}

fn check_learns(id: &str) {
    let gains: Vec<f32> = SEEDS
        .iter()
        .map(|&seed| {
            let (baseline, trained) = knn_gain(id, seed);
            eprintln!(
                "{id:14} seed {seed}: kNN top-1 random init {baseline:.3} -> trained \
                 {trained:.3} (mean of the last {LAST_EVALS} evaluations)"
            );
            trained - baseline
        })
        .collect();
    let mean = gains.iter().sum::<f32>() / gains.len() as f32;
    let required = required_gain(id);
    assert!(
        mean > required,
        "{id} learned less than half what it did: mean kNN gain {:.2} points over seeds \
         {SEEDS:?} ({gains:?}), required {:.2}",
        100.0 * mean,
        100.0 * required
    );
}

macro_rules! learning_tests {
    ($($id:ident),* $(,)?) => {
        $(
            #[test]
            #[ignore = "slow tier (minutes): cargo test --release -- --ignored"]
            fn $id() {
                check_learns(stringify!($id));
            }
        )*

        #[test]
        fn every_registered_method_has_a_learning_test() {
            let listed = [$(stringify!($id)),*];
            for info in methods() {
                assert!(listed.contains(&info.id), "{} has no learning test here", info.id);
                assert!(
                    MEASURED_GAIN.iter().any(|(m, _)| *m == info.id),
                    "{} has no measured gain in MEASURED_GAIN",
                    info.id
                );
            }
        }
    };
}

learning_tests!(
    simclr,
    moco,
    mocov3,
    byol,
    simsiam,
    barlow_twins,
    vicreg,
    instdisc,
    cmc,
    dim,
    cpc,
    pixpro,
    hadsell,
    triplet,
    nce,
    dino,
    nnclr,
    dcl,
    supcon,
    swav,
);

/// The widest spread of one method's gains over seeds 0..3 that the two-seed tests can rely
/// on: twice the widest measured (simclr, +1.4 to +8.3 points at an earlier version; +4.3
/// to +6.7 at this one).
const MAX_SEED_SPREAD: f32 = 0.14;

/// The measured spread behind the two-seed tests, checked: each method's kNN gain at seeds 0 to 3
/// (printed; `CW_METHODS=simclr,moco cargo test --release --test method_learning
/// seed_spread -- --ignored --nocapture`, simclr when unset). A seed that did not reach the
/// run would repeat one result four times; a spread wider than [`MAX_SEED_SPREAD`] would
/// make a two-seed mean above [`required_gain`] luck.
#[test]
#[ignore = "slow tier (minutes per method and seed): CW_METHODS picks the methods"]
fn seed_spread() {
    let methods = std::env::var("CW_METHODS").unwrap_or_else(|_| "simclr".into());
    for id in methods.split(',') {
        let runs: Vec<(f32, f32)> = (0..4).map(|seed| knn_gain(id, seed)).collect();
        let gains: Vec<f32> = runs.iter().map(|(b, t)| t - b).collect();
        let shown: Vec<String> = gains.iter().map(|g| format!("{:+.1}", 100.0 * g)).collect();
        eprintln!(
            "{id:14} kNN gain (points) at seeds 0..3: {}",
            shown.join(" ")
        );
        assert_eq!(gains.len(), 4);
        assert!(gains.iter().all(|g| g.is_finite()), "{id}: {gains:?}");
        assert!(
            runs.iter().any(|r| *r != runs[0]),
            "{id}: seeds 0..3 gave the same accuracies {:?}: the seed does not reach the run",
            runs[0]
        );
        let (low, high) = gains
            .iter()
            .fold((f32::INFINITY, f32::NEG_INFINITY), |(l, h), &g| {
                (l.min(g), h.max(g))
            });
        assert!(
            high - low < MAX_SEED_SPREAD,
            "{id}: gains spread over {:.1} points across seeds ({}), more than {:.0}",
            100.0 * (high - low),
            shown.join(" "),
            100.0 * MAX_SEED_SPREAD
        );
    }
}
