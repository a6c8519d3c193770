//! The linear probe: its accuracy against the random-init probe, a button to run one now
//! (it trains on its own thread while training goes on), and the confusion matrix.

use eframe::egui::{self, RichText};

use super::heatmap::{Heatmap, version_of};
use crate::app::action::{Action, RunAction};
use crate::app::palette::sequential;
use crate::app::run_view::RunView;

pub fn show(ui: &mut egui::Ui, app: &RunView, side: f32, actions: &mut Vec<Action>) {
    ui.label(RichText::new("linear probe").strong());
    let button = ui
        .add_enabled(
            app.status.is_active(),
            egui::Button::new("Run linear probe now"),
        )
        .on_hover_text(
            "Softmax regression on the frozen features of the latest evaluation: trained on \
             the kNN bank, scored on the held-out sample. Runs at the start and the end of \
             every run too.",
        );
    if button.clicked() {
        actions.push(RunAction::Probe.into());
    }
    if let Some(e) = &app.history.probe_error {
        ui.label(RichText::new(e).small());
    }
    // The full-split protocol's figures, when the preset asked for them (start and end).
    for f in &app.history.log.full_evals {
        ui.label(RichText::new(f.summary()).small());
    }
    let Some(p) = app.history.log.probes.last() else {
        ui.label("The first probe (on the random-init encoder) reports shortly after Start.");
        return;
    };
    ui.label(format!(
        "step {}: {:.1}% top-1 (random init {:.1}%)",
        p.step,
        100.0 * p.accuracy,
        100.0 * p.baseline
    ));
    let k = p.class_names.len();
    let row_total = |r: usize| p.confusion[r * k..(r + 1) * k].iter().sum::<u32>().max(1);
    Heatmap {
        rows: k,
        cols: k,
        side,
        colour: &|r, c| sequential(p.confusion[r * k + c] as f32 / row_total(r) as f32),
        marked: &|r, c| r == c,
        cache: (
            egui::Id::unique("confusion"),
            version_of(p.confusion.iter().copied()),
        ),
        hover: &|r, c| {
            let n = p.confusion[r * k + c];
            format!(
                "true {}, predicted {}: {n} ({:.0}% of {})",
                p.class_names[r],
                p.class_names[c],
                100.0 * n as f32 / row_total(r) as f32,
                p.class_names[r]
            )
        },
    }
    .show(ui);
    ui.label(
        RichText::new(format!(
            "confusion matrix: rows true class, columns predicted ({}); outlined = correct",
            p.class_names.join(", ")
        ))
        .small(),
    );
}
