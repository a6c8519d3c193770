//! `contrastive-workbench`: with no subcommand, opens the workbench window; `train` runs
//! a preset headless, `bench` measures throughput, `screenshot` saves the window to a PNG.

use clap::Parser;
use contrastive_workbench::cli::{Cli, run};

fn main() -> std::process::ExitCode {
    contrastive_workbench::engine::backend::make_the_cpu_burns_default();
    contrastive_workbench::allocator::keep_freed_memory();
    contrastive_workbench::allocator::limit_heap_from_env();
    contrastive_workbench::cli::init_tracing();
    run(Cli::parse())
}
