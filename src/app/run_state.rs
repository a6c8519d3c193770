//! The window's run: the trainer thread's handle, the status, the current run's history
//! and label, the earlier runs kept for comparison and the speed limit. It applies the
//! [`RunAction`]s and folds the trainer's events in each frame.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use eframe::egui;

use super::action::RunAction;
use super::history::{RunHistory, RunStatus};
use super::run_archive::{PastRun, archive, run_label};
use super::run_view::RunView;
use crate::data::Dataset;
use crate::engine::checkpoint::{CHECKPOINT_FILE, Checkpoint};
use crate::engine::session::{CheckpointPlan, RunOptions};
use crate::engine::{Command, Event, TrainerHandle, spawn_browser, spawn_trainer_with};
use crate::preset::Experiment;

/// Longest the UI spends draining trainer events in one frame before yielding.
const EVENT_BUDGET: Duration = Duration::from_millis(8);

#[derive(Default)]
pub struct RunState {
    trainer: Option<TrainerHandle>,
    pub status: RunStatus,
    pub history: RunHistory,
    /// The current run's legend label ("run 2: MoCo v2 (moco-shapes)").
    pub label: String,
    /// Earlier runs of this session, for comparison.
    pub past_runs: Vec<PastRun>,
    runs_started: usize,
    /// Training steps per second at most, so a class can follow (`None`: full speed).
    pub speed_limit: Option<f32>,
    /// The last look for a checkpoint: folder, when, whether one was there.
    checkpoint_seen: Option<(String, Instant, bool)>,
}

/// What a run action needs from the rest of the window.
pub struct RunInputs<'a> {
    /// The experiment being edited; resuming a checkpoint replaces it with the
    /// checkpoint's own.
    pub experiment: &'a mut Experiment,
    pub dataset: &'a Arc<Dataset>,
    /// Where checkpoints go and are resumed from.
    pub export_dir: &'a str,
    /// Checkpoint every this many steps (0: none).
    pub checkpoint_every: u64,
    pub ctx: &'a egui::Context,
}

impl RunState {
    /// Applies one run action; returns whether a run (or an encoder's evaluation) began,
    /// so the window can show it.
    pub fn apply(&mut self, action: RunAction, inputs: RunInputs) -> bool {
        match action {
            RunAction::Start => return self.start(inputs),
            RunAction::Pause => self.send(Command::Pause),
            RunAction::Resume => self.send(Command::Resume),
            RunAction::Step => self.send(Command::Step),
            RunAction::Stop => self.send(Command::Stop),
            RunAction::Probe => self.send(Command::Probe),
            RunAction::Export(dir) => self.send(Command::Export(dir)),
            RunAction::SpeedLimit(limit) => {
                self.speed_limit = limit;
                self.send(Command::SpeedLimit(limit));
            }
            RunAction::OpenEncoder(dir) => return self.open_encoder(dir, &inputs),
            RunAction::ResumeCheckpoint => return self.resume_checkpoint(inputs),
            RunAction::ShowPastRun(i, shown) => {
                if let Some(run) = self.past_runs.get_mut(i) {
                    run.shown = shown;
                }
            }
        }
        false
    }

    /// The read-only view of the run that drawing code gets.
    pub fn view<'a>(&'a self, dataset: &'a Dataset) -> RunView<'a> {
        RunView {
            history: &self.history,
            status: &self.status,
            past_runs: &self.past_runs,
            run_label: &self.label,
            dataset,
        }
    }

    fn send(&self, cmd: Command) {
        if let Some(t) = &self.trainer {
            t.send(cmd);
        }
    }

    fn start(&mut self, inputs: RunInputs) -> bool {
        if self.status.is_active() {
            return false;
        }
        if let Err(message) = inputs.experiment.validate() {
            self.status = RunStatus::Failed(format!("cannot start: {message}"));
            return false;
        }
        self.launch(&inputs, None);
        true
    }

    /// Starts the trainer on the experiment, resuming from `resume` if given.
    fn launch(&mut self, inputs: &RunInputs, resume: Option<PathBuf>) {
        let label = run_label(self.runs_started + 1, inputs.experiment);
        self.begin_run(label);
        let ctx = inputs.ctx.clone();
        let options = RunOptions {
            checkpoints: (inputs.checkpoint_every > 0).then(|| CheckpointPlan {
                dir: PathBuf::from(inputs.export_dir),
                every: inputs.checkpoint_every,
            }),
            resume_from: resume,
            ..RunOptions::default()
        };
        self.trainer = Some(spawn_trainer_with(
            inputs.experiment.clone(),
            Arc::clone(inputs.dataset),
            options,
            Arc::new(move || ctx.request_repaint()),
        ));
        if self.speed_limit.is_some() {
            self.send(Command::SpeedLimit(self.speed_limit));
        }
    }

    /// Continues the checkpointed run in the export folder: its own settings, with the step
    /// count raised to the window's when that is larger, on the device chosen here.
    fn resume_checkpoint(&mut self, inputs: RunInputs) -> bool {
        if self.status.is_active() {
            return false;
        }
        let dir = PathBuf::from(inputs.export_dir);
        let (step, mut exp) = match Checkpoint::peek(&dir) {
            Ok(found) => found,
            Err(e) => {
                self.status = RunStatus::Failed(format!("cannot resume: {e:#}"));
                return false;
            }
        };
        if exp.dataset != inputs.experiment.dataset {
            self.status = RunStatus::Failed(format!(
                "cannot resume: the checkpoint trained on {}; load that dataset first",
                exp.dataset.label()
            ));
            return false;
        }
        let here = &inputs.experiment.train;
        exp.train.steps = exp.train.steps.max(here.steps);
        exp.train.backend = here.backend;
        exp.train.remote = here.remote.clone();
        exp.train.remote_token_file = here.remote_token_file.clone();
        if step >= exp.train.steps {
            self.status = RunStatus::Failed(format!(
                "cannot resume: the checkpoint is at step {step} of {}; raise the step count",
                exp.train.steps
            ));
            return false;
        }
        *inputs.experiment = exp;
        self.launch(&inputs, Some(dir));
        true
    }

    /// Like `start`, but the job evaluates a frozen encoder instead of training one.
    fn open_encoder(&mut self, dir: PathBuf, inputs: &RunInputs) -> bool {
        if self.status.is_active() {
            return false;
        }
        let label = format!(
            "run {}: encoder from {}",
            self.runs_started + 1,
            dir.display()
        );
        self.begin_run(label);
        let ctx = inputs.ctx.clone();
        self.trainer = Some(spawn_browser(
            dir,
            Arc::clone(inputs.dataset),
            Arc::new(move || ctx.request_repaint()),
        ));
        true
    }

    /// Archives the current run's curves for comparison and clears the dashboard.
    fn begin_run(&mut self, label: String) {
        let old = std::mem::take(&mut self.history);
        let old_label = std::mem::replace(&mut self.label, label);
        archive(&mut self.past_runs, old_label, old.log.steps, old.log.evals);
        self.runs_started += 1;
        self.status = RunStatus::Running;
    }

    /// Drains trainer events within a time budget; asks for another frame if more wait.
    pub fn poll(&mut self, ctx: &egui::Context) {
        let Some(trainer) = &self.trainer else { return };
        let start = Instant::now();
        while let Ok(ev) = trainer.events.try_recv() {
            if matches!(ev, Event::Checkpointed { .. }) {
                // A checkpoint was just written: look again rather than trust the cache.
                self.checkpoint_seen = None;
            }
            if let Some(status) = self.history.apply(ev) {
                self.status = status;
            }
            if start.elapsed() > EVENT_BUDGET {
                ctx.request_repaint();
                break;
            }
        }
        if self.status.is_active() && !trainer.is_running() {
            self.status = RunStatus::Failed("the trainer thread ended unexpectedly".into());
        }
    }

    /// As the window closes: a running run stops and writes its checkpoint (waiting at
    /// most `limit` for it), so Resume continues it next time.
    pub fn finish_on_exit(&mut self, ctx: &egui::Context, limit: Duration) {
        if !self.status.is_active() {
            return;
        }
        self.send(Command::Stop);
        let deadline = Instant::now() + limit;
        while self.status.is_active() && Instant::now() < deadline {
            self.poll(ctx);
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Whether `export_dir` holds a checkpoint to resume. Looked up on the disk when the
    /// folder changes and at most once a second otherwise, not every frame.
    pub fn has_checkpoint(&mut self, export_dir: &str) -> bool {
        let fresh = self
            .checkpoint_seen
            .as_ref()
            .is_some_and(|(dir, at, _)| dir == export_dir && at.elapsed() < Duration::from_secs(1));
        if !fresh {
            let present = Path::new(export_dir).join(CHECKPOINT_FILE).is_file();
            self.checkpoint_seen = Some((export_dir.to_string(), Instant::now(), present));
        }
        self.checkpoint_seen
            .as_ref()
            .is_some_and(|(_, _, present)| *present)
    }

    /// Whether a run (or an encoder's evaluation) has been started in this window.
    pub fn has_run(&self) -> bool {
        self.runs_started > 0
    }

    /// Whether an export is possible now (a model exists).
    pub fn can_export(&self) -> bool {
        self.trainer.is_some() && !matches!(self.status, RunStatus::Idle)
    }

    /// Runs started in this window so far.
    pub fn runs_started(&self) -> usize {
        self.runs_started
    }

    pub fn is_active(&self) -> bool {
        self.status.is_active()
    }
}
