//! Live curves: loss, kNN accuracy against the random-init baseline, alignment and
//! uniformity, the collapse signal against 1/sqrt(d), learning rate and throughput.

use eframe::egui::{self, Color32, RichText};
use egui_plot::{Corner, HLine, Legend, Line, LineStyle, Plot, PlotPoints};

use crate::app::workbench::WorkbenchApp;
use crate::engine::StepMetrics;

pub fn show(ui: &mut egui::Ui, app: &WorkbenchApp) {
    let h = &app.history;
    if h.steps.is_empty() && h.evals.is_empty() {
        ui.label("Press Start to train; curves appear here as it learns.");
    }
    if let Some(m) = h.steps.last() {
        if m.collapsing {
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
    }
    let plot_h = ((ui.available_height() - 40.0) / 3.0).clamp(110.0, 260.0);
    let half = ui.available_width() / 2.0 - 8.0;
    let series = |f: fn(&StepMetrics) -> f64| -> Vec<[f64; 2]> {
        h.steps.iter().map(|m| [m.step as f64, f(m)]).collect()
    };
    egui::Grid::new("dashboard")
        .num_columns(2)
        .spacing([8.0, 4.0])
        .show(ui, |ui| {
            small_plot(ui, "loss", half, plot_h, Corner::RightTop, |p| {
                p.line(Line::new(
                    "loss",
                    PlotPoints::from(series(|m| f64::from(m.loss))),
                ));
            });
            small_plot(ui, "kNN top-1 (%)", half, plot_h, Corner::LeftTop, |p| {
                let pts: Vec<[f64; 2]> = h
                    .evals
                    .iter()
                    .map(|e| [e.step as f64, 100.0 * f64::from(e.knn_top1)])
                    .collect();
                p.line(Line::new("kNN top-1", PlotPoints::from(pts)));
                if let Some(b) = h.evals.first() {
                    p.hline(reference_line(
                        "random init",
                        100.0 * f64::from(b.baseline_top1),
                    ));
                }
            });
            ui.end_row();
            small_plot(
                ui,
                "alignment / uniformity",
                half,
                plot_h,
                Corner::RightTop,
                |p| {
                    p.line(Line::new(
                        "align (alpha=2)",
                        PlotPoints::from(series(|m| f64::from(m.align))),
                    ));
                    p.line(Line::new(
                        "uniform (t=2)",
                        PlotPoints::from(series(|m| f64::from(m.uniform))),
                    ));
                },
            );
            small_plot(
                ui,
                "embedding std (collapse signal)",
                half,
                plot_h,
                Corner::LeftTop,
                |p| {
                    p.line(Line::new(
                        "std of normalised z",
                        PlotPoints::from(series(|m| f64::from(m.z_std))),
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
            );
            ui.end_row();
            small_plot(ui, "learning rate", half, plot_h, Corner::RightTop, |p| {
                p.line(Line::new("lr", PlotPoints::from(series(|m| m.lr))));
            });
            small_plot(
                ui,
                "throughput (views/s)",
                half,
                plot_h,
                Corner::RightTop,
                |p| {
                    p.line(Line::new(
                        "views/s",
                        PlotPoints::from(series(|m| f64::from(m.views_per_sec))),
                    ));
                },
            );
            ui.end_row();
        });
}

/// A dashed grey line marking a reference value (a baseline, a healthy level).
fn reference_line(name: &str, y: f64) -> HLine {
    HLine::new(name, y)
        .style(LineStyle::dashed_loose())
        .color(Color32::GRAY)
}

fn small_plot(
    ui: &mut egui::Ui,
    title: &str,
    width: f32,
    height: f32,
    legend: Corner,
    add: impl FnOnce(&mut egui_plot::PlotUi),
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
