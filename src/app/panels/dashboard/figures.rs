//! The dashboard's plots as plain [`Figure`]s, one function per plot: each reads the
//! current run's curves and the earlier runs shown for comparison. To add a plot, write
//! its function here and list it in [`figures`].

use eframe::egui::Color32;
use egui_plot::Corner;

use crate::app::figure::{Figure, Style};
use crate::app::palette::{class_colour, class_colour_const};
use crate::app::run_archive::PastRun;
use crate::app::run_view::RunView;
use crate::engine::{EvalReport, SHARED_SPACE, StepMetrics};

/// What every figure draws from: the current run's steps and evaluations, its label, and
/// the earlier runs shown for comparison (with their palette index).
pub struct Curves<'a> {
    steps: &'a [StepMetrics],
    evals: &'a [EvalReport],
    label: &'a str,
    shown: Vec<(usize, &'a PastRun)>,
    /// The method's own space, when it logs one.
    own_space: Option<String>,
}

impl<'a> Curves<'a> {
    pub fn of(run: &RunView<'a>) -> Self {
        let steps = &run.history.log.steps;
        Self {
            steps,
            evals: &run.history.log.evals,
            label: run.run_label,
            shown: run
                .past_runs
                .iter()
                .enumerate()
                .filter(|(_, r)| r.shown)
                .collect(),
            own_space: steps
                .last()
                .and_then(|m| m.own.as_ref())
                .map(|o| o.space.clone()),
        }
    }

    /// A current-run line's name: with runs to compare, it carries the run's name too.
    fn this(&self, what: &str) -> String {
        if self.shown.is_empty() {
            what.to_string()
        } else {
            format!("{what}, {}", self.label)
        }
    }
}

/// The plots, in order: the shared ones, then one per method signal, then rates.
pub fn figures(run: &RunView) -> Vec<Figure> {
    let c = Curves::of(run);
    let mut out = vec![
        loss(&c),
        knn(&c),
        align_uniform(&c),
        align_uniform_plane(c.steps, c.label, &c.shown),
        collapse(&c),
        effective_rank(&c),
        pair_similarity(&c),
        similarity_distributions(c.steps),
    ];
    out.extend(method_signals(c.steps));
    out.push(learning_rate(c.steps));
    out.push(throughput(c.steps));
    out
}

fn loss(c: &Curves) -> Figure {
    let mut f = Figure::new("loss", Corner::RightTop).axes("step", "loss");
    for &(k, run) in &c.shown {
        f.line(
            &run.label,
            steps_series(&run.steps, |m| f64::from(m.loss)),
            past_style(k),
        );
    }
    f.line(
        c.this("loss"),
        steps_series(c.steps, |m| f64::from(m.loss)),
        CURRENT,
    );
    f
}

/// kNN top-1 of the class against the random-init baseline, and of each nuisance
/// attribute: what else the representation groups by.
fn knn(c: &Curves) -> Figure {
    let mut f = Figure::new("kNN top-1 (%)", Corner::LeftTop).axes("step", "top1_percent");
    f.y_label_max = Some(100.0);
    for &(k, run) in &c.shown {
        f.line(&run.label, knn_series(&run.evals), past_style(k));
    }
    f.line(c.this("kNN top-1"), knn_series(c.evals), CURRENT);
    let attributes: Vec<String> = c
        .evals
        .last()
        .map(|e| e.attributes.iter().map(|a| a.name.clone()).collect())
        .unwrap_or_default();
    for (k, name) in attributes.iter().enumerate() {
        let series = c
            .evals
            .iter()
            .filter_map(|e| {
                e.attributes
                    .get(k)
                    .map(|a| [e.step as f64, 100.0 * f64::from(a.top1)])
            })
            .collect();
        f.line(
            format!("kNN {name} (not the class)"),
            series,
            past_style(k + 1),
        );
    }
    if let Some(b) = c.evals.first() {
        f.reference("random init", 100.0 * f64::from(b.baseline_top1));
    }
    f
}

fn align_uniform(c: &Curves) -> Figure {
    let mut f = Figure::new(
        &format!("alignment / uniformity ({SHARED_SPACE})"),
        Corner::RightTop,
    );
    for &(k, run) in &c.shown {
        f.line(
            format!("align, {}", run.label),
            steps_series(&run.steps, |m| f64::from(m.align)),
            past_style(k),
        );
        f.line(
            format!("uniform, {}", run.label),
            steps_series(&run.steps, |m| f64::from(m.uniform)),
            past_style(k),
        );
    }
    f.line(
        c.this("align (alpha=2)"),
        steps_series(c.steps, |m| f64::from(m.align)),
        Style::LINE,
    );
    f.line(
        c.this("uniform (t=2)"),
        steps_series(c.steps, |m| f64::from(m.uniform)),
        Style::LINE,
    );
    // The method's own space, dashed: where its loss pulls and pushes.
    if let Some(space) = &c.own_space {
        f.line(
            format!("align, {space}"),
            own_series(c.steps, |o| o.align),
            OWN_SPACE,
        );
        f.line(
            format!("uniform, {space}"),
            own_series(c.steps, |o| o.uniform),
            OWN_SPACE,
        );
    }
    f
}

fn collapse(c: &Curves) -> Figure {
    let steps = c.steps;
    let mut f = Figure::new(
        &format!("embedding std, collapse signal ({SHARED_SPACE})"),
        Corner::LeftTop,
    )
    .axes("step", "std");
    f.line(
        "std of normalised h",
        steps_series(steps, |m| f64::from(m.z_std)),
        Style::LINE,
    );
    if let Some(space) = &c.own_space {
        // Scaled to h's dimension, so both read against the same 1/sqrt(d) line.
        f.line(
            format!("{space}, x sqrt(d_own / d_h)"),
            steps_series(steps, |m| {
                m.own.as_ref().map_or(f64::NAN, |o| {
                    f64::from(o.z_std) * (o.dim as f64).sqrt() * f64::from(m.z_std_healthy)
                })
            }),
            OWN_SPACE,
        );
    }
    if let Some(m) = steps.last() {
        f.reference("1/sqrt(d)", f64::from(m.z_std_healthy));
    }
    let top = steps
        .last()
        .map_or(0.1, |m| 1.3 * f64::from(m.z_std_healthy));
    f.y_range = Some((0.0, top.max(0.15)));
    f
}

fn effective_rank(c: &Curves) -> Figure {
    let steps = c.steps;
    let mut f = Figure::new(
        &format!("effective rank, directions used ({SHARED_SPACE})"),
        Corner::RightBottom,
    )
    .axes("step", "effective_rank");
    f.line(
        "effective rank of h",
        steps_series(steps, |m| f64::from(m.effective_rank)),
        Style::LINE,
    );
    if let Some(space) = &c.own_space {
        f.line(
            space.clone(),
            own_series(steps, |o| o.effective_rank),
            OWN_SPACE,
        );
    }
    let top = steps
        .iter()
        .flat_map(|m| {
            [
                Some(m.effective_rank),
                m.own.as_ref().map(|o| o.effective_rank),
            ]
        })
        .flatten()
        .map(f64::from)
        .filter(|v| v.is_finite())
        .fold(2.0, f64::max);
    f.y_range = Some((0.0, 1.1 * top));
    f
}

fn pair_similarity(c: &Curves) -> Figure {
    let mut f = Figure::new(
        &format!("pair similarity, cosine ({SHARED_SPACE})"),
        Corner::RightBottom,
    )
    .axes("step", "cosine");
    // The same colours as the distribution plot beside it.
    f.line(
        "positive pairs",
        steps_series(c.steps, |m| f64::from(m.pos_sim)),
        coloured(POSITIVE),
    );
    f.line(
        "negative pairs",
        steps_series(c.steps, |m| f64::from(m.neg_sim)),
        coloured(NEGATIVE),
    );
    f
}

/// One plot per method-specific signal (queue fill, EMA momentum, MI bound...).
fn method_signals(steps: &[StepMetrics]) -> Vec<Figure> {
    let names: Vec<String> = steps
        .last()
        .map(|m| m.signals.iter().map(|(k, _)| k.clone()).collect())
        .unwrap_or_default();
    names
        .into_iter()
        .map(|name| {
            let mut f = Figure::new(&name, Corner::RightBottom);
            let value = |m: &StepMetrics| {
                m.signals
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map_or(f64::NAN, |(_, v)| f64::from(*v))
            };
            f.line(name.clone(), steps_series(steps, value), Style::LINE);
            f
        })
        .collect()
}

fn learning_rate(steps: &[StepMetrics]) -> Figure {
    let mut f = Figure::new("learning rate", Corner::RightTop).axes("step", "lr");
    f.line("lr", steps_series(steps, |m| m.lr), Style::LINE);
    f
}

fn throughput(steps: &[StepMetrics]) -> Figure {
    let mut f = Figure::new("throughput (views/s)", Corner::RightTop).axes("step", "views_per_sec");
    f.line(
        "views/s",
        steps_series(steps, |m| f64::from(m.views_per_sec)),
        Style::LINE,
    );
    f
}

/// Step -> value points of a run's logged steps.
fn steps_series(steps: &[StepMetrics], f: impl Fn(&StepMetrics) -> f64) -> Vec<[f64; 2]> {
    steps.iter().map(|m| [m.step as f64, f(m)]).collect()
}

fn knn_series(evals: &[EvalReport]) -> Vec<[f64; 2]> {
    evals
        .iter()
        .map(|e| [e.step as f64, 100.0 * f64::from(e.knn_top1)])
        .collect()
}

/// The current run is drawn bold in the first palette colour; earlier run k dashed in
/// colour k + 1, the same in every plot.
const CURRENT: Style = Style::Line {
    width: 2.0,
    dashed: false,
    colour: Some(class_colour_const(0)),
};

fn past_style(k: usize) -> Style {
    Style::Line {
        width: 1.0,
        dashed: true,
        colour: Some(class_colour(k + 1)),
    }
}

/// The method's own space, drawn beside the shared figures.
const OWN_SPACE: Style = Style::Line {
    width: 1.5,
    dashed: true,
    colour: None,
};

/// A figure of the method's own space over the logged steps (NaN where not logged).
fn own_series(
    steps: &[StepMetrics],
    value: impl Fn(&crate::engine::SpaceFigures) -> f32,
) -> Vec<[f64; 2]> {
    steps_series(steps, |m| {
        m.own.as_ref().map_or(f64::NAN, |o| f64::from(value(o)))
    })
}

fn coloured(colour: Color32) -> Style {
    Style::Line {
        width: 1.5,
        dashed: false,
        colour: Some(colour),
    }
}

/// Wang & Isola (2020, Fig. 1 style): each run's path through the (uniformity, alignment)
/// plane over its logged steps, its latest point marked; lower left is better.
fn align_uniform_plane(steps: &[StepMetrics], label: &str, past: &[(usize, &PastRun)]) -> Figure {
    // Every method on the same representation, so runs of different methods compare.
    let mut f = Figure::new(
        &format!("alignment vs uniformity, lower left is better ({SHARED_SPACE})"),
        Corner::RightTop,
    )
    .axes("uniformity", "alignment");
    let path = |steps: &[StepMetrics]| -> Vec<[f64; 2]> {
        steps
            .iter()
            .filter(|m| m.align.is_finite() && m.uniform.is_finite())
            .map(|m| [f64::from(m.uniform), f64::from(m.align)])
            .collect()
    };
    let runs = past
        .iter()
        .map(|&(k, r)| (r.label.as_str(), path(&r.steps), 1.0, class_colour(k + 1)))
        .chain(std::iter::once((
            if label.is_empty() { "this run" } else { label },
            path(steps),
            2.0,
            class_colour(0),
        )));
    for (name, pts, width, colour) in runs {
        let Some(&last) = pts.last() else { continue };
        f.line(
            name,
            pts,
            Style::Line {
                width,
                dashed: false,
                colour: Some(colour),
            },
        );
        f.line(
            name,
            vec![last],
            Style::Markers {
                radius: 3.0 * width,
                colour,
            },
        );
    }
    f
}

const POSITIVE: Color32 = Color32::from_rgb(70, 170, 90);
const NEGATIVE: Color32 = Color32::from_rgb(220, 90, 80);
/// How many logged steps the distribution plot overlays (earlier ones fainter).
const SNAPSHOTS: usize = 4;

/// Histograms of positive and negative pair cosines, as densities: the latest logged step
/// bold, a few earlier ones evenly spread over the run fainter, so the two distributions
/// can be seen moving apart over time.
fn similarity_distributions(steps: &[StepMetrics]) -> Figure {
    let mut f = Figure::new("pair similarity distribution (density)", Corner::LeftTop)
        .axes("cosine", "density");
    f.x_range = Some((-1.0, 1.0));
    if steps.is_empty() {
        return f;
    }
    let mut picks: Vec<usize> = (0..SNAPSHOTS)
        .map(|k| k * steps.len().saturating_sub(1) / (SNAPSHOTS - 1))
        .collect();
    picks.dedup();
    let Some(&latest) = picks.last() else {
        return f;
    };
    for (rank, &i) in picks.iter().enumerate() {
        let m = &steps[i];
        let fade = (rank + 1) as f32 / picks.len() as f32;
        for (kind, hist, colour) in [
            ("positive", &m.pos_hist, POSITIVE),
            ("negative", &m.neg_hist, NEGATIVE),
        ] {
            let name = if i == latest {
                format!("{kind} pairs, step {}", m.step)
            } else {
                format!("{kind} pairs, earlier")
            };
            f.line(
                name,
                density(hist),
                Style::Line {
                    width: if i == latest { 2.0 } else { 1.0 },
                    dashed: false,
                    colour: Some(colour.gamma_multiply(fade)),
                },
            );
        }
    }
    f
}

/// Counts per bin over [-1, 1] -> (bin centre, density) points integrating to 1.
fn density(hist: &[u32]) -> Vec<[f64; 2]> {
    let total = hist.iter().map(|&c| f64::from(c)).sum::<f64>().max(1.0);
    let width = 2.0 / hist.len().max(1) as f64;
    hist.iter()
        .enumerate()
        .map(|(i, &c)| {
            [
                -1.0 + (i as f64 + 0.5) * width,
                f64::from(c) / total / width,
            ]
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn density_integrates_to_one_over_the_bins() {
        let hist = vec![0, 3, 1, 0];
        let d = density(&hist);
        let width = 0.5;
        let area: f64 = d.iter().map(|p| p[1] * width).sum();
        assert!((area - 1.0).abs() < 1e-12, "{area}");
        assert_eq!(d[1], [-0.25, 0.75 / width]);
        // No pairs logged: a flat zero line, not NaN.
        assert!(density(&[0, 0]).iter().all(|p| p[1] == 0.0));
    }
}
