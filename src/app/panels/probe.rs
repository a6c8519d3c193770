//! The linear probe: its accuracy against the random-init probe, a button to run one now
//! (it trains on its own thread while training goes on), and the confusion matrix.

use eframe::egui::{self, RichText};

use super::heatmap::{Heatmap, version_of};
use crate::app::action::{Action, RunAction};
use crate::app::history::RunStatus;
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
    if let Some(next) = next_probe(app.status, p.step, app.history.total_steps) {
        ui.label(RichText::new(next).small());
    }
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

/// When the next probe reports, while a run could still give one: the engine probes the
/// random init, the end of the run (or where it is stopped), and on demand.
fn next_probe(status: &RunStatus, last: u64, total: u64) -> Option<String> {
    if !status.is_active() || last >= total {
        return None;
    }
    Some(format!(
        "The next probe runs at the end of the run (step {total}) or when it is stopped; \
         press \"Run linear probe now\" for one on the latest evaluation."
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_next_probe_is_announced_only_while_one_can_come() {
        let running = next_probe(&RunStatus::Running, 0, 300).unwrap();
        assert!(running.contains("step 300"), "{running}");
        assert!(next_probe(&RunStatus::Paused, 100, 300).is_some());
        assert_eq!(next_probe(&RunStatus::Running, 300, 300), None);
        assert_eq!(
            next_probe(&RunStatus::Finished { stopped: true }, 0, 300),
            None
        );
        assert_eq!(next_probe(&RunStatus::Idle, 0, 300), None);
    }
}
