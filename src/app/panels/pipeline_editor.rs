//! The view pipeline editor: an ordered list of transforms per view, each with its
//! parameters and probability; add, remove, reorder, enable/disable, copy one view to
//! the other. Edits the experiment directly (locked while a run is active).

use eframe::egui::{self, RichText};

use crate::data::Dataset;
use crate::views::pipeline::LocalCrops;
use crate::views::transform::Transform;
use crate::views::{Normalize, ViewPipeline, ViewsSpec};

/// What the user asked of one step; applied after the list is drawn.
enum Edit {
    Up(usize),
    Down(usize),
    Remove(usize),
    Add(Transform),
    CopyToOther,
}

pub fn show(ui: &mut egui::Ui, views: &mut ViewsSpec, dataset: &Dataset) {
    // Compact rows: two views side by side must leave room for the preview.
    ui.spacing_mut().slider_width = 80.0;
    let mut copy = None;
    ui.columns(2, |cols| {
        for (v, col) in cols.iter_mut().enumerate() {
            let pipeline = if v == 0 {
                &mut views.view1
            } else {
                &mut views.view2
            };
            col.push_id(v, |ui| {
                if view_editor(ui, &format!("View {}", v + 1), Some(2 - v), pipeline) {
                    copy = Some(v);
                }
            });
        }
    });
    match copy {
        Some(0) => views.view2 = views.view1.clone(),
        Some(_) => views.view1 = views.view2.clone(),
        None => {}
    }
    ui.separator();
    normalize_editor(ui, &mut views.normalize, dataset);
    ui.separator();
    local_crops_editor(ui, &mut views.local, dataset.image_size());
}

/// Multi-crop: how many local crops, their size, and their own pipeline.
fn local_crops_editor(ui: &mut egui::Ui, local: &mut LocalCrops, image: usize) {
    ui.label(RichText::new("Local crops (multi-crop, Caron et al. 2020)").strong());
    ui.label(
        RichText::new(
            "Extra small crops per image; BYOL and SimSiam ask each to predict both global \
             views. Other methods ignore them.",
        )
        .small(),
    );
    ui.horizontal(|ui| {
        let l = ui.label("crops per image");
        ui.add(egui::Slider::new(
            &mut local.count,
            0..=LocalCrops::MAX_COUNT,
        ))
        .labelled_by(l.id);
    });
    ui.horizontal(|ui| {
        let l = ui.label("crop size (px)");
        ui.add(egui::Slider::new(&mut local.size, 4..=image.max(4)))
            .labelled_by(l.id);
    });
    if local.count > 0 {
        ui.push_id("local_pipeline", |ui| {
            view_editor(ui, "Local crop pipeline", None, &mut local.pipeline);
        });
    }
}

/// The final step, shared by both views, evaluation and the exported encoder's input.
fn normalize_editor(ui: &mut egui::Ui, n: &mut Normalize, dataset: &Dataset) {
    ui.label(
        RichText::new("Normalize (last step of both views; also evaluation and export)").strong(),
    );
    for (name, values) in [("mean", &mut n.mean), ("std", &mut n.std)] {
        ui.horizontal(|ui| {
            ui.label(format!("{name:>4}"));
            for (c, v) in ["R", "G", "B"].into_iter().zip(values.iter_mut()) {
                let low = if name == "std" { 0.001 } else { -10.0 };
                ui.add(
                    egui::DragValue::new(v)
                        .speed(0.005)
                        .range(low..=10.0)
                        .max_decimals(4)
                        .prefix(format!("{c} ")),
                )
                .on_hover_text(format!("{name} of the {c} channel, for (x - mean) / std"));
            }
        });
    }
    ui.horizontal(|ui| {
        if ui
            .small_button("0.5 / 0.5")
            .on_hover_text("0..1 to -1..1")
            .clicked()
        {
            *n = Normalize::HALF;
        }
        if ui
            .small_button("ImageNet")
            .on_hover_text("torchvision's ImageNet mean and std")
            .clicked()
        {
            *n = Normalize::IMAGENET;
        }
        if ui
            .small_button("From dataset")
            .on_hover_text(format!(
                "mean and std of {}'s training images",
                dataset.name
            ))
            .clicked()
        {
            *n = Normalize::of_images(&dataset.train);
        }
    });
}

/// Draws one pipeline's list under `title`, with a "Copy to view N" button when
/// `copy_to` names the other view; true when that button was pressed.
fn view_editor(
    ui: &mut egui::Ui,
    title: &str,
    copy_to: Option<usize>,
    p: &mut ViewPipeline,
) -> bool {
    let mut edits = Vec::new();
    ui.horizontal(|ui| {
        ui.label(RichText::new(title).strong());
        if let Some(other) = copy_to
            && ui.small_button(format!("Copy to view {other}")).clicked()
        {
            edits.push(Edit::CopyToOther);
        }
    });
    let n = p.steps.len();
    for (i, t) in p.steps.iter_mut().enumerate() {
        ui.push_id(i, |ui| {
            ui.horizontal(|ui| {
                ui.checkbox(t.enabled_mut(), "")
                    .on_hover_text("apply this step");
                ui.label(RichText::new(format!("{}. {}", i + 1, t.op())).strong());
                if ui
                    .add_enabled(i > 0, egui::Button::new("Up").small())
                    .clicked()
                {
                    edits.push(Edit::Up(i));
                }
                if ui
                    .add_enabled(i + 1 < n, egui::Button::new("Down").small())
                    .clicked()
                {
                    edits.push(Edit::Down(i));
                }
                if ui.small_button("Remove").clicked() {
                    edits.push(Edit::Remove(i));
                }
            });
            ui.add_enabled_ui(t.enabled(), |ui| {
                ui.indent("params", |ui| params(ui, t));
            });
        });
    }
    ui.horizontal(|ui| {
        let label = ui.label("Add");
        egui::ComboBox::from_id_salt("add_transform")
            .selected_text("a transform...")
            .height(400.0)
            .show_ui(ui, |ui| {
                for t in Transform::catalogue() {
                    if ui.selectable_label(false, t.op()).clicked() {
                        edits.push(Edit::Add(t));
                    }
                }
            })
            .response
            .labelled_by(label.id);
    });
    let mut copy = false;
    for e in edits {
        match e {
            Edit::Up(i) => p.steps.swap(i - 1, i),
            Edit::Down(i) => p.steps.swap(i, i + 1),
            Edit::Remove(i) => {
                p.steps.remove(i);
            }
            Edit::Add(t) => p.steps.push(t),
            Edit::CopyToOther => copy = true,
        }
    }
    copy
}

fn slider(ui: &mut egui::Ui, label: &str, v: &mut f32, range: std::ops::RangeInclusive<f32>) {
    ui.horizontal(|ui| {
        let l = ui.label(label);
        ui.add(egui::Slider::new(v, range)).labelled_by(l.id);
    });
}

/// A [min, max] pair as two sliders that keep min <= max.
fn range_sliders(
    ui: &mut egui::Ui,
    label: &str,
    r: &mut [f32; 2],
    range: std::ops::RangeInclusive<f32>,
) {
    slider(ui, &format!("{label} min"), &mut r[0], range.clone());
    slider(ui, &format!("{label} max"), &mut r[1], range);
    r[0] = r[0].min(r[1]);
}

fn params(ui: &mut egui::Ui, t: &mut Transform) {
    match t {
        Transform::RandomResizedCrop(c) => {
            range_sliders(ui, "scale", &mut c.scale, 0.05..=1.0);
            range_sliders(ui, "ratio", &mut c.ratio, 0.25..=4.0);
        }
        Transform::HorizontalFlip(f)
        | Transform::VerticalFlip(f)
        | Transform::Grayscale(f)
        | Transform::Equalize(f) => slider(ui, "p", &mut f.p, 0.0..=1.0),
        Transform::Rotation(r) => {
            slider(ui, "p", &mut r.p, 0.0..=1.0);
            slider(ui, "degrees", &mut r.degrees, 0.0..=180.0);
        }
        Transform::ColorJitter(j) => {
            slider(ui, "p", &mut j.p, 0.0..=1.0);
            slider(ui, "brightness", &mut j.brightness, 0.0..=1.0);
            slider(ui, "contrast", &mut j.contrast, 0.0..=1.0);
            slider(ui, "saturation", &mut j.saturation, 0.0..=1.0);
            slider(ui, "hue", &mut j.hue, 0.0..=0.5);
        }
        Transform::GaussianBlur(b) => {
            slider(ui, "p", &mut b.p, 0.0..=1.0);
            range_sliders(ui, "sigma", &mut b.sigma, 0.0..=3.0);
        }
        Transform::Solarize(s) => {
            slider(ui, "p", &mut s.p, 0.0..=1.0);
            slider(ui, "threshold", &mut s.threshold, 0.0..=1.0);
        }
        Transform::Posterize(q) => {
            slider(ui, "p", &mut q.p, 0.0..=1.0);
            ui.horizontal(|ui| {
                let l = ui.label("bits");
                ui.add(egui::Slider::new(&mut q.bits, 1..=8))
                    .labelled_by(l.id);
            });
        }
        Transform::RandomErasing(e) => {
            slider(ui, "p", &mut e.p, 0.0..=1.0);
            range_sliders(ui, "scale", &mut e.scale, 0.0..=0.5);
            range_sliders(ui, "ratio", &mut e.ratio, 0.1..=10.0);
        }
    }
}
