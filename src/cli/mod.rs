//! Command-line entry points. The GUI and the headless commands share the engine.

pub mod bench;
pub mod load;
pub mod train;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::app::{self, LaunchOptions};
use crate::preset::BackendChoice;

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
    },
    /// Measure training views/s per backend and augmentation images/s.
    Bench {
        /// Images per step (two views each).
        #[arg(long, default_value_t = 256)]
        batch: usize,
        /// Timed steps per backend (after two warm-up steps).
        #[arg(long, default_value_t = 5)]
        steps: usize,
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
    },
}

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum BackendArg {
    Auto,
    Cpu,
    Gpu,
}

impl From<BackendArg> for BackendChoice {
    fn from(b: BackendArg) -> Self {
        match b {
            BackendArg::Auto => BackendChoice::Auto,
            BackendArg::Cpu => BackendChoice::Cpu,
            BackendArg::Gpu => BackendChoice::Gpu,
        }
    }
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
            screenshot: None,
        }),
        Some(Commands::Screenshot { out, steps, tab }) => app::launch(LaunchOptions {
            preset: cli.preset,
            screenshot: Some(app::ScreenshotPlan {
                path: out,
                after_steps: steps,
                tab,
            }),
        }),
        Some(Commands::Train {
            steps,
            out,
            backend,
        }) => train::train(cli.preset, steps, out, backend.map(Into::into)),
        Some(Commands::Bench { batch, steps }) => bench::bench(batch, steps),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
