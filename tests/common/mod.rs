//! Small experiments for integration tests: real code paths, test-sized data.
#![allow(dead_code)]

pub mod remote;

use contrastive_workbench::app::WorkbenchApp;
use contrastive_workbench::data::DatasetSpec;
use contrastive_workbench::data::shapes::ShapesSpec;
use contrastive_workbench::preset::{BackendChoice, Experiment, Schedule};
use egui_kittest::Harness;
use std::time::{Duration, Instant};

/// The smallest ViT worth training in a test: one block of width 16, two heads, `patch`
/// pixel patches, laid out for 32-pixel images.
pub fn tiny_vit(patch: usize) -> contrastive_workbench::model::EncoderConfig {
    contrastive_workbench::model::EncoderConfig {
        embed_dim: 16,
        depth: 1,
        heads: 2,
        patch,
        ..contrastive_workbench::model::EncoderConfig::vit()
    }
}

/// Runs `exp` on its own dataset to the end, without commands or a listener.
pub fn run_to_end(exp: &Experiment) -> contrastive_workbench::engine::session::RunResult {
    let dataset = exp.dataset.load().unwrap();
    let (_keep, commands) = crossbeam_channel::bounded(1);
    contrastive_workbench::engine::session::run_experiment(exp, &dataset, &commands, &mut |_| {})
}

/// The whole window on `exp`, headless.
pub fn ui_harness(exp: Experiment) -> Harness<'static, WorkbenchApp> {
    let mut h = Harness::builder()
        .with_size([1360.0, 860.0])
        .build_eframe(move |cc| WorkbenchApp::new(cc.egui_ctx.clone(), exp));
    // Tests that want checkpoints point the export folder somewhere temporary first.
    h.state_mut().settings.checkpoint_every = 0;
    h
}

/// Steps the UI until `pred` holds (trainer and loader threads run meanwhile).
pub fn step_until(
    h: &mut Harness<'static, WorkbenchApp>,
    what: &str,
    pred: impl Fn(&WorkbenchApp) -> bool,
) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while !pred(h.state()) {
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}; status {:?}",
            h.state().run.status
        );
        std::thread::sleep(Duration::from_millis(30));
        h.run_steps(1);
    }
}

/// The built-in shapes at test size: `train_per_class` training images of each class,
/// 50 held-out ones, 32 px.
pub fn tiny_shapes(train_per_class: usize) -> ShapesSpec {
    ShapesSpec {
        seed: 1,
        train_per_class,
        test_per_class: 50,
        size: 32,
        ..ShapesSpec::default()
    }
}

/// SimCLR on a small shapes set, CPU backend, evaluation on a small sample.
pub fn tiny_experiment(train_per_class: usize, batch: usize, steps: u64) -> Experiment {
    let mut e = Experiment {
        name: "test".into(),
        dataset: DatasetSpec::Shapes(tiny_shapes(train_per_class)),
        ..Experiment::default()
    };
    e.train.batch_size = batch;
    e.train.steps = steps;
    e.train.backend = BackendChoice::Cpu;
    e.train.schedule = Schedule::Constant;
    e.train.warmup_steps = 0;
    e.train.log_every = 1;
    e.eval.every = steps.max(1);
    e.eval.bank_size = 400;
    e.eval.query_size = 200;
    e
}

/// The JSON lines a command printed on stdout (other lines skipped).
pub fn json_lines(out: &std::process::Output) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// The command exited 0 (its stderr shown when it did not).
pub fn assert_succeeded(out: &std::process::Output) {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A small SimCLR preset file on shapes, CPU backend, logging every step (no evaluation
/// between its start and end), for the tests that run the binary.
pub fn tiny_preset_file(dir: &std::path::Path, steps: u64) -> std::path::PathBuf {
    tiny_preset_named(dir, "tiny", steps)
}

/// [`tiny_preset_file`] as `<dir>/<name>.toml`, its run named `name`.
pub fn tiny_preset_named(dir: &std::path::Path, name: &str, steps: u64) -> std::path::PathBuf {
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(
        &path,
        format!(
            "name = \"{name}\"\n\
             [dataset]\nkind = \"shapes\"\ntrain_per_class = 8\ntest_per_class = 4\n\
             [encoder]\nchannels = [8, 16]\n\
             [train]\nsteps = {steps}\nbatch_size = 16\nlog_every = 1\nbackend = \"cpu\"\nwarmup_steps = 0\n\
             [eval]\nevery = 1000000\nbank_size = 64\nquery_size = 32\nknn_k = 5\n"
        ),
    )
    .unwrap();
    path
}

/// The losses of the steps `train` logged, in order.
pub fn step_losses(out: &std::process::Output) -> Vec<f64> {
    json_lines(out)
        .iter()
        .filter_map(|v| v.get("loss").and_then(|l| l.as_f64()))
        .collect()
}
