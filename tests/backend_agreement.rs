//! `bench/backend_agreement.py`, the GPU check's correctness part, run on the CPU: one
//! checkpoint resumed on several backends gives the same losses, a backend this build
//! lacks is skipped, and the comparison fails on losses that differ.
//! Needs `python3` (no packages).
#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

use std::path::Path;
use std::process::{Command, Output};

mod common;

use common::tiny_preset_file;

const BIN: &str = env!("CARGO_BIN_EXE_contrastive-workbench");
const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/bench/backend_agreement.py");

fn python(args: &[&str]) -> Output {
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
    Command::new(python)
        .arg(SCRIPT)
        .args(args)
        .output()
        .expect("python3 runs")
}

/// Stricter than `common::json_lines`: a line that opens as JSON but does not parse (a bare
/// `NaN` for a non-finite loss) fails the test instead of being skipped.
fn json_lines(out: &Output) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn write_log(path: &Path, losses: &[f64]) {
    let lines: Vec<String> = losses
        .iter()
        .enumerate()
        .map(|(i, l)| format!("{{\"step\": {}, \"loss\": {l}}}", i + 1))
        .collect();
    std::fs::write(path, lines.join("\n") + "\n").unwrap();
}

#[test]
fn a_cpu_checkpoint_resumed_twice_agrees_and_a_missing_backend_is_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let preset = tiny_preset_file(dir.path(), 3);
    let out = dir.path().join("agreement");
    let mut args = vec!["--binary", BIN, "--warm", "2", "--steps", "3"];
    let (preset, out) = (preset.to_str().unwrap(), out.to_str().unwrap());
    args.extend(["--preset", preset, "--out", out]);
    // `cuda` is not in the test build: it must be reported, not counted as a failure.
    args.extend(["--backends", "cpu,cpu,cuda"]);
    let done = python(&args);
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&done.stdout),
        String::from_utf8_lossy(&done.stderr)
    );
    assert!(done.status.success(), "{said}");
    let rows = json_lines(&done);
    assert_eq!(rows.len(), 3, "{said}");
    assert_eq!(rows[0]["reference"], true, "{said}");
    assert_eq!(rows[0]["steps"], 3, "the resumed steps only: {said}");
    // The same backend from the same checkpoint: the same losses, bit for bit.
    assert_eq!(rows[1]["steps"], 3, "{said}");
    assert_eq!(rows[1]["max_rel_diff"], 0.0, "{said}");
    assert_eq!(rows[1]["ok"], true, "{said}");
    let skipped = rows[2]["skipped"].as_str().unwrap_or_default();
    assert!(skipped.contains("CUDA backend unavailable"), "{said}");
}

#[test]
fn the_comparison_fails_on_losses_that_differ_and_passes_on_rounding() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a.jsonl"), dir.path().join("b.jsonl"));
    let compare = |other: &[f64]| {
        write_log(&a, &[2.0, 1.5, 1.25]);
        write_log(&b, other);
        let out = python(&["--compare", a.to_str().unwrap(), b.to_str().unwrap()]);
        (
            out.status.success(),
            json_lines(&out)[0]["max_rel_diff"].clone(),
        )
    };
    let (ok, diff) = compare(&[2.0, 1.5 * (1.0 + 2e-4), 1.25]);
    assert!(ok, "a 2e-4 difference is within 1e-3");
    assert!((diff.as_f64().unwrap() - 2e-4).abs() < 1e-9, "{diff}");
    let (ok, diff) = compare(&[2.0, 1.5, 1.25 * (1.0 + 2e-3)]);
    assert!(!ok, "a 2e-3 difference must fail: {diff}");
    // Python's json writes NaN as a bare NaN token, which it reads back.
    let (ok, _) = compare(&[2.0, f64::NAN, 1.25]);
    assert!(!ok, "NaN never agrees");
    // No step in common: nothing was compared, which is no agreement either.
    write_log(&a, &[2.0]);
    std::fs::write(&b, "").unwrap();
    let out = python(&["--compare", a.to_str().unwrap(), b.to_str().unwrap()]);
    assert!(!out.status.success());
}

#[test]
fn the_gpu_ratios_divide_each_implementation_by_pytorch_in_its_own_case() {
    let dir = tempfile::tempdir().unwrap();
    let steps = dir.path().join("steps.jsonl");
    std::fs::write(
        &steps,
        "{\"case\": \"a\", \"implementation\": \"contrastive-workbench cuda\", \"s_per_step\": 0.01, \"views_per_sec\": 300}\n\
         {\"case\": \"a\", \"impl\": \"pytorch nchw\", \"s_per_step\": 0.02, \"views_per_sec\": 200}\n\
         {\"case\": \"a\", \"impl\": \"pytorch channels_last\", \"s_per_step\": 0.005, \"views_per_sec\": 600}\n\
         {\"case\": \"b\", \"implementation\": \"contrastive-workbench cuda, ResNet-18\", \"s_per_step\": 0.1, \"views_per_sec\": 50}\n",
    )
    .unwrap();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/bench/gpu_ratios.py");
    let out = Command::new(std::env::var("PYTHON").unwrap_or_else(|_| "python3".into()))
        .arg(script)
        .arg(&steps)
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    let row = |name: &str| {
        text.lines()
            .find(|l| l.contains(name))
            .unwrap_or_else(|| panic!("no row {name}: {text}"))
            .split_whitespace()
            .rev()
            .take(2)
            .collect::<Vec<_>>()
    };
    // 300 views/s against 200 (NCHW) and 600 (channels_last).
    assert_eq!(
        row("contrastive-workbench cuda "),
        ["0.50x", "1.50x"],
        "{text}"
    );
    // Case b had no PyTorch line: no ratio, rather than one against case a's.
    assert_eq!(row("ResNet-18"), ["-", "-"], "{text}");
}
