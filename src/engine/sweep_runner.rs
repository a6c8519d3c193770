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

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use crossbeam_channel::{Receiver, Sender, bounded, unbounded};

use super::checkpoint::CHECKPOINT_FILE;
use super::protocol::{Command, Event};
use super::session::{CheckpointPlan, RunOptions, run_experiment_with};
use crate::data::Dataset;
use crate::preset::BackendChoice;
use crate::sweep::table::{self, Outcome, Row, State};
use crate::sweep::{Member, SweepSpec};

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

/// The window's side of a sweep running on its own thread.
pub struct SweepHandle {
    commands: Sender<Command>,
    pub events: Receiver<SweepEvent>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl SweepHandle {
    /// Asks every running member to stop (each writes its checkpoint); no new one starts.
    pub fn stop(&self) {
        let _ = self.commands.send(Command::Stop);
    }

    pub fn is_running(&self) -> bool {
        self.thread.as_ref().is_some_and(|t| !t.is_finished())
    }

    /// Stops the sweep and waits at most `limit` for its members to write their
    /// checkpoints (the window calls it as it closes); says whether it ended in time.
    pub fn stop_and_wait(&self, limit: std::time::Duration) -> bool {
        self.stop();
        let deadline = Instant::now() + limit;
        while self.is_running() {
            if Instant::now() > deadline {
                return false;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        true
    }
}

impl Drop for SweepHandle {
    fn drop(&mut self) {
        // Closing the window stops the members, which write their checkpoints; the thread
        // is detached so closing never waits for them.
        self.stop();
    }
}

/// Runs a sweep on a thread named "sweep", forwarding what the window shows (member rows,
/// members' logged steps and evaluations) and waking it after each.
pub fn spawn_sweep(
    spec: SweepSpec,
    members: Vec<Member>,
    dataset: Arc<Dataset>,
    options: SweepOptions,
    notify: super::trainer::Notify,
) -> SweepHandle {
    let (commands, command_rx) = bounded(8);
    // Unbounded: the sweep never waits for the window; its events are small (a logged
    // step is about a kilobyte) and the window drains them every frame.
    let (tx, events) = unbounded();
    let thread = std::thread::Builder::new()
        .name("sweep".into())
        .spawn(move || {
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                run_sweep(
                    &spec,
                    &members,
                    &dataset,
                    &command_rx,
                    &options,
                    &mut |ev| {
                        let shown = matches!(
                            ev,
                            SweepEvent::Member(_)
                                | SweepEvent::ServerLost { .. }
                                | SweepEvent::Run(_, Event::Step(_) | Event::Eval(_))
                        );
                        if shown {
                            let _ = tx.send(ev);
                            notify();
                        }
                    },
                )
            }));
            let (failed, stopped) = match result {
                Ok(r) => (r.failed, r.stopped),
                Err(panic) => (
                    Some(format!(
                        "the sweep thread panicked: {}",
                        crate::worker::panic_message(panic.as_ref())
                    )),
                    false,
                ),
            };
            let _ = tx.send(SweepEvent::Ended { failed, stopped });
            notify();
        });
    match thread {
        Ok(thread) => SweepHandle {
            commands,
            events,
            thread: Some(thread),
        },
        Err(e) => {
            let (tx, events) = unbounded();
            let _ = tx.send(SweepEvent::Ended {
                failed: Some(format!("cannot start the sweep thread: {e}")),
                stopped: false,
            });
            SweepHandle {
                commands,
                events,
                thread: None,
            }
        }
    }
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
    let _claim = match prepare_dir(spec, options) {
        Ok(claim) => claim,
        Err(message) => {
            result.failed = Some(message);
            return result;
        }
    };
    let mut rows = match initial_rows(spec, members, options) {
        Ok(rows) => rows,
        Err(message) => {
            result.failed = Some(message);
            return result;
        }
    };
    let queue: VecDeque<usize> = (0..members.len())
        .filter(|&i| rows[i].state != State::Finished)
        .collect();
    for i in &queue {
        rows[*i].state = State::Queued;
    }
    if let Err(e) = table::write(&options.dir, &spec.axes, &rows) {
        result.failed = Some(e);
        return result;
    }
    let shared = Shared {
        queue: Mutex::new(queue),
        running: Mutex::new(Vec::new()),
        stopping: std::sync::atomic::AtomicBool::new(false),
    };
    let (tx, reports) = unbounded();
    let slots = worker_slots(options);
    std::thread::scope(|scope| {
        for slot in &slots {
            let (tx, shared) = (tx.clone(), &shared);
            let _ = std::thread::Builder::new()
                .name("sweep-member".into())
                .spawn_scoped(scope, move || {
                    work(slot, spec, members, dataset, options, shared, &tx);
                });
        }
        drop(tx);
        collect(
            &reports,
            commands,
            &shared,
            &mut rows,
            spec,
            options,
            emit,
            &mut result,
        );
    });
    result.stopped |= shared.stopping.load(std::sync::atomic::Ordering::SeqCst);
    result.rows = rows;
    result
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
        .map(|row| {
            saved
                .iter()
                .find(|s| s.folder == row.folder && s.state == State::Finished)
                .cloned()
                .unwrap_or(row)
        })
        .collect())
}

/// The queue of members not yet started and the command senders of those running.
struct Shared {
    queue: Mutex<VecDeque<usize>>,
    running: Mutex<Vec<(usize, Sender<Command>)>>,
    stopping: std::sync::atomic::AtomicBool,
}

/// Where a worker runs its members: this machine, or one remote server.
enum Slot {
    Local,
    Server(String),
}

fn worker_slots(options: &SweepOptions) -> Vec<Slot> {
    if options.servers.is_empty() {
        (0..options.parallel.max(1)).map(|_| Slot::Local).collect()
    } else {
        options.servers.iter().cloned().map(Slot::Server).collect()
    }
}

/// One worker: takes members from the queue until it is empty or the sweep stops; a
/// worker whose server went away hands its member back and stops.
fn work(
    slot: &Slot,
    spec: &SweepSpec,
    members: &[Member],
    dataset: &Dataset,
    options: &SweepOptions,
    shared: &Shared,
    tx: &Sender<Report>,
) {
    use std::sync::atomic::Ordering;
    loop {
        if shared.stopping.load(Ordering::SeqCst) {
            return;
        }
        let Some(i) = shared.queue.lock().ok().and_then(|mut q| q.pop_front()) else {
            return;
        };
        let (cmd_tx, cmd_rx) = bounded(8);
        if let Ok(mut running) = shared.running.lock() {
            running.push((i, cmd_tx));
        }
        let _ = tx.send(Report::Started(i));
        let mut exp = members[i].experiment.clone();
        if let Slot::Server(url) = slot {
            exp.train.backend = BackendChoice::Remote;
            exp.train.remote.clone_from(url);
            exp.train.remote_token_file.clone_from(&options.token_file);
        }
        let dir = options.dir.join(members[i].folder(&spec.axes));
        let (state, outcome, failure) = run_member(i, &exp, dataset, &dir, options, &cmd_rx, tx);
        if let Ok(mut running) = shared.running.lock() {
            running.retain(|(j, _)| *j != i);
        }
        if let (Slot::Server(url), Some(message)) = (slot, &failure)
            && server_gone(message)
        {
            if let Ok(mut q) = shared.queue.lock() {
                q.push_front(i);
            }
            let _ = tx.send(Report::Requeue(i, format!("{url}: {message}")));
            return;
        }
        let _ = tx.send(Report::Done(i, state, outcome, failure));
    }
}

/// Whether a failure means the member's server is gone (not the member's own fault).
fn server_gone(message: &str) -> bool {
    message.contains("remote server") || message.contains("nothing answers at")
}

/// One member's run, resumed from its checkpoint when it has one.
fn run_member(
    index: usize,
    exp: &crate::preset::Experiment,
    dataset: &Dataset,
    dir: &Path,
    options: &SweepOptions,
    commands: &Receiver<Command>,
    tx: &Sender<Report>,
) -> (State, Outcome, Option<String>) {
    let started = Instant::now();
    let run_options = RunOptions {
        export_each_eval: Some(dir.to_path_buf()),
        checkpoints: Some(CheckpointPlan {
            dir: dir.to_path_buf(),
            every: options.checkpoint_every,
        }),
        resume_from: dir
            .join(CHECKPOINT_FILE)
            .is_file()
            .then(|| dir.to_path_buf()),
        force: false,
    };
    let mut outcome = Outcome::default();
    let mut finished = None;
    let mut write_failed = None;
    let result = run_experiment_with(exp, dataset, commands, &run_options, &mut |ev| {
        match &ev {
            Event::Step(m) => {
                outcome.align = Some(m.align);
                outcome.uniform = Some(m.uniform);
                outcome.effective_rank = Some(m.effective_rank);
            }
            Event::Eval(e) => outcome.knn_top1 = Some(e.knn_top1),
            Event::Probe(p) => outcome.probe_top1 = Some(p.accuracy),
            Event::Finished { stopped, .. } => finished = Some(*stopped),
            Event::ExportFailed { message } | Event::CheckpointFailed { message } => {
                write_failed = Some(message.clone());
            }
            _ => {}
        }
        let _ = tx.send(Report::Event(index, ev));
    });
    outcome.steps = result.steps_done;
    outcome.wall_seconds = started.elapsed().as_secs_f64();
    let failure = result.failed.or(write_failed);
    let state = match (&failure, finished) {
        (Some(_), _) => State::Failed,
        (None, Some(false)) => State::Finished,
        (None, _) => State::Stopped,
    };
    (state, outcome, failure)
}

/// The sweep's own thread: takes the workers' reports into the table (rewritten after each
/// change) and the caller's `Stop`, until every worker has finished.
#[expect(
    clippy::too_many_arguments,
    reason = "the sweep's thread owns the table and reads everything run_sweep set up"
)]
fn collect(
    reports: &Receiver<Report>,
    commands: &Receiver<Command>,
    shared: &Shared,
    rows: &mut [Row],
    spec: &SweepSpec,
    options: &SweepOptions,
    emit: &mut dyn FnMut(SweepEvent),
    result: &mut SweepResult,
) {
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
                        if let Err(e) = table::write(&options.dir, &spec.axes, rows) {
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
        Report::Done(i, state, outcome, failure) => {
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
