//! What the lessons teach holds on a bounded budget. `why-colour-jitter`: without colour
//! jitter the representation encodes colour (colour kNN well above chance), and colour
//! jitter makes it encode colour less. Measured at the lesson's 300 steps (seed 0): colour
//! kNN 100% without jitter (chance 24.5%), 92% with; class kNN 36.8% and 37.7%, a gap
//! within one evaluation's noise, so the class is not asserted. `simclr-clusters`: the
//! time-to-clusters curve (class kNN and a t-SNE of each evaluation). Slow tier.
#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

mod common;

use std::time::{Duration, Instant};

use contrastive_workbench::engine::{EvalReport, Event};
use contrastive_workbench::lessons::find;
use contrastive_workbench::metrics::silhouette;
use contrastive_workbench::preset::Experiment;
use contrastive_workbench::projection::{IterativeLayout, Tsne};

/// One run at a time: burn's generator is process-wide and re-seeded at every step, so two
/// tests' runs side by side (CI runs the slow tier's tests in parallel) would draw from
/// each other's streams, and the figures asserted here would depend on the scheduling.
static ONE_RUN_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn one_run_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    ONE_RUN_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The lesson's experiment after its step `step`'s set-up, trained to the end: the last
/// evaluation.
fn lesson_run(id: &str, step: usize) -> EvalReport {
    let _turn = one_run_at_a_time();
    let mut exp = lesson_experiment(id, step);
    exp.eval.every = exp.train.steps;
    let result = common::run_to_end(&exp);
    assert!(result.failed.is_none(), "{:?}", result.failed);
    result.metrics.evals.last().unwrap().clone()
}

/// The lesson's experiment after its step `step`'s set-up, on the CPU.
fn lesson_experiment(id: &str, step: usize) -> Experiment {
    let lesson = find(id).unwrap();
    let mut exp = (lesson.start)();
    for s in &lesson.steps[..=step] {
        if let Some(setup) = s.setup {
            setup(&mut exp);
        }
    }
    exp.train.backend = contrastive_workbench::preset::BackendChoice::Cpu;
    exp
}

/// One evaluation of a run, as a teacher would read the window at that moment.
struct Moment {
    step: u64,
    /// Wall time since the run started, without the time this measurement took.
    seconds: f64,
    knn_top1: f32,
    /// The silhouette of a settled t-SNE of the held-out embeddings, by class and then by
    /// each nuisance attribute.
    by_class: f32,
    by_attribute: Vec<(String, f32)>,
    /// How often a point's five nearest points in the t-SNE picture vote for its class:
    /// whether the picture's neighbourhoods are the classes, even when a class forms
    /// several islands (which the silhouette, a global measure, counts against it).
    neighbours_2d: f32,
}

/// The share of `points` whose `k` nearest others (Euclidean) vote for their own label.
fn knn_2d(points: &[[f32; 2]], labels: &[u16], k: usize) -> f32 {
    let classes = labels.iter().copied().max().unwrap_or(0) as usize + 1;
    let right = (0..points.len())
        .filter(|&i| {
            let mut others: Vec<(f32, u16)> = (0..points.len())
                .filter(|&j| j != i)
                .map(|j| {
                    let (dx, dy) = (points[i][0] - points[j][0], points[i][1] - points[j][1]);
                    (dx * dx + dy * dy, labels[j])
                })
                .collect();
            others.sort_by(|a, b| a.0.total_cmp(&b.0));
            let mut votes = vec![0usize; classes];
            others
                .iter()
                .take(k)
                .for_each(|&(_, l)| votes[l as usize] += 1);
            let best = (0..classes).max_by_key(|&c| (votes[c], c == labels[i] as usize));
            best == Some(labels[i] as usize)
        })
        .count();
    right as f32 / points.len().max(1) as f32
}

/// The time-to-clusters curve of `exp`: every evaluation's kNN and t-SNE silhouettes.
fn clusters_curve(exp: &Experiment) -> (Vec<Moment>, EvalReport) {
    let _turn = one_run_at_a_time();
    let dataset = exp.dataset.load().unwrap();
    let (_keep, commands) = crossbeam_channel::bounded(1);
    let start = Instant::now();
    let mut measuring = Duration::ZERO;
    let mut knn = Vec::new();
    let mut curve = Vec::new();
    let result = contrastive_workbench::engine::session::run_experiment(
        exp,
        &dataset,
        &commands,
        &mut |event| match event {
            Event::Eval(e) => knn.push(e.knn_top1),
            Event::Projection(f) => {
                let seconds = (start.elapsed() - measuring).as_secs_f64();
                let began = Instant::now();
                let mut tsne = Tsne::new(&f.embeddings, f.dim, 30.0);
                while !tsne.settled() {
                    tsne.step();
                }
                let points = tsne.layout();
                curve.push(Moment {
                    step: f.step,
                    seconds,
                    knn_top1: knn.last().copied().unwrap_or(f32::NAN),
                    by_class: silhouette(points, &f.labels).unwrap(),
                    neighbours_2d: knn_2d(points, &f.labels, 5),
                    by_attribute: f
                        .attributes
                        .iter()
                        .filter_map(|a| Some((a.name.clone(), silhouette(points, &a.of_point)?)))
                        .collect(),
                });
                measuring += began.elapsed();
            }
            _ => {}
        },
    );
    assert!(result.failed.is_none(), "{:?}", result.failed);
    (curve, result.metrics.evals.last().unwrap().clone())
}

/// The measured goal of the SimCLR lesson: from Start to a projection whose clusters are
/// the classes. Prints the curve (step, seconds, class kNN, t-SNE silhouettes) and the
/// last evaluation's per-class kNN; asserts that the picture comes to follow the class
/// more than at the random initialisation, within the lesson's budget.
#[test]
#[ignore = "slow tier (minutes): cargo test --release -- --ignored"]
fn the_clusters_lesson_groups_the_classes_within_its_budget() {
    // CW_CLUSTERS_PRESET=FILE measures another recipe the same way (how the lesson's was
    // chosen); the assertions are the lesson's.
    let exp = match std::env::var_os("CW_CLUSTERS_PRESET") {
        Some(path) => Experiment::load(std::path::Path::new(&path)).unwrap(),
        None => lesson_experiment("simclr-clusters", 0),
    };
    let (curve, last) = clusters_curve(&exp);
    eprintln!("step  seconds  class kNN  t-SNE 5-NN  silhouette: class  attributes");
    for m in &curve {
        let attributes: Vec<String> = m
            .by_attribute
            .iter()
            .map(|(name, s)| format!("{name} {s:.3}"))
            .collect();
        eprintln!(
            "{:>4}  {:>7.1}  {:>9.3}  {:>10.3}  {:>17.3}  {}",
            m.step,
            m.seconds,
            m.knn_top1,
            m.neighbours_2d,
            m.by_class,
            attributes.join(", ")
        );
    }
    let per_class: Vec<String> = last
        .per_class
        .iter()
        .map(|c| format!("{} {:.2}", c.name, c.top1))
        .collect();
    eprintln!("per-class kNN at the end: {}", per_class.join(", "));
    // Measured (seed 0, the lesson's 800 steps on the narrow encoder, the picture of the
    // head's space): class kNN 0.40 -> 0.90 and the settled t-SNE's silhouette by class
    // -0.1 -> 0.38 in 147 s. Asserted: the goal, one island per class (silhouette
    // >= 0.25) and class kNN >= 85%, by the end of the run.
    let (first, end) = (&curve[0], curve.last().unwrap());
    assert!(
        end.knn_top1 >= 0.85,
        "class kNN {} -> {}",
        first.knn_top1,
        end.knn_top1
    );
    assert!(
        end.by_class >= 0.25 && end.by_class > first.by_class + 0.2,
        "the picture's silhouette by class: {} -> {}",
        first.by_class,
        end.by_class
    );
    assert!(
        end.neighbours_2d > first.neighbours_2d + 0.15,
        "the picture's neighbourhoods: {} -> {}",
        first.neighbours_2d,
        end.neighbours_2d
    );
}

#[test]
#[ignore = "slow tier (minutes): cargo test --release -- --ignored"]
fn without_colour_jitter_it_learns_colour_and_with_it_the_shape() {
    let without = lesson_run("why-colour-jitter", 0);
    let with = lesson_run("why-colour-jitter", 1);
    let colour = |e: &EvalReport| {
        e.attributes
            .iter()
            .find(|a| a.name == "colour")
            .unwrap()
            .clone()
    };
    let (c0, c1) = (colour(&without), colour(&with));
    eprintln!(
        "without jitter: class {:.3}, colour {:.3} (chance {:.3}); with: class {:.3}, colour {:.3}",
        without.knn_top1, c0.top1, c0.chance, with.knn_top1, c1.top1
    );
    assert!(
        c0.top1 > c0.chance + 0.2,
        "colour kNN {} vs chance {}",
        c0.top1,
        c0.chance
    );
    assert!(
        c0.top1 > c1.top1 + 0.04,
        "colour kNN without {} vs with {}",
        c0.top1,
        c1.top1
    );
}
