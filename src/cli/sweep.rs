//! `sweep`: a preset with up to three settings varied, every cell at the same seeds,
//! headless. One JSON line per member as it ends, `sweep.csv` and each member's run folder
//! under `--out`; exit status as `train`'s.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::bail;
use crossbeam_channel::bounded;

use super::train::{Interrupted, Interrupts, Reported};
use crate::engine::Event;
use crate::engine::sweep_runner::{SweepEvent, SweepOptions, run_sweep};
use crate::preset::Experiment;
use crate::sweep::table::{Metric, Row, State, summarise};
use crate::sweep::{Axis, SweepSpec};

/// What `sweep` was asked for on the command line (the preset is the global `--preset`).
#[derive(clap::Args, Debug)]
pub struct SweepArgs {
    /// A setting and its values: KEY=V1,V2,... or KEY=LO..HI:COUNT[:log] (up to three;
    /// keys as in a preset, plus method.kind and views.strength).
    #[arg(long)]
    pub vary: Vec<String>,
    /// Seeds per cell (the same in every cell).
    #[arg(long, default_value_t = 1)]
    pub seeds: u32,
    /// Override the preset's step count.
    #[arg(long)]
    pub steps: Option<u64>,
    /// The sweep's folder (default: runs/<preset name>).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Members at once on this machine.
    #[arg(long, default_value_t = 1)]
    pub parallel: usize,
    /// Continue the sweep in --out: finished members stay, interrupted ones resume.
    #[arg(long)]
    pub resume: bool,
    /// A `serve` server to run members on (repeat for several: one member each at a time).
    #[arg(long)]
    pub remote: Vec<String>,
    /// A file whose first line is the servers' token.
    #[arg(long)]
    pub token_file: Option<PathBuf>,
    /// Checkpoint each member every this many steps.
    #[arg(long, default_value_t = 100)]
    pub checkpoint_every: u64,
    /// Successive halving: at this step, twice it, four times it, ... keep the better half
    /// of the cells by kNN top-1 (a multiple of the preset's eval.every); the others are
    /// marked pruned and keep their folders.
    #[arg(long)]
    pub prune_every: Option<u64>,
}

pub fn sweep(preset: Option<PathBuf>, args: SweepArgs) -> anyhow::Result<()> {
    let spec = spec_for(preset.as_deref(), &args)?;
    let members = spec.members().map_err(anyhow::Error::msg)?;
    let dir = args.out.clone().unwrap_or_else(|| spec.default_dir());
    let (commands_tx, commands) = bounded(8);
    let interrupts = Interrupts::install(commands_tx.clone())?;
    let dataset = Arc::new(super::load::load_with_bar(&spec.base.dataset)?);
    if let Some(signal) = interrupts.signal() {
        return Err(Interrupted { signal }.into());
    }
    let cells = members.len() / spec.seeds as usize;
    crate::errln!(
        "sweep {}: {cells} cells x {} seeds = {} runs of {} steps on {}, into {}",
        spec.name,
        spec.seeds,
        members.len(),
        spec.base.train.steps,
        dataset.name,
        dir.display()
    );
    let options = SweepOptions {
        dir: dir.clone(),
        parallel: args.parallel,
        servers: args.remote.clone(),
        token_file: args
            .token_file
            .as_ref()
            .map(|f| f.display().to_string())
            .unwrap_or_default(),
        checkpoint_every: args.checkpoint_every,
        resume: args.resume,
    };
    let result = run_sweep(&spec, &members, &dataset, &commands, &options, &mut |ev| {
        report(&spec.axes, ev);
    });
    let signal = interrupts.signal();
    drop(interrupts);
    drop(commands_tx);
    print_summary(&spec.axes, &result.rows);
    if let Some(message) = result.failed {
        crate::errln!("error: {message}");
        crate::outln!(
            "{}",
            serde_json::json!({"event": "failed", "message": message})
        );
        return Err(Reported(message).into());
    }
    if let Some(signal) = signal {
        crate::errln!(
            "stopped by signal {signal}: the running members wrote their checkpoints; \
             `sweep --resume --out {}` continues",
            dir.display()
        );
        return Err(Interrupted { signal }.into());
    }
    Ok(())
}

/// The sweep asked for: a preset and its axes, or (resuming without a preset) the
/// sweep's own `sweep.toml`.
fn spec_for(preset: Option<&std::path::Path>, args: &SweepArgs) -> anyhow::Result<SweepSpec> {
    match (preset, &args.out) {
        (Some(path), _) => {
            let mut base = Experiment::load(path)?;
            if let Some(s) = args.steps {
                base.train.steps = s;
            }
            base.validate()
                .map_err(|m| anyhow::anyhow!("preset {}: {m}", path.display()))?;
            if args.vary.is_empty() {
                bail!(
                    "sweep needs at least one --vary KEY=V1,V2,... (e.g. method.temperature=0.1,0.5)"
                );
            }
            let axes = args
                .vary
                .iter()
                .map(|v| Axis::parse(v))
                .collect::<Result<Vec<_>, _>>()
                .map_err(anyhow::Error::msg)?;
            Ok(SweepSpec {
                name: base.name.clone(),
                axes,
                seeds: args.seeds,
                prune_every: args.prune_every,
                base,
            })
        }
        (None, Some(dir)) if args.resume => SweepSpec::load(dir).map_err(anyhow::Error::msg),
        _ => bail!("sweep needs --preset FILE and --vary KEY=V1,V2,..., or --resume --out DIR"),
    }
}

/// A member's row as its JSON line: the varied settings by key, seed, state and figures.
pub fn row_json(axes: &[Axis], row: &Row) -> serde_json::Value {
    let settings: serde_json::Map<String, serde_json::Value> = axes
        .iter()
        .zip(&row.values)
        .map(|(a, v)| (a.key.clone(), serde_json::json!(v)))
        .collect();
    let o = &row.outcome;
    serde_json::json!({
        "member": row.folder, "cell": row.cell, "settings": settings, "seed": row.seed,
        "state": row.state.name(), "final_knn_top1": o.knn_top1, "probe_top1": o.probe_top1,
        "align": o.align, "uniform": o.uniform, "effective_rank": o.effective_rank,
        "steps": o.steps, "wall_seconds": o.wall_seconds,
    })
}

/// What the terminal shows as the sweep goes: one JSON line per member that ends, its
/// problems on stderr.
fn report(axes: &[Axis], ev: SweepEvent) {
    match ev {
        SweepEvent::Member(row) => match row.state {
            State::Finished | State::Stopped | State::Failed | State::Pruned => {
                crate::outln!("{}", row_json(axes, &row));
            }
            State::Running => crate::errln!("{}: running", row.folder),
            State::Queued => {}
        },
        SweepEvent::Run(_, Event::Warning { message }) => crate::errln!("warning: {message}"),
        SweepEvent::Run(_, Event::Failed { message, .. }) => crate::errln!("error: {message}"),
        SweepEvent::Run(..) => {}
        SweepEvent::Ended { .. } => {}
        SweepEvent::ServerLost { server, message } => {
            crate::errln!(
                "server {server} went away ({message}); its member goes back to the queue"
            );
            crate::outln!(
                "{}",
                serde_json::json!({"event": "server_lost", "server": server, "message": message})
            );
        }
    }
}

/// Each cell's mean and spread of kNN top-1 over its finished seeds, on stderr.
fn print_summary(axes: &[Axis], rows: &[Row]) {
    let keys: Vec<&str> = axes.iter().map(|a| a.key.as_str()).collect();
    crate::errln!("{}  kNN top-1 over seeds", keys.join("  "));
    for c in summarise(rows, Metric::Knn) {
        let knn = match (c.mean, c.std) {
            (Some(m), Some(s)) => format!("{:.1}% +- {:.1}", 100.0 * m, 100.0 * s),
            (Some(m), None) => format!("{:.1}%", 100.0 * m),
            _ => "-".into(),
        };
        crate::errln!(
            "{}  {knn}  ({} of {} finished)",
            c.values.join("  "),
            c.finished,
            c.members
        );
    }
}
