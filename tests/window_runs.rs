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
    let mut resident = Vec::new();
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
        resident.push(usage().2);
    }
    let (threads, files, _) = settled.unwrap();
    let (threads_now, files_now, _) = usage();
    // The allocator keeps freed memory for a while and gives it back in bursts, so one
    // reading swings by 100 MiB: a leak shows as the least of the last three readings
    // above the most of runs 5-10, eight runs later.
    let rss = resident[4..10].iter().copied().max().unwrap();
    let rss_now = resident[17..].iter().copied().min().unwrap();
    println!(
        "after 5 runs: {threads} threads, {files} files; after 20: {threads_now}, \
         {files_now}; resident at most {} MiB in runs 5-10, at least {} MiB in runs 18-20",
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
    // Eight more runs of a few hundred KiB of curves each; a leak of views, textures or
    // layouts would be tens of MiB.
    assert!(
        rss_now <= rss + 32 * 1024,
        "resident at most {} MiB in runs 5-10, at least {} MiB in runs 18-20",
        rss / 1024,
        rss_now / 1024
    );
}
