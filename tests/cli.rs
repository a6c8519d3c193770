//! The headless `train` command as a script meets it: stderr piped, failures visible on
//! stdout as JSON lines and in the exit status, signals that write the checkpoint, one
//! writer per run folder.
#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};

mod common;

use common::{assert_succeeded, json_lines};

const BIN: &str = env!("CARGO_BIN_EXE_contrastive-workbench");

/// A small, fast SimCLR preset on shapes.
fn preset(dir: &Path, name: &str, steps: u64) -> std::path::PathBuf {
    common::tiny_preset_named(dir, name, steps)
}

fn train(args: &[&str]) -> Output {
    Command::new(BIN)
        .arg("train")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

/// `train --preset P --out O`, which must succeed (stderr shown when it does not).
fn train_ok(preset: &Path, out_dir: &Path) -> Output {
    let out = train(&[
        "--preset",
        preset.to_str().unwrap(),
        "--out",
        out_dir.to_str().unwrap(),
    ]);
    assert_succeeded(&out);
    out
}

#[test]
fn a_folder_that_cannot_be_written_fails_loudly_with_stderr_piped() {
    let dir = tempfile::tempdir().unwrap();
    let p = preset(dir.path(), "w", 3);
    let not_a_folder = dir.path().join("file");
    std::fs::write(&not_a_folder, "x").unwrap();
    for out_dir in [not_a_folder.as_path(), Path::new("/proc/cw-test-run")] {
        let out = train(&[
            "--preset",
            p.to_str().unwrap(),
            "--out",
            out_dir.to_str().unwrap(),
        ]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(stderr.contains(&out_dir.display().to_string()), "{stderr}");
    }
}

#[test]
fn a_write_that_fails_mid_run_stops_it_and_says_so_on_stdout() {
    let dir = tempfile::tempdir().unwrap();
    let p = preset(dir.path(), "mid", 40);
    let out_dir = dir.path().join("run");
    let mut child = spawn_train(&p, &out_dir, "1");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    // Once training runs, take the folder's write permission away (root ignores modes,
    // so replace the checkpoint by a folder: the rename onto it fails).
    let mut seen = Vec::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        let stepped = line.contains("\"step\":2,");
        seen.push(line);
        if stepped {
            // The trainer may rename a new checkpoint in between: try until the folder wins.
            let target = out_dir.join("checkpoint.safetensors");
            let mut tries = 0;
            while {
                std::fs::remove_file(&target).ok();
                std::fs::create_dir(&target).is_err()
            } {
                tries += 1;
                assert!(tries < 100, "the checkpoint kept coming back");
            }
            std::fs::write(out_dir.join("checkpoint.safetensors/keep"), "x").unwrap();
            break;
        }
    }
    seen.extend(lines.map(Result::unwrap));
    let status = child.wait().unwrap();
    let events: Vec<serde_json::Value> = seen
        .iter()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    assert_eq!(status.code(), Some(1), "{seen:?}");
    let kinds: Vec<&str> = events.iter().filter_map(|e| e["event"].as_str()).collect();
    assert!(kinds.contains(&"checkpoint_failed"), "{kinds:?}");
    assert!(kinds.contains(&"failed"), "{kinds:?}");
    let last_step = events
        .iter()
        .filter_map(|e| e["step"].as_u64())
        .max()
        .unwrap();
    assert!(
        last_step < 40,
        "the run stopped instead of training unsaved"
    );
}

/// `train` in the background with piped output.
fn spawn_train(preset: &Path, out_dir: &Path, checkpoint_every: &str) -> Child {
    Command::new(BIN)
        .args(["--preset", preset.to_str().unwrap(), "train"])
        .args(["--checkpoint-every", checkpoint_every])
        .args(["--out", out_dir.to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn spawn_long_run(preset: &Path, out_dir: &Path) -> (Child, impl Iterator<Item = String>) {
    let mut child = spawn_train(preset, out_dir, "0");
    let mut lines = BufReader::new(child.stdout.take().unwrap())
        .lines()
        .map(Result::unwrap);
    // Wait until it trains.
    assert!(
        lines.by_ref().any(|l| l.contains("\"loss\"")),
        "no step line"
    );
    (child, lines)
}

fn signal(child: &Child, name: &str) {
    let ok = Command::new("kill")
        .args([&format!("-{name}"), &child.id().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill -{name}");
}

#[test]
fn ctrl_c_and_sigterm_write_the_checkpoint_and_export_and_the_run_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let p = preset(dir.path(), "sig", 1_000_000);
    for (name, code) in [("INT", 130), ("TERM", 143)] {
        let out_dir = dir.path().join(format!("run-{name}"));
        let (mut child, rest) = spawn_long_run(&p, &out_dir);
        signal(&child, name);
        let _: Vec<String> = rest.collect();
        let status = child.wait().unwrap();
        assert_eq!(status.code(), Some(code), "SIG{name}");
        for file in [
            "checkpoint.safetensors",
            "encoder.safetensors",
            "preset.toml",
        ] {
            assert!(out_dir.join(file).is_file(), "SIG{name}: {file} missing");
        }
        let ckpt = contrastive_workbench::engine::checkpoint::Checkpoint::read(&out_dir).unwrap();
        assert!(ckpt.step >= 1);
        let more = (ckpt.step + 2).to_string();
        let out = train(&[
            "--resume",
            "--out",
            out_dir.to_str().unwrap(),
            "--steps",
            &more,
        ]);
        assert_succeeded(&out);
    }
}

/// The terminal closes under a run (ssh dropped): stdout and stderr go away and SIGHUP
/// follows. The run stops as for Ctrl-C, its checkpoint and export written (exit 129),
/// instead of dying of the signal or of the first line it can no longer print.
#[test]
fn a_closed_terminal_stops_the_run_with_its_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let p = preset(dir.path(), "hup", 1_000_000);
    let out_dir = dir.path().join("run-hup");
    let (mut child, rest) = spawn_long_run(&p, &out_dir);
    drop(rest);
    drop(child.stderr.take());
    signal(&child, "HUP");
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(129), "SIGHUP");
    assert!(out_dir.join("checkpoint.safetensors").is_file());
    assert!(out_dir.join("encoder.safetensors").is_file());
    // SIGQUIT is taken the same way.
    let out_dir = dir.path().join("run-quit");
    let (mut child, rest) = spawn_long_run(&p, &out_dir);
    signal(&child, "QUIT");
    let _: Vec<String> = rest.collect();
    assert_eq!(child.wait().unwrap().code(), Some(131), "SIGQUIT");
    assert!(out_dir.join("checkpoint.safetensors").is_file());
}

/// `train ... | head -n 1`: the reader leaves after one line. The run is not killed by the
/// next line it prints: it trains to its end, exports, and exits 141 to say output was lost.
#[test]
fn a_reader_that_leaves_does_not_crash_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let p = preset(dir.path(), "pipe", 30);
    let out_dir = dir.path().join("run");
    let mut child = spawn_train(&p, &out_dir, "0");
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert!(!first.is_empty());
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    let status = child.wait().unwrap();
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(status.code(), Some(141), "{stderr}");
    let ckpt = contrastive_workbench::engine::checkpoint::Checkpoint::read(&out_dir).unwrap();
    assert_eq!(ckpt.step, 30, "the run went on to its end");
    assert!(out_dir.join("encoder.safetensors").is_file());
}

#[test]
fn a_screenshot_that_cannot_be_saved_fails_before_the_window_opens() {
    let out = Command::new(BIN)
        .args(["screenshot", "--steps", "1", "--out", "/dev/null/shot.png"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("/dev/null/shot.png"), "{stderr}");
}

#[test]
fn a_second_run_on_the_same_folder_is_refused_naming_the_first() {
    let dir = tempfile::tempdir().unwrap();
    let p = preset(dir.path(), "two", 1_000_000);
    let out_dir = dir.path().join("shared");
    let (mut first, rest) = spawn_long_run(&p, &out_dir);
    let second = train(&[
        "--preset",
        p.to_str().unwrap(),
        "--out",
        out_dir.to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert_eq!(second.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("process {}", first.id())),
        "the holder is named: {stderr}"
    );
    signal(&first, "TERM");
    let _: Vec<String> = rest.collect();
    assert_eq!(first.wait().unwrap().code(), Some(143));
}

#[test]
fn a_folder_of_other_files_is_not_overwritten_and_names_are_not_paths() {
    let dir = tempfile::tempdir().unwrap();
    let p = preset(dir.path(), "mine", 2);
    let users = dir.path().join("users-folder");
    std::fs::create_dir(&users).unwrap();
    std::fs::write(users.join("README.md"), "my notes").unwrap();
    let out = train(&[
        "--preset",
        p.to_str().unwrap(),
        "--out",
        users.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--force"));
    assert_eq!(
        std::fs::read_to_string(users.join("README.md")).unwrap(),
        "my notes"
    );

    let hostile = dir.path().join("hostile.toml");
    std::fs::write(&hostile, "name = \"..\"\n").unwrap();
    let out = train(&["--preset", hostile.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("name = \"..\""), "{stderr}");
}

#[test]
fn a_checkpoint_copied_from_another_run_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let a = preset(dir.path(), "run-a", 2);
    let b_text = std::fs::read_to_string(&a)
        .unwrap()
        .replace("run-a", "run-b")
        .replace("batch_size = 16", "batch_size = 12");
    let b = dir.path().join("run-b.toml");
    std::fs::write(&b, b_text).unwrap();
    let (out_a, out_b) = (dir.path().join("a"), dir.path().join("b"));
    for (p, o) in [(&a, &out_a), (&b, &out_b)] {
        train_ok(p, o);
    }
    let before = std::fs::read(out_b.join("preset.toml")).unwrap();
    std::fs::copy(
        out_a.join("checkpoint.safetensors"),
        out_b.join("checkpoint.safetensors"),
    )
    .unwrap();
    let out = train(&["--resume", "--out", out_b.to_str().unwrap(), "--steps", "4"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("train.batch_size"), "{stderr}");
    assert_eq!(std::fs::read(out_b.join("preset.toml")).unwrap(), before);
}

#[test]
fn a_resume_on_the_cpu_never_opens_burns_default_gpu() {
    // burn loads a checkpoint's optimiser state on its default device, which a CUDA build
    // makes the GPU. `BURN_DEVICE=cuda` gives this build the same default (here one that
    // panics, as a CUDA build does without a driver): the resume must not go near it.
    let dir = tempfile::tempdir().unwrap();
    let p = preset(dir.path(), "resumed", 2);
    let out_dir = dir.path().join("run");
    train_ok(&p, &out_dir);
    let out = Command::new(BIN)
        .env("BURN_DEVICE", "cuda")
        .args([
            "train",
            "--resume",
            "--backend",
            "cpu",
            "--steps",
            "3",
            "--out",
        ])
        .arg(&out_dir)
        .output()
        .unwrap();
    assert_succeeded(&out);
    let steps = std::fs::read_to_string(out_dir.join("metrics.csv")).unwrap();
    assert!(steps.lines().any(|l| l.starts_with("3,")), "{steps}");
}

#[test]
fn the_random_init_evaluation_is_exported_before_any_training() {
    // Killed outright after its first steps, with no evaluation since step 0: the folder
    // holds the random-init export (the baseline), not nothing.
    let dir = tempfile::tempdir().unwrap();
    let p = preset(dir.path(), "base", 1_000_000);
    let out_dir = dir.path().join("run");
    let (mut child, _rest) = spawn_long_run(&p, &out_dir);
    signal(&child, "KILL");
    child.wait().unwrap();
    let evals = std::fs::read_to_string(out_dir.join("eval.csv")).unwrap();
    assert!(evals.lines().nth(1).unwrap().starts_with("0,"), "{evals}");
    assert!(out_dir.join("encoder.safetensors").is_file());
}

#[test]
fn exported_files_have_the_usual_permissions() {
    let dir = tempfile::tempdir().unwrap();
    let p = preset(dir.path(), "perm", 2);
    let out_dir = dir.path().join("run");
    let out = train_ok(&p, &out_dir);
    assert!(
        json_lines(&out)
            .iter()
            .any(|l| l["final_knn_top1"].is_number())
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |f: &str| {
            std::fs::metadata(out_dir.join(f))
                .unwrap()
                .permissions()
                .mode()
                & 0o777
        };
        for f in [
            "encoder.safetensors",
            "encoder.bpk",
            "checkpoint.safetensors",
            "embeddings.npy",
        ] {
            assert_eq!(mode(f), mode("preset.toml"), "{f}");
        }
    }
}

#[test]
fn an_empty_preset_and_nonsense_settings_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.toml");
    std::fs::write(&empty, "# nothing here\n").unwrap();
    let out = train(&["--preset", empty.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("empty"));

    let p = preset(dir.path(), "odd", 2);
    let text = std::fs::read_to_string(&p)
        .unwrap()
        .replace("batch_size = 16", "batch_size = 500")
        .replace("warmup_steps = 0", "warmup_steps = 10");
    std::fs::write(&p, text).unwrap();
    let out_dir = dir.path().join("run");
    let out = train_ok(&p, &out_dir);
    let warnings: Vec<String> = json_lines(&out)
        .iter()
        .filter(|l| l["event"] == "warning")
        .map(|l| l["message"].as_str().unwrap().to_string())
        .collect();
    for field in ["train.batch_size", "train.warmup_steps"] {
        assert!(
            warnings.iter().any(|w| w.contains(field)),
            "{field}: {warnings:?}"
        );
    }
}

#[test]
fn a_missing_preset_is_reported_once_with_its_reason() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.toml");
    let out = train(&["--preset", missing.to_str().unwrap(), "--out", "unused"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("nope.toml"), "{err}");
    assert_eq!(
        err.matches("No such file").count(),
        1,
        "the reason is printed once: {err}"
    );
}

#[test]
fn an_unknown_lesson_is_refused_before_a_window_opens() {
    let out = std::process::Command::new(BIN)
        .args(["--lesson", "no-such-lesson"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("no lesson named \"no-such-lesson\"") && stderr.contains("loss-ladder"),
        "{stderr}"
    );
}

/// `train --lesson NAME` runs the experiment the window opens the lesson with (its start
/// and its first step's set-up), headless; a wrong name or a preset beside it is refused.
#[test]
fn train_runs_a_lessons_starting_experiment_headless() {
    use contrastive_workbench::preset::Experiment;
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("lesson");
    // The colour-jitter lesson: the full shapes set, whose four backgrounds are an attribute.
    let out = train(&[
        "--lesson",
        "why-colour-jitter",
        "--steps",
        "2",
        "--out",
        out_dir.to_str().unwrap(),
    ]);
    assert_succeeded(&out);
    let lesson = contrastive_workbench::lessons::find("why-colour-jitter").unwrap();
    let mut want = (lesson.start)();
    if let Some(setup) = lesson.steps[0].setup {
        setup(&mut want);
    }
    want.train.steps = 2;
    let ran = Experiment::load(&out_dir.join("preset.toml")).unwrap();
    assert_eq!(ran.to_toml(), want.to_toml());
    // The closing line measures the picture a class would see: the settled t-SNE's
    // silhouette by class and by each attribute of the images.
    let lines = json_lines(&out);
    let last = lines
        .iter()
        .find(|l| l["final_knn_top1"].is_number())
        .unwrap();
    let measured = &last["projection_silhouette"];
    assert_eq!(measured["tsne_iterations"], 1000, "{last}");
    assert_eq!(measured["step"], 2, "{last}");
    let class = measured["class"].as_f64().unwrap();
    assert!((-1.0..=1.0).contains(&class), "{last}");
    assert!(
        measured["colour"].is_number() && measured["background"].is_number(),
        "{last}"
    );

    let refused = train(&["--lesson", "no-such-lesson", "--steps", "2"]);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("no lesson named") && stderr.contains("loss-ladder"),
        "{stderr}"
    );
    let both = train(&[
        "--lesson",
        "temperature",
        "--preset",
        "presets/simclr-shapes.toml",
    ]);
    let stderr = String::from_utf8_lossy(&both.stderr);
    assert!(stderr.contains("not both"), "{stderr}");
}

#[test]
fn a_classroom_file_that_does_not_read_is_refused_with_its_name() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("class.toml");
    std::fs::write(&path, "[classroom]\nlesson = \"temperature\"\nstep = 7\n").unwrap();
    let out = std::process::Command::new(BIN)
        .arg("--classroom")
        .arg(&path)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("class.toml: classroom.step is 7"),
        "{stderr}"
    );
}

/// `embed --out` at a run's own folder would replace its held-out embeddings with another
/// dataset's: refused, naming the default; the default writes beside them.
#[test]
fn embed_never_overwrites_a_runs_own_embeddings() {
    let dir = tempfile::tempdir().unwrap();
    let p = preset(dir.path(), "emb", 2);
    let run = dir.path().join("run");
    train_ok(&p, &run);
    let own = std::fs::read(run.join("embeddings.csv")).unwrap();
    let embed = |out: Option<&Path>| {
        let mut cmd = Command::new(BIN);
        cmd.args(["embed", "--encoder", run.to_str().unwrap()]);
        if let Some(out) = out {
            cmd.args(["--out", out.to_str().unwrap()]);
        }
        cmd.output().unwrap()
    };
    let refused = embed(Some(&run));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("embed-"), "{stderr}");
    assert_eq!(std::fs::read(run.join("embeddings.csv")).unwrap(), own);
    assert_succeeded(&embed(None));
    let beside = std::fs::read_dir(&run)
        .unwrap()
        .filter_map(Result::ok)
        .find(|e| e.file_name().to_string_lossy().starts_with("embed-"))
        .expect("an embed-<dataset> folder");
    assert!(beside.path().join("embeddings.csv").is_file());
}

/// Ctrl-C while a large dataset loads stops the command at once: the load (minutes here:
/// 800,000 generated images took 217 s on a 2-core machine) is cancelled, not waited for.
#[test]
fn ctrl_c_during_a_long_load_stops_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let p = preset(dir.path(), "load", 1);
    let text = std::fs::read_to_string(&p)
        .unwrap()
        .replace("train_per_class = 8", "train_per_class = 100000");
    std::fs::write(&p, text).unwrap();
    let out_dir = dir.path().join("run");
    let mut child = spawn_train(&p, &out_dir, "0");
    std::thread::sleep(std::time::Duration::from_millis(1500));
    signal(&child, "INT");
    let signalled = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if signalled.elapsed() > std::time::Duration::from_secs(60) {
            let _ = child.kill();
            panic!("still loading a minute after Ctrl-C");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    assert_eq!(status.code(), Some(130));
    assert!(!out_dir.join("checkpoint.safetensors").exists());
}

#[test]
fn bench_json_times_the_step_on_larger_views_and_refuses_a_vit_at_them() {
    let run = |args: &[&str]| Command::new(BIN).arg("bench").args(args).output().unwrap();
    let out = run(&["--json", "--batch", "2", "--steps", "1", "--size", "48"]);
    assert_succeeded(&out);
    let lines = json_lines(&out);
    assert_eq!(lines.len(), 2, "the fused step and burn's ops");
    for line in &lines {
        assert!(line["views_per_sec"].as_f64().unwrap() > 0.0, "{line}");
    }
    let out = run(&["--json", "--encoder", "vit", "--size", "64"]);
    assert_eq!(out.status.code(), Some(1));
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("--size 64") && said.contains("ViT"), "{said}");
    let out = run(&["--json", "--size", "4"]);
    assert!(!out.status.success());
}

#[test]
fn bench_json_on_a_backend_this_build_lacks_says_so_and_auto_times_the_cpu() {
    let run = |args: &[&str]| Command::new(BIN).arg("bench").args(args).output().unwrap();
    // The default build has no CUDA: a clear refusal, not a CPU figure under its name.
    let out = run(&[
        "--json",
        "--backend",
        "cuda",
        "--batch",
        "2",
        "--steps",
        "1",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("CUDA backend unavailable"), "{said}");
    assert!(json_lines(&out).is_empty());
    // auto falls back to the CPU and names it: one line, the fused step training runs there.
    let out = run(&[
        "--json",
        "--backend",
        "auto",
        "--batch",
        "2",
        "--steps",
        "1",
    ]);
    assert_succeeded(&out);
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("device: CPU (flex)"), "{said}");
    let lines = json_lines(&out);
    assert_eq!(lines.len(), 1, "{lines:?}");
    let name = lines[0]["implementation"].as_str().unwrap();
    assert!(
        name.contains("CPU (flex)") && name.contains("fused"),
        "{name}"
    );
    assert!(lines[0]["s_per_step"].as_f64().unwrap() > 0.0);
}

#[test]
fn bench_views_only_times_the_cpus_views_and_the_devices() {
    let run = |args: &[&str]| Command::new(BIN).arg("bench").args(args).output().unwrap();
    let out = run(&["--views-only", "--batch", "8", "--steps", "1"]);
    assert_succeeded(&out);
    let lines = json_lines(&out);
    assert_eq!(lines.len(), 1, "{lines:?}");
    let line = &lines[0];
    assert_eq!(line["device"], "CPU (flex)", "{line}");
    for figure in [
        "cpu_views_per_sec",
        "device_views_per_sec",
        "planning_views_per_sec",
    ] {
        assert!(line[figure].as_f64().unwrap() > 0.0, "{figure}: {line}");
    }
    // A device this build lacks is refused, not timed on the CPU under its name.
    let out = run(&[
        "--views-only",
        "--backend",
        "cuda",
        "--batch",
        "8",
        "--steps",
        "1",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(json_lines(&out).is_empty());
}
