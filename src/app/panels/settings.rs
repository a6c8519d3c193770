//! The left panel: method, training and view-pipeline settings. Locked while a run is
//! active (the run uses the settings it started with).

use eframe::egui::{self, RichText};

use crate::app::action::{Action, RunAction};
use crate::app::history::RunStatus;
use crate::catalogue::{self, MethodSpec, ParamKind, ParamSpec};
use crate::model::{EncoderConfig, EncoderKind, Pooling};
use crate::preset::Experiment;
use crate::preset::{
    AugmentOn, BackendChoice, EvalSpec, OptimizerKind, PictureSpace, Schedule, TrainSpec,
};

/// What the settings panel borrows: a draft of the experiment (the frame proposes it back
/// as `Action::EditExperiment`), the export settings' fields, and whether the run is idle
/// and a checkpoint waits (read-only).
pub struct SettingsPanel<'a> {
    pub status: &'a RunStatus,
    pub experiment: &'a mut Experiment,
    pub export_dir: &'a mut String,
    pub checkpoint_every: &'a mut u64,
    pub encoder_dir: &'a mut String,
    /// The export folder holds a checkpoint to resume.
    pub has_checkpoint: bool,
    /// Sections a teacher has hidden (ids of `lessons::classroom_file::HIDEABLE`).
    pub hidden: &'a [&'static str],
}

pub fn show(ui: &mut egui::Ui, app: &mut SettingsPanel, actions: &mut Vec<Action>) {
    let idle = !app.status.is_active();
    egui::ScrollArea::vertical().show(ui, |ui| {
        ui.add_enabled_ui(idle, |ui| {
            let shown = |id: &str| !app.hidden.contains(&id);
            if shown("method") {
                method_section(ui, app);
                ui.separator();
            }
            if shown("optimisation") {
                training_section(ui, app);
                ui.separator();
            }
            if shown("views") {
                views_section(ui, app, actions);
                ui.separator();
            }
            if shown("export") {
                export_section(ui, app, actions);
                ui.separator();
            }
            if shown("encoder") {
                encoder_section(ui, app, actions);
            }
        });
    });
}

fn method_section(ui: &mut egui::Ui, app: &mut SettingsPanel) {
    ui.heading("Method");
    let exp = &mut app.experiment;
    let Ok((info, resolved)) = catalogue::resolve(&exp.method) else {
        exp.method = MethodSpec::default();
        return;
    };
    egui::ComboBox::from_label("method")
        .selected_text(info.name)
        // Tall enough to list every method without scrolling.
        .height(600.0)
        .show_ui(ui, |ui| {
            for m in catalogue::methods() {
                if ui.selectable_label(m.id == info.id, m.name).clicked() && m.id != info.id {
                    exp.method = MethodSpec::with_defaults(m);
                }
            }
        });
    if info.needs.labels {
        ui.label(
            RichText::new(
                "uses labels: supervised, the upper bound for the self-supervised methods",
            )
            .color(ui.visuals().warn_fg_color),
        );
    }
    super::method_diagram::show(ui, &info.diagram);
    ui.label(RichText::new(info.summary).small());
    ui.label(RichText::new(info.formula).small().monospace());
    ui.label(RichText::new(info.paper).small().italics());
    for p in info.params {
        let mut v = resolved.get(p.key);
        if param_widget(ui, p, &mut v) {
            exp.method.set(p, v);
        }
    }
}

/// The widget for one declared parameter (slider, checkbox or drop-down); true when changed.
fn param_widget(ui: &mut egui::Ui, p: &ParamSpec, v: &mut f64) -> bool {
    match p.kind {
        ParamKind::Switch => {
            let mut on = *v >= 0.5;
            let changed = ui
                .checkbox(&mut on, p.label)
                .on_hover_text(p.help)
                .changed();
            *v = if on { 1.0 } else { 0.0 };
            changed
        }
        ParamKind::Choice(options) => {
            let mut index = v.round().max(0.0) as usize;
            let before = index;
            egui::ComboBox::from_label(p.label)
                .selected_text(options.get(index).copied().unwrap_or("?"))
                .show_ui(ui, |ui| {
                    for (i, name) in options.iter().enumerate() {
                        ui.selectable_value(&mut index, i, *name);
                    }
                })
                .response
                .on_hover_text(p.help);
            *v = index as f64;
            index != before
        }
        ParamKind::Number { log } | ParamKind::Integer { log } => {
            ui.horizontal(|ui| {
                let label = ui.label(p.label).on_hover_text(p.help);
                let mut slider = egui::Slider::new(v, p.min..=p.max).logarithmic(log);
                if p.is_integer() {
                    slider = slider.integer();
                }
                ui.add(slider).labelled_by(label.id).changed()
            })
            .inner
        }
    }
}

fn training_section(ui: &mut egui::Ui, app: &mut SettingsPanel) {
    ui.heading("Optimisation");
    encoder_choice(ui, &mut app.experiment.encoder);
    optimiser_settings(ui, &mut app.experiment.train);
    backend_settings(ui, &mut app.experiment.train);
    labelled(ui, "seed", |ui| {
        ui.add(egui::DragValue::new(&mut app.experiment.seed))
    });
    evaluation_settings(ui, &mut app.experiment.eval);
}

/// Steps, batch, learning rate, optimiser and schedule.
fn optimiser_settings(ui: &mut egui::Ui, t: &mut TrainSpec) {
    labelled(ui, "steps", |ui| {
        ui.add(egui::DragValue::new(&mut t.steps).range(1..=1_000_000))
    });
    labelled(ui, "batch size", |ui| {
        ui.add(egui::Slider::new(&mut t.batch_size, 2..=512).logarithmic(true))
    });
    labelled(ui, "learning rate", |ui| {
        ui.add(egui::Slider::new(&mut t.learning_rate, 1e-5..=1.0).logarithmic(true))
    });
    labelled(ui, "optimiser", |ui| {
        egui::ComboBox::from_id_salt("optimizer")
            .selected_text(match t.optimizer {
                OptimizerKind::Adam => "Adam",
                OptimizerKind::Sgd => "SGD + momentum",
                OptimizerKind::Lars => "LARS",
            })
            .show_ui(ui, |ui| {
                ui.selectable_value(&mut t.optimizer, OptimizerKind::Adam, "Adam");
                ui.selectable_value(&mut t.optimizer, OptimizerKind::Sgd, "SGD + momentum");
                ui.selectable_value(&mut t.optimizer, OptimizerKind::Lars, "LARS");
            })
            .response
    });
    if t.optimizer != OptimizerKind::Adam {
        labelled(ui, "momentum", |ui| {
            ui.add(egui::Slider::new(&mut t.momentum, 0.0..=0.99))
        });
    }
    if t.optimizer == OptimizerKind::Lars {
        labelled(ui, "trust coefficient", |ui| {
            ui.add(egui::Slider::new(&mut t.trust_coefficient, 1e-4..=0.1).logarithmic(true))
        });
    }
    labelled(ui, "schedule", |ui| {
        egui::ComboBox::from_id_salt("schedule")
            .selected_text(match t.schedule {
                Schedule::Constant => "constant",
                Schedule::Cosine => "warm-up + cosine",
            })
            .show_ui(ui, |ui| {
                ui.selectable_value(&mut t.schedule, Schedule::Constant, "constant");
                ui.selectable_value(&mut t.schedule, Schedule::Cosine, "warm-up + cosine");
            })
            .response
    });
}

/// Where the networks train: this machine's devices or a remote server.
fn backend_settings(ui: &mut egui::Ui, t: &mut TrainSpec) {
    labelled(ui, "backend", |ui| {
        egui::ComboBox::from_id_salt("backend")
            .selected_text(backend_label(t.backend))
            .show_ui(ui, |ui| {
                for choice in BACKENDS {
                    ui.selectable_value(&mut t.backend, choice, backend_label(choice));
                }
            })
            .response
            .on_hover_text(
                "Auto: CUDA, then a hardware GPU through wgpu, then the CPU. Remote: the \
                 networks train on a `contrastive-workbench serve` process; the data, \
                 metrics and this window stay here (the views too, unless made on the \
                 training device)",
            )
    });
    labelled(ui, "views made on", |ui| {
        egui::ComboBox::from_id_salt("augment_on")
            .selected_text(augment_label(t.augment_on))
            .show_ui(ui, |ui| {
                for choice in [AugmentOn::Cpu, AugmentOn::Device] {
                    ui.selectable_value(&mut t.augment_on, choice, augment_label(choice));
                }
            })
            .response
            .on_hover_text(
                "CPU: the views are made on this machine's threads ahead of each step. \
                 Training device: the same views, made by the GPU (or the remote server) \
                 itself from each image uploaded once, for a GPU the CPU cannot keep fed",
            )
    });
    if t.backend == BackendChoice::Remote {
        labelled(ui, "server", |ui| {
            ui.add(egui::TextEdit::singleline(&mut t.remote).hint_text("ws://host:3000"))
                .on_hover_text("The address `contrastive-workbench serve` prints")
        });
        labelled(ui, "token file", |ui| {
            ui.add(egui::TextEdit::singleline(&mut t.remote_token_file).hint_text("none"))
                .on_hover_text(
                    "A file whose first line is the server's token (the token itself is never \
                     saved in a preset)",
                )
        });
    }
}

/// How often and how the representation is evaluated.
fn evaluation_settings(ui: &mut egui::Ui, eval: &mut EvalSpec) {
    labelled(ui, "eval every", |ui| {
        ui.add(egui::DragValue::new(&mut eval.every).range(1..=100_000))
    });
    labelled(ui, "kNN k", |ui| {
        ui.add(egui::DragValue::new(&mut eval.knn_k).range(1..=200))
            .on_hover_text("Neighbours that vote (Wu et al. 2018 use 200 on ImageNet, 20 here)")
    });
    labelled(ui, "kNN temperature", |ui| {
        ui.add(
            egui::DragValue::new(&mut eval.knn_temperature)
                .range(0.01..=1.0)
                .speed(0.005),
        )
        .on_hover_text("Each neighbour votes with weight exp(cosine / T)")
    });
    labelled(ui, "kNN bank", |ui| {
        ui.add(egui::DragValue::new(&mut eval.bank_size).range(10..=50_000))
            .on_hover_text(
                "Training images embedded as the kNN bank (and the probe's training set)",
            )
    });
    labelled(ui, "projected", |ui| {
        ui.add(egui::DragValue::new(&mut eval.query_size).range(10..=10_000))
            .on_hover_text(
                "Held-out images queried, probed and projected (t-SNE lays out the first 3,000)",
            )
    });
    labelled(ui, "picture of", |ui| {
        egui::ComboBox::from_id_salt("picture-space")
            .selected_text(eval.picture.label())
            .show_ui(ui, |ui| {
                for space in [PictureSpace::Encoder, PictureSpace::Head] {
                    ui.selectable_value(&mut eval.picture, space, space.label());
                }
            })
            .response
            .on_hover_text(
                "What the projection shows. The encoder's output h is what kNN, the probe and \
                 the export use; it keeps what the augmentations vary (position, size, \
                 colour), so a class spreads out. The projection head's z is where the loss \
                 pulls views together: classes form islands there first. Methods without a \
                 head show h.",
            )
    });
    ui.checkbox(&mut eval.full_split, "full splits at start and end")
        .on_hover_text(
            "The published protocol, at step 0 and at the end: kNN with every train image as \
             the bank and every test image as a query (this k, and k = 200 at T = 0.1), and a \
             linear probe on all train features. Runs on the training thread; its time and \
             peak memory are reported.",
        );
}

fn views_section(ui: &mut egui::Ui, app: &mut SettingsPanel, actions: &mut Vec<Action>) {
    ui.heading("View pipeline");
    for (name, p) in [
        ("view 1", &app.experiment.views.view1),
        ("view 2", &app.experiment.views.view2),
    ] {
        let ops: Vec<&str> = p
            .steps
            .iter()
            .filter(|t| t.enabled())
            .map(|t| t.op())
            .collect();
        ui.label(RichText::new(format!("{name}: {}", ops.join(" > "))).small());
    }
    if ui.button("Edit views...").clicked() {
        actions.push(Action::ShowTab(crate::app::Tab::Views));
    }
}

fn export_section(ui: &mut egui::Ui, app: &mut SettingsPanel, actions: &mut Vec<Action>) {
    ui.heading("Export");
    labelled(ui, "folder", |ui| {
        ui.text_edit_singleline(&mut *app.export_dir)
    });
    labelled(ui, "checkpoint every", |ui| {
        ui.add(egui::DragValue::new(&mut *app.checkpoint_every).range(0..=100_000))
            .on_hover_text(
                "Steps between checkpoints written into the export folder (also on Stop and \
                 at the end); 0 writes none",
            )
    });
    if ui
        .add_enabled(
            app.has_checkpoint,
            egui::Button::new("Resume from checkpoint"),
        )
        .on_hover_text(
            "Continue the run saved in the export folder exactly where it stopped (its own \
             settings; a larger step count here extends it)",
        )
        .clicked()
    {
        actions.push(RunAction::ResumeCheckpoint.into());
    }
    ui.collapsing("preset (TOML)", |ui| {
        let mut text = app.experiment.to_toml();
        ui.add(
            egui::TextEdit::multiline(&mut text)
                .code_editor()
                .interactive(false),
        );
    });
}

/// The backbone: the reference small CNN, ResNet-18 (CIFAR stem) with its width, or a
/// small ViT with its shape.
fn encoder_choice(ui: &mut egui::Ui, encoder: &mut EncoderConfig) {
    labelled(ui, "encoder", |ui| {
        egui::ComboBox::from_id_salt("encoder")
            .selected_text(match encoder.kind {
                EncoderKind::SmallCnn => "small CNN",
                EncoderKind::Resnet18 => "ResNet-18",
                EncoderKind::Vit => "ViT",
            })
            .show_ui(ui, |ui| {
                ui.selectable_value(&mut encoder.kind, EncoderKind::SmallCnn, "small CNN");
                ui.selectable_value(&mut encoder.kind, EncoderKind::Resnet18, "ResNet-18");
                ui.selectable_value(&mut encoder.kind, EncoderKind::Vit, "ViT");
            })
            .response
            .on_hover_text(
                "small CNN: the reference 4-stage network (fast on a CPU). ResNet-18 with the \
                 CIFAR stem (3x3 stride-1 first conv, no max-pool), as published CIFAR-10 \
                 tables use; exported in torchvision's names. About 40x the small CNN's \
                 time per image at width 64 on a CPU. ViT: a small Vision Transformer \
                 (patch 4 on 32x32 by default), as MoCo v3 and DINO study; exported in \
                 timm's names.",
            )
    });
    if encoder.kind == EncoderKind::Vit {
        vit_shape(ui, encoder);
    }
    if encoder.kind == EncoderKind::Resnet18 {
        labelled(ui, "ResNet width", |ui| {
            ui.add(egui::DragValue::new(&mut encoder.width).range(4..=128))
                .on_hover_text("The first stage's channels (64 in the paper; stages w, 2w, 4w, 8w)")
        });
    }
}

/// A ViT's patch, width, depth, heads and pooling. Width steps in whole heads, so every
/// value the widgets allow is a shape that builds.
fn vit_shape(ui: &mut egui::Ui, encoder: &mut EncoderConfig) {
    labelled(ui, "ViT patch", |ui| {
        ui.add(egui::DragValue::new(&mut encoder.patch).range(1..=16))
            .on_hover_text("Patch side in pixels: a 32x32 image with patch 4 is 64 tokens")
    });
    labelled(ui, "ViT heads", |ui| {
        ui.add(egui::DragValue::new(&mut encoder.heads).range(1..=16))
            .on_hover_text("Attention heads per block; the width is split evenly among them")
    });
    let heads = encoder.heads.max(1);
    let mut per_head = (encoder.embed_dim / heads).max(1);
    labelled(ui, "ViT width per head", |ui| {
        ui.add(egui::DragValue::new(&mut per_head).range(4..=128))
            .on_hover_text("Each head's width; the token width is heads x this")
    });
    encoder.embed_dim = per_head * heads;
    ui.label(RichText::new(format!("token width {}", encoder.embed_dim)).small());
    labelled(ui, "ViT depth", |ui| {
        ui.add(egui::DragValue::new(&mut encoder.depth).range(1..=24))
            .on_hover_text("Transformer blocks")
    });
    labelled(ui, "ViT pooling", |ui| {
        egui::ComboBox::from_id_salt("vit pooling")
            .selected_text(match encoder.pooling {
                Pooling::ClassToken => "class token",
                Pooling::Mean => "mean of patches",
            })
            .show_ui(ui, |ui| {
                ui.selectable_value(&mut encoder.pooling, Pooling::ClassToken, "class token");
                ui.selectable_value(&mut encoder.pooling, Pooling::Mean, "mean of patches");
            })
            .response
    });
    if !encoder.image_size.is_multiple_of(encoder.patch.max(1)) {
        ui.colored_label(
            ui.visuals().warn_fg_color,
            format!(
                "patch {} does not tile a {}-pixel image",
                encoder.patch, encoder.image_size
            ),
        );
    }
}

/// Open an exported encoder (a run folder) to evaluate and project the loaded dataset
/// with it, without training.
fn encoder_section(ui: &mut egui::Ui, app: &mut SettingsPanel, actions: &mut Vec<Action>) {
    ui.heading("Browse with an encoder");
    ui.label(
        RichText::new(
            "A run folder written by Export or `train --out`: its encoder embeds the loaded \
             dataset for kNN, the linear probe and the projection (no training).",
        )
        .small(),
    );
    labelled(ui, "run folder", |ui| {
        ui.text_edit_singleline(&mut *app.encoder_dir)
    });
    let path = app.encoder_dir.trim();
    if ui
        .add_enabled(!path.is_empty(), egui::Button::new("Open encoder"))
        .clicked()
    {
        actions.push(RunAction::OpenEncoder(std::path::PathBuf::from(path)).into());
    }
}

/// A row with a label that names the widget for accessibility (and for UI tests).
fn labelled(ui: &mut egui::Ui, text: &str, add: impl FnOnce(&mut egui::Ui) -> egui::Response) {
    ui.horizontal(|ui| {
        let label = ui.label(text);
        add(ui).labelled_by(label.id);
    });
}

const BACKENDS: [BackendChoice; 5] = [
    BackendChoice::Auto,
    BackendChoice::Cpu,
    BackendChoice::Gpu,
    BackendChoice::Cuda,
    BackendChoice::Remote,
];

fn augment_label(choice: AugmentOn) -> &'static str {
    match choice {
        AugmentOn::Cpu => "CPU",
        AugmentOn::Device => "Training device",
    }
}

fn backend_label(choice: BackendChoice) -> &'static str {
    match choice {
        BackendChoice::Auto => "Auto",
        BackendChoice::Cpu => "CPU",
        BackendChoice::Gpu => "GPU (wgpu)",
        BackendChoice::Cuda => "GPU (CUDA)",
        BackendChoice::Remote => "Remote server",
    }
}
