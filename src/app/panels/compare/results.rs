//! The sweep's answer: the cells' table (sortable by any column), the heat map of two
//! settings, the members' kNN curves and the alignment-uniformity plane.

use eframe::egui::{self, Color32, RichText};
use egui_plot::{Legend, Line, LineStyle, Plot, PlotPoints, Points};

use crate::app::compare_state::CompareState;
use crate::app::palette::class_colour;
use crate::app::panels::heatmap::Heatmap;
use crate::sweep::table::{CellSummary, Metric, summarise};

/// The metric chooser and the cells' table, then `between` (the members list), then the
/// pictures.
pub fn table_and_pictures(
    ui: &mut egui::Ui,
    state: &mut CompareState,
    between: impl FnOnce(&mut egui::Ui, &CompareState),
) {
    let Some((spec, _)) = &state.sweep else {
        return;
    };
    let keys: Vec<String> = spec.axes.iter().map(|a| a.key.clone()).collect();
    ui.horizontal(|ui| {
        ui.label("Compare by");
        for m in Metric::ALL {
            ui.selectable_value(&mut state.metric, m, m.name());
        }
    });
    let metric = state.metric;
    let cells = summarise(&state.rows, metric);
    table(ui, &keys, &cells, metric, &mut state.sort);
    between(ui, state);
    let values: Vec<Vec<String>> = spec
        .axes
        .iter()
        .map(|a| a.values.iter().map(crate::sweep::axis::plain).collect())
        .collect();
    // Three pictures side by side: the heat map square, the plots a little wider.
    let side = ((ui.available_width() - 60.0) / 3.5).clamp(140.0, 300.0);
    ui.horizontal_top(|ui| {
        if values.len() >= 2 {
            ui.vertical(|ui| heat_map(ui, &keys, &values, &cells, metric, side));
        }
        let knn = Curves {
            title: format!("kNN top-1 (%) of every member, by {}", keys[0]),
            id: "sweep_knn",
            series: &state.curves,
        };
        ui.vertical(|ui| knn.show(ui, state, &keys[0], &values[0], side));
        ui.vertical(|ui| plane(ui, state, &values[0], side));
    });
    ui.horizontal_top(|ui| {
        let loss = Curves {
            title: format!("loss of every member, by {}", keys[0]),
            id: "sweep_loss",
            series: &state.losses,
        };
        ui.vertical(|ui| loss.show(ui, state, &keys[0], &values[0], side));
        if values.len() >= 2 {
            ui.vertical(|ui| parallel_coordinates(ui, state, &keys, &values, metric, side));
        }
    });
}

/// Column `c` of a cell, for sorting: an axis's value (as a number when it is one), then
/// the kNN mean, its spread, the finished count.
fn sort_key(cell: &CellSummary, c: usize) -> (f64, String) {
    let n = cell.values.len();
    let num = |v: Option<f32>| v.map_or(f64::NEG_INFINITY, f64::from);
    match c {
        c if c < n => (
            cell.values[c].parse().unwrap_or(f64::NAN),
            cell.values[c].clone(),
        ),
        c if c == n => (num(cell.mean), String::new()),
        c if c == n + 1 => (num(cell.std), String::new()),
        _ => (cell.finished as f64, String::new()),
    }
}

fn table(
    ui: &mut egui::Ui,
    keys: &[String],
    cells: &[CellSummary],
    metric: Metric,
    sort: &mut (usize, bool),
) {
    let mut order: Vec<&CellSummary> = cells.iter().collect();
    order.sort_by(|a, b| {
        let (ka, kb) = (sort_key(a, sort.0), sort_key(b, sort.0));
        let o = ka.0.total_cmp(&kb.0).then_with(|| ka.1.cmp(&kb.1));
        if sort.1 { o.reverse() } else { o }
    });
    let means = cells.iter().filter_map(|c| c.mean);
    let best = if metric.higher_is_better() {
        means.fold(f32::NAN, f32::max)
    } else {
        means.fold(f32::NAN, f32::min)
    };
    ui.label(
        RichText::new(format!(
            "Cells: {} over the paired seeds, the best in bold (click a header to sort)",
            metric.name()
        ))
        .strong(),
    );
    egui::Grid::new("sweep_table")
        .striped(true)
        .num_columns(keys.len() + 3)
        .show(ui, |ui| {
            let mean_header = format!("{} mean", metric.name());
            let headers = keys.iter().map(String::as_str).chain([
                mean_header.as_str(),
                "spread (sd)",
                "finished",
            ]);
            for (c, h) in headers.enumerate() {
                let arrow = match *sort {
                    (s, true) if s == c => " v",
                    (s, false) if s == c => " ^",
                    _ => "",
                };
                if ui
                    .button(RichText::new(format!("{h}{arrow}")).strong())
                    .clicked()
                {
                    *sort = (c, if sort.0 == c { !sort.1 } else { true });
                }
            }
            ui.end_row();
            for cell in order {
                for v in &cell.values {
                    ui.label(v);
                }
                let text = RichText::new(cell.mean.map_or("-".into(), |m| metric.format(m)));
                ui.label(if cell.mean == Some(best) {
                    text.strong()
                } else {
                    text
                });
                let spread = |s: f32| if metric.is_accuracy() { 100.0 * s } else { s };
                ui.label(cell.std.map_or("-".into(), |s| format!("{:.3}", spread(s))));
                ui.label(format!("{} of {}", cell.finished, cell.members));
                ui.end_row();
            }
        });
}

/// The first two settings against each other, each cell coloured by its mean of `metric`.
fn heat_map(
    ui: &mut egui::Ui,
    keys: &[String],
    values: &[Vec<String>],
    cells: &[CellSummary],
    metric: Metric,
    side: f32,
) {
    ui.label(
        RichText::new(format!(
            "{}: {} (rows) x {} (columns)",
            metric.name(),
            keys[0],
            keys[1]
        ))
        .strong(),
    );
    let (rows, cols) = (values[0].len(), values[1].len());
    // Cells of the first two axes, averaged over any third.
    let mean_at = |r: usize, c: usize| -> Option<f32> {
        let found: Vec<f32> = cells
            .iter()
            .filter(|cell| cell.values[0] == values[0][r] && cell.values[1] == values[1][c])
            .filter_map(|cell| cell.mean)
            .collect();
        (!found.is_empty()).then(|| found.iter().sum::<f32>() / found.len() as f32)
    };
    let all: Vec<f32> = (0..rows)
        .flat_map(|r| (0..cols).map(move |c| (r, c)))
        .filter_map(|(r, c)| mean_at(r, c))
        .collect();
    let lo = all.iter().copied().fold(f32::INFINITY, f32::min);
    let hi = all.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let colour = |r: usize, c: usize| match mean_at(r, c) {
        None => Color32::from_gray(40),
        Some(v) => {
            let t = if hi > lo { (v - lo) / (hi - lo) } else { 1.0 };
            let t = if metric.higher_is_better() {
                t
            } else {
                1.0 - t
            };
            Color32::from_rgb(
                (40.0 + 60.0 * t) as u8,
                (60.0 + 150.0 * t) as u8,
                (90.0 + 60.0 * t) as u8,
            )
        }
    };
    let hover = |r: usize, c: usize| {
        let v = mean_at(r, c).map_or("not finished".into(), |v| metric.format(v));
        format!(
            "{} = {}, {} = {}: {} {v}",
            keys[0],
            values[0][r],
            keys[1],
            values[1][c],
            metric.name()
        )
    };
    Heatmap {
        rows,
        cols,
        side,
        colour: &colour,
        marked: &|_, _| false,
        hover: &hover,
        cache: (egui::Id::unique("sweep_heat"), 0),
    }
    .show(ui);
    let range = if lo <= hi {
        format!(
            "brighter is better ({} to {})",
            metric.format(lo),
            metric.format(hi)
        )
    } else {
        "no cell has finished yet".into()
    };
    ui.label(
        RichText::new(format!(
            "rows (top to bottom): {}\ncolumns (left to right): {}\n{range}",
            values[0].join(", "),
            values[1].join(", "),
        ))
        .small(),
    );
}

/// Which value of the first setting a member's row has, for its colour.
fn value_index(values: &[String], v: &str) -> usize {
    values.iter().position(|x| x == v).unwrap_or(0)
}

/// One curve per member (its kNN over evaluations, or its loss over logged steps),
/// coloured by the first setting's value.
struct Curves<'a> {
    title: String,
    id: &'static str,
    series: &'a [Vec<[f64; 2]>],
}

impl Curves<'_> {
    fn show(
        &self,
        ui: &mut egui::Ui,
        state: &CompareState,
        key: &str,
        values: &[String],
        side: f32,
    ) {
        ui.label(RichText::new(&self.title).strong());
        Plot::new(self.id)
            .width(side * 1.3)
            .height(side)
            .legend(Legend::default())
            .show(ui, |p| {
                for (row, curve) in state.rows.iter().zip(self.series) {
                    let Some(v) = row.values.first() else {
                        continue;
                    };
                    let k = value_index(values, v);
                    let line = if uses_labels(&state.sweep_keys(), &row.values) {
                        // A method trained on the labels is not self-supervised: drawn
                        // apart as the upper bound the others are measured against.
                        Line::new(
                            format!("upper bound: {key} = {v} (uses labels)"),
                            PlotPoints::from(curve.clone()),
                        )
                        .style(LineStyle::dashed_loose())
                        .width(2.5)
                    } else {
                        Line::new(format!("{key} = {v}"), PlotPoints::from(curve.clone()))
                            .width(1.5)
                    };
                    p.line(line.color(class_colour(k)));
                }
            });
    }
}

/// Whether a member with these axis `values` trains on the labels: its `method.kind` axis
/// names a method that needs them (SupCon).
pub fn uses_labels(keys: &[String], values: &[String]) -> bool {
    keys.iter().zip(values).any(|(k, v)| {
        k == "method.kind" && crate::catalogue::find(v).is_some_and(|m| m.needs.labels)
    })
}

/// Each finished member's final (uniformity, alignment): lower left is better.
fn plane(ui: &mut egui::Ui, state: &CompareState, values: &[String], side: f32) {
    ui.label(RichText::new("alignment vs uniformity per member, lower left is better").strong());
    Plot::new("sweep_plane")
        .width(side * 1.1)
        .height(side)
        .x_axis_label("uniformity")
        .y_axis_label("alignment")
        .show(ui, |p| {
            for row in &state.rows {
                let (Some(u), Some(a)) = (row.outcome.uniform, row.outcome.align) else {
                    continue;
                };
                let v = row.values.first().map_or("", String::as_str);
                p.points(
                    Points::new(row.folder.clone(), vec![[f64::from(u), f64::from(a)]])
                        .radius(4.0)
                        .color(class_colour(value_index(values, v))),
                );
            }
        });
}

/// Parallel coordinates: one vertical axis per setting (its values evenly spaced, in the
/// order given) and one for the metric, each finished member a line through its values,
/// coloured by the first setting's value.
fn parallel_coordinates(
    ui: &mut egui::Ui,
    state: &CompareState,
    keys: &[String],
    values: &[Vec<String>],
    metric: Metric,
    side: f32,
) {
    let figures: Vec<f32> = state
        .rows
        .iter()
        .filter_map(|r| metric.of(&r.outcome))
        .collect();
    let lo = figures.iter().copied().fold(f32::INFINITY, f32::min);
    let hi = figures.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let names: Vec<String> = keys
        .iter()
        .cloned()
        .chain(std::iter::once(metric.name().to_string()))
        .collect();
    ui.label(
        RichText::new(format!(
            "Parallel coordinates: {} (each axis bottom to top: its values in order; {} {} to {})",
            names.join(" | "),
            metric.name(),
            if lo <= hi {
                metric.format(lo)
            } else {
                "-".into()
            },
            if lo <= hi {
                metric.format(hi)
            } else {
                "-".into()
            },
        ))
        .strong(),
    );
    let position = |axis: usize, v: &str| -> f64 {
        let n = values[axis].len();
        let i = values[axis].iter().position(|x| x == v).unwrap_or(0);
        if n > 1 {
            i as f64 / (n - 1) as f64
        } else {
            0.5
        }
    };
    Plot::new("sweep_parallel")
        .width(side * 2.0)
        .height(side)
        .show_axes([false, false])
        .show(ui, |p| {
            for (k, name) in names.iter().enumerate() {
                p.line(
                    Line::new(
                        name.clone(),
                        PlotPoints::from(vec![[k as f64, 0.0], [k as f64, 1.0]]),
                    )
                    .color(Color32::GRAY)
                    .width(1.0),
                );
            }
            for row in &state.rows {
                let Some(m) = metric.of(&row.outcome) else {
                    continue;
                };
                let y = if hi > lo {
                    f64::from((m - lo) / (hi - lo))
                } else {
                    0.5
                };
                let mut points: Vec<[f64; 2]> = row
                    .values
                    .iter()
                    .enumerate()
                    .map(|(k, v)| [k as f64, position(k, v)])
                    .collect();
                points.push([row.values.len() as f64, y]);
                let colour = class_colour(value_index(&values[0], &row.values[0]));
                p.line(Line::new(row.folder.clone(), PlotPoints::from(points)).color(colour));
            }
        });
}

#[cfg(test)]
mod tests {
    use super::uses_labels;

    #[test]
    fn only_a_method_axis_naming_a_labelled_method_is_the_upper_bound() {
        let keys = ["method.kind".to_string(), "train.batch_size".to_string()];
        let row = |m: &str| vec![m.to_string(), "64".to_string()];
        assert!(uses_labels(&keys, &row("supcon")));
        assert!(!uses_labels(&keys, &row("simclr")));
        // The same value under another key is not a method.
        let other = ["method.temperature".to_string()];
        assert!(!uses_labels(&other, &["supcon".to_string()]));
        assert!(!uses_labels(&[], &[]));
    }
}
