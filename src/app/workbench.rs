//! The application state and its frame loop.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use eframe::egui;

use super::dataset_jobs::{DatasetJob, JobKind, JobOutcome};
use super::figure::Figure;
use super::frame_times::FrameTimes;
use super::history::{RunHistory, RunStatus};
use super::panels;
use super::persisted::{self, Settings};
use super::plot_export;
use super::projection_view::ProjectionView;
use super::run_archive::{PastRun, archive, run_label};
use super::run_view::RunView;
use super::screenshot::{ScreenshotPlan, ScreenshotState};
use super::textures::TextureCache;
use crate::data::detect::spec_for_path;
use crate::data::inspect::Inspection;
use crate::data::{Dataset, DatasetSpec};
use crate::engine::checkpoint::{CHECKPOINT_FILE, Checkpoint};
use crate::engine::session::{CheckpointPlan, RunOptions};
use crate::engine::{Command, Event, TrainerHandle, spawn_browser, spawn_trainer_with};
use crate::preset::Experiment;

/// Longest the UI spends draining trainer events in one frame before yielding.
const EVENT_BUDGET: std::time::Duration = std::time::Duration::from_millis(8);

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Tab {
    Dataset,
    Views,
    Training,
    /// The NT-Xent explorer.
    Loss,
}

impl Tab {
    pub const ALL: [Tab; 4] = [Tab::Dataset, Tab::Views, Tab::Training, Tab::Loss];

    pub fn label(self) -> &'static str {
        match self {
            Tab::Dataset => "Dataset",
            Tab::Views => "Views",
            Tab::Training => "Training",
            Tab::Loss => "Loss explorer",
        }
    }

    pub fn parse(s: &str) -> Option<Tab> {
        Tab::ALL
            .into_iter()
            .find(|t| t.label().eq_ignore_ascii_case(s))
    }
}

/// How much larger presentation mode draws the window.
pub const PRESENTING_ZOOM: f32 = 1.4;

/// What a panel asks the app to do.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    Start,
    Pause,
    Resume,
    /// One training step, then pause.
    Step,
    /// At most this many training steps per second (`None`: full speed).
    SpeedLimit(Option<f32>),
    /// Show or hide the settings panel (classroom view).
    ToggleSettings,
    /// Hide or show one control (an id of `lessons::classroom_file::HIDEABLE`).
    ToggleControl(&'static str),
    /// Draw everything larger (for a projector), or back to normal.
    TogglePresenting,
    /// Write the window's classroom file (experiment, lesson step, hidden controls) as
    /// `classroom.toml` in the export folder.
    SaveClassroom,
    /// Open a classroom file or a preset.
    OpenClassroom(PathBuf),
    /// Open a built-in lesson by id.
    OpenLesson(&'static str),
    /// Move within the open lesson (1: Next, -1: Back).
    LessonStep(isize),
    CloseLesson,
    Stop,
    Export(PathBuf),
    /// Load in the background; the current dataset stays until it succeeds.
    LoadDataset(DatasetSpec),
    /// Look at a typed, picked or dropped path: counts and memory before loading.
    InspectPath(PathBuf),
    /// Open the native folder dialog (off the UI thread).
    BrowseDataset,
    /// Stop the dataset dialog, inspection or load in flight.
    CancelDatasetJob,
    /// Forget the inspected dataset without loading it.
    DismissInspection,
    ResampleViews,
    ShowTab(Tab),
    /// Train a linear probe on the latest evaluation's features.
    Probe,
    /// Evaluate and project the loaded dataset with an exported encoder (a run folder).
    OpenEncoder(PathBuf),
    /// Continue the run checkpointed in the export folder.
    ResumeRun,
    /// Overlay (or not) an earlier run's curves on the dashboard.
    ShowPastRun(usize, bool),
    /// Write a plot's data as CSV into the export folder's `plots/`.
    SavePlotData(Figure),
    /// Write the plot at `rect` (points) as `<name>.png` into the export folder's `plots/`.
    SavePlotImage {
        name: String,
        rect: egui::Rect,
    },
}

/// Which images the dataset grid shows.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct BrowseState {
    pub held_out: bool,
    pub page: usize,
    /// Only this class, when set.
    pub class: Option<u16>,
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
    /// The dataset dialog, inspection or load in flight (one at a time).
    pub dataset_job: Option<DatasetJob>,
    /// An inspected dataset waiting for the user's "Load".
    pub inspection: Option<(DatasetSpec, Inspection)>,
    /// The dataset tab's path field.
    pub dataset_path: String,
    /// The dataset tab's browsing position.
    pub browse: BrowseState,
    pub tab: Tab,
    pub status: RunStatus,
    pub history: RunHistory,
    /// The current run's legend label ("run 2: MoCo v2 (moco-shapes)").
    pub run_label: String,
    /// Earlier runs of this session, for comparison.
    pub past_runs: Vec<PastRun>,
    runs_started: usize,
    pub preview: PreviewState,
    pub export_dir: String,
    /// The run folder typed in "Browse with an encoder".
    pub encoder_dir: String,
    /// Checkpoint into the export folder every this many steps, on stop and at the end
    /// (0: no checkpoints).
    pub checkpoint_every: u64,
    /// Training steps per second at most, so a class can follow (`None`: full speed).
    pub speed_limit: Option<f32>,
    /// The lesson being followed, and where.
    pub lesson: Option<crate::lessons::LessonProgress>,
    pub loss_explorer: crate::app::loss_explorer::LossExplorer,
    trainer: Option<TrainerHandle>,
    pub textures: TextureCache,
    pub projection_view: ProjectionView,
    /// Build time of recent frames (F12 shows p50/p99 in the top bar).
    pub frame_times: FrameTimes,
    pub show_frame_times: bool,
    /// Classroom view: the settings panel hidden, so the class sees the pictures.
    pub hide_settings: bool,
    /// Controls hidden one by one (ids of `lessons::classroom_file::HIDEABLE`).
    pub hidden: Vec<&'static str>,
    /// Presentation mode: everything drawn larger, for a projector.
    pub presenting: bool,
    /// A saved plot picture's outcome, written by the screenshot callback.
    plot_saved: Arc<Mutex<Option<String>>>,
    screenshot: Option<ScreenshotState>,
    /// The last look for a checkpoint: folder, when, whether one was there.
    checkpoint_seen: Option<(String, std::time::Instant, bool)>,
}

impl WorkbenchApp {
    pub fn new(ctx: egui::Context, mut experiment: Experiment) -> Self {
        // Built-in data loads at once; a file dataset loads in the background while the
        // procedural set (which needs no files) is shown.
        let wanted = experiment.dataset.clone();
        let mut dataset_job = None;
        let (dataset, dataset_error) = if wanted.path().is_some() {
            experiment.dataset = DatasetSpec::default();
            dataset_job = Some(DatasetJob::load(wanted.clone()));
            (shapes_fallback(), None)
        } else {
            match wanted.load() {
                Ok(d) => (d, None),
                Err(e) => {
                    experiment.dataset = DatasetSpec::default();
                    (
                        shapes_fallback(),
                        Some(format!("{e}; showing the built-in shapes instead")),
                    )
                }
            }
        };
        let export_dir = experiment.run_dir().display().to_string();
        let seed = experiment.seed;
        let dataset_path = wanted
            .path()
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        Self {
            ctx,
            experiment,
            dataset: Arc::new(dataset),
            dataset_error,
            dataset_job,
            inspection: None,
            dataset_path,
            browse: BrowseState::default(),
            // A new user sees pictures first (the Dataset tab), not empty plots.
            tab: Tab::Dataset,
            status: RunStatus::Idle,
            history: RunHistory::default(),
            run_label: String::new(),
            past_runs: Vec::new(),
            runs_started: 0,
            preview: PreviewState { seed },
            export_dir,
            encoder_dir: String::new(),
            checkpoint_every: 200,
            speed_limit: None,
            lesson: None,
            loss_explorer: Default::default(),
            trainer: None,
            textures: TextureCache::default(),
            projection_view: ProjectionView::default(),
            frame_times: FrameTimes::default(),
            show_frame_times: false,
            hide_settings: false,
            hidden: Vec::new(),
            presenting: false,
            plot_saved: Arc::default(),
            checkpoint_seen: None,
            screenshot: None,
        }
    }

    /// What the window remembers for next time.
    pub fn settings(&self) -> Settings {
        Settings {
            version: persisted::VERSION,
            experiment: self.experiment.to_toml(),
            tab: self.tab,
            projection: self.projection_view.mode,
            colour: self.projection_view.colour,
            neighbours: self.projection_view.neighbours,
            export_dir: self.export_dir.clone(),
            checkpoint_every: self.checkpoint_every,
            encoder_dir: self.encoder_dir.clone(),
        }
    }

    /// A window reopened as `settings` left it: `experiment` is the one they hold (or one
    /// given on the command line instead).
    pub fn restored(ctx: egui::Context, settings: &Settings, experiment: Experiment) -> Self {
        let mut app = Self::new(ctx, experiment);
        app.tab = settings.tab;
        app.projection_view.mode = settings.projection;
        app.projection_view.colour = settings.colour;
        app.projection_view.neighbours = settings.neighbours;
        app.export_dir.clone_from(&settings.export_dir);
        app.checkpoint_every = settings.checkpoint_every;
        app.encoder_dir.clone_from(&settings.encoder_dir);
        app
    }

    /// Says, until the next run, why the saved settings were not used.
    pub fn notice(&mut self, message: String) {
        self.history.warnings.push(message);
    }

    pub fn enable_screenshot(&mut self, plan: ScreenshotPlan) {
        // A picture run leaves no checkpoint behind.
        self.checkpoint_every = 0;
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
            Action::Step => self.send(Command::Step),
            Action::OpenLesson(id) => {
                if let Err(e) = self.open_lesson(id) {
                    self.dataset_error = Some(e);
                }
            }
            Action::LessonStep(by) => self.move_in_lesson(by),
            Action::CloseLesson => self.lesson = None,
            Action::ToggleSettings => self.hide_settings = !self.hide_settings,
            Action::ToggleControl(id) => match self.hidden.iter().position(|h| *h == id) {
                Some(i) => {
                    self.hidden.remove(i);
                }
                None => self.hidden.push(id),
            },
            Action::SaveClassroom => {
                let path = PathBuf::from(&self.export_dir).join("classroom.toml");
                let saved = self.classroom_file().save(&path);
                self.history.export_failed = saved.is_err();
                self.history.export_message = Some(match saved {
                    Ok(()) => format!("classroom file saved: {}", path.display()),
                    Err(e) => format!("classroom file not saved: {e}"),
                });
            }
            Action::OpenClassroom(path) => {
                if let Err(e) = self.open_classroom(&path) {
                    self.dataset_error = Some(e);
                }
            }
            Action::TogglePresenting => {
                self.presenting = !self.presenting;
                self.ctx.set_zoom_factor(if self.presenting {
                    PRESENTING_ZOOM
                } else {
                    1.0
                });
            }
            Action::SpeedLimit(limit) => {
                self.speed_limit = limit;
                self.send(Command::SpeedLimit(limit));
            }
            Action::Stop => self.send(Command::Stop),
            Action::Probe => self.send(Command::Probe),
            Action::OpenEncoder(dir) => self.open_encoder(dir),
            Action::ResumeRun => self.resume_run(),
            Action::SavePlotData(figure) => {
                let dir = plot_export::plots_dir(&self.export_dir);
                self.history.export_message = Some(match plot_export::save_csv(&dir, &figure) {
                    Ok(path) => format!("saved {}", path.display()),
                    Err(e) => format!("cannot save the plot's data into {}: {e}", dir.display()),
                });
            }
            Action::SavePlotImage { name, rect } => plot_export::save_png(
                &self.ctx,
                plot_export::plots_dir(&self.export_dir),
                name,
                rect,
                Arc::clone(&self.plot_saved),
            ),
            Action::ShowPastRun(i, shown) => {
                if let Some(run) = self.past_runs.get_mut(i) {
                    run.shown = shown;
                }
            }
            Action::Export(dir) => self.send(Command::Export(dir)),
            Action::LoadDataset(spec) => self.load_dataset(spec),
            Action::InspectPath(path) => self.inspect_path(path),
            Action::BrowseDataset => {
                let start = self.experiment.dataset.path().map(|p| p.to_path_buf());
                self.replace_job(DatasetJob::pick_folder(start));
            }
            Action::CancelDatasetJob => {
                if let Some(job) = self.dataset_job.take() {
                    job.cancel();
                }
            }
            Action::DismissInspection => self.inspection = None,
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
        if self.is_loading_dataset() {
            self.dataset_error = Some("the dataset is still loading; start when it is in".into());
            return;
        }
        if let Err(message) = self.experiment.validate() {
            self.status = RunStatus::Failed(format!("cannot start: {message}"));
            return;
        }
        self.launch(None);
    }

    /// Starts the trainer on the current experiment, resuming from `resume` if given.
    fn launch(&mut self, resume: Option<PathBuf>) {
        let label = run_label(self.runs_started + 1, &self.experiment);
        self.begin_run(label);
        let ctx = self.ctx.clone();
        let options = RunOptions {
            checkpoints: (self.checkpoint_every > 0).then(|| CheckpointPlan {
                dir: PathBuf::from(&self.export_dir),
                every: self.checkpoint_every,
            }),
            resume_from: resume,
            ..RunOptions::default()
        };
        self.trainer = Some(spawn_trainer_with(
            self.experiment.clone(),
            Arc::clone(&self.dataset),
            options,
            Arc::new(move || ctx.request_repaint()),
        ));
        if self.speed_limit.is_some() {
            self.send(Command::SpeedLimit(self.speed_limit));
        }
    }

    /// Whether the export folder holds a checkpoint to resume. Looked up on the disk when
    /// the folder changes and at most once a second otherwise, not every frame.
    pub fn has_checkpoint(&mut self) -> bool {
        let fresh = self.checkpoint_seen.as_ref().is_some_and(|(dir, at, _)| {
            *dir == self.export_dir && at.elapsed() < std::time::Duration::from_secs(1)
        });
        if !fresh {
            let present = std::path::Path::new(&self.export_dir)
                .join(CHECKPOINT_FILE)
                .is_file();
            self.checkpoint_seen =
                Some((self.export_dir.clone(), std::time::Instant::now(), present));
        }
        self.checkpoint_seen
            .as_ref()
            .is_some_and(|(_, _, present)| *present)
    }

    /// Continues the checkpointed run in the export folder: its own settings, with the step
    /// count raised to this window's when that is larger, on the device chosen here.
    fn resume_run(&mut self) {
        if self.status.is_active() || self.is_loading_dataset() {
            return;
        }
        let dir = PathBuf::from(&self.export_dir);
        let (step, mut exp) = match Checkpoint::peek(&dir) {
            Ok(found) => found,
            Err(e) => {
                self.status = RunStatus::Failed(format!("cannot resume: {e:#}"));
                return;
            }
        };
        if exp.dataset != self.experiment.dataset {
            self.status = RunStatus::Failed(format!(
                "cannot resume: the checkpoint trained on {}; load that dataset first",
                exp.dataset.label()
            ));
            return;
        }
        exp.train.steps = exp.train.steps.max(self.experiment.train.steps);
        let here = &self.experiment.train;
        exp.train.backend = here.backend;
        exp.train.remote = here.remote.clone();
        exp.train.remote_token_file = here.remote_token_file.clone();
        if step >= exp.train.steps {
            self.status = RunStatus::Failed(format!(
                "cannot resume: the checkpoint is at step {step} of {}; raise the step count",
                exp.train.steps
            ));
            return;
        }
        self.experiment = exp;
        self.launch(Some(dir));
    }

    /// Archives the current run's curves for comparison and clears the dashboard.
    /// The egui context the window draws with.
    pub fn ctx(&self) -> &egui::Context {
        &self.ctx
    }

    /// Whether a run (or an encoder's evaluation) has been started in this window.
    pub fn has_run(&self) -> bool {
        self.runs_started > 0
    }

    fn begin_run(&mut self, label: String) {
        // A run is watched on the Training tab, wherever Start was pressed.
        self.tab = Tab::Training;
        let old = std::mem::take(&mut self.history);
        let old_label = std::mem::replace(&mut self.run_label, label);
        archive(&mut self.past_runs, old_label, old.log.steps, old.log.evals);
        self.runs_started += 1;
        self.status = RunStatus::Running;
    }

    /// Like `start`, but the job evaluates a frozen encoder instead of training one.
    fn open_encoder(&mut self, dir: PathBuf) {
        if self.status.is_active() {
            return;
        }
        if self.is_loading_dataset() {
            self.dataset_error =
                Some("the dataset is still loading; open the encoder when it is in".into());
            return;
        }
        let label = format!(
            "run {}: encoder from {}",
            self.runs_started + 1,
            dir.display()
        );
        self.begin_run(label);
        let ctx = self.ctx.clone();
        self.trainer = Some(spawn_browser(
            dir,
            Arc::clone(&self.dataset),
            Arc::new(move || ctx.request_repaint()),
        ));
    }

    fn load_dataset(&mut self, spec: DatasetSpec) {
        if self.status.is_active() {
            self.dataset_error = Some("stop the run before changing the dataset".into());
            return;
        }
        self.inspection = None;
        self.replace_job(DatasetJob::load(spec));
    }

    fn inspect_path(&mut self, path: PathBuf) {
        self.dataset_path = path.display().to_string();
        match spec_for_path(&path, self.dataset.image_size()) {
            Ok(spec) => self.replace_job(DatasetJob::inspect(spec)),
            Err(e) => self.dataset_error = Some(e.to_string()),
        }
    }

    /// Starts `job`, cancelling any job in flight (its result is dropped).
    fn replace_job(&mut self, job: DatasetJob) {
        if let Some(old) = self.dataset_job.replace(job) {
            old.cancel();
        }
    }

    /// Takes a finished dataset job's outcome into the app.
    pub fn poll_dataset_job(&mut self) {
        let Some(outcome) = self.dataset_job.as_ref().and_then(DatasetJob::poll) else {
            return;
        };
        self.dataset_job = None;
        match outcome {
            JobOutcome::Picked(Some(path)) => self.inspect_path(path),
            JobOutcome::Picked(None) => {}
            JobOutcome::Inspected(spec, Ok(found)) => {
                self.dataset_error = None;
                self.inspection = Some((spec, found));
            }
            JobOutcome::Loaded(spec, Ok(d)) => {
                self.dataset_path = spec
                    .path()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default();
                self.experiment.dataset = spec;
                self.dataset = Arc::from(d);
                self.dataset_error = None;
                self.browse = BrowseState::default();
                self.textures.clear();
            }
            // The loaded dataset stays; the error is shown.
            JobOutcome::Inspected(_, Err(e)) | JobOutcome::Loaded(_, Err(e)) => {
                self.dataset_error = Some(e);
            }
        }
    }

    /// Whether a dataset is being loaded (the Start button waits for it).
    pub fn is_loading_dataset(&self) -> bool {
        matches!(
            self.dataset_job.as_ref().map(|j| &j.what),
            Some(JobKind::Load(_))
        )
    }

    /// Drains trainer events within a time budget; asks for another frame if more wait.
    pub fn poll_trainer(&mut self) {
        let Some(trainer) = &self.trainer else { return };
        let start = std::time::Instant::now();
        while let Ok(ev) = trainer.events.try_recv() {
            if matches!(ev, Event::Checkpointed { .. }) {
                // A checkpoint was just written: look again rather than trust the cache.
                self.checkpoint_seen = None;
            }
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

fn shapes_fallback() -> Dataset {
    DatasetSpec::default()
        .load()
        .expect("the procedural dataset needs no files")
}

impl eframe::App for WorkbenchApp {
    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        // A screenshot run is scripted: it neither reads nor leaves settings.
        if self.screenshot.is_none() {
            storage.set_string(persisted::KEY, self.settings().to_toml());
        }
    }

    fn raw_input_hook(&mut self, _ctx: &egui::Context, raw_input: &mut egui::RawInput) {
        if self.screenshot.is_some() {
            // A screenshot should not depend on where Xvfb left the pointer.
            raw_input
                .events
                .retain(|e| !matches!(e, egui::Event::PointerMoved(_) | egui::Event::PointerGone));
        }
    }

    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        let frame_start = std::time::Instant::now();
        self.poll_trainer();
        if ui.input(|i| i.key_pressed(egui::Key::F12)) {
            // A debug readout, off by default (it changes every frame).
            self.show_frame_times = !self.show_frame_times;
        }
        if let Some(message) = self.plot_saved.lock().ok().and_then(|mut m| m.take()) {
            self.history.export_message = Some(message);
        }
        self.poll_dataset_job();
        // Workers are started and fed here, never from drawing code.
        self.projection_view
            .keep_up(ui.ctx(), self.history.projection.as_ref());
        let mut actions = Vec::new();
        panels::drop_target::show(ui.ctx(), &mut actions);
        egui::Panel::top("top_bar").show(ui, |ui| panels::top_bar::show(ui, self, &mut actions));
        if !self.hide_settings {
            egui::Panel::left("settings")
                .default_size(320.0)
                .show(ui, |ui| {
                    let has_checkpoint = self.has_checkpoint();
                    panels::settings::show(
                        ui,
                        &mut panels::settings::SettingsPanel {
                            status: &self.status,
                            experiment: &mut self.experiment,
                            export_dir: &mut self.export_dir,
                            checkpoint_every: &mut self.checkpoint_every,
                            encoder_dir: &mut self.encoder_dir,
                            has_checkpoint,
                            hidden: &self.hidden,
                        },
                        &mut actions,
                    )
                });
        }
        egui::CentralPanel::default().show(ui, |ui| {
            ui.horizontal(|ui| {
                for t in Tab::ALL {
                    if ui.selectable_label(self.tab == t, t.label()).clicked() {
                        actions.push(Action::ShowTab(t));
                    }
                }
            });
            ui.separator();
            if let Some(progress) = &self.lesson {
                panels::lesson::show(ui, progress, &self.status, &mut actions);
            }
            match self.tab {
                Tab::Dataset => panels::dataset::show(
                    ui,
                    &mut panels::dataset::DatasetPanel {
                        status: &self.status,
                        dataset: &self.dataset,
                        dataset_job: self.dataset_job.as_ref(),
                        inspection: self.inspection.as_mut(),
                        dataset_path: &mut self.dataset_path,
                        browse: &mut self.browse,
                        textures: &mut self.textures,
                    },
                    &mut actions,
                ),
                Tab::Views => panels::views::show(
                    ui,
                    &mut panels::views::ViewsPanel {
                        status: &self.status,
                        experiment: &mut self.experiment,
                        dataset: &self.dataset,
                        preview: &self.preview,
                        textures: &mut self.textures,
                    },
                    &mut actions,
                ),
                Tab::Training => {
                    let run = RunView {
                        history: &self.history,
                        status: &self.status,
                        past_runs: &self.past_runs,
                        run_label: &self.run_label,
                        dataset: &self.dataset,
                    };
                    panels::training::show(
                        ui,
                        &run,
                        &mut self.projection_view,
                        &mut self.textures,
                        &mut actions,
                    );
                }
                Tab::Loss => panels::loss_explorer::show(ui, &mut self.loss_explorer),
            }
        });
        let loading_dataset = self.is_loading_dataset();
        if let Some(shot) = &mut self.screenshot {
            for a in shot.drive(
                ui.ctx(),
                &self.status,
                &self.history,
                &mut self.projection_view,
                &self.frame_times,
                loading_dataset,
            ) {
                actions.push(a);
            }
        }
        for a in actions {
            self.apply(a);
        }
        if self.dataset_job.is_some() {
            // Progress bars move and finished jobs are picked up without user input.
            ui.ctx()
                .request_repaint_after(std::time::Duration::from_millis(100));
        }
        if self.status.is_active() {
            // Keep the step counter and throughput figures fresh even between events.
            ui.ctx()
                .request_repaint_after(std::time::Duration::from_millis(250));
        }
        self.frame_times.record(frame_start.elapsed());
    }
}
