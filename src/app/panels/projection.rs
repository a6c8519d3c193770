//! The live 2-D projection (PCA) of held-out embeddings, coloured by label, with the
//! hovered image shown beside it.

use eframe::egui::{self, RichText};
use egui_plot::{Legend, Plot, PlotPoints, Points};

use crate::app::palette::class_colour;
use crate::app::workbench::WorkbenchApp;

pub fn show(ui: &mut egui::Ui, app: &mut WorkbenchApp) {
    let Some(frame) = app.history.projection.clone() else {
        ui.label(RichText::new("Embedding projection").strong());
        ui.label("The PCA of held-out embeddings appears when training starts.");
        return;
    };
    ui.label(RichText::new(format!(
        "Embedding projection (PCA) at step {}: {} held-out images; axes explain {:.0}% and {:.0}% of variance",
        frame.step,
        frame.points.len(),
        100.0 * frame.explained[0],
        100.0 * frame.explained[1]
    )).strong());
    let d = std::sync::Arc::clone(&app.dataset);
    let classes = d.class_names.len();
    let side = ui
        .available_width()
        .min(ui.available_height() - 110.0)
        .max(200.0);
    let response = Plot::new("projection")
        .width(ui.available_width())
        .height(side)
        .data_aspect(1.0)
        .legend(Legend::default())
        .show_axes(false)
        .show(ui, |p| {
            for c in 0..classes {
                let pts: Vec<[f64; 2]> = frame
                    .points
                    .iter()
                    .zip(&frame.labels)
                    .filter(|(_, l)| **l as usize == c)
                    .map(|(q, _)| [f64::from(q[0]), f64::from(q[1])])
                    .collect();
                p.points(
                    Points::new(d.class_names[c].clone(), PlotPoints::from(pts))
                        .color(class_colour(c))
                        .radius(2.5),
                );
            }
            // The point nearest the pointer, in screen distance.
            p.pointer_coordinate().and_then(|ptr| {
                let t = p.transform();
                let at = t.position_from_point(&ptr);
                frame
                    .points
                    .iter()
                    .enumerate()
                    .map(|(i, q)| {
                        let s = t.position_from_point(&egui_plot::PlotPoint::new(q[0], q[1]));
                        (i, s.distance(at))
                    })
                    .filter(|(_, dist)| *dist < 12.0)
                    .min_by(|a, b| a.1.total_cmp(&b.1))
                    .map(|(i, _)| i)
            })
        });
    ui.horizontal(|ui| {
        if let Some(i) = response.inner.filter(|_| response.response.hovered()) {
            let idx = frame.indices[i];
            let size = d.image_size();
            let tex = app
                .textures
                .get(ui.ctx(), &format!("test/{idx}"), size, || {
                    d.test.image(idx).to_vec()
                });
            ui.add(egui::Image::new(tex).fit_to_exact_size(egui::vec2(72.0, 72.0)));
            ui.label(format!(
                "held-out image {idx}: {}",
                d.class_names[frame.labels[i] as usize]
            ));
        } else {
            ui.label(RichText::new("Hover a point to see its image.").small());
        }
    });
}
