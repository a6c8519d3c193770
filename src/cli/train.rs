//! `train`: a preset, headless.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use anyhow::bail;
use crossbeam_channel::{Sender, bounded};
use indicatif::{ProgressBar, ProgressStyle};

use crate::engine::Event;
use crate::engine::checkpoint::Checkpoint;
use crate::engine::session::{CheckpointPlan, RunOptions, run_experiment_with};
use crate::preset::{AugmentOn, BackendChoice, Experiment};

/// What `train` was asked for on the command line.
pub struct TrainArgs {
    pub preset: Option<PathBuf>,
    /// A built-in lesson's starting experiment, as the window opens it.
    pub lesson: Option<String>,
    pub steps: Option<u64>,
    pub out: Option<PathBuf>,
    pub backend: Option<BackendChoice>,
    pub augment_on: Option<AugmentOn>,
    /// `train.remote` and `train.remote_token_file`, for `--backend remote`.
    pub remote: Option<String>,
    pub token_file: Option<PathBuf>,
    pub checkpoint_every: u64,
    /// Continue from `<out>/checkpoint.safetensors`.
    pub resume: bool,
    /// Write into a non-empty `--out` that is not a run folder.
    pub force: bool,
}

/// An error already reported on stderr (and as a JSON line): `cli::run` only sets the
/// exit status.
#[derive(Debug)]
pub struct Reported(pub String);

impl std::fmt::Display for Reported {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Reported {}

/// The run was stopped by a signal (SIGINT, SIGTERM, SIGHUP, SIGQUIT) after writing its
/// checkpoint and export; the process exits with 128 + the signal, as shells expect.
#[derive(Debug)]
pub struct Interrupted {
    pub signal: i32,
}

impl std::fmt::Display for Interrupted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "interrupted by signal {}", self.signal)
    }
}

impl std::error::Error for Interrupted {}

/// Prints on stderr whether or not it is a terminal (`ProgressBar::println` prints
/// nothing when the bar is hidden, as it is when stderr is piped).
fn say(bar: &ProgressBar, message: &str) {
    bar.suspend(|| crate::errln!("{message}"));
}

/// A JSON line on stdout for what a script must not miss: failures and warnings.
fn json_event(kind: &str, message: &str) {
    crate::outln!("{}", serde_json::json!({"event": kind, "message": message}));
}

/// Ctrl-C, SIGTERM, SIGHUP (the terminal or ssh session closed) and SIGQUIT: the first
/// asks the run to stop after its current step (it then writes its checkpoint and export);
/// a second exits at once.
pub(super) struct Interrupts {
    signal: Arc<AtomicUsize>,
    done: Arc<AtomicBool>,
}

impl Interrupts {
    pub(super) fn install(commands: Sender<crate::engine::Command>) -> anyhow::Result<Self> {
        use signal_hook::consts::{SIGHUP, SIGINT, SIGQUIT, SIGTERM};
        let signal = Arc::new(AtomicUsize::new(0));
        let done = Arc::new(AtomicBool::new(false));
        for sig in [SIGINT, SIGTERM, SIGHUP, SIGQUIT] {
            let seen = Arc::new(AtomicBool::new(false));
            // Exits with 128 + sig if the flag is already set: the second signal.
            signal_hook::flag::register_conditional_shutdown(sig, 128 + sig, seen.clone())?;
            signal_hook::flag::register(sig, seen.clone())?;
            let (signal, done, commands) = (signal.clone(), done.clone(), commands.clone());
            std::thread::Builder::new()
                .name("signal-watch".into())
                .spawn(move || {
                    while !done.load(Ordering::Relaxed) {
                        if seen.load(Ordering::Relaxed) {
                            signal.store(sig as usize, Ordering::Relaxed);
                            let _ = commands.send(crate::engine::Command::Stop);
                            // A run waiting on a silent server would not reach the stop.
                            #[cfg(feature = "remote")]
                            crate::engine::backend::remote_link::interrupt();
                            return;
                        }
                        std::thread::sleep(std::time::Duration::from_millis(20));
                    }
                })?;
        }
        Ok(Self { signal, done })
    }

    pub(super) fn signal(&self) -> Option<i32> {
        match self.signal.load(Ordering::Relaxed) {
            0 => None,
            s => Some(s as i32),
        }
    }
}

impl Drop for Interrupts {
    fn drop(&mut self) {
        self.done.store(true, Ordering::Relaxed);
    }
}

pub fn train(args: TrainArgs) -> anyhow::Result<()> {
    let (exp, preset) = experiment_for(&args)?;
    exp.validate()
        .map_err(|m| anyhow::anyhow!("preset {}: {m}", preset.display()))?;
    let TrainArgs {
        out,
        checkpoint_every,
        resume,
        force,
        ..
    } = args;
    let out = out.unwrap_or_else(|| exp.run_dir());
    // Claimed before the (possibly long) dataset load: a folder that cannot be written,
    // or that another run writes, is refused at once.
    let claim = crate::engine::run_folder::claim(&out, force)?;
    let (commands_tx, commands) = bounded(8);
    let interrupts = Interrupts::install(commands_tx.clone())?;
    // Ctrl-C during a long load stops at once (the load is cancelled, not waited for).
    let loaded = super::load::load_until(&exp.dataset, &|| interrupts.signal().is_some())?;
    let (Some(dataset), None) = (loaded, interrupts.signal()) else {
        let signal = interrupts.signal().unwrap_or(signal_hook::consts::SIGINT);
        return Err(Interrupted { signal }.into());
    };
    crate::errln!(
        "{}: {} on {} ({} train / {} test images), {} steps of {} images",
        exp.name,
        exp.method.kind,
        dataset.name,
        dataset.train.len(),
        dataset.test.len(),
        exp.train.steps,
        exp.train.batch_size.min(dataset.train.len())
    );
    let mut report = Report::new(exp.train.steps);
    // Export after every evaluation, so `out` always holds the last good model.
    let options = RunOptions {
        export_each_eval: Some(out.clone()),
        checkpoints: Some(CheckpointPlan {
            dir: out.clone(),
            every: checkpoint_every,
        }),
        resume_from: resume.then(|| out.clone()),
        force,
    };
    let result = run_experiment_with(&exp, &dataset, &commands, &options, &mut |ev| {
        report.event(ev);
    });
    report.bar.finish_and_clear();
    drop(claim);
    let signal = interrupts.signal();
    drop(interrupts);
    drop(commands_tx);
    report.final_line(result.steps_done);
    if let Some(message) = result.failed {
        return Err(Reported(message).into());
    }
    if let Some(message) = report.write_failed {
        return Err(Reported(format!("a write failed: {message}")).into());
    }
    if !report.finished {
        bail!("the run ended without finishing");
    }
    if let Some(signal) = signal {
        crate::errln!(
            "stopped by signal {signal} at step {}: checkpoint and export written to {}; \
             `train --resume --out {}` continues",
            result.steps_done,
            out.display(),
            out.display()
        );
        return Err(Interrupted { signal }.into());
    }
    Ok(())
}

/// The experiment to run and the file it came from: the preset, or (resuming without
/// one) the checkpoint's own, with the command line's overrides applied.
fn experiment_for(args: &TrainArgs) -> anyhow::Result<(Experiment, PathBuf)> {
    if let Some(id) = &args.lesson {
        if args.preset.is_some() {
            bail!("give --preset or --lesson, not both");
        }
        let lesson = crate::lessons::find(id).map_err(|m| anyhow::anyhow!("--lesson: {m}"))?;
        let mut exp = (lesson.start)();
        // The window opens a lesson at its first step, whose set-up it applies.
        if let Some(setup) = lesson.steps.first().and_then(|s| s.setup) {
            setup(&mut exp);
        }
        return Ok((
            with_overrides(exp, args),
            PathBuf::from(format!("lesson {id}")),
        ));
    }
    let (exp, preset) = match (&args.preset, &args.out) {
        (Some(p), _) => (Experiment::load(p)?, p.clone()),
        (None, Some(dir)) if args.resume => (
            Checkpoint::peek(dir)?.1,
            dir.join(crate::engine::checkpoint::CHECKPOINT_FILE),
        ),
        _ => {
            bail!("train needs --preset FILE (see presets/), --lesson NAME, or --resume --out RUN")
        }
    };
    Ok((with_overrides(exp, args), preset))
}

/// The command line's overrides (steps, where views are made, backend, remote server)
/// applied to `exp`.
fn with_overrides(mut exp: Experiment, args: &TrainArgs) -> Experiment {
    if let Some(s) = args.steps {
        exp.train.steps = s;
    }
    if let Some(a) = args.augment_on {
        exp.train.augment_on = a;
    }
    if let Some(b) = args.backend {
        exp.train.backend = b;
    }
    if let Some(url) = &args.remote {
        exp.train.remote.clone_from(url);
    }
    if let Some(file) = &args.token_file {
        exp.train.remote_token_file = file.display().to_string();
    }
    exp
}

/// What a headless run prints as it goes: the progress bar and messages on stderr, one
/// JSON line per logged step, evaluation and probe on stdout, and what it must remember
/// for the end (the last kNN and probe, whether it finished, a failed write).
struct Report {
    bar: ProgressBar,
    last_knn: Option<(f32, f32)>,
    last_probe: Option<(f32, f32)>,
    /// The latest evaluation's held-out embeddings, for the closing line's silhouettes.
    last_frame: Option<crate::engine::ProjectionFrame>,
    finished: bool,
    write_failed: Option<String>,
}

impl Report {
    fn new(steps: u64) -> Self {
        let bar = ProgressBar::new(steps);
        bar.set_style(
            ProgressStyle::with_template("{bar:40} {pos}/{len} steps  {msg}  [{elapsed} < {eta}]")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        Self {
            bar,
            last_knn: None,
            last_probe: None,
            last_frame: None,
            finished: false,
            write_failed: None,
        }
    }

    fn line(value: &serde_json::Value) {
        crate::cli::console::out(&value.to_string());
    }

    fn event(&mut self, ev: Event) {
        let bar = &self.bar;
        match ev {
            Event::Started { backend, .. } => {
                say(
                    bar,
                    &format!("backend: {} ({})", backend.name, backend.reason),
                );
            }
            Event::Step(m) => {
                bar.set_position(m.step);
                bar.set_message(format!(
                    "loss {:.4}  {:.0} views/s",
                    m.loss, m.views_per_sec
                ));
                Self::line(&step_json(&m));
            }
            Event::Eval(e) => {
                self.last_knn = Some((e.knn_top1, e.baseline_top1));
                Self::line(
                    &serde_json::json!({"step": e.step, "knn_top1": e.knn_top1, "baseline_top1": e.baseline_top1, "attributes": e.attributes, "per_class": e.per_class}),
                );
            }
            Event::Probe(p) => {
                self.last_probe = Some((p.accuracy, p.baseline));
                Self::line(
                    &serde_json::json!({"step": p.step, "probe_top1": p.accuracy, "probe_baseline_top1": p.baseline}),
                );
            }
            Event::FullEval(f) => {
                say(bar, &f.summary());
                Self::line(&serde_json::json!({"full_eval": f}));
            }
            Event::ProbeFailed { step, message } => {
                say(
                    bar,
                    &format!("linear probe at step {step} failed: {message}"),
                );
                json_event("probe_failed", &message);
            }
            Event::Finished { .. } => self.finished = true,
            Event::Failed { message, .. } => {
                say(bar, &format!("error: {message}"));
                json_event("failed", &message);
            }
            Event::Warning { message } => {
                say(bar, &format!("warning: {message}"));
                json_event("warning", &message);
            }
            Event::Exported { dir, files } => {
                say(
                    bar,
                    &format!("exported to {}: {}", dir.display(), files.join(", ")),
                );
            }
            Event::ExportFailed { message } => {
                say(bar, &format!("export failed: {message}"));
                json_event("export_failed", &message);
                self.write_failed = Some(message);
            }
            Event::CheckpointFailed { message } => {
                say(bar, &format!("checkpoint failed: {message}"));
                json_event("checkpoint_failed", &message);
                self.write_failed = Some(message);
            }
            Event::Projection(frame) => self.last_frame = Some(frame),
            Event::Checkpointed { .. }
            | Event::Similarity(_)
            | Event::Paused { .. }
            | Event::Resumed { .. } => {}
        }
    }

    /// The closing JSON line: the last evaluation's kNN (the last step always evaluates),
    /// probe, and the silhouettes of its settled t-SNE (`projection_silhouette`).
    fn final_line(&self, steps_done: u64) {
        if let Some((knn, base)) = self.last_knn {
            let mut line = serde_json::json!({"final_knn_top1": knn, "baseline_top1": base, "steps": steps_done});
            if let Some((probe, probe_base)) = self.last_probe {
                line["final_probe_top1"] = serde_json::json!(probe);
                line["probe_baseline_top1"] = serde_json::json!(probe_base);
            }
            if let Some(frame) = &self.last_frame {
                line["projection_silhouette"] = super::projection_silhouette::of(frame);
            }
            Self::line(&line);
        }
    }
}

/// A logged step as its JSON line.
fn step_json(m: &crate::engine::StepMetrics) -> serde_json::Value {
    let signals: serde_json::Map<_, _> = m
        .signals
        .iter()
        .map(|(k, v)| (k.clone(), serde_json::json!(v)))
        .collect();
    serde_json::json!({
        "step": m.step, "loss": m.loss, "align": m.align, "uniform": m.uniform,
        "z_std": m.z_std, "effective_rank": m.effective_rank, "pos_sim": m.pos_sim, "neg_sim": m.neg_sim,
        "pos_hist": m.pos_hist, "neg_hist": m.neg_hist, "own_space": m.own,
        "signals": signals,
        "lr": m.lr, "views_per_sec": m.views_per_sec, "data_wait": m.data_wait,
        "round_trip_ms": m.round_trip_ms,
    })
}
