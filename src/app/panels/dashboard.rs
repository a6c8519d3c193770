//! Live curves: loss, kNN accuracy against the random-init baseline, alignment and
//! uniformity, the collapse signal against 1/sqrt(d), positive/negative pair similarity
//! (means over time, and their distributions at a few moments of the run),
//! the method's own signals (queue fill, EMA momentum, MI bound...), learning rate and
//! throughput; below them the batch similarity matrix and the linear probe.

use eframe::egui::{self, Color32, RichText};
use egui_plot::{Corner, HLine, Legend, Line, LineStyle, Plot, PlotPoints};

use super::{batch_similarity, probe};
use crate::app::run_archive::PastRun;
use crate::app::workbench::{Action, WorkbenchApp};
use crate::engine::{EvalReport, StepMetrics};

pub fn show(ui: &mut egui::Ui, app: &WorkbenchApp, actions: &mut Vec<Action>) {
    let h = &app.history;
    if h.steps.is_empty() && h.evals.is_empty() {
        ui.label("Press Start to train; curves appear here as it learns.");
    }
    if let Some(m) = h.steps.last()
        && m.collapsing
    {
        ui.label(
            RichText::new(format!(
                "COLLAPSE: embedding std {:.4} is far below the healthy 1/sqrt(d) = {:.4}; \
                     the embeddings are converging to a point.",
                m.z_std, m.z_std_healthy
            ))
            .color(Color32::from_rgb(230, 90, 80))
            .strong(),
        );
    }
    if let Some(m) = h.steps.last() {
        let mut line = format!(
            "step {}: positive pairs cos {:.3}, negative pairs cos {:.3}",
            m.step, m.pos_sim, m.neg_sim
        );
        for (name, v) in &m.signals {
            line += &format!(" | {name} {v:.3}");
        }
        ui.label(RichText::new(line).small().monospace());
    }
    compare_row(ui, app, actions);
    let panels = panels(app);
    let rows = panels.len().div_ceil(2);
    let plot_h =
        ((ui.available_height() - 30.0 * rows as f32) / rows.min(3) as f32).clamp(110.0, 260.0);
    let half = ui.available_width() / 2.0 - 14.0;
    egui::ScrollArea::vertical().show(ui, |ui| {
        egui::Grid::new("dashboard")
            .num_columns(2)
            .spacing([8.0, 4.0])
            .show(ui, |ui| {
                for (i, panel) in panels.into_iter().enumerate() {
                    small_plot(ui, &panel.title, half, plot_h, panel.legend, panel.draw);
                    if i % 2 == 1 {
                        ui.end_row();
                    }
                }
            });
        ui.add_space(6.0);
        ui.horizontal_top(|ui| {
            let side = (half - 20.0).min(260.0);
            ui.vertical(|ui| {
                ui.set_width(half);
                batch_similarity::show(ui, app, side);
            });
            ui.vertical(|ui| {
                ui.set_width(half);
                probe::show(ui, app, side, actions);
            });
        });
    });
}

/// The earlier runs of the session, each with a switch to overlay it.
fn compare_row(ui: &mut egui::Ui, app: &WorkbenchApp, actions: &mut Vec<Action>) {
    if app.past_runs.is_empty() {
        return;
    }
    ui.horizontal_wrapped(|ui| {
        ui.label("Compare with:");
        for (i, run) in app.past_runs.iter().enumerate() {
            let mut shown = run.shown;
            if ui.checkbox(&mut shown, &run.label).changed() {
                actions.push(Action::ShowPastRun(i, shown));
            }
        }
    });
}

/// One plot of the dashboard.
struct Panel<'a> {
    title: String,
    legend: Corner,
    draw: Box<dyn FnOnce(&mut egui_plot::PlotUi) + 'a>,
}

impl<'a> Panel<'a> {
    fn new(title: &str, legend: Corner, draw: impl FnOnce(&mut egui_plot::PlotUi) + 'a) -> Self {
        Self {
            title: title.into(),
            legend,
            draw: Box::new(draw),
        }
    }
}

/// The plots, in order: the shared ones, then one per method signal, then rates.
fn panels(app: &WorkbenchApp) -> Vec<Panel<'_>> {
    let h = &app.history;
    let series = move |f: &dyn Fn(&StepMetrics) -> f64| -> PlotPoints<'static> {
        PlotPoints::from(
            h.steps
                .iter()
                .map(|m| [m.step as f64, f(m)])
                .collect::<Vec<_>>(),
        )
    };
    let shown: Vec<&PastRun> = app.past_runs.iter().filter(|r| r.shown).collect();
    // With runs to compare, the current run's lines carry its name too.
    let comparing = !shown.is_empty();
    let label = app.run_label.as_str();
    let this = move |what: &str| {
        if !comparing {
            what.to_string()
        } else {
            format!("{what}, {label}")
        }
    };
    let knn_points = |evals: &[EvalReport]| -> PlotPoints<'static> {
        PlotPoints::from(
            evals
                .iter()
                .map(|e| [e.step as f64, 100.0 * f64::from(e.knn_top1)])
                .collect::<Vec<_>>(),
        )
    };
    let past = shown.clone();
    let past_knn = shown.clone();
    let mut out = vec![
        Panel::new("loss", Corner::RightTop, move |p| {
            for run in &past {
                p.line(
                    Line::new(
                        run.label.clone(),
                        steps_series(&run.steps, &|m| f64::from(m.loss)),
                    )
                    .style(LineStyle::dashed_dense()),
                );
            }
            p.line(Line::new(this("loss"), series(&|m| f64::from(m.loss))).width(2.0));
        }),
        Panel::new("kNN top-1 (%)", Corner::LeftTop, move |p| {
            for run in &past_knn {
                p.line(
                    Line::new(run.label.clone(), knn_points(&run.evals))
                        .style(LineStyle::dashed_dense()),
                );
            }
            p.line(Line::new(this("kNN top-1"), knn_points(&h.evals)).width(2.0));
            if let Some(b) = h.evals.first() {
                p.hline(reference_line(
                    "random init",
                    100.0 * f64::from(b.baseline_top1),
                ));
            }
        }),
        Panel::new("alignment / uniformity", Corner::RightTop, move |p| {
            p.line(Line::new(
                "align (alpha=2)",
                series(&|m| f64::from(m.align)),
            ));
            p.line(Line::new(
                "uniform (t=2)",
                series(&|m| f64::from(m.uniform)),
            ));
        }),
        Panel::new(
            "alignment vs uniformity (lower left is better)",
            Corner::RightTop,
            move |p| align_uniform_plane(p, &h.steps, &app.run_label, &shown),
        ),
        Panel::new(
            "embedding std (collapse signal)",
            Corner::LeftTop,
            move |p| {
                p.line(Line::new(
                    "std of normalised z",
                    series(&|m| f64::from(m.z_std)),
                ));
                if let Some(m) = h.steps.last() {
                    p.hline(reference_line("1/sqrt(d)", f64::from(m.z_std_healthy)));
                }
                p.set_plot_bounds_y(
                    0.0..=0.15_f64.max(
                        h.steps
                            .last()
                            .map_or(0.1, |m| 1.3 * f64::from(m.z_std_healthy)),
                    ),
                );
            },
        ),
        Panel::new("pair similarity (cosine)", Corner::RightBottom, move |p| {
            // The same colours as the distribution plot beside it.
            p.line(Line::new("positive pairs", series(&|m| f64::from(m.pos_sim))).color(POSITIVE));
            p.line(Line::new("negative pairs", series(&|m| f64::from(m.neg_sim))).color(NEGATIVE));
        }),
        Panel::new(
            "pair similarity distribution (density)",
            Corner::LeftTop,
            move |p| similarity_distributions(p, &h.steps),
        ),
    ];
    let names: Vec<String> = h
        .steps
        .last()
        .map(|m| m.signals.iter().map(|(k, _)| k.clone()).collect())
        .unwrap_or_default();
    for name in names {
        let key = name.clone();
        out.push(Panel::new(&name, Corner::RightBottom, move |p| {
            let value = |m: &StepMetrics| {
                m.signals
                    .iter()
                    .find(|(k, _)| *k == key)
                    .map_or(f64::NAN, |(_, v)| f64::from(*v))
            };
            p.line(Line::new(key.clone(), series(&value)));
        }));
    }
    out.push(Panel::new("learning rate", Corner::RightTop, move |p| {
        p.line(Line::new("lr", series(&|m| m.lr)));
    }));
    out.push(Panel::new(
        "throughput (views/s)",
        Corner::RightTop,
        move |p| {
            p.line(Line::new(
                "views/s",
                series(&|m| f64::from(m.views_per_sec)),
            ));
        },
    ));
    out
}

/// Step -> value points of a run's logged steps.
fn steps_series(steps: &[StepMetrics], f: &dyn Fn(&StepMetrics) -> f64) -> PlotPoints<'static> {
    PlotPoints::from(
        steps
            .iter()
            .map(|m| [m.step as f64, f(m)])
            .collect::<Vec<_>>(),
    )
}

/// Wang & Isola (2020, Fig. 1 style): each run's path through the (uniformity, alignment)
/// plane over its logged steps, its latest point marked; lower left is better.
fn align_uniform_plane(
    p: &mut egui_plot::PlotUi,
    steps: &[StepMetrics],
    label: &str,
    past: &[&PastRun],
) {
    let path = |steps: &[StepMetrics]| -> Vec<[f64; 2]> {
        steps
            .iter()
            .filter(|m| m.align.is_finite() && m.uniform.is_finite())
            .map(|m| [f64::from(m.uniform), f64::from(m.align)])
            .collect()
    };
    let runs = past
        .iter()
        .map(|r| (r.label.as_str(), path(&r.steps), 1.0))
        .chain(std::iter::once((
            if label.is_empty() { "this run" } else { label },
            path(steps),
            2.0,
        )));
    for (name, pts, width) in runs {
        let Some(&last) = pts.last() else { continue };
        p.line(Line::new(name, PlotPoints::from(pts)).width(width));
        p.points(egui_plot::Points::new(name, PlotPoints::from(vec![last])).radius(3.0 * width));
    }
}

const POSITIVE: Color32 = Color32::from_rgb(70, 170, 90);
const NEGATIVE: Color32 = Color32::from_rgb(220, 90, 80);
/// How many logged steps the distribution plot overlays (earlier ones fainter).
const SNAPSHOTS: usize = 4;

/// Histograms of positive and negative pair cosines, as densities: the latest logged step
/// bold, a few earlier ones evenly spread over the run fainter, so the two distributions
/// can be seen moving apart over time.
fn similarity_distributions(p: &mut egui_plot::PlotUi, steps: &[StepMetrics]) {
    if steps.is_empty() {
        return;
    }
    let mut picks: Vec<usize> = (0..SNAPSHOTS)
        .map(|k| k * steps.len().saturating_sub(1) / (SNAPSHOTS - 1))
        .collect();
    picks.dedup();
    let Some(&latest) = picks.last() else {
        return;
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
            let width = if i == latest { 2.0 } else { 1.0 };
            p.line(
                Line::new(name, PlotPoints::from(density(hist)))
                    .color(colour.gamma_multiply(fade))
                    .width(width),
            );
        }
    }
    p.set_plot_bounds_x(-1.0..=1.0);
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

/// A dashed grey line marking a reference value (a baseline, a healthy level).
fn reference_line(name: &str, y: f64) -> HLine {
    HLine::new(name, y)
        .style(LineStyle::dashed_loose())
        .color(Color32::GRAY)
}

fn small_plot<'a>(
    ui: &mut egui::Ui,
    title: &str,
    width: f32,
    height: f32,
    legend: Corner,
    add: impl FnOnce(&mut egui_plot::PlotUi<'a>) + 'a,
) {
    ui.vertical(|ui| {
        ui.label(RichText::new(title).strong());
        Plot::new(title)
            .width(width)
            .height(height)
            .legend(Legend::default().position(legend))
            .allow_scroll(false)
            .show(ui, add);
    });
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
