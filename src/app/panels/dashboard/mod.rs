//! Live curves: loss, kNN accuracy against the random-init baseline, alignment and
//! uniformity, the collapse signal against 1/sqrt(d), positive/negative pair similarity
//! (means over time, and their distributions at a few moments of the run),
//! the method's own signals (queue fill, EMA momentum, MI bound...), learning rate and
//! throughput; below them the batch similarity matrix and the linear probe. Each plot is a
//! `Figure` (plain series data), so right-clicking one saves its data or its picture.

mod figures;

use eframe::egui::{self, Color32, RichText};
use egui_plot::{HLine, Legend, Line, LineStyle, Plot, PlotPoints, Points};

use super::{batch_similarity, probe};
use crate::app::action::{Action, PlotAction, RunAction};
use crate::app::figure::{Figure, Series, Style};
use crate::app::run_view::RunView;
use crate::engine::{EvalReport, SHARED_SPACE, StepMetrics};
pub use figures::figures;

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
                actions.push(RunAction::ShowPastRun(i, shown).into());
            }
        }
    });
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
        // Room above (or below) the curves for the legend, so it covers none of them.
        let row = f64::from(ui.text_style_height(&egui::TextStyle::Small)) + 4.0;
        let legend_px = row * figure.legend_entries() as f64 + 12.0;
        let mut plot = Plot::new(&figure.title)
            .width(width)
            .height(height)
            .legend(
                Legend::default()
                    .position(figure.legend)
                    .text_style(egui::TextStyle::Small),
            )
            .allow_scroll(false);
        if let Some(max) = figure.y_label_max {
            plot = plot.y_axis_formatter(move |mark, _| {
                if mark.value > max + 1e-9 {
                    return String::new();
                }
                let decimals = (-mark.step_size.log10().round()).max(0.0) as usize;
                egui::emath::format_with_decimals_in_range(mark.value, decimals..=decimals)
            });
        }
        let y_bounds = figure.legend_room(legend_px, f64::from(height));
        if let Some((lo, hi)) = y_bounds {
            plot = plot.include_y(lo).include_y(hi);
        }
        let response = plot
            .show(ui, |p| {
                for s in &figure.series {
                    draw_series(p, s);
                }
                if let Some((lo, hi)) = figure.x_range {
                    p.set_plot_bounds_x(lo..=hi);
                    // Fixing x stops egui_plot fitting y: fit it here, legend room included.
                    if let Some((lo, hi)) = y_bounds {
                        p.set_plot_bounds_y(lo..=hi);
                    }
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
                actions.push(PlotAction::SaveData(figure.clone()).into());
                ui.close();
            }
            if ui.button("Save picture (PNG)").clicked() {
                actions.push(
                    PlotAction::SaveImage {
                        name: figure.slug(),
                        rect,
                    }
                    .into(),
                );
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
