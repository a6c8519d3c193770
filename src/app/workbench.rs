//! The window's frame: the remembered [`Settings`] as one value and the owning parts (the
//! dataset, the run, the projection, the classroom), the frame loop, and [`WorkbenchApp::apply`],
//! which hands each [`Action`] to the part that owns it.
//!
//! To add a panel: write `panels/<name>.rs` with a struct of exactly what it borrows and a
//! `show` that pushes actions, and call it from [`WorkbenchApp::tab_body`] (or a side
//! panel). To add a remembered setting: a field on `Settings`. To add a plot: a function
//! in `panels/dashboard/figures.rs`.

use std::sync::{Arc, Mutex};

use eframe::egui;

use super::action::{Action, ClassroomAction, CompareAction, PlotAction, RunAction, Tab};
use super::classroom_state::ClassroomState;
use super::compare_state::CompareState;
use super::dataset_state::{DatasetChange, DatasetState};
use super::frame_times::FrameTimes;
use super::loss_explorer::LossExplorer;
use super::panels;
use super::persisted::{self, Settings};
use super::plot_export;
use super::projection_view::{ProjectionView, shown_frame};
use super::run_state::{RunInputs, RunState};
use super::screenshot::{ScreenshotPlan, ScreenshotState};
use super::textures::TextureCache;
use crate::preset::Experiment;

pub struct WorkbenchApp {
    ctx: egui::Context,
    /// What the window remembers between sessions (stored whole): the experiment being
    /// edited, the tab, the projection choice, the export settings.
    pub settings: Settings,
    pub data: DatasetState,
    pub run: RunState,
    pub projection: ProjectionView,
    pub classroom: ClassroomState,
    /// The Compare tab's sweep.
    pub compare: CompareState,
    /// The seed whose training step 0 the Views tab shows.
    pub preview_seed: u64,
    pub loss_explorer: LossExplorer,
    pub textures: TextureCache,
    pub frame_times: FrameTimes,
    /// Where the screenshot callback leaves a saved plot picture's outcome.
    plot_saved: Arc<Mutex<Option<String>>>,
    screenshot: Option<ScreenshotState>,
}

impl WorkbenchApp {
    /// A window on `experiment` with every other setting at its default.
    pub fn new(ctx: egui::Context, experiment: Experiment) -> Self {
        Self::restored(ctx, Settings::for_experiment(experiment))
    }

    /// A window reopened as `settings` left it.
    pub fn restored(ctx: egui::Context, mut settings: Settings) -> Self {
        let (data, dataset) = DatasetState::open(&settings.experiment.dataset);
        settings.experiment.dataset = dataset;
        Self {
            ctx,
            preview_seed: settings.experiment.seed,
            settings,
            data,
            run: RunState::default(),
            projection: ProjectionView::default(),
            classroom: ClassroomState::default(),
            compare: CompareState::default(),
            loss_explorer: LossExplorer::default(),
            textures: TextureCache::default(),
            frame_times: FrameTimes::default(),
            plot_saved: Arc::default(),
            screenshot: None,
        }
    }

    /// Says, until the next run, why the saved settings were not used.
    pub fn notice(&mut self, message: String) {
        self.run.history.warnings.push(message);
    }

    /// The egui context the window draws with.
    pub fn ctx(&self) -> &egui::Context {
        &self.ctx
    }

    pub fn enable_screenshot(&mut self, plan: ScreenshotPlan) {
        // A picture run leaves no checkpoint behind.
        self.settings.checkpoint_every = 0;
        if let Some(tab) = Tab::parse(&plan.tab) {
            self.settings.tab = tab;
        }
        self.screenshot = Some(ScreenshotState::new(plan, &mut self.settings.experiment));
    }

    /// Applies one action: each part applies its own slice.
    pub fn apply(&mut self, action: impl Into<Action>) {
        match action.into() {
            Action::Run(a) => self.apply_run(a),
            Action::Dataset(a) => {
                let active = self.run.is_active();
                self.data
                    .apply(a, active, &self.settings.experiment.dataset);
            }
            Action::Classroom(a) => self.apply_classroom(a),
            Action::Plot(a) => self.apply_plot(a),
            Action::Compare(a) => self.apply_compare(a),
            Action::EditExperiment(edited) => {
                if !self.run.is_active() {
                    self.settings.experiment = *edited;
                }
            }
            Action::ShowTab(t) => self.settings.tab = t,
            Action::ResampleViews => {
                self.preview_seed = self.preview_seed.wrapping_add(1);
                self.textures.forget_prefix("view/");
            }
        }
    }

    fn apply_run(&mut self, action: RunAction) {
        let needs_data = matches!(
            action,
            RunAction::Start | RunAction::OpenEncoder(_) | RunAction::ResumeCheckpoint
        );
        if needs_data && self.data.is_loading() {
            self.data.error = Some("the dataset is still loading; start when it is in".into());
            return;
        }
        let trains = matches!(action, RunAction::Start | RunAction::ResumeCheckpoint);
        if trains && self.compare.is_running() {
            // One training job at a time on this machine's cores (opening a finished
            // member's encoder is a short evaluation and goes ahead).
            self.data.error = Some("a sweep is running (Compare tab); stop it first".into());
            return;
        }
        let began = self.run.apply(
            action,
            RunInputs {
                experiment: &mut self.settings.experiment,
                dataset: &self.data.dataset,
                export_dir: &self.settings.export_dir,
                checkpoint_every: self.settings.checkpoint_every,
                ctx: &self.ctx,
            },
        );
        if began {
            // A run is watched on the Training tab, wherever Start was pressed.
            self.settings.tab = Tab::Training;
        }
    }

    fn apply_classroom(&mut self, action: ClassroomAction) {
        let c = &mut self.classroom;
        let outcome = match action {
            ClassroomAction::ToggleSettings => {
                c.hide_settings = !c.hide_settings;
                Ok(())
            }
            ClassroomAction::ToggleControl(id) => {
                c.toggle_control(id);
                Ok(())
            }
            ClassroomAction::TogglePresenting => {
                c.set_presenting(!c.presenting, &self.ctx);
                Ok(())
            }
            ClassroomAction::CloseLesson => {
                c.lesson = None;
                Ok(())
            }
            ClassroomAction::Answer(choice) => {
                c.answer_open_question(choice, self.run.runs_started());
                Ok(())
            }
            ClassroomAction::LessonStep(by) => {
                self.move_in_lesson(by);
                Ok(())
            }
            ClassroomAction::Save => {
                self.save_classroom();
                Ok(())
            }
            ClassroomAction::Open(path) => self.open_classroom(&path),
            ClassroomAction::OpenLesson(id) => self.open_lesson(id),
        };
        if let Err(e) = outcome {
            self.data.error = Some(e);
        }
    }

    fn apply_compare(&mut self, action: CompareAction) {
        if action == CompareAction::Start && (self.run.is_active() || self.data.is_loading()) {
            // One job at a time on this machine's cores and on the dataset.
            self.compare.message =
                Some("stop the run (or wait for the dataset) before starting a sweep".into());
            return;
        }
        let s = &self.settings;
        let dataset = &self.data.dataset;
        self.compare
            .apply(action, &s.experiment, dataset, &s.export_dir, &self.ctx);
    }

    fn apply_plot(&mut self, action: PlotAction) {
        let dir = plot_export::plots_dir(&self.settings.export_dir);
        match action {
            PlotAction::SaveData(figure) => {
                self.run.history.export_message =
                    Some(match plot_export::save_csv(&dir, &figure) {
                        Ok(path) => format!("saved {}", path.display()),
                        Err(e) => {
                            format!("cannot save the plot's data into {}: {e}", dir.display())
                        }
                    });
            }
            PlotAction::SaveImage { name, rect } => {
                plot_export::save_png(&self.ctx, dir, name, rect, Arc::clone(&self.plot_saved));
            }
        }
    }

    /// Takes in what finished since the last frame: trainer events, a dataset job, a saved
    /// plot picture; and feeds the layout workers. Runs before anything is drawn.
    fn poll(&mut self, ctx: &egui::Context) {
        self.run.poll(ctx);
        self.compare.poll();
        if let Some(message) = self.plot_saved.lock().ok().and_then(|mut m| m.take()) {
            self.run.history.export_message = Some(message);
        }
        if let Some(DatasetChange::Loaded(spec)) = self.data.poll() {
            self.settings.experiment.dataset = spec;
            self.textures.clear();
        }
        // Workers are started and fed here, never from drawing code.
        let shown = shown_frame(self.projection.scrub, &self.run.history);
        self.projection
            .keep_up(ctx, &self.settings.projection, shown);
    }

    /// The left panel: the experiment's settings (hidden in the classroom view).
    fn settings_panel(&mut self, ui: &mut egui::Ui, actions: &mut Vec<Action>) {
        let has_checkpoint = self.run.has_checkpoint(&self.settings.export_dir);
        let s = &mut self.settings;
        let mut draft = s.experiment.clone();
        panels::settings::show(
            ui,
            &mut panels::settings::SettingsPanel {
                status: &self.run.status,
                experiment: &mut draft,
                export_dir: &mut s.export_dir,
                checkpoint_every: &mut s.checkpoint_every,
                encoder_dir: &mut s.encoder_dir,
                has_checkpoint,
                hidden: &self.classroom.hidden,
            },
            actions,
        );
        propose(&s.experiment, draft, actions);
    }

    /// The open tab's contents.
    fn tab_body(&mut self, ui: &mut egui::Ui, actions: &mut Vec<Action>) {
        let status = &self.run.status;
        match self.settings.tab {
            Tab::Dataset => panels::dataset::show(
                ui,
                &mut panels::dataset::DatasetPanel {
                    status,
                    dataset: &self.data.dataset,
                    dataset_job: self.data.job.as_ref(),
                    inspection: self.data.inspection.as_mut(),
                    dataset_path: &mut self.data.path,
                    browse: &mut self.data.browse,
                    textures: &mut self.textures,
                },
                actions,
            ),
            Tab::Views => {
                let mut draft = self.settings.experiment.clone();
                panels::views::show(
                    ui,
                    &mut panels::views::ViewsPanel {
                        status,
                        experiment: &mut draft,
                        dataset: &self.data.dataset,
                        seed: self.preview_seed,
                        textures: &mut self.textures,
                    },
                    actions,
                );
                propose(&self.settings.experiment, draft, actions);
            }
            Tab::Training => panels::training::show(
                ui,
                &self.run.view(&self.data.dataset),
                &mut self.settings.projection,
                &mut self.projection,
                &mut self.textures,
                actions,
            ),
            Tab::Compare => panels::compare::show(
                ui,
                &mut panels::compare::ComparePanel {
                    state: &mut self.compare,
                    experiment: &self.settings.experiment,
                    run_active: self.run.is_active(),
                },
                actions,
            ),
            Tab::Loss => panels::loss_explorer::show(ui, &mut self.loss_explorer),
        }
    }

    /// What the top bar reads.
    fn top_bar(&self) -> panels::top_bar::TopBar<'_> {
        panels::top_bar::TopBar {
            dataset_label: self.settings.experiment.dataset.label(),
            export_dir: &self.settings.export_dir,
            run: &self.run,
            classroom: &self.classroom,
            dataset_error: self.data.error.as_deref(),
            loading_dataset: self.data.is_loading(),
            frame_times: &self.frame_times,
        }
    }

    /// After drawing: the screenshot plan's actions, then everything the panels asked.
    fn finish_frame(&mut self, ctx: &egui::Context, mut actions: Vec<Action>) {
        let loading = self.data.is_loading();
        if let Some(shot) = &mut self.screenshot {
            actions.extend(shot.drive(
                ctx,
                &self.run,
                &mut self.settings.projection,
                &mut self.projection,
                &self.frame_times,
                loading,
            ));
        }
        for a in actions {
            self.apply(a);
        }
        if self.data.job.is_some() {
            // Progress bars move and finished jobs are picked up without user input.
            ctx.request_repaint_after(std::time::Duration::from_millis(100));
        }
        if self.run.is_active() || self.compare.is_running() {
            // Keep the step counter and throughput figures fresh even between events.
            ctx.request_repaint_after(std::time::Duration::from_millis(250));
        }
    }
}

impl eframe::App for WorkbenchApp {
    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        // A screenshot run is scripted: it neither reads nor leaves settings.
        if self.screenshot.is_none() {
            storage.set_string(persisted::KEY, self.settings.to_toml());
        }
    }

    fn on_exit(&mut self) {
        // Closing the window is like Stop: what runs writes its checkpoint first.
        let limit = std::time::Duration::from_secs(60);
        self.run.finish_on_exit(&self.ctx.clone(), limit);
        self.compare.finish_on_exit(limit);
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
        let ctx = ui.ctx().clone();
        if ui.input(|i| i.key_pressed(egui::Key::F12)) {
            self.frame_times.shown = !self.frame_times.shown;
        }
        self.poll(&ctx);
        let mut actions = Vec::new();
        panels::drop_target::show(&ctx, &mut actions);
        egui::Panel::top("top_bar").show(ui, |ui| {
            panels::top_bar::show(ui, &self.top_bar(), &mut actions);
        });
        if !self.classroom.hide_settings {
            egui::Panel::left("settings")
                .default_size(320.0)
                .show(ui, |ui| self.settings_panel(ui, &mut actions));
        }
        egui::CentralPanel::default().show(ui, |ui| {
            ui.horizontal(|ui| {
                for t in Tab::ALL {
                    if ui
                        .selectable_label(self.settings.tab == t, t.label())
                        .clicked()
                    {
                        actions.push(Action::ShowTab(t));
                    }
                }
            });
            ui.separator();
            if let Some(progress) = &self.classroom.lesson {
                let runs = self.run.runs_started();
                let question = self.classroom.question(runs, self.run.is_active());
                let tally = self.classroom.tally(runs, self.run.is_active());
                let lesson = panels::lesson::LessonBox {
                    progress,
                    status: &self.run.status,
                    question,
                    tally,
                    history: &self.run.history,
                };
                panels::lesson::show(ui, &lesson, &mut actions);
            }
            self.tab_body(ui, &mut actions);
        });
        self.finish_frame(&ctx, actions);
        self.frame_times.record(frame_start.elapsed());
    }
}

/// An editing panel's draft, handed back as an action when it differs.
fn propose(experiment: &Experiment, draft: Experiment, actions: &mut Vec<Action>) {
    if draft != *experiment {
        actions.push(Action::EditExperiment(Box::new(draft)));
    }
}
