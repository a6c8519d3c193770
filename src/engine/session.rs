//! The training loop shared by the app's trainer thread and the headless CLI.

use std::time::Instant;

use burn::tensor::Device;
use crossbeam_channel::{Receiver, RecvTimeoutError, TryRecvError};

use super::checkpoint::Checkpoint;
use super::embeddings_export::EmbeddingTable;
use super::evaluate::{EvalSample, evaluate, view_pairs};
use super::export::{MetricsLog, export_encoders};
use super::probe_runner::ProbeRunner;
use super::protocol::{Command, EvalReport, Event, SimilarityMatrix, StepMetrics};
use super::run_folder::claim;
use crate::data::Dataset;
use crate::engine::backend::select_device;
use crate::methods::{self, BuildContext, Method, TrainBatch};
use crate::metrics::{
    MATRIX_PAIRS, alignment, collapse, effective_rank, normalized_std, pair_similarity,
    rank_collapsed, similarity_matrix, uniformity,
};
use crate::model::tensor_io::images_to_tensor;
use crate::preset::Experiment;
use crate::seeding::backend_seed;
use crate::views::prefetch::{PREFETCH_DEPTH, Prefetcher};

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
    let mut result = RunResult {
        method: None,
        metrics: MetricsLog::default(),
        steps_done: 0,
        failed: None,
        device: None,
        diverged_at: None,
    };
    let fail = |result: &mut RunResult, emit: &mut dyn FnMut(Event), step, message: String| {
        emit(Event::Failed {
            step,
            message: message.clone(),
        });
        result.failed = Some(message);
    };
    if let Err(message) = exp.validate() {
        fail(
            &mut result,
            emit,
            0,
            format!("invalid experiment: {message}"),
        );
        return result;
    }
    if dataset.train.len() < 2 || dataset.test.is_empty() {
        let why = if dataset.test.is_empty() && exp.dataset.held_out() == Some(0.0) {
            "dataset.held_out = 0 holds no images out for evaluation: set it between 0 and 1 \
             (0.2 is usual), or give the folder a val/ or test/ split"
                .to_string()
        } else {
            format!(
                "dataset {} is too small: {} train and {} test images",
                dataset.name,
                dataset.train.len(),
                dataset.test.len()
            )
        };
        fail(&mut result, emit, 0, why);
        return result;
    }
    let resume = match options.resume_from.as_deref().map(|p| resumable(p, exp)) {
        None => None,
        Some(Ok(ckpt)) => Some(ckpt),
        Some(Err(e)) => {
            fail(&mut result, emit, 0, format!("cannot resume: {e:#}"));
            return result;
        }
    };
    // Held for the whole run: a second process writing the same folders is refused now,
    // before any training, and not at the first export.
    let mut claims = Vec::new();
    let folders = options
        .checkpoints
        .as_ref()
        .map(|p| &p.dir)
        .into_iter()
        .chain(options.export_each_eval.as_ref());
    for dir in folders {
        match claim(dir, options.force) {
            Ok(c) => claims.push(c),
            Err(e) => {
                fail(&mut result, emit, 0, format!("{e:#}"));
                return result;
            }
        }
    }
    let (device, backend) = match select_device(exp.train.backend) {
        Ok(found) => found,
        Err(message) => {
            fail(&mut result, emit, 0, message);
            return result;
        }
    };
    device.seed(exp.seed);
    result.device = Some(device.clone());
    let (info, params) = match methods::resolve(&exp.method) {
        Ok(found) => found,
        Err(message) => {
            fail(&mut result, emit, 0, message);
            return result;
        }
    };
    if info.needs_colour && dataset.train.is_grayscale() {
        fail(
            &mut result,
            emit,
            0,
            format!(
                "{} needs colour images: dataset {} is greyscale, so its colour (ab) view \
                 would be empty; pick a colour dataset such as shapes",
                info.name, dataset.name
            ),
        );
        return result;
    }
    let train_device = device.clone().autodiff();
    let method = methods::build(
        info,
        &BuildContext {
            device: &train_device,
            encoder: &exp.encoder,
            params: &params,
            train: &exp.train,
            dataset_len: dataset.train.len(),
            image_size: dataset.image_size(),
            normalize: exp.views.normalize,
            seed: exp.seed,
        },
    );
    let mut method = method;
    if let Some(ckpt) = &resume
        && let Err(e) = method.load_state(&ckpt.state)
    {
        fail(
            &mut result,
            emit,
            ckpt.step,
            format!("cannot resume: the checkpoint does not fit this method: {e:#}"),
        );
        return result;
    }
    let eval_device = device;
    let temperature = method.logit_temperature();
    emit(Event::Started {
        backend,
        total_steps: exp.train.steps,
    });
    let mut warnings = super::settings_check::warnings(exp, dataset);
    warnings.extend(method.warnings(dataset.train.len()));
    for message in warnings {
        emit(Event::Warning { message });
    }

    let sample = EvalSample::new(dataset, &exp.eval, exp.seed);
    // A resumed run's baseline is its first evaluation's.
    let mut baseline = resume
        .as_ref()
        .and_then(|c| c.metrics.evals.first())
        .map_or(f32::NAN, |e| e.baseline_top1);
    // Linear probes at initialisation (the baseline), at the end and on demand.
    let mut probes = ProbeRunner::new(dataset.class_names.clone());
    let mut run_eval = |method: &dyn Method,
                        step: u64,
                        emit: &mut dyn FnMut(Event),
                        log: &mut MetricsLog,
                        probes: &mut ProbeRunner| {
        let evaluation = evaluate(
            method,
            dataset,
            &sample,
            &exp.eval,
            &exp.views.normalize,
            &eval_device,
            step,
        );
        if step == 0 {
            baseline = evaluation.knn_top1;
        }
        let report = EvalReport {
            step,
            knn_top1: evaluation.knn_top1,
            baseline_top1: baseline,
        };
        log.evals.push(report.clone());
        emit(Event::Eval(report));
        let mut frame = evaluation.frame;
        frame.view_pairs = view_pairs(
            method,
            dataset,
            &sample,
            &exp.views,
            exp.seed,
            &eval_device,
            &evaluation.pca,
        );
        emit(Event::Projection(frame));
        probes.offer(
            evaluation.probe_inputs,
            step == 0 || step == exp.train.steps,
        );
    };
    let first_step = match resume {
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
            probes.restore_baseline(ckpt.metrics.probes.first().map(|p| p.baseline));
            result.metrics = ckpt.metrics;
            ckpt.step
        }
        None => {
            run_eval(method.as_ref(), 0, emit, &mut result.metrics, &mut probes);
            0
        }
    };
    result.steps_done = first_step;
    result.method = Some(method);
    // The random-init evaluation is exported too: the baseline is in the folder.
    if first_step == 0
        && let Some(dir) = &options.export_each_eval
        && let Err(message) = export_and_report(dir, exp, dataset, &result, emit)
    {
        fail(&mut result, emit, 0, stopped_unsaved(&message, "export"));
        return result;
    }

    let batch = exp.train.batch_size.min(dataset.train.len());
    // Views for the coming steps are built on a producer thread while the trainer steps.
    let outcome = std::thread::scope(|scope| {
        let mut prefetch = Prefetcher::start(
            scope,
            &dataset.train,
            &exp.views,
            exp.seed,
            first_step,
            exp.train.steps,
            batch,
            PREFETCH_DEPTH,
        );
        let mut waited_before = prefetch.waited;
        let mut window_start = Instant::now();
        let mut window_steps = 0u64;
        let mut stopped = false;
        let mut step = first_step;
        while step < exp.train.steps {
            probes.poll(false, &mut result.metrics, emit);
            match handle_commands(commands, step, exp, dataset, &mut result, &mut probes, emit) {
                Flow::Continue => {}
                Flow::Stop => {
                    stopped = true;
                    break;
                }
            }
            let views = prefetch
                .next_batch()
                .expect("the producer makes one batch per step");
            let train_batch = TrainBatch {
                views: images_to_tensor(&views.data, 2 * views.n, views.size, &train_device),
                indices: views.indices,
                step,
                geometry: views.geometry,
                local: (views.local_count > 0).then(|| {
                    images_to_tensor(
                        &views.local,
                        views.local_count * views.n,
                        views.local_size,
                        &train_device,
                    )
                }),
            };
            let lr = exp.train.lr_at(step);
            // burn's generator depends only on (seed, step): resuming draws the same.
            train_device.seed(backend_seed(exp.seed, step));
            let method = result.method.as_mut().expect("method built above");
            let out = match method.train_step(train_batch, lr) {
                Ok(out) => out,
                Err(e) => {
                    let kept = match &options.export_each_eval {
                        Some(dir) => format!(
                            "the export in {} from the last evaluation (if any) is kept",
                            dir.display()
                        ),
                        None => "earlier exports are kept".into(),
                    };
                    let message = format!(
                        "training diverged at step {step}: {e}. The run is stopped and {kept}; \
                     try a lower learning rate"
                    );
                    result.diverged_at = Some(step);
                    fail(&mut result, emit, step, message);
                    return None;
                }
            };
            step += 1;
            window_steps += 1;
            result.steps_done = step;
            if step % exp.train.log_every == 0 || step == exp.train.steps {
                let secs = window_start.elapsed().as_secs_f32().max(1e-6);
                let z_std = normalized_std(&out.embeddings, out.dim);
                let rank = effective_rank(&out.embeddings, out.dim);
                let pairs = pair_similarity(&out.embeddings, out.dim);
                let m = StepMetrics {
                    step,
                    loss: out.loss,
                    align: alignment(&out.embeddings, out.dim),
                    uniform: uniformity(&out.embeddings, out.dim),
                    z_std,
                    z_std_healthy: collapse::healthy_std(out.dim),
                    effective_rank: rank,
                    collapsing: collapse::is_collapsing(z_std, out.dim)
                        || rank_collapsed(rank, out.dim),
                    pos_sim: pairs.pos_mean,
                    neg_sim: pairs.neg_mean,
                    pos_hist: pairs.pos_hist,
                    neg_hist: pairs.neg_hist,
                    signals: out
                        .signals
                        .iter()
                        .map(|s| (s.name.to_string(), s.value))
                        .collect(),
                    lr,
                    steps_per_sec: window_steps as f32 / secs,
                    views_per_sec: (window_steps as usize * 2 * batch) as f32 / secs,
                    data_wait: ((prefetch.waited - waited_before).as_secs_f32() / secs).min(1.0),
                };
                result.metrics.steps.push(m.clone());
                emit(Event::Step(m));
                let (cosines, pairs) = similarity_matrix(&out.embeddings, out.dim, MATRIX_PAIRS);
                emit(Event::Similarity(SimilarityMatrix {
                    step,
                    pairs,
                    cosines,
                    temperature,
                }));
                window_start = Instant::now();
                waited_before = prefetch.waited;
                window_steps = 0;
            }
            if let Some(plan) = &options.checkpoints
                && plan.every > 0
                && step % plan.every == 0
                && step < exp.train.steps
                && let Err(message) = save_checkpoint(plan, exp, &mut result, emit)
            {
                fail(
                    &mut result,
                    emit,
                    step,
                    stopped_unsaved(&message, "checkpoint"),
                );
                return None;
            }
            if step % exp.eval.every == 0 || step == exp.train.steps {
                let method = result.method.as_deref().expect("method built above");
                run_eval(method, step, emit, &mut result.metrics, &mut probes);
                if step == exp.train.steps {
                    // The final probe belongs in the final export.
                    probes.poll(true, &mut result.metrics, emit);
                }
                if let Some(dir) = &options.export_each_eval
                    && let Err(message) = export_and_report(dir, exp, dataset, &result, emit)
                {
                    fail(&mut result, emit, step, stopped_unsaved(&message, "export"));
                    return None;
                }
                // Evaluation time is not training time.
                window_start = Instant::now();
                waited_before = prefetch.waited;
                window_steps = 0;
            }
        }
        Some((step, stopped))
    });
    // A stopped run has its last evaluation probed too; every probe is reported before
    // the run says it finished.
    if outcome.is_some() {
        probes.start_latest();
    }
    probes.poll(true, &mut result.metrics, emit);
    let Some((step, stopped)) = outcome else {
        return result;
    };
    // Stopped or finished (never diverged): keep where it got to, and for a stopped run
    // its latest model too.
    if let Some(plan) = &options.checkpoints
        && let Err(message) = save_checkpoint(plan, exp, &mut result, emit)
    {
        fail(
            &mut result,
            emit,
            step,
            stopped_unsaved(&message, "checkpoint"),
        );
        return result;
    }
    if stopped
        && let Some(dir) = &options.export_each_eval
        && let Err(message) = export_and_report(dir, exp, dataset, &result, emit)
    {
        fail(&mut result, emit, step, stopped_unsaved(&message, "export"));
        return result;
    }
    drop(claims);
    emit(Event::Finished { step, stopped });
    result
}

/// The run's failure when a planned write fails: it stops rather than train on unsaved.
fn stopped_unsaved(message: &str, what: &str) -> String {
    format!(
        "the {what} could not be written ({message}); the run is stopped so that no training \
         goes unsaved, and the last {what} written before stays"
    )
}

/// The checkpoint at `path`, if it continues `exp` (the same preset, perhaps with more
/// steps).
fn resumable(path: &std::path::Path, exp: &Experiment) -> anyhow::Result<Checkpoint> {
    let ckpt = Checkpoint::read(path)?;
    let differs = preset_differences(&ckpt.experiment, exp);
    anyhow::ensure!(
        differs.is_empty(),
        "{} was made with a different preset (only the step count may change): {}",
        path.display(),
        differs.join("; ")
    );
    // The folder's own preset (written by its last export) must be the checkpoint's too:
    // a checkpoint copied in from another run would otherwise overwrite this run's export.
    let folder = if path.is_dir() {
        path
    } else {
        path.parent().unwrap_or(path)
    };
    let own = folder.join("preset.toml");
    if own.is_file() {
        let folder_exp = Experiment::load(&own)?;
        let differs = preset_differences(&ckpt.experiment, &folder_exp);
        anyhow::ensure!(
            differs.is_empty(),
            "the checkpoint in {} belongs to another run than this folder's preset.toml: {}",
            folder.display(),
            differs.join("; ")
        );
    }
    anyhow::ensure!(
        ckpt.step <= exp.train.steps,
        "{} is at step {}, past the run's {} steps",
        path.display(),
        ckpt.step,
        exp.train.steps
    );
    Ok(ckpt)
}

/// Settings in which `a` (the checkpoint's) and `b` differ, as `field: a vs b`, the step
/// count aside.
fn preset_differences(a: &Experiment, b: &Experiment) -> Vec<String> {
    let flat = |e: &Experiment| {
        let mut e = e.clone();
        e.train.steps = 0;
        e.settings()
    };
    let (fa, fb) = (flat(a), flat(b));
    let keys: std::collections::BTreeSet<&String> = fa.keys().chain(fb.keys()).collect();
    keys.into_iter()
        .filter(|k| fa.get(*k) != fb.get(*k))
        .map(|k| {
            let show =
                |v: Option<&toml::Value>| v.map_or_else(|| "(unset)".into(), ToString::to_string);
            format!(
                "{k} = {} in the checkpoint, {} here",
                show(fa.get(k)),
                show(fb.get(k))
            )
        })
        .collect()
}

/// Writes the run's checkpoint, reporting the outcome as an event.
fn save_checkpoint(
    plan: &CheckpointPlan,
    exp: &Experiment,
    result: &mut RunResult,
    emit: &mut dyn FnMut(Event),
) -> Result<(), String> {
    let Some(method) = result.method.as_deref_mut() else {
        return Ok(());
    };
    let mut state = crate::methods::state::MethodState::default();
    let written = method.save_state(&mut state).and_then(|()| {
        Checkpoint {
            step: result.steps_done,
            experiment: exp.clone(),
            metrics: result.metrics.clone(),
            state,
        }
        .write(&plan.dir)
    });
    match written {
        Ok(path) => {
            emit(Event::Checkpointed {
                step: result.steps_done,
                path,
            });
            Ok(())
        }
        Err(e) => {
            let message = format!("{e:#}");
            emit(Event::CheckpointFailed {
                message: message.clone(),
            });
            Err(message)
        }
    }
}

enum Flow {
    Continue,
    Stop,
}

/// Applies pending commands; blocks while paused.
fn handle_commands(
    commands: &Receiver<Command>,
    step: u64,
    exp: &Experiment,
    dataset: &Dataset,
    result: &mut RunResult,
    probes: &mut ProbeRunner,
    emit: &mut dyn FnMut(Event),
) -> Flow {
    let mut paused = false;
    loop {
        let cmd = if paused {
            match commands.recv_timeout(std::time::Duration::from_millis(200)) {
                Ok(c) => c,
                Err(RecvTimeoutError::Timeout) => continue,
                Err(RecvTimeoutError::Disconnected) => return Flow::Stop,
            }
        } else {
            match commands.try_recv() {
                Ok(c) => c,
                Err(TryRecvError::Empty) => return Flow::Continue,
                Err(TryRecvError::Disconnected) => return Flow::Stop,
            }
        };
        match cmd {
            Command::Pause => {
                if !paused {
                    paused = true;
                    emit(Event::Paused { step });
                }
            }
            Command::Resume => {
                if paused {
                    emit(Event::Resumed { step });
                    return Flow::Continue;
                }
            }
            Command::Stop => return Flow::Stop,
            // Asked for by the user: reported, and training goes on either way.
            Command::Export(dir) => {
                let _ = export_and_report(&dir, exp, dataset, result, emit);
            }
            Command::Probe => probes.start_latest(),
        }
    }
}

/// Exports the current model and reports the outcome as an event (the error is the
/// message of the `ExportFailed` event).
pub fn export_and_report(
    dir: &std::path::Path,
    exp: &Experiment,
    dataset: &Dataset,
    result: &RunResult,
    emit: &mut dyn FnMut(Event),
) -> Result<(), String> {
    let mut failed = |message: String| {
        emit(Event::ExportFailed {
            message: message.clone(),
        });
        Err(message)
    };
    if let Some(step) = result.diverged_at {
        return failed(format!(
            "not exported: the model diverged (non-finite loss) at step {step}; \
             earlier exports are untouched"
        ));
    }
    let Some(method) = result.method.as_deref() else {
        return failed("nothing to export yet: the model has not been built".into());
    };
    let mut files = match export_encoders(dir, &method.export_encoders(), exp, &result.metrics) {
        Ok(files) => files,
        Err(e) => return failed(format!("{e:#}")),
    };
    if let Some(device) = &result.device {
        let table = EmbeddingTable::of(method, dataset, &exp.views.normalize, device);
        match table.write(dir) {
            Ok(more) => files.extend(more),
            Err(e) => {
                return failed(format!(
                    "the encoders were written, the embeddings not: {e:#}"
                ));
            }
        }
    }
    emit(Event::Exported {
        dir: dir.to_path_buf(),
        files,
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_diverged_model_is_never_exported() {
        let result = RunResult {
            method: None,
            metrics: MetricsLog::default(),
            steps_done: 3,
            failed: Some("diverged".into()),
            device: None,
            diverged_at: Some(3),
        };
        let dir = tempfile::tempdir().unwrap();
        let mut events = Vec::new();
        let dataset = crate::data::DatasetSpec::default().load().unwrap();
        let outcome = export_and_report(
            dir.path(),
            &Experiment::default(),
            &dataset,
            &result,
            &mut |e| events.push(e),
        );
        assert!(outcome.is_err());
        match events.as_slice() {
            [Event::ExportFailed { message }] => assert!(message.contains("step 3"), "{message}"),
            other => panic!("{other:?}"),
        }
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
