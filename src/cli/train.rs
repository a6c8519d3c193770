//! `train`: a preset, headless.

use std::io::Write;
use std::path::PathBuf;

use anyhow::bail;
use crossbeam_channel::bounded;
use indicatif::{ProgressBar, ProgressStyle};

use crate::engine::Event;
use crate::engine::checkpoint::Checkpoint;
use crate::engine::session::{CheckpointPlan, RunOptions, run_experiment_with};
use crate::preset::{BackendChoice, Experiment};

/// What `train` was asked for on the command line.
pub struct TrainArgs {
    pub preset: Option<PathBuf>,
    pub steps: Option<u64>,
    pub out: Option<PathBuf>,
    pub backend: Option<BackendChoice>,
    pub checkpoint_every: u64,
    /// Continue from `<out>/checkpoint.safetensors`.
    pub resume: bool,
}

pub fn train(args: TrainArgs) -> anyhow::Result<()> {
    let TrainArgs {
        preset,
        steps,
        out,
        backend,
        checkpoint_every,
        resume,
    } = args;
    let (mut exp, preset) = match (&preset, &out) {
        (Some(p), _) => (Experiment::load(p)?, p.clone()),
        // Resuming without a preset: the checkpoint carries its own.
        (None, Some(dir)) if resume => (
            Checkpoint::read(dir)?.experiment,
            dir.join(crate::engine::checkpoint::CHECKPOINT_FILE),
        ),
        _ => bail!("train needs --preset FILE (see presets/), or --resume --out RUN"),
    };
    if let Some(s) = steps {
        exp.train.steps = s;
    }
    if let Some(b) = backend {
        exp.train.backend = b;
    }
    exp.validate()
        .map_err(|m| anyhow::anyhow!("preset {}: {m}", preset.display()))?;
    let out = out.unwrap_or_else(|| PathBuf::from("runs").join(&exp.name));
    let dataset = super::load::load_with_bar(&exp.dataset)?;
    eprintln!(
        "{}: {} on {} ({} train / {} test images), {} steps of {} images",
        exp.name,
        exp.method.kind,
        dataset.name,
        dataset.train.len(),
        dataset.test.len(),
        exp.train.steps,
        exp.train.batch_size
    );

    let bar = ProgressBar::new(exp.train.steps);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} steps  {msg}  [{elapsed} < {eta}]")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    // The sender stays alive for the whole run: nothing will pause or stop it.
    let (_commands_tx, commands) = bounded(1);
    let stdout = std::io::stdout();
    let mut last_knn = None;
    let mut last_probe = None;
    let mut finished = false;
    let mut emit = |ev: Event| {
        let mut out = stdout.lock();
        match ev {
            Event::Started { backend, .. } => {
                bar.println(format!("backend: {} ({})", backend.name, backend.reason));
            }
            Event::Step(m) => {
                bar.set_position(m.step);
                bar.set_message(format!(
                    "loss {:.4}  {:.0} views/s",
                    m.loss, m.views_per_sec
                ));
                let _ = writeln!(
                    out,
                    "{}",
                    serde_json::json!({
                        "step": m.step, "loss": m.loss, "align": m.align, "uniform": m.uniform,
                        "z_std": m.z_std, "effective_rank": m.effective_rank, "pos_sim": m.pos_sim, "neg_sim": m.neg_sim,
                        "pos_hist": m.pos_hist, "neg_hist": m.neg_hist,
                        "signals": m.signals.iter().map(|(k, v)| (k.clone(), serde_json::json!(v))).collect::<serde_json::Map<_, _>>(),
                        "lr": m.lr, "views_per_sec": m.views_per_sec, "data_wait": m.data_wait,
                    })
                );
            }
            Event::Eval(e) => {
                last_knn = Some((e.knn_top1, e.baseline_top1));
                let _ = writeln!(
                    out,
                    "{}",
                    serde_json::json!({"step": e.step, "knn_top1": e.knn_top1, "baseline_top1": e.baseline_top1})
                );
            }
            Event::Probe(p) => {
                last_probe = Some((p.accuracy, p.baseline));
                let _ = writeln!(
                    out,
                    "{}",
                    serde_json::json!({"step": p.step, "probe_top1": p.accuracy, "probe_baseline_top1": p.baseline})
                );
            }
            Event::ProbeFailed { step, message } => {
                bar.println(format!("linear probe at step {step} failed: {message}"));
            }
            Event::Finished { .. } => finished = true,
            Event::Failed { message, .. } => bar.println(format!("error: {message}")),
            Event::Exported { dir, files } => {
                bar.println(format!(
                    "exported to {}: {}",
                    dir.display(),
                    files.join(", ")
                ));
            }
            Event::ExportFailed { message } => bar.println(format!("export failed: {message}")),
            Event::Checkpointed { .. } => {}
            Event::CheckpointFailed { message } => {
                bar.println(format!("checkpoint failed: {message}"));
            }
            Event::Projection(_)
            | Event::Similarity(_)
            | Event::Paused { .. }
            | Event::Resumed { .. } => {}
        }
    };
    // Export after every evaluation, so `out` always holds the last good model.
    let options = RunOptions {
        export_each_eval: Some(out.clone()),
        checkpoints: Some(CheckpointPlan {
            dir: out.clone(),
            every: checkpoint_every,
        }),
        resume_from: resume.then(|| out.clone()),
    };
    let result = run_experiment_with(&exp, &dataset, &commands, &options, &mut emit);
    bar.finish_and_clear();
    // The last step always evaluates, so the final model is exported above.
    if let Some((knn, base)) = last_knn {
        let mut line = serde_json::json!({"final_knn_top1": knn, "baseline_top1": base, "steps": result.steps_done});
        if let Some((probe, probe_base)) = last_probe {
            line["final_probe_top1"] = serde_json::json!(probe);
            line["probe_baseline_top1"] = serde_json::json!(probe_base);
        }
        println!("{line}");
    }
    if let Some(message) = result.failed {
        bail!("{message}");
    }
    if !finished {
        bail!("the run ended without finishing");
    }
    Ok(())
}
