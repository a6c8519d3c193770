//! Runs a sweep's members: each an ordinary run folder under the sweep's
//! (`<dir>/<cell>-s<seed>/`, with its checkpoint and export), `parallel` at a time on
//! their own named threads, or one per remote server. `sweep.csv` is rewritten after
//! every change of state. A stop (the window's Stop, Ctrl-C) stops the running members,
//! which write their checkpoints; running the sweep again continues it: finished members
//! are not rerun, interrupted ones resume exactly from their checkpoints.
//!
//! Several members at once share burn's process-wide generator, so with `parallel > 1`
//! their weight initialisations interleave and a member is no longer bit-reproducible;
//! one at a time (the default) it is.
//!
//! With `prune_every = k` (successive halving), every cell first runs to step k, the
//! better half of the cells by kNN top-1 (mean over their seeds) goes on to 2k, the
//! better half of those to 4k, and so on; the others are marked pruned and keep their
//! folders. Each member stops at a rung right after its evaluation there and resumes from
//! that checkpoint, so a surviving member ends exactly as an unpruned one would.

mod handle;
mod member;

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use crossbeam_channel::{Receiver, unbounded};

pub use handle::{SweepHandle, spawn_sweep};

use super::protocol::{Command, Event};
use crate::data::Dataset;
use crate::sweep::table::{self, Outcome, Row, State};
use crate::sweep::{Member, SweepSpec};
use member::{Shared, work, worker_slots};

/// How a sweep runs.
#[derive(Clone, Debug)]
pub struct SweepOptions {
    pub dir: PathBuf,
    /// Members at once on this machine's device (ignored when `servers` are given).
    pub parallel: usize,
    /// `serve` servers (`ws://host:port`): one member per server at a time.
    pub servers: Vec<String>,
    /// The servers' token file, if they want one.
    pub token_file: String,
    /// Checkpoint each member every this many steps (and when stopped, and at the end).
    pub checkpoint_every: u64,
    /// Continue the sweep in `dir` (its `sweep.toml` must be this sweep).
    pub resume: bool,
}

/// What a running sweep reports.
#[derive(Clone, Debug)]
pub enum SweepEvent {
    /// A member's state or figures changed (started, finished, stopped, failed, queued
    /// again after its server went away).
    Member(Row),
    /// One of a member's own run events, with the member's index.
    Run(usize, Event),
    /// A server stopped answering; its member went back to the queue.
    ServerLost { server: String, message: String },
    /// The sweep is over (only from `spawn_sweep`): why it failed, whether it was stopped.
    Ended {
        failed: Option<String>,
        stopped: bool,
    },
}

/// How the sweep ended.
#[derive(Debug, Default)]
pub struct SweepResult {
    pub rows: Vec<Row>,
    /// Why the sweep could not run at all, or a write that failed.
    pub failed: Option<String>,
    pub stopped: bool,
}

/// What a worker thread tells the sweep's thread.
enum Report {
    Started(usize),
    Event(usize, Event),
    Done(usize, State, Outcome, Option<String>),
    /// The member's server went away: queue the member again, retire the server.
    Requeue(usize, String),
}

/// Runs `spec`'s members on `dataset`, obeying `commands` (`Stop`), reporting through
/// `emit`. The caller has checked the members (`SweepSpec::members`).
pub fn run_sweep(
    spec: &SweepSpec,
    members: &[Member],
    dataset: &Arc<Dataset>,
    commands: &Receiver<Command>,
    options: &SweepOptions,
    emit: &mut dyn FnMut(SweepEvent),
) -> SweepResult {
    let mut result = SweepResult::default();
    let claim = prepare_dir(spec, options);
    let rows = claim.and_then(|c| Ok((c, initial_rows(spec, members, options)?)));
    let (_claim, mut rows) = match rows {
        Ok(found) => found,
        Err(message) => {
            result.failed = Some(message);
            return result;
        }
    };
    for row in rows.iter_mut().filter(|r| !r.state.is_final()) {
        row.state = State::Queued;
    }
    if let Err(e) = write_table(options, spec, &rows) {
        result.failed = Some(e);
        return result;
    }
    let ctx = Round {
        spec,
        members,
        dataset,
        commands,
        options,
    };
    for rung in rungs(spec) {
        let queue: VecDeque<(usize, Option<u64>)> = (0..members.len())
            .filter(|&i| !rows[i].state.is_final() && step_reached(&ctx, i) < rung)
            .map(|i| (i, Some(rung)))
            .collect();
        if !ctx.run(queue, &mut rows, emit, &mut result) {
            result.rows = rows;
            return result;
        }
        prune(&mut rows, emit);
        if let Err(e) = write_table(options, spec, &rows) {
            result.failed = Some(e);
            result.rows = rows;
            return result;
        }
    }
    let queue = (0..members.len())
        .filter(|&i| !rows[i].state.is_final())
        .map(|i| (i, None))
        .collect();
    ctx.run(queue, &mut rows, emit, &mut result);
    result.rows = rows;
    result
}

/// What every round of a sweep runs with.
pub(super) struct Round<'a> {
    spec: &'a SweepSpec,
    members: &'a [Member],
    dataset: &'a Arc<Dataset>,
    commands: &'a Receiver<Command>,
    options: &'a SweepOptions,
}

impl Round<'_> {
    /// Runs the queued members (each to its stop step, or to the end), `parallel` at a time
    /// or one per server; returns whether the sweep may go on (not stopped, nothing failed).
    fn run(
        &self,
        queue: VecDeque<(usize, Option<u64>)>,
        rows: &mut [Row],
        emit: &mut dyn FnMut(SweepEvent),
        result: &mut SweepResult,
    ) -> bool {
        let shared = Shared {
            queue: Mutex::new(queue),
            running: Mutex::new(Vec::new()),
            stopping: std::sync::atomic::AtomicBool::new(false),
        };
        let (tx, reports) = unbounded();
        let slots = worker_slots(self.options);
        std::thread::scope(|scope| {
            for slot in &slots {
                let (tx, shared) = (tx.clone(), &shared);
                let _ = std::thread::Builder::new()
                    .name("sweep-member".into())
                    .spawn_scoped(scope, move || {
                        work(slot, self, shared, &tx);
                    });
            }
            drop(tx);
            collect(&reports, self, &shared, rows, emit, result);
        });
        result.stopped |= shared.stopping.load(std::sync::atomic::Ordering::SeqCst);
        !result.stopped && result.failed.is_none()
    }
}

/// The steps at which a pruned sweep halves its cells: k, 2k, 4k, ... before the end.
fn rungs(spec: &SweepSpec) -> Vec<u64> {
    let Some(k) = spec.prune_every.filter(|k| *k > 0) else {
        return Vec::new();
    };
    let total = spec.base.train.steps;
    std::iter::successors(Some(k), |r| r.checked_mul(2))
        .take_while(|r| *r < total)
        .collect()
}

/// How far member `i` has trained: its checkpoint's step (0 without one).
fn step_reached(round: &Round, i: usize) -> u64 {
    let dir = round
        .options
        .dir
        .join(round.members[i].folder(&round.spec.axes));
    super::checkpoint::Checkpoint::peek(&dir).map_or(0, |(step, _)| step)
}

/// Successive halving at a rung: the cells still running, ranked by their mean kNN top-1
/// there (each member's latest evaluation is the rung's); the worse half's members are
/// marked pruned.
fn prune(rows: &mut [Row], emit: &mut dyn FnMut(SweepEvent)) {
    let alive: Vec<usize> = {
        let mut cells: Vec<usize> = rows
            .iter()
            .filter(|r| !r.state.is_final())
            .map(|r| r.cell)
            .collect();
        cells.sort_unstable();
        cells.dedup();
        cells
    };
    let score = |cell: usize| {
        let v: Vec<f32> = rows
            .iter()
            .filter(|r| r.cell == cell)
            .filter_map(|r| r.outcome.knn_top1)
            .collect();
        if v.is_empty() {
            f32::NEG_INFINITY
        } else {
            v.iter().sum::<f32>() / v.len() as f32
        }
    };
    let mut ranked: Vec<(usize, f32)> = alive.iter().map(|&c| (c, score(c))).collect();
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    let keep = ranked.len().div_ceil(2);
    for &(cell, _) in &ranked[keep..] {
        for row in rows.iter_mut().filter(|r| r.cell == cell) {
            row.state = State::Pruned;
            emit(SweepEvent::Member(row.clone()));
        }
    }
}

/// Rewrites `sweep.csv` whole, through the run folder's atomic writer (a unique
/// temporary, synced, then renamed), so it is never seen half-written.
fn write_table(options: &SweepOptions, spec: &SweepSpec, rows: &[Row]) -> Result<(), String> {
    let bytes = table::to_csv(&spec.axes, rows)?;
    let path = options.dir.join(crate::sweep::TABLE_FILE);
    super::run_folder::write_atomically(&path, &bytes).map_err(|e| format!("{e:#}"))
}

/// The sweep folder, claimed (one writer per sweep) with `sweep.toml` in it: refused when
/// it holds another sweep, or one already begun and `resume` is not set.
fn prepare_dir(
    spec: &SweepSpec,
    options: &SweepOptions,
) -> Result<super::run_folder::RunFolderClaim, String> {
    let dir = &options.dir;
    let claim = super::run_folder::claim(dir, false).map_err(|e| e.to_string())?;
    let file = dir.join(crate::sweep::SWEEP_FILE);
    if file.exists() {
        let existing = SweepSpec::load(dir)?;
        if !options.resume {
            return Err(format!(
                "{} already holds a sweep; --resume continues it (or choose another --out)",
                dir.display()
            ));
        }
        if existing != *spec {
            return Err(format!(
                "{} holds a different sweep (its sweep.toml differs from this one's axes, \
                 seeds or base experiment); choose another --out",
                dir.display()
            ));
        }
        return Ok(claim);
    }
    super::run_folder::write_atomically(&file, spec.to_toml().as_bytes())
        .map_err(|e| format!("{e:#}"))?;
    Ok(claim)
}

/// The table to start from: the one in the folder when resuming, else every member queued.
fn initial_rows(
    spec: &SweepSpec,
    members: &[Member],
    options: &SweepOptions,
) -> Result<Vec<Row>, String> {
    let fresh: Vec<Row> = members.iter().map(|m| Row::queued(m, &spec.axes)).collect();
    let path = options.dir.join(crate::sweep::TABLE_FILE);
    if !options.resume || !path.exists() {
        return Ok(fresh);
    }
    let saved = table::read(&options.dir, &spec.axes)?;
    Ok(fresh
        .into_iter()
        .map(
            |mut row| match saved.iter().find(|s| s.folder == row.folder) {
                // Finished and pruned members stay as they were.
                Some(s) if s.state.is_final() => s.clone(),
                // Interrupted ones run again; their time so far counts.
                Some(s) => {
                    row.outcome.wall_seconds = s.outcome.wall_seconds;
                    row
                }
                None => row,
            },
        )
        .collect())
}

/// The sweep's own thread: takes the workers' reports into the table (rewritten after each
/// change) and the caller's `Stop`, until every worker has finished.
fn collect(
    reports: &Receiver<Report>,
    round: &Round,
    shared: &Shared,
    rows: &mut [Row],
    emit: &mut dyn FnMut(SweepEvent),
    result: &mut SweepResult,
) {
    let (commands, spec, options) = (round.commands, round.spec, round.options);
    let mut listening = true;
    loop {
        let cmds = if listening {
            commands.clone()
        } else {
            crossbeam_channel::never()
        };
        crossbeam_channel::select! {
            recv(reports) -> report => match report {
                Ok(report) => {
                    let changed = take_report(report, rows, emit, result);
                    if let Some(i) = changed {
                        emit(SweepEvent::Member(rows[i].clone()));
                        if let Err(e) = write_table(options, spec, rows) {
                            result.failed.get_or_insert(e);
                            stop_all(shared);
                        }
                    }
                }
                Err(_) => break,
            },
            recv(cmds) -> cmd => match cmd {
                Ok(Command::Stop) => stop_all(shared),
                Ok(_) => {}
                Err(_) => listening = false,
            },
        }
    }
    let left = shared.queue.lock().map(|q| q.len()).unwrap_or(0);
    if left > 0 && !shared.stopping.load(std::sync::atomic::Ordering::SeqCst) {
        result.failed.get_or_insert(format!(
            "every server went away with {left} members still queued; `sweep --resume` \
             continues them"
        ));
    }
}

/// Folds one report into the table; returns the member whose row changed.
fn take_report(
    report: Report,
    rows: &mut [Row],
    emit: &mut dyn FnMut(SweepEvent),
    result: &mut SweepResult,
) -> Option<usize> {
    match report {
        Report::Started(i) => {
            rows[i].state = State::Running;
            Some(i)
        }
        Report::Event(i, ev) => {
            emit(SweepEvent::Run(i, ev));
            None
        }
        Report::Done(i, state, mut outcome, failure) => {
            // A member run in parts (rungs, interruptions) counts all its time.
            outcome.wall_seconds += rows[i].outcome.wall_seconds;
            rows[i].state = state;
            rows[i].outcome = outcome;
            if let Some(message) = failure {
                result
                    .failed
                    .get_or_insert(format!("{} failed: {message}", rows[i].folder));
            }
            Some(i)
        }
        Report::Requeue(i, message) => {
            rows[i].state = State::Queued;
            let server = message.split(": ").next().unwrap_or_default().to_string();
            emit(SweepEvent::ServerLost { server, message });
            Some(i)
        }
    }
}

/// No new member starts; each running one is asked to stop (it writes its checkpoint).
fn stop_all(shared: &Shared) {
    shared
        .stopping
        .store(true, std::sync::atomic::Ordering::SeqCst);
    if let Ok(running) = shared.running.lock() {
        for (_, tx) in running.iter() {
            let _ = tx.send(Command::Stop);
        }
    }
}
