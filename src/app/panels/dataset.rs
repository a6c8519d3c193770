//! The dataset tab: where data comes from (built-ins, a typed path, the folder dialog, a
//! drop), what a path holds before it is loaded, load progress, and the loaded set:
//! counts per class, source image sizes, skipped files, and a paged grid of images.

use std::sync::Arc;

use eframe::egui::{self, Color32, RichText};

use crate::app::action::{Action, DatasetAction};
use crate::app::dataset_jobs::DatasetJob;
use crate::app::dataset_jobs::JobKind;
use crate::app::dataset_state::BrowseState;
use crate::app::history::RunStatus;
use crate::app::palette::class_colour;
use crate::app::textures::TextureCache;
use crate::data::builtin::FashionMnistMiniSpec;
use crate::data::image_folder::ResizePolicy;
use crate::data::inspect::Inspection;
use crate::data::inspect::{MemoryFit, available_memory, human_bytes, memory_fit};
use crate::data::shapes::ShapesSpec;
use crate::data::{Dataset, DatasetSpec, ImageSet};

const PAGE: usize = 48;
const THUMB: f32 = 64.0;
const WARN: Color32 = Color32::from_rgb(230, 160, 60);

/// What the dataset tab borrows: the loaded dataset and the job in flight (read-only),
/// its own path field and browsing position, and the texture cache.
pub struct DatasetPanel<'a> {
    pub status: &'a RunStatus,
    pub dataset: &'a Arc<Dataset>,
    pub dataset_job: Option<&'a DatasetJob>,
    /// The inspected dataset waiting for Load; its spec (size, resize) is edited here.
    pub inspection: Option<&'a mut (DatasetSpec, Inspection)>,
    pub dataset_path: &'a mut String,
    pub browse: &'a mut BrowseState,
    pub textures: &'a mut TextureCache,
}

pub fn show(ui: &mut egui::Ui, app: &mut DatasetPanel, actions: &mut Vec<Action>) {
    let idle = !app.status.is_active();
    ui.add_enabled_ui(idle, |ui| source_row(ui, app, actions));
    job_row(ui, app, actions);
    inspection_card(ui, app, actions);
    ui.separator();
    let d = Arc::clone(app.dataset);
    summary(ui, &d);
    ui.separator();
    browser(ui, app, &d);
}

fn source_row(ui: &mut egui::Ui, app: &mut DatasetPanel, actions: &mut Vec<Action>) {
    ui.horizontal(|ui| {
        ui.label("Built-in:");
        for (label, spec) in [
            ("shapes", DatasetSpec::Shapes(ShapesSpec::default())),
            (
                "fashion-mnist-mini",
                DatasetSpec::FashionMnistMini(FashionMnistMiniSpec::default()),
            ),
        ] {
            if ui.button(label).clicked() {
                actions.push(DatasetAction::Load(spec).into());
            }
        }
    });
    ui.horizontal(|ui| {
        let label = ui.label("Folder:");
        let field = ui
            .add(
                egui::TextEdit::singleline(&mut *app.dataset_path)
                    .hint_text("image folder, MNIST IDX folder or CIFAR batches folder")
                    .desired_width(420.0),
            )
            .labelled_by(label.id);
        let entered = field.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
        if (ui.button("Open").clicked() || entered) && !app.dataset_path.trim().is_empty() {
            actions.push(DatasetAction::Inspect(app.dataset_path.trim().into()).into());
        }
        if ui
            .button("Browse...")
            .on_hover_text("Choose a folder with the system dialog")
            .clicked()
        {
            actions.push(DatasetAction::Browse.into());
        }
    });
    ui.label(
        RichText::new(
            "Or drop a folder on the window. Image folders: one subfolder per class \
             (optionally train/ and val/); MNIST / Fashion-MNIST: the four *-ubyte[.gz] \
             files; CIFAR-10/100: the binary .bin batches.",
        )
        .small(),
    );
}

fn job_row(ui: &mut egui::Ui, app: &DatasetPanel, actions: &mut Vec<Action>) {
    let Some(job) = &app.dataset_job else { return };
    ui.horizontal(|ui| {
        match &job.what {
            JobKind::Dialog => {
                ui.spinner();
                ui.label("Waiting for the folder dialog...");
            }
            JobKind::Inspect(spec) => {
                ui.spinner();
                ui.label(format!("Looking at {}...", spec.label()));
            }
            JobKind::Load(spec) => {
                let (done, total) = job.progress.counts();
                let text = if total > 0 {
                    format!("Loading {}: {done} / {total}", spec.label())
                } else {
                    format!("Loading {}...", spec.label())
                };
                ui.add(
                    egui::ProgressBar::new(job.progress.fraction())
                        .text(text)
                        .desired_width(420.0),
                );
            }
        }
        if ui.button("Cancel").clicked() {
            actions.push(DatasetAction::Cancel.into());
        }
    });
}

fn inspection_card(ui: &mut egui::Ui, app: &mut DatasetPanel, actions: &mut Vec<Action>) {
    let Some((spec, found)) = app.inspection.as_deref_mut() else {
        return;
    };
    egui::Frame::group(ui.style()).show(ui, |ui| {
        ui.label(RichText::new(spec.label()).strong());
        ui.label(format!(
            "{}: {} images, {} classes",
            found.format,
            found.images,
            found.classes.map_or("?".into(), |c| c.to_string())
        ));
        let mut memory = found.memory_bytes;
        if let DatasetSpec::ImageFolder(f) = spec {
            ui.horizontal(|ui| {
                ui.label("Stored size");
                ui.add(egui::DragValue::new(&mut f.size).range(8..=256).suffix(" px"));
                let label = ui.label("resize");
                egui::ComboBox::from_id_salt("resize_policy")
                    .selected_text(match f.resize {
                        ResizePolicy::CenterCrop => "resize + centre crop",
                        ResizePolicy::Stretch => "stretch",
                    })
                    .show_ui(ui, |ui| {
                        ui.selectable_value(&mut f.resize, ResizePolicy::CenterCrop, "resize + centre crop");
                        ui.selectable_value(&mut f.resize, ResizePolicy::Stretch, "stretch");
                    })
                    .response
                    .labelled_by(label.id);
                ui.label("held out");
                ui.add(egui::Slider::new(&mut f.held_out, 0.0..=0.5).fixed_decimals(2))
                    .on_hover_text("Fraction of each class kept for evaluation (ignored with train/ and val/ folders)");
            });
            memory = (found.images * f.size * f.size * 3) as u64;
        }
        ui.label(format!("About {} in memory once decoded.", human_bytes(memory)));
        let fit = memory_fit(memory, available_memory());
        match &fit {
            MemoryFit::Fits => {}
            MemoryFit::Tight(why) | MemoryFit::TooLarge(why) => {
                ui.label(RichText::new(why).color(WARN).strong());
            }
        }
        for note in &found.notes {
            ui.label(RichText::new(note).color(WARN).small());
        }
        ui.horizontal(|ui| {
            let fits = !matches!(fit, MemoryFit::TooLarge(_));
            if ui.add_enabled(fits, egui::Button::new("Load")).clicked() {
                actions.push(DatasetAction::Load(spec.clone()).into());
            }
            if ui.button("Dismiss").clicked() {
                actions.push(DatasetAction::DismissInspection.into());
            }
        });
    });
}

fn summary(ui: &mut egui::Ui, d: &Dataset) {
    ui.label(format!(
        "{}: {} train / {} held-out images, {}x{} RGB, {} classes",
        d.name,
        d.train.len(),
        d.test.len(),
        d.image_size(),
        d.image_size(),
        d.class_names.len()
    ));
    if let Some(s) = d.report.source_sizes {
        ui.label(format!(
            "Source images: smallest {}x{}, median {}x{}, largest {}x{}",
            s.min.0, s.min.1, s.median.0, s.median.1, s.max.0, s.max.1
        ));
    }
    let counts = d.train.class_counts(d.class_names.len());
    let held = d.test.class_counts(d.class_names.len());
    ui.horizontal_wrapped(|ui| {
        for (c, name) in d.class_names.iter().enumerate() {
            ui.label(
                RichText::new(format!("{name}: {} / {}", counts[c], held[c]))
                    .color(class_colour(c)),
            )
            .on_hover_text("train / held-out images");
        }
    });
    if !d.attributes.is_empty() {
        let described: Vec<String> = d
            .attributes
            .iter()
            .map(|a| format!("{} ({})", a.name, a.values.join(", ")))
            .collect();
        ui.label(
            RichText::new(format!(
                "Besides the class, each image records: {}. The projection can be coloured by \
                 each, and evaluation says how well kNN predicts each.",
                described.join("; ")
            ))
            .small(),
        );
    }
    for w in &d.report.warnings {
        ui.label(RichText::new(w).color(WARN).small());
    }
    if !d.report.skipped.is_empty() {
        egui::CollapsingHeader::new(
            RichText::new(format!("{} files skipped", d.report.skipped.len())).color(WARN),
        )
        .id_salt("skipped_files")
        .show(ui, |ui| {
            egui::ScrollArea::vertical()
                .max_height(140.0)
                .show(ui, |ui| {
                    for s in &d.report.skipped {
                        ui.label(
                            RichText::new(format!("{}: {}", s.path.display(), s.problem)).small(),
                        );
                    }
                });
        });
    }
}

/// Indices of `set` shown under `browse`'s filter.
fn filtered(set: &ImageSet, class: Option<u16>) -> Vec<usize> {
    (0..set.len())
        .filter(|&i| class.is_none_or(|c| set.labels[i] == c))
        .collect()
}

fn browser(ui: &mut egui::Ui, app: &mut DatasetPanel, d: &Dataset) {
    let b: &mut BrowseState = app.browse;
    let set = if b.held_out { &d.test } else { &d.train };
    let shown = filtered(set, b.class);
    let pages = shown.len().div_ceil(PAGE).max(1);
    b.page = b.page.min(pages - 1);
    ui.horizontal(|ui| {
        let before = (b.held_out, b.class);
        ui.selectable_value(&mut b.held_out, false, "train");
        ui.selectable_value(&mut b.held_out, true, "held-out");
        let class_text = b.class.map_or("all classes".to_string(), |c| {
            d.class_names[c as usize].clone()
        });
        let label = ui.label("class");
        egui::ComboBox::from_id_salt("browse_class")
            .selected_text(class_text)
            .height(400.0)
            .show_ui(ui, |ui| {
                ui.selectable_value(&mut b.class, None, "all classes");
                for (c, name) in d.class_names.iter().enumerate() {
                    ui.selectable_value(&mut b.class, Some(c as u16), name);
                }
            })
            .response
            .labelled_by(label.id);
        if before != (b.held_out, b.class) {
            b.page = 0;
        }
        if ui
            .add_enabled(b.page > 0, egui::Button::new("< Prev"))
            .clicked()
        {
            b.page -= 1;
        }
        ui.label(format!(
            "page {} of {pages} ({} images)",
            b.page + 1,
            shown.len()
        ));
        if ui
            .add_enabled(b.page + 1 < pages, egui::Button::new("Next >"))
            .clicked()
        {
            b.page += 1;
        }
    });
    let split = if b.held_out { "test" } else { "train" };
    let page: Vec<usize> = shown
        .iter()
        .skip(b.page * PAGE)
        .take(PAGE)
        .copied()
        .collect();
    let columns = ((ui.available_width() / (THUMB + 14.0)).floor() as usize).max(1);
    egui::ScrollArea::vertical().show(ui, |ui| {
        egui::Grid::new("dataset_grid")
            .spacing([6.0, 6.0])
            .show(ui, |ui| {
                for (n, &i) in page.iter().enumerate() {
                    let tex = app
                        .textures
                        .get(ui.ctx(), &format!("{split}/{i}"), set.size, || {
                            set.image(i).to_vec()
                        });
                    let label = d.class_names[set.labels[i] as usize].clone();
                    ui.vertical(|ui| {
                        ui.add(egui::Image::new(tex).fit_to_exact_size(egui::vec2(THUMB, THUMB)))
                            .on_hover_text(format!("{split} image {i}: {label}"));
                        ui.label(RichText::new(label).small());
                    });
                    if (n + 1) % columns == 0 {
                        ui.end_row();
                    }
                }
            });
    });
}
