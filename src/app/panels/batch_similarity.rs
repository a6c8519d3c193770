//! The latest logged batch's similarity matrix (2N x 2N, up to 128 images): view 1 of the
//! images against view 2 of the same images, positives outlined. For a method with a temperature it can show
//! what the loss sees: each row's softmax over cos / T (self excluded, as in NT-Xent).

use eframe::egui::{self, RichText};

use super::heatmap::{Heatmap, version_of};
use crate::app::palette::{diverging, sequential};
use crate::app::run_view::RunView;
use crate::engine::SimilarityMatrix;
use crate::metrics::MATRIX_PAIRS;

pub fn show(ui: &mut egui::Ui, app: &RunView, side: f32) {
    ui.label(RichText::new("batch similarity matrix").strong());
    let Some(s) = &app.history.similarity else {
        ui.label("Appears with the first logged step.");
        return;
    };
    let space = app
        .history
        .log
        .steps
        .last()
        .and_then(|m| m.own.as_ref())
        .map(|o| &o.space);
    let softmax_id = egui::Id::unique("similarity-softmax");
    let mut softmax = ui.data(|d| d.get_temp::<bool>(softmax_id)).unwrap_or(true);
    if let Some(t) = s.temperature {
        ui.horizontal(|ui| {
            ui.selectable_value(&mut softmax, false, "cosine");
            ui.selectable_value(&mut softmax, true, format!("softmax of cos / {t}"));
        });
        ui.data_mut(|d| d.insert_temp(softmax_id, softmax));
    } else {
        softmax = false;
    }
    let m = s.pairs;
    let size = 2 * m;
    // Computed only when needed: for a new texture, or a hovered cell.
    let softmaxed = std::cell::OnceCell::new();
    let probabilities = || {
        softmaxed.get_or_init(|| {
            let p = row_softmax(s);
            let max = p.iter().copied().fold(f32::MIN_POSITIVE, f32::max);
            (p, max)
        })
    };
    let name = |r: usize| {
        if r < m {
            format!("image {r}, view 1")
        } else {
            format!("image {}, view 2", r - m)
        }
    };
    let positive = |r: usize, c: usize| r.abs_diff(c) == m;
    Heatmap {
        rows: size,
        cols: size,
        side,
        colour: &|r, c| {
            if softmax {
                let (p, max) = probabilities();
                sequential(p[r * size + c] / max)
            } else {
                diverging(s.cosines[r * size + c])
            }
        },
        marked: &positive,
        cache: (
            egui::Id::unique("batch-similarity"),
            // A strided sample of the values identifies the matrix (runs reuse steps).
            version_of(s.cosines.iter().step_by(97).map(|c| c.to_bits()).chain([
                u32::from(softmax),
                s.step as u32,
                s.pairs as u32,
            ])),
        ),
        hover: &|r, c| {
            let cos = s.cosines[r * size + c];
            let mut text = format!("{} vs {}: cos {cos:.3}", name(r), name(c));
            if let Some(t) = s.temperature {
                text += &format!(
                    ", logit {:.2}, softmax {:.3}",
                    cos / t,
                    probabilities().0[r * size + c]
                );
            }
            if positive(r, c) {
                text += " (positive pair)";
            }
            text
        },
    }
    .show(ui);
    ui.label(
        RichText::new(format!(
            "step {}: {m} images of the batch (up to {MATRIX_PAIRS}), view 1 then view 2, \
             in the loss's space{}; marked cells are positive pairs. {}",
            s.step,
            space.map_or(String::new(), |space| format!(" ({space})")),
            if softmax {
                "Darker = more of the row's probability."
            } else {
                "Red = similar, blue = opposite."
            }
        ))
        .small(),
    );
}

/// Each row's softmax over cos / T with the diagonal excluded (zero there); all zeros
/// when the method has no temperature.
fn row_softmax(s: &SimilarityMatrix) -> Vec<f32> {
    let size = 2 * s.pairs;
    let Some(t) = s.temperature else {
        return vec![0.0; size * size];
    };
    let mut out = vec![0.0; size * size];
    for r in 0..size {
        let logits = |c: usize| s.cosines[r * size + c] / t;
        let max = (0..size)
            .filter(|&c| c != r)
            .map(logits)
            .fold(f32::NEG_INFINITY, f32::max);
        let sum: f32 = (0..size)
            .filter(|&c| c != r)
            .map(|c| (logits(c) - max).exp())
            .sum();
        for c in (0..size).filter(|&c| c != r) {
            out[r * size + c] = (logits(c) - max).exp() / sum;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn row_softmax_excludes_self_and_applies_the_temperature() {
        // One pair: 2 x 2, a single off-diagonal entry per row gets all the mass.
        let one = SimilarityMatrix {
            step: 1,
            pairs: 1,
            cosines: vec![1.0, 0.5, 0.5, 1.0],
            temperature: Some(0.5),
        };
        assert_eq!(row_softmax(&one), vec![0.0, 1.0, 1.0, 0.0]);
        // Two pairs: row 0 sees cos 0.2, 0.6, -0.2 -> logits / 0.5 = 0.4, 1.2, -0.4.
        let cos = vec![
            1.0, 0.2, 0.6, -0.2, //
            0.2, 1.0, 0.0, 0.0, //
            0.6, 0.0, 1.0, 0.0, //
            -0.2, 0.0, 0.0, 1.0,
        ];
        let two = SimilarityMatrix {
            step: 1,
            pairs: 2,
            cosines: cos,
            temperature: Some(0.5),
        };
        let p = row_softmax(&two);
        let z = 0.4f32.exp() + 1.2f32.exp() + (-0.4f32).exp();
        assert_eq!(p[0], 0.0);
        assert!((p[2] - 1.2f32.exp() / z).abs() < 1e-6);
        assert!((p[1] + p[2] + p[3] - 1.0).abs() < 1e-6);
    }
}
