//! The views tab: the pipeline editor (left) and, for the current pipelines, original
//! images with the two augmented views training step 0 uses for the shown seed (the same
//! function the trainer calls), resampled on demand.

use eframe::egui::{self, RichText};

use crate::app::panels::pipeline_editor;
use crate::app::workbench::{Action, WorkbenchApp};
use crate::views::pipeline::{batch_indices, view_rng};
use crate::views::{ImageF32, lab_split};

const PAIRS: usize = 12;
const THUMB: f32 = 96.0;

pub fn show(ui: &mut egui::Ui, app: &mut WorkbenchApp, actions: &mut Vec<Action>) {
    let idle = !app.status.is_active();
    egui::Panel::left("pipeline_editor_panel")
        .resizable(true)
        .default_size(600.0)
        .max_size(700.0)
        .show(ui, |ui| {
            egui::ScrollArea::vertical().show(ui, |ui| {
                ui.add_enabled_ui(idle, |ui| {
                    pipeline_editor::show(ui, &mut app.experiment.views);
                });
            });
        });
    preview(ui, app, actions);
}

/// What one preview column shows.
#[derive(Clone, Copy)]
enum Column {
    /// View 0 or 1 as augmented.
    View(usize),
    /// CMC's L channel of view 1 (grey).
    LabL,
    /// CMC's ab channels of view 1 (colour at fixed lightness).
    LabAb,
}

impl Column {
    fn title(self) -> &'static str {
        match self {
            Column::View(0) => "view 1",
            Column::View(_) => "view 2",
            Column::LabL => "L of view 1",
            Column::LabAb => "ab of view 1",
        }
    }
}

/// The columns the current method sees, and a sentence saying so.
fn columns_for(method: &str) -> ([Column; 2], &'static str) {
    match method {
        "cmc" => (
            [Column::LabL, Column::LabAb],
            "CMC: one augmented view per image, split into its L channel (one encoder) and its \
             ab channels (the other encoder); view 2 is not used.",
        ),
        "dim" => (
            [Column::View(0), Column::View(1)],
            "Deep InfoMax: no view construction of its own; it contrasts a view's global vector \
             with local feature-map positions (of the other view with cross_view on).",
        ),
        _ => (
            [Column::View(0), Column::View(1)],
            "Each triple: an image and the two views the method compares.",
        ),
    }
}

/// Texture key of the preview for these views settings: changes when any step does.
pub fn preview_key(views: &crate::views::ViewsSpec) -> u64 {
    fxhash(&format!("{views:?}"))
}

fn preview(ui: &mut egui::Ui, app: &mut WorkbenchApp, actions: &mut Vec<Action>) {
    let seed = app.preview.seed;
    let (columns, explain) = columns_for(&app.experiment.method.kind);
    ui.horizontal(|ui| {
        ui.label(format!("Seed {seed}"));
        if ui.button("Resample").clicked() {
            actions.push(Action::ResampleViews);
        }
        ui.label(RichText::new("Exactly what training step 0 draws with this seed.").small());
    });
    ui.label(RichText::new(explain).small());
    if let Err(problem) = app.experiment.views.validate() {
        ui.colored_label(egui::Color32::from_rgb(230, 90, 80), problem);
        return;
    }
    // The pipeline may have been edited: key textures by its content too.
    let pipeline_hash = preview_key(&app.experiment.views);
    let d = std::sync::Arc::clone(&app.dataset);
    let size = d.image_size();
    let batch = app.experiment.train.batch_size.min(d.train.len());
    let indices = batch_indices(seed, 0, d.train.len(), batch);
    // Triplets (original, view 1, view 2) per grid row, as many as fit.
    let per_row = ((ui.available_width() / (3.0 * (THUMB + 8.0) + 24.0)).floor() as usize).max(1);
    egui::ScrollArea::vertical().show(ui, |ui| {
        egui::Grid::new("view_pairs")
            .spacing([8.0, 8.0])
            .show(ui, |ui| {
                for k in 0..per_row {
                    ui.label(RichText::new("original").strong());
                    for c in columns {
                        ui.label(RichText::new(c.title()).strong());
                    }
                    if k + 1 < per_row {
                        ui.add_space(24.0);
                    }
                }
                ui.end_row();
                for (slot, &idx) in indices.iter().take(PAIRS).enumerate() {
                    let original =
                        app.textures
                            .get(ui.ctx(), &format!("train/{idx}"), size, || {
                                d.train.image(idx).to_vec()
                            });
                    ui.add(egui::Image::new(original).fit_to_exact_size(egui::vec2(THUMB, THUMB)))
                        .on_hover_text(d.class_names[d.train.labels[idx] as usize].clone());
                    for (k, column) in columns.into_iter().enumerate() {
                        let tex_key =
                            format!("view/{seed}/{pipeline_hash}/{slot}/{k}/{}", column.title());
                        let views = &app.experiment.views;
                        let tex = app.textures.get(ui.ctx(), &tex_key, size, || {
                            let src = ImageF32::from_u8(d.train.image(idx), size, size);
                            let view = |v: usize| {
                                views.pipelines()[v].apply(
                                    &src,
                                    size,
                                    &mut view_rng(seed, 0, slot, v),
                                )
                            };
                            match column {
                                Column::View(v) => view(v).to_u8(),
                                Column::LabL => lab_split::split(&view(0)).0.to_u8(),
                                Column::LabAb => lab_split::split(&view(0)).1.to_u8(),
                            }
                        });
                        ui.add(egui::Image::new(tex).fit_to_exact_size(egui::vec2(THUMB, THUMB)));
                    }
                    if slot % per_row == per_row - 1 {
                        ui.end_row();
                    } else {
                        ui.add_space(24.0);
                    }
                }
            });
    });
}

/// FNV-1a, to key textures by pipeline settings.
fn fxhash(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}
