//! The views tab: the pipeline editor (left) and, for the current pipelines, original
//! images with the two augmented views training step 0 uses for the shown seed (the same
//! function the trainer calls), resampled on demand.

use eframe::egui::{self, RichText};

use crate::app::action::Action;
use crate::app::history::RunStatus;
use crate::app::panels::pipeline_editor;
use crate::app::textures::TextureCache;
use crate::catalogue::preview::{PAIRS_TEXT, PreviewColumn, ViewsPreview};
use crate::catalogue::{MethodSpec, resolve};
use crate::data::Dataset;
use crate::preset::Experiment;
use crate::views::batch::{local_crop, training_view};
use crate::views::patch_grid::PatchGrid;
use crate::views::pipeline::batch_indices;
use crate::views::{ImageF32, lab_split};
use std::sync::Arc;

const PAIRS: usize = 12;
const THUMB: f32 = 96.0;

/// What the Views tab borrows: a draft of the experiment (the frame proposes it back as
/// `Action::EditExperiment`), the dataset and the seed whose step 0 it shows (read-only),
/// and the texture cache.
pub struct ViewsPanel<'a> {
    pub status: &'a RunStatus,
    pub experiment: &'a mut Experiment,
    pub dataset: &'a Arc<Dataset>,
    pub seed: u64,
    pub textures: &'a mut TextureCache,
}

pub fn show(ui: &mut egui::Ui, app: &mut ViewsPanel, actions: &mut Vec<Action>) {
    let idle = !app.status.is_active();
    egui::Panel::left("pipeline_editor_panel")
        .resizable(true)
        .default_size(600.0)
        .max_size(700.0)
        .show(ui, |ui| {
            egui::ScrollArea::vertical().show(ui, |ui| {
                ui.add_enabled_ui(idle, |ui| {
                    pipeline_editor::show(ui, &mut app.experiment.views, app.dataset);
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
    /// CPC's patch grid of view 0 or 1, context rows and predicted rows marked.
    Patches(usize),
    /// Multi-crop's local crop `k`.
    Local(usize),
}

impl Column {
    fn title(self) -> &'static str {
        match self {
            Column::View(0) => "view 1",
            Column::View(_) => "view 2",
            Column::LabL => "L of view 1",
            Column::LabAb => "ab of view 1",
            Column::Patches(0) => "patches of view 1",
            Column::Patches(_) => "patches of view 2",
            Column::Local(k) => LOCAL_TITLES[k.min(LOCAL_TITLES.len() - 1)],
        }
    }
}

/// Local crops shown per image (the rest are made in training but not previewed).
const LOCAL_TITLES: [&str; 3] = ["local crop 1", "local crop 2", "local crop 3"];

/// Background of CPC's context rows and predicted rows in the patch mosaic.
const CONTEXT_ROW: [f32; 3] = [0.25, 0.55, 0.95];
const PREDICTED_ROW: [f32; 3] = [0.95, 0.6, 0.2];
const MOSAIC_GAP: usize = 2;

/// What the current method sees, as it says itself; a spec that does not resolve (the
/// settings panel names the problem) previews plain pairs.
fn preview_of(method: &MethodSpec, image: usize) -> (ViewsPreview, bool) {
    match resolve(method) {
        Ok((info, params)) => ((info.needs.preview)(&params, image), info.needs.local_crops),
        Err(_) => (ViewsPreview::pairs(PAIRS_TEXT), false),
    }
}

impl From<PreviewColumn> for Column {
    fn from(c: PreviewColumn) -> Self {
        match c {
            PreviewColumn::View(v) => Column::View(v),
            PreviewColumn::LabL => Column::LabL,
            PreviewColumn::LabAb => Column::LabAb,
            PreviewColumn::Patches(v) => Column::Patches(v),
        }
    }
}

/// Texture key of the preview for these views settings: changes when any step does.
pub fn preview_key(views: &crate::views::ViewsSpec) -> u64 {
    fxhash(&format!("{views:?}"))
}

fn preview(ui: &mut egui::Ui, app: &mut ViewsPanel, actions: &mut Vec<Action>) {
    let seed = app.seed;
    let (shown, uses) = preview_of(&app.experiment.method, app.dataset.image_size());
    let local = &app.experiment.views.local;
    let mut columns: Vec<Column> = shown.columns.into_iter().map(Column::from).collect();
    columns.extend((0..local.count.min(LOCAL_TITLES.len())).map(Column::Local));
    ui.horizontal(|ui| {
        ui.label(format!("Seed {seed}"));
        if ui.button("Resample").clicked() {
            actions.push(Action::ResampleViews);
        }
        ui.label(RichText::new("Exactly what training step 0 draws with this seed.").small());
    });
    ui.label(RichText::new(explanation(shown.text, local, uses)).small());
    if let Err(problem) = app.experiment.views.validate() {
        ui.colored_label(egui::Color32::from_rgb(230, 90, 80), problem);
        return;
    }
    let d = std::sync::Arc::clone(app.dataset);
    let grid = PreviewGrid {
        dataset: &d,
        views: &app.experiment.views,
        seed,
        // The pipeline may have been edited: key textures by its content too.
        pipeline_hash: preview_key(&app.experiment.views),
        patches: shown.patches,
        columns,
    };
    let batch = app.experiment.train.batch_size.min(d.train.len());
    let indices = batch_indices(seed, 0, d.train.len(), batch);
    // Triplets (original, view 1, view 2) per grid row, as many as fit.
    let per_row =
        ((ui.available_width() / ((1 + grid.columns.len()) as f32 * (THUMB + 8.0) + 24.0)).floor()
            as usize)
            .max(1);
    let textures = &mut *app.textures;
    egui::ScrollArea::vertical().show(ui, |ui| {
        egui::Grid::new("view_pairs")
            .spacing([8.0, 8.0])
            .show(ui, |ui| {
                grid.header(ui, per_row);
                for (slot, &idx) in indices.iter().take(PAIRS).enumerate() {
                    grid.row(ui, textures, slot, idx);
                    if slot % per_row == per_row - 1 {
                        ui.end_row();
                    } else {
                        ui.add_space(24.0);
                    }
                }
            });
    });
}

/// What the preview shows, in words, with multi-crop's local crops when there are any.
fn explanation(text: String, local: &crate::views::pipeline::LocalCrops, uses: bool) -> String {
    if local.count == 0 {
        return text;
    }
    format!(
        "{text} Multi-crop: {} local crops of {}x{} pixels per image{}.",
        local.count,
        local.size,
        local.size,
        if uses {
            ", each predicting both global views"
        } else {
            "; this method ignores them"
        }
    )
}

/// The preview's grid: per image, the original and a thumbnail per column, made by the
/// functions training uses for step 0 of `seed`.
struct PreviewGrid<'a> {
    dataset: &'a Dataset,
    views: &'a crate::views::ViewsSpec,
    seed: u64,
    pipeline_hash: u64,
    /// CPC's grid and prediction steps, when the method cuts patches.
    patches: Option<(PatchGrid, usize)>,
    columns: Vec<Column>,
}

impl PreviewGrid<'_> {
    /// The column titles, repeated for each image side by side.
    fn header(&self, ui: &mut egui::Ui, per_row: usize) {
        for k in 0..per_row {
            ui.label(RichText::new("original").strong());
            for c in &self.columns {
                ui.label(RichText::new(c.title()).strong());
            }
            if k + 1 < per_row {
                ui.add_space(24.0);
            }
        }
        ui.end_row();
    }

    /// Batch slot `slot` (training image `idx`): the original, then each column.
    fn row(&self, ui: &mut egui::Ui, textures: &mut TextureCache, slot: usize, idx: usize) {
        let d = self.dataset;
        let size = d.image_size();
        let original = textures.get(ui.ctx(), &format!("train/{idx}"), size, || {
            d.train.image(idx).to_vec()
        });
        ui.add(egui::Image::new(original).fit_to_exact_size(egui::vec2(THUMB, THUMB)))
            .on_hover_text(d.class_names[d.train.labels[idx] as usize].clone());
        for (k, &column) in self.columns.iter().enumerate() {
            let (tex_size, grid_key) = match (column, self.patches) {
                (Column::Patches(_), Some((g, k))) => {
                    (g.mosaic_size(MOSAIC_GAP), format!("{g:?}/{k}"))
                }
                (Column::Local(_), _) => (self.views.local.size, String::new()),
                _ => (size, String::new()),
            };
            let tex_key = format!(
                "view/{}/{}/{slot}/{k}/{}{grid_key}",
                self.seed,
                self.pipeline_hash,
                column.title()
            );
            let tex = textures.get(ui.ctx(), &tex_key, tex_size, || {
                self.view_pixels(column, slot, idx)
            });
            ui.add(egui::Image::new(tex).fit_to_exact_size(egui::vec2(THUMB, THUMB)));
        }
    }

    /// Exactly what training step 0 makes of batch slot `slot` for `column`, as RGB bytes.
    fn view_pixels(&self, column: Column, slot: usize, idx: usize) -> Vec<u8> {
        let size = self.dataset.image_size();
        let src = ImageF32::from_u8(self.dataset.train.image(idx), size, size);
        let (views, seed) = (self.views, self.seed);
        let view = |v: usize| training_view(views, &src, seed, 0, slot, v).0;
        match column {
            Column::View(v) => view(v).to_u8(),
            Column::LabL => lab_split::split(&view(0)).0.to_u8(),
            Column::LabAb => lab_split::split(&view(0)).1.to_u8(),
            Column::Patches(v) => match self.patches {
                Some((g, k)) => patch_mosaic(&view(v), g, k).to_u8(),
                None => view(v).to_u8(),
            },
            Column::Local(k) => local_crop(views, &src, seed, 0, slot, k).to_u8(),
        }
    }
}

/// The patches of `img` apart, on blue behind the context rows and orange behind the rows
/// predicted from the last of them.
fn patch_mosaic(img: &ImageF32, grid: PatchGrid, steps: usize) -> ImageF32 {
    let last_context = grid.grid - 1 - steps;
    grid.mosaic(img, MOSAIC_GAP, |row| {
        if row <= last_context {
            CONTEXT_ROW
        } else {
            PREDICTED_ROW
        }
    })
}

/// FNV-1a, to key textures by pipeline settings.
fn fxhash(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}
