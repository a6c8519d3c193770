//! Every registered method learns: a short CPU run on the built-in shapes raises kNN
//! accuracy on held-out images above the same encoder's accuracy at random initialisation.
//! One test per method, in the slow tier (`cargo test --release --test method_learning
//! simclr -- --ignored`; `.ci/run` runs them all), and a fast test that every registered
//! method has one, so a new method is tested the day it is registered.
#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

mod common;

use contrastive_workbench::catalogue::{MethodSpec, find, methods};
use contrastive_workbench::data::DatasetSpec;
use contrastive_workbench::data::shapes::ShapesSpec;
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
/// trajectory diverges from there. On the four-background shapes these tests used until
/// 2026-12-06 most gains were 1 to 5 points, within kNN's noise, so a machine whose
/// rounding led elsewhere failed them (PixPro +2.3 / -2.3 and the ViT +0.2 on CI's machine
/// that day, for the same commit that had passed there before). On one background the
/// same runs gain 3 to 50 points. Figures measured on 2026-12-06 (AMD EPYC, AVX-512), seeds
/// 0 / 1, e.g. simclr 25.0 / 22.2, pixpro 7.3 / 4.1, dino 3.7 / 1.8, barlow_twins 10.6 / 0.8;
/// swav at its default Sinkhorn epsilon of 0.03 (at 0.05 it sat at loss ln 30: -1.15).
const MEASURED_GAIN: &[(&str, f32)] = &[
    ("simclr", 23.60),
    ("moco", 8.20),
    ("byol", 5.25),
    ("simsiam", 6.40),
    ("barlow_twins", 5.70),
    ("vicreg", 37.05),
    ("instdisc", 5.95),
    ("cmc", 22.20),
    ("dim", 8.50),
    ("cpc", 10.30),
    ("pixpro", 5.70),
    ("hadsell", 23.60),
    ("triplet", 13.00),
    ("nce", 32.30),
    ("mocov3", 17.60),
    ("dino", 2.75),
    ("nnclr", 6.25),
    ("dcl", 31.75),
    ("supcon", 51.25),
    ("swav", 13.65),
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

/// What a test-budget run gave: kNN top-1 at random init and trained (the mean of the last
/// [`LAST_EVALS`] evaluations), and at every logged step how much nearer the encoder puts
/// an image's two views than views of different images (mean positive-pair cosine minus
/// mean negative-pair cosine of h).
struct Run {
    baseline: f32,
    trained: f32,
    pair_gaps: Vec<f32>,
}

/// `id` on the small CNN after the test budget, at `seed`.
fn run(id: &str, seed: u64) -> Run {
    let encoder = EncoderConfig {
        channels: vec![16, 32, 64, 128],
        ..EncoderConfig::default()
    };
    run_with(id, seed, encoder)
}

/// The same with `encoder` as the backbone.
fn run_with(id: &str, seed: u64, encoder: EncoderConfig) -> Run {
    let _turn = SEEDED.lock().unwrap_or_else(|p| p.into_inner());
    let info = find(id).unwrap();
    let mut exp = common::tiny_experiment(100, 64, STEPS);
    // One background: the shape is then the one thing in an image to group by besides
    // colour, so kNN on shape labels measures what was learned (with four backgrounds a
    // 300-step run groups by background first, and gains sat within kNN's noise).
    exp.dataset = DatasetSpec::Shapes(ShapesSpec {
        backgrounds: 1,
        ..common::tiny_shapes(100)
    });
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
    let mut pair_gaps = Vec::new();
    let result = run_experiment(&exp, &dataset, &commands, &mut |ev| match ev {
        Event::Eval(e) => evals.push(e),
        Event::Step(m) => pair_gaps.push(m.pos_sim - m.neg_sim),
        _ => {}
    });
    assert!(result.failed.is_none(), "{id}: {:?}", result.failed);
    let baseline = evals.first().unwrap().knn_top1;
    let tail = &evals[evals.len() - LAST_EVALS..];
    assert_eq!(tail.last().unwrap().step, STEPS);
    let trained = tail.iter().map(|e| e.knn_top1).sum::<f32>() / LAST_EVALS as f32;
    Run {
        baseline,
        trained,
        pair_gaps,
    }
}

#[test]
#[ignore = "slow tier (minutes): cargo test --release -- --ignored"]
fn simclr_learns_with_resnet18() {
    // A narrow ResNet-18 (width 8: stages 8-16-32-64), so the budget stays test-sized.
    let Run {
        baseline, trained, ..
    } = run_with("simclr", 0, EncoderConfig::resnet18(8));
    eprintln!("simclr + resnet18(8): kNN top-1 random init {baseline:.3} -> trained {trained:.3}");
    assert!(
        trained > baseline + MARGIN,
        "SimCLR on ResNet-18 did not learn: {baseline} -> {trained}"
    );
}

/// The positive-minus-negative cosine gap of the test ViT's output h over the second half
/// of its run, mean over [`SEEDS`], measured on 2026-12-06 (seeds 0 / 1: 0.078 / 0.128,
/// from about 0.02 / 0.003 at the first logged step). With the ViT frozen (its output
/// detached, the head still training) the gap stays at 0.001-0.009 all run.
const VIT_PAIR_GAP_MEASURED: f32 = 0.103;

#[test]
#[ignore = "slow tier (minutes): cargo test --release -- --ignored"]
fn simclr_learns_with_a_vit() {
    // A ViT narrowed to the test budget: 64 tokens of width 32, two blocks of two heads,
    // class-token pooling. A ViT from scratch learns slowly, and at this budget its kNN
    // gain is noise: +1.1, +3.6, -1.7 and +1.1 points at seeds 0-3 on 2026-12-06 (1,000
    // steps give +3 to +5; other rates, patch 8 and mean pooling did no better). SimCLR's
    // loss is no witness either: with the ViT frozen the projection head alone lowers it
    // as much (4.80 -> 4.6). What the trained ViT does and a frozen one cannot is put an
    // image's two views nearer each other than other images' in its own output h: that
    // gap is asserted (half the measured), kNN printed.
    let vit = EncoderConfig {
        embed_dim: 32,
        depth: 2,
        heads: 2,
        ..EncoderConfig::vit()
    };
    let gaps: Vec<f32> = SEEDS
        .iter()
        .map(|&seed| {
            let run = run_with("simclr", seed, vit.clone());
            let late = &run.pair_gaps[run.pair_gaps.len() / 2..];
            let gap = late.iter().sum::<f32>() / late.len() as f32;
            eprintln!(
                "simclr + vit(32x2) seed {seed}: positive-negative cosine gap of h {:.3} at \
                 the first logged step, {gap:.3} over the second half; kNN top-1 random \
                 init {:.3} -> trained {:.3}",
                run.pair_gaps[0], run.baseline, run.trained
            );
            gap
        })
        .collect();
    let mean = gaps.iter().sum::<f32>() / gaps.len() as f32;
    assert!(
        mean > 0.5 * VIT_PAIR_GAP_MEASURED,
        "SimCLR did not train the ViT: its output's positive-negative cosine gap over the \
         second half was {mean:.3} on average over seeds {SEEDS:?} ({gaps:?}), under half \
         the {VIT_PAIR_GAP_MEASURED} measured"
    );
}

fn check_learns(id: &str) {
    let gains: Vec<f32> = SEEDS
        .iter()
        .map(|&seed| {
            let Run {
                baseline, trained, ..
            } = run(id, seed);
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
/// on: twice the widest measured (simclr on one background, +22.2 to +36.1 points on
/// 2026-12-06; +1.4 to +8.3 on four backgrounds at an earlier version).
const MAX_SEED_SPREAD: f32 = 0.28;

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
        let runs: Vec<(f32, f32)> = (0..4)
            .map(|seed| {
                let r = run(id, seed);
                (r.baseline, r.trained)
            })
            .collect();
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
