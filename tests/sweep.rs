//! The headless `sweep` command: a grid of cells at paired seeds, each member an ordinary
//! run folder; `sweep.csv` agrees with the members' own files; an interrupted sweep
//! resumes without touching finished members and ends as an uninterrupted one; bad keys
//! and values are refused before anything runs.
#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

mod common;

use common::{assert_succeeded, json_lines};

const BIN: &str = env!("CARGO_BIN_EXE_contrastive-workbench");

fn sweep(args: &[&str]) -> Output {
    Command::new(BIN)
        .arg("sweep")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

/// The rows of a CSV file as (header, records), read as pandas would (quoted fields).
fn csv_rows(path: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let mut r = csv::Reader::from_path(path).unwrap();
    let header = r.headers().unwrap().iter().map(String::from).collect();
    let rows = r
        .records()
        .map(|rec| rec.unwrap().iter().map(String::from).collect())
        .collect();
    (header, rows)
}

fn column(header: &[String], name: &str) -> usize {
    header.iter().position(|h| h == name).unwrap()
}

/// The member folders under a sweep folder.
fn member_dirs(dir: &Path) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    dirs
}

#[test]
fn a_grid_at_paired_seeds_runs_headless_and_its_table_is_the_members_own() {
    let dir = tempfile::tempdir().unwrap();
    let preset = common::tiny_preset_file(dir.path(), 3);
    let out = dir.path().join("grid");
    let run = sweep(&[
        "--preset",
        preset.to_str().unwrap(),
        "--vary",
        "method.temperature=0.1,0.5",
        "--vary",
        "train.learning_rate=0.001,0.01",
        "--seeds",
        "2",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_succeeded(&run);
    let members: Vec<serde_json::Value> = json_lines(&run)
        .into_iter()
        .filter(|v| v.get("member").is_some())
        .collect();
    assert_eq!(members.len(), 8, "one JSON line per member");
    assert!(members.iter().all(|m| m["state"] == "finished"));
    assert_eq!(member_dirs(&out).len(), 8);
    assert!(out.join("sweep.toml").is_file());
    let (header, rows) = csv_rows(&out.join("sweep.csv"));
    assert_eq!(
        &header[..6],
        [
            "member",
            "cell",
            "method.temperature",
            "train.learning_rate",
            "seed",
            "state"
        ]
    );
    assert_eq!(rows.len(), 8);
    let knn = column(&header, "final_knn_top1");
    for row in &rows {
        assert_eq!(row[column(&header, "state")], "finished");
        // The table's figure is the member's own last evaluation.
        let member = out.join(&row[0]);
        let (eh, erows) = csv_rows(&member.join("eval.csv"));
        let last = erows.last().unwrap();
        let own: f32 = last[column(&eh, "knn_top1")].parse().unwrap();
        let table: f32 = row[knn].parse().unwrap();
        assert_eq!(own, table, "{}", row[0]);
        // The member ran the cell's settings at the row's seed.
        let p =
            contrastive_workbench::preset::Experiment::load(&member.join("preset.toml")).unwrap();
        assert_eq!(p.seed.to_string(), row[column(&header, "seed")]);
        assert_eq!(
            p.train.learning_rate.to_string(),
            row[column(&header, "train.learning_rate")]
        );
        assert!(member.join("encoder.safetensors").is_file());
    }
    // Paired seeds: every cell ran seeds 0 and 1.
    let mut seeds: Vec<&str> = rows
        .iter()
        .map(|r| r[column(&header, "seed")].as_str())
        .collect();
    seeds.sort_unstable();
    assert_eq!(seeds, ["0", "0", "0", "0", "1", "1", "1", "1"]);
    // A sweep already there is not run over without --resume.
    let again = sweep(&[
        "--preset",
        preset.to_str().unwrap(),
        "--vary",
        "method.temperature=0.1,0.5",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(again.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&again.stderr).contains("already holds a sweep"));
}

#[test]
fn bad_keys_and_values_are_refused_before_anything_runs() {
    let dir = tempfile::tempdir().unwrap();
    let preset = common::tiny_preset_file(dir.path(), 3);
    for (vary, expected) in [
        ("train.batch_sise=8,16", "valid keys"),
        (
            "train.batch_size=1,16",
            "train.batch_size = 1 is out of range",
        ),
        ("method.temperature=-1", "method.temperature"),
        ("method.kind=simclr,nope", "is not a known method"),
        ("views.strength=0,1", "views.strength = 0 is out of range"),
        ("train.steps", "KEY=V1,V2"),
    ] {
        let out = dir.path().join("refused");
        let run = sweep(&[
            "--preset",
            preset.to_str().unwrap(),
            "--vary",
            vary,
            "--out",
            out.to_str().unwrap(),
        ]);
        let stderr = String::from_utf8_lossy(&run.stderr);
        assert_eq!(run.status.code(), Some(1), "{vary}: {stderr}");
        assert!(stderr.contains(expected), "{vary}: {stderr}");
        assert!(
            !out.exists(),
            "{vary}: nothing is written before the grid is checked"
        );
    }
}

/// `sweep.csv`'s rows keyed by member folder: (state, final kNN top-1).
fn table(dir: &Path) -> Vec<(String, String, String)> {
    let (header, rows) = csv_rows(&dir.join("sweep.csv"));
    rows.iter()
        .map(|r| {
            (
                r[0].clone(),
                r[column(&header, "state")].clone(),
                r[column(&header, "final_knn_top1")].clone(),
            )
        })
        .collect()
}

#[test]
fn an_interrupted_sweep_resumes_and_ends_as_an_uninterrupted_one() {
    let dir = tempfile::tempdir().unwrap();
    let preset = common::tiny_preset_file(dir.path(), 400);
    let args = |out: &Path| -> Vec<String> {
        [
            "--preset",
            preset.to_str().unwrap(),
            "--vary",
            "method.temperature=0.2,0.4",
            "--checkpoint-every",
            "50",
            "--out",
            out.to_str().unwrap(),
        ]
        .map(String::from)
        .to_vec()
    };
    // Uninterrupted, for reference.
    let whole = dir.path().join("whole");
    assert_succeeded(&sweep(
        &args(&whole).iter().map(String::as_str).collect::<Vec<_>>(),
    ));

    let cut = dir.path().join("cut");
    let mut child = Command::new(BIN)
        .arg("sweep")
        .args(args(&cut))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Interrupt once the second member has been running a little.
    let stderr = BufReader::new(child.stderr.take().unwrap());
    let mut lines = stderr.lines().map_while(Result::ok);
    assert!(
        lines
            .by_ref()
            .any(|l| l.starts_with("temperature=0.4") && l.ends_with("running")),
        "the second member started"
    );
    std::thread::sleep(std::time::Duration::from_millis(300));
    let ok = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok);
    let _: Vec<String> = lines.collect();
    assert_eq!(child.wait().unwrap().code(), Some(130));
    let rows = table(&cut);
    assert_eq!(rows[0].1, "finished");
    assert_eq!(rows[1].1, "stopped", "{rows:?}");
    let first = cut.join(&rows[0].0).join("encoder.safetensors");
    let first_written = std::fs::metadata(&first).unwrap().modified().unwrap();
    let ckpt =
        contrastive_workbench::engine::checkpoint::Checkpoint::read(&cut.join(&rows[1].0)).unwrap();
    assert!(
        ckpt.step > 0 && ckpt.step < 400,
        "stopped mid-member at {}",
        ckpt.step
    );

    let resumed = sweep(&["--resume", "--out", cut.to_str().unwrap()]);
    assert_succeeded(&resumed);
    let members = json_lines(&resumed)
        .into_iter()
        .filter(|v| v.get("member").is_some())
        .count();
    assert_eq!(members, 1, "only the interrupted member runs again");
    assert_eq!(
        std::fs::metadata(&first).unwrap().modified().unwrap(),
        first_written,
        "the finished member is untouched"
    );
    // Exactly the uninterrupted sweep's results (the CPU backend resumes exactly).
    assert_eq!(table(&cut), table(&whole));
    let (_, cut_eval) = csv_rows(&cut.join(&rows[1].0).join("eval.csv"));
    let (_, whole_eval) = csv_rows(&whole.join(&rows[1].0).join("eval.csv"));
    assert_eq!(cut_eval, whole_eval);
}

#[test]
fn successive_halving_keeps_the_better_half_at_each_rung_and_the_survivor_ends_as_unpruned() {
    let dir = tempfile::tempdir().unwrap();
    let preset = common::tiny_preset_file(dir.path(), 8);
    // Evaluate every 2 steps, so cells are compared at steps 2 and 4.
    let text = std::fs::read_to_string(&preset)
        .unwrap()
        .replace("every = 1000000", "every = 2");
    std::fs::write(&preset, text).unwrap();
    let args = |out: &Path, prune: bool| -> Vec<String> {
        let mut a: Vec<String> = [
            "--preset",
            preset.to_str().unwrap(),
            "--vary",
            "train.learning_rate=0.0001,0.001,0.01,0.1",
            "--out",
            out.to_str().unwrap(),
        ]
        .map(String::from)
        .to_vec();
        if prune {
            a.extend(["--prune-every".to_string(), "2".to_string()]);
        }
        a
    };
    let run = |a: Vec<String>| sweep(&a.iter().map(String::as_str).collect::<Vec<_>>());
    let whole = dir.path().join("whole");
    assert_succeeded(&run(args(&whole, false)));
    let pruned = dir.path().join("pruned");
    assert_succeeded(&run(args(&pruned, true)));

    let rows = table(&pruned);
    let states: Vec<&str> = rows.iter().map(|r| r.1.as_str()).collect();
    assert_eq!(
        states.iter().filter(|s| **s == "finished").count(),
        1,
        "{rows:?}"
    );
    assert_eq!(
        states.iter().filter(|s| **s == "pruned").count(),
        3,
        "{rows:?}"
    );
    // Pruned members keep their folders, stopped at their rung: two at 2, one at 4.
    let mut stopped_at: Vec<u64> = rows
        .iter()
        .filter(|r| r.1 == "pruned")
        .map(|r| {
            contrastive_workbench::engine::checkpoint::Checkpoint::read(&pruned.join(&r.0))
                .unwrap()
                .step
        })
        .collect();
    stopped_at.sort_unstable();
    assert_eq!(stopped_at, [2, 2, 4]);
    // The kept half at step 2 is the better half by kNN there (read from the unpruned
    // sweep's own eval.csv).
    let knn_at = |member: &str, step: &str| -> f32 {
        let (h, r) = csv_rows(&whole.join(member).join("eval.csv"));
        let row = r.iter().find(|r| r[column(&h, "step")] == step).unwrap();
        row[column(&h, "knn_top1")].parse().unwrap()
    };
    let mut at_2: Vec<(f32, &str)> = rows
        .iter()
        .map(|r| (knn_at(&r.0, "2"), r.0.as_str()))
        .collect();
    at_2.sort_by(|a, b| b.0.total_cmp(&a.0));
    let survivor = rows.iter().find(|r| r.1 == "finished").unwrap();
    assert!(
        at_2[..2].iter().any(|(_, m)| *m == survivor.0),
        "the survivor {} was in the better half at step 2: {at_2:?}",
        survivor.0
    );
    // Stopped at its rungs and resumed, the survivor ends exactly as unpruned.
    let (_, survived) = csv_rows(&pruned.join(&survivor.0).join("eval.csv"));
    let (_, unpruned) = csv_rows(&whole.join(&survivor.0).join("eval.csv"));
    assert_eq!(survived, unpruned);
}
