//! Live curves: loss, kNN accuracy against the random-init baseline, alignment and
//! uniformity, the collapse signal against 1/sqrt(d), positive/negative pair similarity
//! (means over time, and their distributions at a few moments of the run),
//! the method's own signals (queue fill, EMA momentum, MI bound...), learning rate and
//! throughput; below them the batch similarity matrix and the linear probe. Each plot is a
//! `Figure` (plain series data), so right-clicking one saves its data or its picture.

use eframe::egui::{self, Color32, RichText};
use egui_plot::{Corner, HLine, Legend, Line, LineStyle, Plot, PlotPoints, Points};

use super::{batch_similarity, probe};
use crate::app::figure::{Figure, Series, Style};
use crate::app::palette::{class_colour, class_colour_const};
use crate::app::run_archive::PastRun;
use crate::app::run_view::RunView;
use crate::app::workbench::Action;
use crate::engine::{EvalReport, SHARED_SPACE, StepMetrics};

pub fn show(ui: &mut egui::Ui, app: &RunView, actions: &mut Vec<Action>) {
    let h = app.history;
    if h.log.steps.is_empty() && h.log.evals.is_empty() {
        ui.label("Press Start to train; curves appear here as it learns.");
    }
    if let Some(m) = h.log.steps.last()
        && m.collapsing
    {
        ui.label(
            RichText::new(format!("COLLAPSE: {}", collapse_reason(m)))
                .color(Color32::from_rgb(230, 90, 80))
                .strong(),
        );
    }
    if let Some(e) = h.log.evals.last()
        && !e.attributes.is_empty()
    {
        ui.label(RichText::new(what_it_groups_by(e)).small())
            .on_hover_text(per_class_text(e));
    }
    if let Some(m) = h.log.steps.last() {
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
    let figures = figures(app);
    let rows = figures.len().div_ceil(2);
    let plot_h =
        ((ui.available_height() - 30.0 * rows as f32) / rows.min(3) as f32).clamp(110.0, 260.0);
    let half = ui.available_width() / 2.0 - 14.0;
    egui::ScrollArea::vertical().show(ui, |ui| {
        egui::Grid::new("dashboard")
            .num_columns(2)
            .spacing([8.0, 4.0])
            .show(ui, |ui| {
                for (i, figure) in figures.into_iter().enumerate() {
                    small_plot(ui, figure, half, plot_h, actions);
                    if i % 2 == 1 {
                        ui.end_row();
                    }
                    if i == 3 {
                        // The batch's similarity matrix and the probe, under the main curves.
                        let side = (half - 20.0).min(plot_h + 40.0);
                        ui.vertical(|ui| {
                            ui.set_width(half);
                            batch_similarity::show(ui, app, side);
                        });
                        ui.vertical(|ui| {
                            ui.set_width(half);
                            probe::show(ui, app, side, actions);
                        });
                        ui.end_row();
                    }
                }
            });
    });
}

/// The earlier runs of the session, each with a switch to overlay it.
fn compare_row(ui: &mut egui::Ui, app: &RunView, actions: &mut Vec<Action>) {
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

/// One line: kNN accuracy of the class and of each nuisance attribute, each beside its
/// chance level, so "what did it learn?" has an answer on screen.
fn what_it_groups_by(e: &EvalReport) -> String {
    let mut line = format!(
        "step {}: kNN predicts the class {:.0}%",
        e.step,
        100.0 * e.knn_top1
    );
    for a in &e.attributes {
        line += &format!(
            ", {} {:.0}% (chance {:.0}%, random init {:.0}%)",
            a.name,
            100.0 * a.top1,
            100.0 * a.chance,
            100.0 * a.baseline_top1
        );
    }
    line
}

/// kNN top-1 of each class, best first: which shapes it has learned and which not.
fn per_class_text(e: &EvalReport) -> String {
    let mut classes: Vec<_> = e.per_class.iter().filter(|c| c.queries > 0).collect();
    classes.sort_by(|a, b| b.top1.total_cmp(&a.top1));
    let mut text = format!("kNN top-1 per class at step {}:", e.step);
    for c in classes {
        text += &format!("\n{} {:.0}% ({} images)", c.name, 100.0 * c.top1, c.queries);
    }
    text
}

/// Which space is collapsing and how: h first, then the method's own space.
fn collapse_reason(m: &StepMetrics) -> String {
    let mut spaces = vec![(
        SHARED_SPACE.to_string(),
        m.z_std,
        m.z_std_healthy,
        m.effective_rank,
    )];
    if let Some(o) = &m.own {
        let healthy = 1.0 / (o.dim.max(1) as f32).sqrt();
        spaces.push((o.space.clone(), o.z_std, healthy, o.effective_rank));
    }
    for (space, std, healthy, _) in &spaces {
        if *std < 0.25 * healthy {
            return format!(
                "the std of {space} ({std:.4}) is far below the healthy 1/sqrt(d) = \
                 {healthy:.4}; the embeddings are converging to a point."
            );
        }
    }
    let (space, _, _, rank) = spaces
        .iter()
        .min_by(|a, b| a.3.total_cmp(&b.3))
        .expect("h is always measured");
    format!("the effective rank of {space} is {rank:.2}: it uses about one direction.")
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

/// The plots, in order: the shared ones, then one per method signal, then rates.
pub fn figures(app: &RunView) -> Vec<Figure> {
    let h = app.history;
    let steps = &h.log.steps;
    let shown: Vec<(usize, &PastRun)> = app
        .past_runs
        .iter()
        .enumerate()
        .filter(|(_, r)| r.shown)
        .collect();
    // With runs to compare, the current run's lines carry its name too.
    let this = |what: &str| {
        if shown.is_empty() {
            what.to_string()
        } else {
            format!("{what}, {}", app.run_label)
        }
    };

    let mut loss = Figure::new("loss", Corner::RightTop).axes("step", "loss");
    for &(k, run) in &shown {
        loss.line(
            &run.label,
            steps_series(&run.steps, |m| f64::from(m.loss)),
            past_style(k),
        );
    }
    loss.line(
        this("loss"),
        steps_series(steps, |m| f64::from(m.loss)),
        CURRENT,
    );

    let mut knn = Figure::new("kNN top-1 (%)", Corner::LeftTop).axes("step", "top1_percent");
    for &(k, run) in &shown {
        knn.line(&run.label, knn_series(&run.evals), past_style(k));
    }
    knn.line(this("kNN top-1"), knn_series(&h.log.evals), CURRENT);
    // What else the representation groups by: the same kNN predicting each attribute.
    let attributes: Vec<String> = h
        .log
        .evals
        .last()
        .map(|e| e.attributes.iter().map(|a| a.name.clone()).collect())
        .unwrap_or_default();
    for (k, name) in attributes.iter().enumerate() {
        let series = h
            .log
            .evals
            .iter()
            .filter_map(|e| {
                e.attributes
                    .get(k)
                    .map(|a| [e.step as f64, 100.0 * f64::from(a.top1)])
            })
            .collect();
        knn.line(
            format!("kNN {name} (not the class)"),
            series,
            past_style(k + 1),
        );
    }
    if let Some(b) = h.log.evals.first() {
        knn.reference("random init", 100.0 * f64::from(b.baseline_top1));
    }

    let mut au = Figure::new(
        &format!("alignment / uniformity ({SHARED_SPACE})"),
        Corner::RightTop,
    );
    for &(k, run) in &shown {
        au.line(
            format!("align, {}", run.label),
            steps_series(&run.steps, |m| f64::from(m.align)),
            past_style(k),
        );
        au.line(
            format!("uniform, {}", run.label),
            steps_series(&run.steps, |m| f64::from(m.uniform)),
            past_style(k),
        );
    }
    au.line(
        this("align (alpha=2)"),
        steps_series(steps, |m| f64::from(m.align)),
        Style::LINE,
    );
    au.line(
        this("uniform (t=2)"),
        steps_series(steps, |m| f64::from(m.uniform)),
        Style::LINE,
    );
    // The method's own space, dashed: where its loss pulls and pushes.
    let own_space = steps
        .last()
        .and_then(|m| m.own.as_ref())
        .map(|o| o.space.clone());
    if let Some(space) = &own_space {
        au.line(
            format!("align, {space}"),
            own_series(steps, |o| o.align),
            OWN_SPACE,
        );
        au.line(
            format!("uniform, {space}"),
            own_series(steps, |o| o.uniform),
            OWN_SPACE,
        );
    }

    let plane = align_uniform_plane(steps, app.run_label, &shown);

    let mut collapse = Figure::new(
        &format!("embedding std, collapse signal ({SHARED_SPACE})"),
        Corner::LeftTop,
    )
    .axes("step", "std");
    collapse.line(
        "std of normalised h",
        steps_series(steps, |m| f64::from(m.z_std)),
        Style::LINE,
    );
    if let Some(space) = &own_space {
        // Scaled to h's dimension, so both read against the same 1/sqrt(d) line.
        collapse.line(
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
        collapse.reference("1/sqrt(d)", f64::from(m.z_std_healthy));
    }
    let top = steps
        .last()
        .map_or(0.1, |m| 1.3 * f64::from(m.z_std_healthy));
    collapse.y_range = Some((0.0, top.max(0.15)));

    let mut rank = Figure::new(
        &format!("effective rank, directions used ({SHARED_SPACE})"),
        Corner::RightBottom,
    )
    .axes("step", "effective_rank");
    rank.line(
        "effective rank of h",
        steps_series(steps, |m| f64::from(m.effective_rank)),
        Style::LINE,
    );
    if let Some(space) = &own_space {
        rank.line(
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
    rank.y_range = Some((0.0, 1.1 * top));

    let mut pairs = Figure::new(
        &format!("pair similarity, cosine ({SHARED_SPACE})"),
        Corner::RightBottom,
    )
    .axes("step", "cosine");
    // The same colours as the distribution plot beside it.
    pairs.line(
        "positive pairs",
        steps_series(steps, |m| f64::from(m.pos_sim)),
        coloured(POSITIVE),
    );
    pairs.line(
        "negative pairs",
        steps_series(steps, |m| f64::from(m.neg_sim)),
        coloured(NEGATIVE),
    );

    let mut out = vec![
        loss,
        knn,
        au,
        plane,
        collapse,
        rank,
        pairs,
        similarity_distributions(steps),
    ];
    let names: Vec<String> = steps
        .last()
        .map(|m| m.signals.iter().map(|(k, _)| k.clone()).collect())
        .unwrap_or_default();
    for name in names {
        let mut f = Figure::new(&name, Corner::RightBottom);
        let value = |m: &StepMetrics| {
            m.signals
                .iter()
                .find(|(k, _)| *k == name)
                .map_or(f64::NAN, |(_, v)| f64::from(*v))
        };
        f.line(name.clone(), steps_series(steps, value), Style::LINE);
        out.push(f);
    }
    let mut lr = Figure::new("learning rate", Corner::RightTop).axes("step", "lr");
    lr.line("lr", steps_series(steps, |m| m.lr), Style::LINE);
    let mut speed =
        Figure::new("throughput (views/s)", Corner::RightTop).axes("step", "views_per_sec");
    speed.line(
        "views/s",
        steps_series(steps, |m| f64::from(m.views_per_sec)),
        Style::LINE,
    );
    out.push(lr);
    out.push(speed);
    out
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

/// Draws one figure under its title; right-click saves its data (CSV) or picture (PNG).
fn small_plot(
    ui: &mut egui::Ui,
    figure: Figure,
    width: f32,
    height: f32,
    actions: &mut Vec<Action>,
) {
    ui.vertical(|ui| {
        ui.label(RichText::new(&figure.title).strong());
        let response = Plot::new(&figure.title)
            .width(width)
            .height(height)
            .legend(Legend::default().position(figure.legend))
            .allow_scroll(false)
            .show(ui, |p| {
                for s in &figure.series {
                    draw_series(p, s);
                }
                if let Some((lo, hi)) = figure.x_range {
                    p.set_plot_bounds_x(lo..=hi);
                }
                if let Some((lo, hi)) = figure.y_range {
                    p.set_plot_bounds_y(lo..=hi);
                }
            })
            .response;
        let title = figure.title.clone();
        response.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Canvas, true, &title));
        let rect = response.rect;
        response.context_menu(|ui| {
            if ui.button("Save data (CSV)").clicked() {
                actions.push(Action::SavePlotData(figure.clone()));
                ui.close();
            }
            if ui.button("Save picture (PNG)").clicked() {
                actions.push(Action::SavePlotImage {
                    name: figure.slug(),
                    rect,
                });
                ui.close();
            }
        });
    });
}

fn draw_series(p: &mut egui_plot::PlotUi, s: &Series) {
    let points = || PlotPoints::from(s.points.clone());
    match s.style {
        Style::Line {
            width,
            dashed,
            colour,
        } => {
            let mut line = Line::new(s.name.clone(), points()).width(width);
            if dashed {
                line = line.style(LineStyle::dashed_dense());
            }
            if let Some(c) = colour {
                line = line.color(c);
            }
            p.line(line);
        }
        Style::Markers { radius, colour } => {
            p.points(
                Points::new(s.name.clone(), points())
                    .radius(radius)
                    .color(colour),
            );
        }
        Style::Reference => {
            if let Some(&[_, y]) = s.points.first() {
                p.hline(
                    HLine::new(s.name.clone(), y)
                        .style(LineStyle::dashed_loose())
                        .color(Color32::GRAY),
                );
            }
        }
    }
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
