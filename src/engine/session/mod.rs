//! The training session shared by the app's trainer thread and the headless CLI, in parts
//! with one job each:
//! - [`prepare`] checks the settings and builds the method (failures are values,
//!   reported once);
//! - [`cadence`] decides when to log, evaluate, checkpoint and export;
//! - [`Session::step`] is one training step, [`step_report`] its metrics;
//! - [`evaluation`] is the kNN / projection evaluation, [`writers`] the checkpoint and
//!   export (shared with the window's Export and the browse path), [`resume`] checks a
//!   checkpoint against the preset, [`commands`] applies the UI's commands;
//! - [`pace`] is the speed limit (`Command::SpeedLimit`); a command cuts its wait short.
//!
//! A logged step's shared representation figures are computed on the encoder output h of
//! that batch's views, embedded again in evaluation mode by `Method::embed`, so every
//! method is measured in the same space; the space the method's loss compares, named by
//! `StepOutput::space`, is reported as `StepMetrics::own`.

pub mod cadence;
pub mod commands;
pub mod evaluation;
pub mod pace;
pub mod prepare;
pub mod resume;
pub mod step_report;
pub mod view_source;
pub mod writers;

use burn::tensor::Device;
use crossbeam_channel::Receiver;
use std::panic::AssertUnwindSafe;

use self::cadence::Cadence;
use self::commands::Flow;
use self::evaluation::Evaluator;
use self::prepare::{Failure, Prepared, prepare};
use self::step_report::{Throughput, step_metrics};
use self::view_source::{ReadyViews, prefetch_views};
use self::writers::{CheckpointBook, save_checkpoint, stopped_unsaved};
use super::export::MetricsLog;
use super::metrics_journal::MetricsJournal;
use super::probe_runner::ProbeRunner;
use super::protocol::{Command, Event, SimilarityMatrix};
use super::run_folder::RunFolderClaim;
use crate::data::Dataset;
use crate::methods::{Method, StepOutput, TrainBatch};
use crate::metrics::{MATRIX_PAIRS, similarity_matrix};
use crate::model::tensor_io::{images_to_tensor, matrix_to_vec};
use crate::preset::{AugmentOn, Experiment};
use crate::seeding::backend_seed;

/// A reported step's views: pixels, rows, side.
type ShownViews = (Vec<f32>, usize, usize);

pub use writers::export_and_report;

/// How a run ended, with what is needed to export its model afterwards.
pub struct RunResult {
    /// The method as trained so far.
    pub method: Option<Box<dyn Method>>,
    pub metrics: MetricsLog,
    pub steps_done: u64,
    pub failed: Option<String>,
    /// The device evaluation runs on (exports embed the held-out images with it).
    pub device: Option<Device>,
    /// The step whose loss was not finite. The model is then not trusted for export:
    /// BatchNorm statistics saw the bad batch, and the weights may be what made it bad.
    pub diverged_at: Option<u64>,
}

/// Optional behaviour of a run.
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    /// Export here after every evaluation, so the folder always holds the last good model
    /// (the headless `train` command sets it).
    pub export_each_eval: Option<std::path::PathBuf>,
    /// Write `checkpoint.safetensors` here every `every` steps (0: never periodically),
    /// when the run is stopped, and when it ends. A run that diverges keeps the last one.
    pub checkpoints: Option<CheckpointPlan>,
    /// Continue the run saved in this checkpoint (a file or a run folder).
    pub resume_from: Option<std::path::PathBuf>,
    /// Write into a non-empty export or checkpoint folder that is not a run folder.
    pub force: bool,
}

#[derive(Clone, Debug)]
pub struct CheckpointPlan {
    pub dir: std::path::PathBuf,
    pub every: u64,
}

/// Runs `exp` on `dataset`, reporting through `emit` and obeying `commands`.
/// Never panics on bad input: failures become an `Event::Failed`.
pub fn run_experiment(
    exp: &Experiment,
    dataset: &Dataset,
    commands: &Receiver<Command>,
    emit: &mut dyn FnMut(Event),
) -> RunResult {
    run_experiment_with(exp, dataset, commands, &RunOptions::default(), emit)
}

pub fn run_experiment_with(
    exp: &Experiment,
    dataset: &Dataset,
    commands: &Receiver<Command>,
    options: &RunOptions,
    emit: &mut dyn FnMut(Event),
) -> RunResult {
    let mut result = RunResult::empty();
    let prepared = match prepare(exp, dataset, options) {
        Ok(prepared) => prepared,
        Err(Failure { step, message }) => {
            result.fail(step, message, emit);
            return result;
        }
    };
    let mut session = Session::start(exp, dataset, options, prepared, result, emit);
    // A panic inside burn (a remote server that went away, a GPU driver fault) stops the
    // run like any failure: reported, with what was written so far kept.
    let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| match session.begin(emit) {
        Ok(first_step) => session.train(first_step, commands, emit),
        Err(Stopped) => None,
    }));
    let outcome = match outcome {
        Ok(outcome) => outcome,
        Err(panic) => {
            let step = session.result.steps_done;
            let message =
                session.crash_message(step, &crate::worker::panic_message(panic.as_ref()));
            session.fail(step, message, emit);
            None
        }
    };
    session.finish(outcome, emit)
}

/// The run has failed; the failure is already reported.
struct Stopped;

/// A prepared run between its steps.
struct Session<'a> {
    exp: &'a Experiment,
    dataset: &'a Dataset,
    options: &'a RunOptions,
    cadence: Cadence,
    evaluator: Evaluator<'a>,
    probes: ProbeRunner,
    train_device: Device,
    temperature: Option<f32>,
    resume: Option<crate::engine::checkpoint::Checkpoint>,
    /// Where the checkpoints' metrics go, and the dataset they record.
    journal: MetricsJournal,
    fingerprint: String,
    claims: Vec<RunFolderClaim>,
    uses_local_crops: bool,
    /// The speed limit a class can follow (`Command::SpeedLimit`).
    pace: pace::Pace,
    result: RunResult,
}

/// The journal a resumed run appends to: the checkpoint's own when it checkpoints into the
/// folder it resumed from; otherwise a new one, written whole at the first checkpoint.
fn continued_journal(
    options: &RunOptions,
    resume: Option<&crate::engine::checkpoint::Checkpoint>,
) -> MetricsJournal {
    let folder = |p: &std::path::Path| {
        let dir = if p.is_dir() {
            p
        } else {
            p.parent().unwrap_or(p)
        };
        dir.canonicalize().ok()
    };
    let same = match (&options.resume_from, &options.checkpoints) {
        (Some(from), Some(plan)) => folder(from).is_some() && folder(from) == folder(&plan.dir),
        _ => false,
    };
    match resume {
        // A format 1 checkpoint (no journal yet, bytes 0) has its log written whole.
        Some(ckpt) if same && ckpt.journal.bytes > 0 => {
            MetricsJournal::continuing(&ckpt.metrics, ckpt.journal)
        }
        _ => MetricsJournal::default(),
    }
}

impl RunResult {
    /// A run that has not started: no model, an empty log.
    pub fn empty() -> Self {
        Self {
            method: None,
            metrics: MetricsLog::default(),
            steps_done: 0,
            failed: None,
            device: None,
            diverged_at: None,
        }
    }

    /// Reports the run's failure, once.
    pub fn fail(&mut self, step: u64, message: String, emit: &mut dyn FnMut(Event)) {
        emit(Event::Failed {
            step,
            message: message.clone(),
        });
        self.failed = Some(message);
    }
}

impl<'a> Session<'a> {
    /// Announces the run and its warnings.
    fn start(
        exp: &'a Experiment,
        dataset: &'a Dataset,
        options: &'a RunOptions,
        prepared: Prepared,
        mut result: RunResult,
        emit: &mut dyn FnMut(Event),
    ) -> Self {
        let Prepared {
            method,
            resume,
            claims,
            device,
            train_device,
            backend,
            uses_local_crops,
            fingerprint,
        } = prepared;
        let journal = continued_journal(options, resume.as_ref());
        emit(Event::Started {
            backend,
            total_steps: exp.train.steps,
        });
        let mut warnings = super::settings_check::warnings(exp, dataset);
        warnings.extend(method.warnings(dataset.train.len()));
        for message in warnings {
            emit(Event::Warning { message });
        }
        // A resumed run's baselines are its first evaluation's.
        let first_eval = resume.as_ref().and_then(|c| c.metrics.evals.first());
        let evaluator = Evaluator::new(exp, dataset, device.clone(), first_eval);
        result.device = Some(device.clone());
        let temperature = method.logit_temperature();
        result.method = Some(method);
        Self {
            exp,
            dataset,
            options,
            cadence: Cadence::new(exp, options),
            evaluator,
            // Linear probes at initialisation (the baseline), at the end and on demand.
            probes: ProbeRunner::new(dataset.class_names.clone()),
            train_device,
            temperature,
            resume,
            journal,
            fingerprint,
            claims,
            uses_local_crops,
            pace: pace::Pace::default(),
            result,
        }
    }

    /// What to tell the user when the run panicked at `step`.
    fn crash_message(&self, step: u64, panic: &str) -> String {
        let remote = self
            .result
            .device
            .as_ref()
            .is_some_and(crate::engine::backend::remote::is_remote);
        let kept = "the run is stopped; the last checkpoint and export written are kept";
        if remote {
            #[cfg(feature = "remote")]
            let panic = crate::engine::backend::remote_link::problem(&self.exp.train.remote)
                .unwrap_or_else(|| panic.to_string());
            format!(
                "the remote server {} stopped answering at step {step} ({panic}): {kept}",
                self.exp.train.remote
            )
        } else {
            format!("the run crashed at step {step} ({panic}): {kept}")
        }
    }

    fn fail(&mut self, step: u64, message: String, emit: &mut dyn FnMut(Event)) -> Stopped {
        self.result.fail(step, message, emit);
        Stopped
    }

    /// A resumed run replays its curves; a fresh one evaluates (and exports) its random
    /// initialisation. Returns the first step to train.
    fn begin(&mut self, emit: &mut dyn FnMut(Event)) -> Result<u64, Stopped> {
        let first_step = match self.resume.take() {
            Some(ckpt) => {
                // The curves so far come back from the checkpoint, as if just logged.
                for m in &ckpt.metrics.steps {
                    emit(Event::Step(m.clone()));
                }
                for e in &ckpt.metrics.evals {
                    emit(Event::Eval(e.clone()));
                }
                for p in &ckpt.metrics.probes {
                    emit(Event::Probe(p.clone()));
                }
                for f in &ckpt.metrics.full_evals {
                    emit(Event::FullEval(f.clone()));
                }
                self.probes
                    .restore_baseline(ckpt.metrics.probes.first().map(|p| p.baseline));
                self.result.metrics = ckpt.metrics;
                ckpt.step
            }
            None => {
                self.evaluate(0, emit);
                self.evaluate_full(0, emit);
                0
            }
        };
        self.result.steps_done = first_step;
        if self.cadence.exports_the_start(first_step) {
            self.export(0, emit)?;
        }
        Ok(first_step)
    }

    /// Trains from `first_step` until the end or a stop. `None` when the run failed.
    fn train(
        &mut self,
        first_step: u64,
        commands: &Receiver<Command>,
        emit: &mut dyn FnMut(Event),
    ) -> Option<(u64, bool)> {
        let (exp, dataset) = (self.exp, self.dataset);
        let batch = exp.train.batch_size.min(dataset.train.len());
        // Local crops are made only for a method that uses them (they come after the two
        // views in each image's random stream, so the views are the same either way).
        let mut views_spec = exp.views.clone();
        if !self.uses_local_crops {
            views_spec.local.count = 0;
        }
        let on_device =
            (exp.train.augment_on == AugmentOn::Device).then(|| self.train_device.clone());
        // Views for the coming steps are built on a producer thread while the trainer steps.
        std::thread::scope(|scope| {
            let steps = first_step..exp.train.steps;
            let mut prefetch = prefetch_views(scope, exp, dataset, &views_spec, steps, on_device);
            let mut window = Throughput::new(prefetch.waited);
            let mut step = first_step;
            let mut pause_next = false;
            while step < exp.train.steps {
                self.probes.poll(false, &mut self.result.metrics, emit);
                let flow =
                    self.handle_commands(commands, std::mem::take(&mut pause_next), step, emit);
                match flow {
                    Flow::Stop => return Some((step, true)),
                    Flow::StepThenPause => pause_next = true,
                    Flow::Continue => {}
                }
                if !pause_next && !self.pace.wait(commands) {
                    // A command came while waiting for the speed limit: apply it first.
                    continue;
                }
                let views = prefetch
                    .next_batch()
                    .expect("the producer makes one batch per step");
                let lr = exp.train.lr_at(step);
                // A single step asked for by the user is always shown.
                let reported = self.cadence.after(step + 1).log || pause_next;
                let (out, shown) = self.step(step, views, reported, lr, emit).ok()?;
                step += 1;
                window.count_step();
                self.result.steps_done = step;
                let due = self.cadence.after(step);
                if let Some(views) = shown {
                    let mut rates = window.rates(batch, prefetch.waited);
                    rates.round_trip_ms = self
                        .result
                        .device
                        .as_ref()
                        .and_then(crate::engine::backend::remote::round_trip)
                        .map(|t| t.as_secs_f32() * 1e3);
                    let h = self.representation(views);
                    self.report_step(step, &out, &h, lr, rates, emit);
                    window = Throughput::new(prefetch.waited);
                }
                if due.checkpoint {
                    self.checkpoint(step, emit).ok()?;
                }
                if due.evaluate {
                    self.evaluate(step, emit);
                    if due.last {
                        self.evaluate_full(step, emit);
                        // The final probe belongs in the final export.
                        self.probes.poll(true, &mut self.result.metrics, emit);
                    }
                    if due.export {
                        self.export(step, emit).ok()?;
                    }
                    // Evaluation time is not training time.
                    window = Throughput::new(prefetch.waited);
                }
            }
            Some((step, false))
        })
    }

    /// One optimisation step on `views`; with `reported`, also the views' pixels (the
    /// step's report embeds them again, by the encoder alone).
    fn step(
        &mut self,
        step: u64,
        ReadyViews { batch: views, made }: ReadyViews,
        reported: bool,
        lr: f64,
        emit: &mut dyn FnMut(Event),
    ) -> Result<(StepOutput, Option<ShownViews>), Stopped> {
        let device = &self.train_device;
        let on_device = made.is_some();
        let (pixels, local) = match made {
            None => {
                let local = (views.local_count > 0).then(|| {
                    images_to_tensor(
                        &views.local,
                        views.local_count * views.n,
                        views.local_size,
                        device,
                    )
                });
                let pixels = images_to_tensor(&views.data, 2 * views.n, views.size, device);
                (pixels, local)
            }
            Some(made) => (made.views, made.local),
        };
        let shown = reported.then(|| {
            let data = if on_device {
                pixels.to_data().iter::<f32>().collect()
            } else {
                views.data.clone()
            };
            (data, 2 * views.n, views.size)
        });
        let batch = TrainBatch {
            views: pixels,
            labels: views
                .indices
                .iter()
                .map(|&i| self.dataset.train.labels[i])
                .collect(),
            indices: views.indices,
            step,
            geometry: views.geometry,
            local,
        };
        // burn's generator depends only on (seed, step): resuming draws the same.
        device.seed(backend_seed(self.exp.seed, step));
        let method = self.result.method.as_mut().expect("built by prepare");
        match method.train_step(batch, lr) {
            Ok(out) => Ok((out, shown)),
            Err(e) => {
                let kept = match &self.options.export_each_eval {
                    Some(dir) => format!(
                        "the export in {} from the last evaluation (if any) is kept",
                        dir.display()
                    ),
                    None => "earlier exports are kept".into(),
                };
                // `step` counts the updates done; the one that diverged is the next, as
                // the logs number steps (the first update is step 1).
                let diverged = step + 1;
                self.result.diverged_at = Some(diverged);
                let message = format!(
                    "training diverged at step {diverged}: {e}. The run is stopped and {kept}; \
                     try a lower learning rate"
                );
                Err(self.fail(step, message, emit))
            }
        }
    }

    /// The encoder output h of `views` (`(data, rows, size)`), in evaluation mode: the
    /// representation every method's dashboard figures share. `[rows, dim]` and `dim`.
    fn representation(&self, (data, rows, size): (Vec<f32>, usize, usize)) -> (Vec<f32>, usize) {
        let method = self.result.method.as_deref().expect("built by prepare");
        let device = self.result.device.as_ref().expect("set by start");
        let h = method.embed(images_to_tensor(&data, rows, size, device));
        let dim = h.dims()[1];
        (matrix_to_vec(h), dim)
    }

    fn report_step(
        &mut self,
        step: u64,
        out: &StepOutput,
        (h, h_dim): &(Vec<f32>, usize),
        lr: f64,
        rates: step_report::Rates,
        emit: &mut dyn FnMut(Event),
    ) {
        let own_z = out.read_embeddings();
        let metrics = step_metrics(step, out, &own_z, (h, *h_dim), lr, rates);
        let logged = Event::Step(metrics);
        self.result.metrics.record(&logged);
        emit(logged);
        let (cosines, pairs) = similarity_matrix(&own_z, out.dim, MATRIX_PAIRS);
        emit(Event::Similarity(SimilarityMatrix {
            step,
            pairs,
            cosines,
            temperature: self.temperature,
        }));
    }

    fn evaluate(&mut self, step: u64, emit: &mut dyn FnMut(Event)) {
        let method = self.result.method.as_deref().expect("built by prepare");
        self.evaluator.run(
            method,
            step,
            &mut self.result.metrics,
            &mut self.probes,
            emit,
        );
    }

    fn evaluate_full(&mut self, step: u64, emit: &mut dyn FnMut(Event)) {
        let method = self.result.method.as_deref().expect("built by prepare");
        self.evaluator
            .run_full(method, step, &mut self.result.metrics, emit);
    }

    /// A planned checkpoint; failing to write it stops the run.
    fn checkpoint(&mut self, step: u64, emit: &mut dyn FnMut(Event)) -> Result<(), Stopped> {
        let Some(plan) = &self.options.checkpoints else {
            return Ok(());
        };
        let book = CheckpointBook {
            journal: &mut self.journal,
            dataset: &self.fingerprint,
        };
        save_checkpoint(plan, self.exp, book, &mut self.result, emit)
            .map_err(|message| self.fail(step, stopped_unsaved(&message, "checkpoint"), emit))
    }

    /// A planned export; failing to write it stops the run.
    fn export(&mut self, step: u64, emit: &mut dyn FnMut(Event)) -> Result<(), Stopped> {
        let Some(dir) = &self.options.export_each_eval else {
            return Ok(());
        };
        export_and_report(dir, self.exp, self.dataset, &self.result, emit)
            .map_err(|message| self.fail(step, stopped_unsaved(&message, "export"), emit))
    }

    /// Reports every probe, writes what the end of a stopped or finished run keeps, and
    /// says the run is over.
    fn finish(mut self, outcome: Option<(u64, bool)>, emit: &mut dyn FnMut(Event)) -> RunResult {
        // A stopped run has its last evaluation probed too; every probe is reported before
        // the run says it finished.
        if outcome.is_some() {
            self.probes.start_latest();
        }
        self.probes.poll(true, &mut self.result.metrics, emit);
        let Some((step, stopped)) = outcome else {
            return self.result;
        };
        // Stopped or finished (never diverged): keep where it got to, and for a stopped
        // run its latest model too.
        let (checkpoint, export) = self.cadence.at_end(stopped);
        if checkpoint && self.checkpoint(step, emit).is_err() {
            return self.result;
        }
        if export && self.export(step, emit).is_err() {
            return self.result;
        }
        drop(std::mem::take(&mut self.claims));
        emit(Event::Finished { step, stopped });
        self.result
    }
}
