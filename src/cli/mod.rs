//! Command-line entry points. The GUI and the headless commands share the engine.
//!
//! - `train`: a preset headless, `--resume` continuing from the run folder's checkpoint; it
//!   calls `engine::session::run_experiment_with` on the main thread. Ctrl-C, SIGTERM,
//!   SIGHUP and SIGQUIT become `Command::Stop` through signal-hook (a second signal exits at once); the process
//!   exits with 128 + the signal after the checkpoint and export are written. Every message
//!   is printed whatever stderr is (a terminal or not), failures and warnings also as JSON
//!   lines on stdout, all through `console`, which drops a line it cannot write instead of
//!   panicking;
//! - `serve`: hosts this machine's device for remote clients;
//! - `embed` (`embed` and `eval`): a run folder's encoder on a dataset;
//! - `bench`: throughput per backend (`bench_step`: the reference step taken apart, fused vs
//!   burn's ops, and `--json` for `bench/compare.py`; `bench_projection`: the live views'
//!   numerics);
//! - `load`: a preset's dataset with an indicatif bar.
//!
//! The window and `screenshot` go through `app::launch`.

pub mod bench;
mod bench_projection;
pub mod bench_step;
mod bench_views;
pub mod console;
pub mod embed;
pub mod load;
mod projection_silhouette;
pub mod serve;
#[cfg(feature = "remote")]
mod serve_supervisor;
pub mod sweep;
pub mod train;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::app::{self, LaunchOptions};
use crate::model::EncoderKind;
use crate::preset::{AugmentOn, BackendChoice};

#[derive(Parser, Debug)]
#[command(
    name = "contrastive-workbench",
    version,
    about = "A workbench for contrastive self-supervised learning"
)]
pub struct Cli {
    /// Preset to open the window with (default: SimCLR on the built-in shapes).
    #[arg(long, global = true)]
    pub preset: Option<PathBuf>,
    /// Open the window on a built-in lesson (what-is-a-positive-pair, simclr-clusters,
    /// why-colour-jitter, temperature, collapse, do-we-need-negatives, loss-ladder); with
    /// `train`, run its starting experiment headless.
    #[arg(long, global = true)]
    pub lesson: Option<String>,
    /// Open the window on a classroom file (a preset with a [classroom] table: lesson step,
    /// hidden controls), as saved by the window's "Save classroom file".
    #[arg(long, global = true)]
    pub classroom: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Option<Commands>,
}

#[derive(Subcommand, Debug)]
pub enum Commands {
    /// Train a preset headless: progress bar on stderr, one JSON line per logged step on
    /// stdout, the export written to --out.
    Train {
        /// Override the preset's step count.
        #[arg(long)]
        steps: Option<u64>,
        /// Where to write the export (default: runs/<preset name>).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Override the preset's backend.
        #[arg(long, value_enum)]
        backend: Option<BackendArg>,
        /// Override the preset's `train.augment_on`: make the views on the CPU or on the
        /// training device.
        #[arg(long, value_enum)]
        augment_on: Option<AugmentArg>,
        /// The server for --backend remote: ws://host:port, as `serve` prints it.
        #[arg(long)]
        remote: Option<String>,
        /// A file whose first line is the remote server's token.
        #[arg(long)]
        token_file: Option<PathBuf>,
        /// Write <out>/checkpoint.safetensors every this many steps (0: only when the run
        /// ends or is interrupted).
        #[arg(long, default_value_t = 100)]
        checkpoint_every: u64,
        /// Continue the run in --out from its checkpoint (--steps may extend it).
        #[arg(long)]
        resume: bool,
        /// Write into a non-empty --out that is not a run folder (its files may be
        /// overwritten).
        #[arg(long)]
        force: bool,
    },
    /// Run a preset with up to three settings varied, every cell at the same seeds: one
    /// run folder per member under --out, sweep.csv, one JSON line per member as it ends.
    Sweep(sweep::SweepArgs),
    /// Embed a dataset with an exported encoder (a run folder): embeddings.csv/.npy and the
    /// Embedding Projector's vectors.tsv + metadata.tsv.
    Embed {
        #[command(flatten)]
        source: EncoderOnData,
        /// Output folder (default: <encoder>/embed-<dataset name>).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// kNN top-1 and a linear probe of an exported encoder, each against the same networks
    /// at their random initialisation; one JSON line on stdout.
    Eval {
        #[command(flatten)]
        source: EncoderOnData,
    },
    /// Measure training views/s per backend and augmentation images/s.
    Bench(bench::BenchArgs),
    /// Host this machine's best device for other workbenches: they train on it with
    /// backend = "remote" while their data, augmentation, metrics and window stay local.
    /// Prints one JSON line {"event": "serving", "url": ...} on stdout.
    Serve {
        /// Address and port to listen on; beyond loopback only with --token-file.
        #[arg(long, default_value = "127.0.0.1:3000")]
        listen: String,
        /// Which device to host (auto: CUDA, then a hardware GPU via wgpu, then the CPU).
        #[arg(long, value_enum, default_value = "auto")]
        device: DeviceArg,
        /// A file whose first line is the token clients must present.
        #[arg(long)]
        token_file: Option<PathBuf>,
        /// The device process's heap, in GiB (default: three quarters of this machine's
        /// memory). A session that asks for more ends that process; a fresh one serves
        /// the next client.
        #[arg(long, value_parser = clap::value_parser!(u64).range(1..=1_048_576))]
        max_memory_gib: Option<u64>,
        #[command(flatten)]
        limits: ServeLimits,
    },
    /// Open the window, train for a while, save a screenshot and exit.
    Screenshot {
        #[arg(long, default_value = "screenshots/workbench.png")]
        out: PathBuf,
        /// Training steps to wait for before the screenshot.
        #[arg(long, default_value_t = 150)]
        steps: u64,
        /// Which tab to show: dataset, views or training.
        #[arg(long, default_value = "training")]
        tab: String,
        /// Show the t-SNE projection (waits for it to settle) instead of PCA.
        #[arg(long)]
        tsne: bool,
        /// Show the UMAP projection (waits for it to settle) instead of PCA.
        #[arg(long)]
        umap: bool,
        /// Select the first projected image, so its nearest neighbours show.
        #[arg(long)]
        select: bool,
        /// Show the first images' pairs of augmented views on the PCA.
        #[arg(long)]
        pairs: bool,
    },
}

/// An exported encoder and the dataset to run it on (`embed` and `eval`).
#[derive(clap::Args, Debug)]
pub struct EncoderOnData {
    /// The run folder (written by Export or `train --out`).
    #[arg(long)]
    pub encoder: PathBuf,
    /// Dataset path (image folder, IDX folder, CIFAR batches); default: the run's own.
    #[arg(long)]
    pub dataset: Option<PathBuf>,
    /// Side image folders are resized to.
    #[arg(long, default_value_t = 32)]
    pub size: usize,
}

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum BackendArg {
    Auto,
    Cpu,
    /// wgpu on a hardware GPU.
    Gpu,
    Cuda,
    /// A `serve` process at --remote.
    Remote,
}

impl From<BackendArg> for BackendChoice {
    fn from(b: BackendArg) -> Self {
        match b {
            BackendArg::Auto => BackendChoice::Auto,
            BackendArg::Cpu => BackendChoice::Cpu,
            BackendArg::Gpu => BackendChoice::Gpu,
            BackendArg::Cuda => BackendChoice::Cuda,
            BackendArg::Remote => BackendChoice::Remote,
        }
    }
}

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum AugmentArg {
    Cpu,
    /// The training device (a GPU), from the CPU's draws.
    Device,
}

impl From<AugmentArg> for AugmentOn {
    fn from(a: AugmentArg) -> Self {
        match a {
            AugmentArg::Cpu => AugmentOn::Cpu,
            AugmentArg::Device => AugmentOn::Device,
        }
    }
}

/// What `serve` allows its clients (the guard in front of burn's server).
#[derive(clap::Args, Debug)]
pub struct ServeLimits {
    /// Sessions served at once. More than 1 lets clients' runs draw from one random
    /// generator in turn, so they no longer train what they would alone.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=64))]
    max_sessions: u32,
    /// Connections held at once (more are refused with a message).
    #[arg(long, default_value_t = 128, value_parser = clap::value_parser!(u32).range(1..=4096))]
    max_connections: u32,
    /// Largest message a client may send once admitted, in MiB.
    #[arg(long, default_value_t = 512, value_parser = clap::value_parser!(u64).range(1..=4096))]
    max_message_mib: u64,
    /// Seconds a client has to open its session (HTTP upgrade and token).
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=3600))]
    handshake_timeout: u64,
    /// Seconds without a message after which a session is closed for the next client.
    #[arg(long, default_value_t = 1800, value_parser = clap::value_parser!(u64).range(1..=604_800))]
    idle_timeout: u64,
    /// Seconds between the pings that tell a client the server is alive (and the server
    /// that the client is).
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=600))]
    heartbeat: u64,
}

#[cfg(feature = "remote")]
impl From<ServeLimits> for crate::engine::remote_guard::GuardLimits {
    fn from(l: ServeLimits) -> Self {
        use std::time::Duration;
        Self {
            max_connections: l.max_connections as usize,
            max_sessions: l.max_sessions as usize,
            handshake: Duration::from_secs(l.handshake_timeout),
            max_message: l.max_message_mib << 20,
            idle: Duration::from_secs(l.idle_timeout),
            heartbeat: Duration::from_secs(l.heartbeat),
            ..Self::default()
        }
    }
}

#[cfg(not(feature = "remote"))]
impl From<ServeLimits> for () {
    fn from(_: ServeLimits) -> Self {}
}

/// A device of this machine, for `serve`.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum DeviceArg {
    Auto,
    Cpu,
    /// wgpu on a hardware GPU.
    Gpu,
    Cuda,
}

impl From<DeviceArg> for BackendChoice {
    fn from(d: DeviceArg) -> Self {
        match d {
            DeviceArg::Auto => BackendChoice::Auto,
            DeviceArg::Cpu => BackendChoice::Cpu,
            DeviceArg::Gpu => BackendChoice::Gpu,
            DeviceArg::Cuda => BackendChoice::Cuda,
        }
    }
}

/// `--encoder`'s value, spelled as a preset's `[encoder] kind`.
fn parse_encoder_kind(text: &str) -> Result<EncoderKind, String> {
    serde::Deserialize::deserialize(
        serde::de::value::StrDeserializer::<serde::de::value::Error>::new(text),
    )
    .map_err(|_| format!("unknown encoder {text:?}: small-cnn, resnet18 or vit"))
}

pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new(
            "info,wgpu_core=warn,wgpu_hal=warn,naga=warn,eframe=warn,egui_wgpu=warn",
        )
    });
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

pub fn run(cli: Cli) -> ExitCode {
    let result = match cli.command {
        None => app::launch(LaunchOptions {
            preset: cli.preset,
            lesson: cli.lesson,
            classroom: cli.classroom,
            screenshot: None,
        }),
        Some(Commands::Screenshot {
            out,
            steps,
            tab,
            tsne,
            umap,
            select,
            pairs,
        }) => app::launch(LaunchOptions {
            preset: cli.preset,
            lesson: cli.lesson,
            classroom: cli.classroom,
            screenshot: Some(app::ScreenshotPlan {
                path: out,
                after_steps: steps,
                tab,
                tsne,
                umap,
                select,
                pairs,
            }),
        }),
        Some(Commands::Train {
            steps,
            out,
            backend,
            augment_on,
            remote,
            token_file,
            checkpoint_every,
            resume,
            force,
        }) => train::train(train::TrainArgs {
            preset: cli.preset,
            lesson: cli.lesson,
            steps,
            out,
            backend: backend.map(Into::into),
            augment_on: augment_on.map(Into::into),
            remote,
            token_file,
            checkpoint_every,
            resume,
            force,
        }),
        Some(Commands::Sweep(args)) => sweep::sweep(cli.preset, args),
        Some(Commands::Serve {
            listen,
            device,
            token_file,
            max_memory_gib,
            limits,
        }) => serve::serve(serve::ServeArgs {
            listen,
            device: device.into(),
            token_file,
            max_memory_gib,
            limits: limits.into(),
        }),
        Some(Commands::Embed { source, out }) => {
            embed::embed(&source.encoder, source.dataset.as_deref(), source.size, out)
        }
        Some(Commands::Eval { source }) => {
            embed::eval(&source.encoder, source.dataset.as_deref(), source.size)
        }
        Some(Commands::Bench(args)) => bench::run(args),
    };
    exit_status(result)
}

/// 0: done and everything written; 1: failed (bad input, a failed run or write), the
/// message on stderr once; 128 + signal: stopped by SIGINT (130), SIGHUP (129), SIGQUIT
/// (131) or SIGTERM (143) after writing the checkpoint and export; 141: done, but some of
/// its output could not be written (stdout's reader went away, a full disk). clap's usage
/// errors exit 2.
fn exit_status(result: anyhow::Result<()>) -> ExitCode {
    let Err(e) = result else {
        if console::output_lost() {
            return ExitCode::from(console::OUTPUT_LOST_STATUS);
        }
        return ExitCode::SUCCESS;
    };
    if let Some(i) = e.downcast_ref::<train::Interrupted>() {
        return ExitCode::from(u8::try_from(128 + i.signal).unwrap_or(1));
    }
    if e.downcast_ref::<train::Reported>().is_none() {
        crate::errln!("error: {e:#}");
    }
    ExitCode::FAILURE
}
