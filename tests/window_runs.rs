//! The window across many runs in one session: its threads, open files and memory stay
//! flat, and the archive of earlier runs keeps its bound. Its own test binary, so the
//! process's counts are this window's alone.
#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

mod common;

use contrastive_workbench::app::RunStatus;
use contrastive_workbench::app::run_archive::MAX_PAST_RUNS;

use common::{step_until, tiny_experiment, ui_harness};
use egui_kittest::kittest::Queryable;

/// The process's threads, open file descriptors and resident memory (KiB).
fn usage() -> (usize, usize, u64) {
    let count = |dir: &str| std::fs::read_dir(dir).unwrap().count();
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let rss = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .unwrap()
        .parse()
        .unwrap();
    (count("/proc/self/task"), count("/proc/self/fd"), rss)
}

#[test]
fn twenty_runs_in_one_window_leave_threads_files_and_memory_flat() {
    let mut h = ui_harness(tiny_experiment(8, 16, 3));
    h.run_steps(1);
    let mut settled = None;
    for run in 1..=20 {
        h.get_by_label("Start").click();
        h.run_steps(1);
        step_until(&mut h, "the run to finish", |a| {
            a.run.status == RunStatus::Finished { stopped: false }
        });
        // Let the projection's layout and any other worker finish.
        step_until(&mut h, "the projection", |a| {
            a.run.history.projection().is_some()
        });
        h.run_steps(3);
        // Counted from the fifth run: the first runs warm caches, pools and textures.
        if run == 5 {
            settled = Some(usage());
        }
    }
    let (threads, files, rss) = settled.unwrap();
    let (threads_now, files_now, rss_now) = usage();
    println!(
        "after 5 runs: {threads} threads, {files} files, {} MiB; after 20: {threads_now}, \
         {files_now}, {} MiB",
        rss / 1024,
        rss_now / 1024
    );
    assert_eq!(h.state().run.past_runs.len(), MAX_PAST_RUNS);
    assert!(
        threads_now <= threads + 2,
        "threads {threads} after 5 runs, {threads_now} after 20"
    );
    assert!(
        files_now <= files + 2,
        "open files {files} after 5 runs, {files_now} after 20"
    );
    // Fifteen more runs of a few hundred KiB of curves each; a leak of views, textures
    // or layouts would be tens of MiB.
    assert!(
        rss_now <= rss + 48 * 1024,
        "resident {} MiB after 5 runs, {} MiB after 20",
        rss / 1024,
        rss_now / 1024
    );
}
