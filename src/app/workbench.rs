//! The application state and its frame loop.

use std::path::PathBuf;
use std::sync::Arc;

use eframe::egui;

use super::history::{RunHistory, RunStatus};
use super::panels;
use super::screenshot::{ScreenshotPlan, ScreenshotState};
use super::textures::TextureCache;
use crate::data::{Dataset, DatasetSpec};
use crate::engine::{Command, TrainerHandle, spawn_trainer};
use crate::preset::Experiment;

/// Longest the UI spends draining trainer events in one frame before yielding.
const EVENT_BUDGET: std::time::Duration = std::time::Duration::from_millis(8);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tab {
    Dataset,
    Views,
    Training,
}

impl Tab {
    pub const ALL: [Tab; 3] = [Tab::Dataset, Tab::Views, Tab::Training];

    pub fn label(self) -> &'static str {
        match self {
            Tab::Dataset => "Dataset",
            Tab::Views => "Views",
            Tab::Training => "Training",
        }
    }

    pub fn parse(s: &str) -> Option<Tab> {
        Tab::ALL
            .into_iter()
            .find(|t| t.label().eq_ignore_ascii_case(s))
    }
}

/// What a panel asks the app to do.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    Start,
    Pause,
    Resume,
    Stop,
    Export(PathBuf),
    LoadDataset(DatasetSpec),
    ResampleViews,
    ShowTab(Tab),
}

/// Transient UI state of the views preview.
#[derive(Clone, Debug, PartialEq)]
pub struct PreviewState {
    /// The seed whose training step 0 is shown.
    pub seed: u64,
}

pub struct WorkbenchApp {
    ctx: egui::Context,
    /// The experiment being edited (what Start runs).
    pub experiment: Experiment,
    pub dataset: Arc<Dataset>,
    /// The last dataset problem, shown until the next successful load.
    pub dataset_error: Option<String>,
    pub tab: Tab,
    pub status: RunStatus,
    pub history: RunHistory,
    pub preview: PreviewState,
    pub export_dir: String,
    trainer: Option<TrainerHandle>,
    pub textures: TextureCache,
    screenshot: Option<ScreenshotState>,
}

impl WorkbenchApp {
    pub fn new(ctx: egui::Context, experiment: Experiment) -> Self {
        let (dataset, dataset_error) = match experiment.dataset.load() {
            Ok(d) => (d, None),
            Err(e) => {
                // Fall back to the procedural set, which needs no files, and say why.
                let fallback = DatasetSpec::default();
                let d = fallback
                    .load()
                    .expect("the procedural dataset needs no files");
                (d, Some(format!("{e}; showing the built-in shapes instead")))
            }
        };
        let export_dir = format!("runs/{}", experiment.name);
        let seed = experiment.seed;
        Self {
            ctx,
            experiment,
            dataset: Arc::new(dataset),
            dataset_error,
            tab: Tab::Training,
            status: RunStatus::Idle,
            history: RunHistory::default(),
            preview: PreviewState { seed },
            export_dir,
            trainer: None,
            textures: TextureCache::default(),
            screenshot: None,
        }
    }

    pub fn enable_screenshot(&mut self, plan: ScreenshotPlan) {
        if let Some(tab) = Tab::parse(&plan.tab) {
            self.tab = tab;
        }
        self.screenshot = Some(ScreenshotState::new(plan, &mut self.experiment));
    }

    /// Applies one action; panels call nothing else.
    pub fn apply(&mut self, action: Action) {
        match action {
            Action::Start => self.start(),
            Action::Pause => self.send(Command::Pause),
            Action::Resume => self.send(Command::Resume),
            Action::Stop => self.send(Command::Stop),
            Action::Export(dir) => self.send(Command::Export(dir)),
            Action::LoadDataset(spec) => self.load_dataset(spec),
            Action::ResampleViews => {
                self.preview.seed = self.preview.seed.wrapping_add(1);
                self.textures.forget_prefix("view/");
            }
            Action::ShowTab(t) => self.tab = t,
        }
    }

    fn send(&self, cmd: Command) {
        if let Some(t) = &self.trainer {
            t.send(cmd);
        }
    }

    fn start(&mut self) {
        if self.status.is_active() {
            return;
        }
        if let Err(message) = self.experiment.validate() {
            self.status = RunStatus::Failed(format!("cannot start: {message}"));
            return;
        }
        let ctx = self.ctx.clone();
        self.history = RunHistory::default();
        self.status = RunStatus::Running;
        self.trainer = Some(spawn_trainer(
            self.experiment.clone(),
            Arc::clone(&self.dataset),
            Arc::new(move || ctx.request_repaint()),
        ));
    }

    fn load_dataset(&mut self, spec: DatasetSpec) {
        if self.status.is_active() {
            self.dataset_error = Some("stop the run before changing the dataset".into());
            return;
        }
        match spec.load() {
            Ok(d) => {
                self.experiment.dataset = spec;
                self.dataset = Arc::new(d);
                self.dataset_error = None;
                self.textures.clear();
            }
            // The loaded dataset stays; the error is shown.
            Err(e) => self.dataset_error = Some(e.to_string()),
        }
    }

    /// Drains trainer events within a time budget; asks for another frame if more wait.
    pub fn poll_trainer(&mut self) {
        let Some(trainer) = &self.trainer else { return };
        let start = std::time::Instant::now();
        while let Ok(ev) = trainer.events.try_recv() {
            if let Some(status) = self.history.apply(ev) {
                self.status = status;
            }
            if start.elapsed() > EVENT_BUDGET {
                self.ctx.request_repaint();
                break;
            }
        }
        if self.status.is_active() && !trainer.is_running() {
            self.status = RunStatus::Failed("the trainer thread ended unexpectedly".into());
        }
    }

    /// Whether an export is possible now (a model exists).
    pub fn can_export(&self) -> bool {
        self.trainer.is_some() && !matches!(self.status, RunStatus::Idle)
    }
}

impl eframe::App for WorkbenchApp {
    fn raw_input_hook(&mut self, _ctx: &egui::Context, raw_input: &mut egui::RawInput) {
        if self.screenshot.is_some() {
            // A screenshot should not depend on where Xvfb left the pointer.
            raw_input
                .events
                .retain(|e| !matches!(e, egui::Event::PointerMoved(_) | egui::Event::PointerGone));
        }
    }

    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        self.poll_trainer();
        let mut actions = Vec::new();
        egui::Panel::top("top_bar").show(ui, |ui| panels::top_bar::show(ui, self, &mut actions));
        egui::Panel::left("settings")
            .default_size(320.0)
            .show(ui, |ui| panels::settings::show(ui, self, &mut actions));
        egui::CentralPanel::default().show(ui, |ui| {
            ui.horizontal(|ui| {
                for t in Tab::ALL {
                    if ui.selectable_label(self.tab == t, t.label()).clicked() {
                        actions.push(Action::ShowTab(t));
                    }
                }
            });
            ui.separator();
            match self.tab {
                Tab::Dataset => panels::dataset::show(ui, self),
                Tab::Views => panels::views::show(ui, self, &mut actions),
                Tab::Training => panels::training::show(ui, self),
            }
        });
        if let Some(shot) = &mut self.screenshot {
            for a in shot.drive(ui.ctx(), &self.status, &self.history) {
                actions.push(a);
            }
        }
        for a in actions {
            self.apply(a);
        }
        if self.status.is_active() {
            // Keep the step counter and throughput figures fresh even between events.
            ui.ctx()
                .request_repaint_after(std::time::Duration::from_millis(250));
        }
    }
}
