//! The member side of a sweep: worker threads that take members from the queue and run
//! each as an ordinary session in its own run folder, on this machine or on one remote
//! server.

use std::collections::VecDeque;
use std::path::Path;
use std::sync::Mutex;
use std::time::Instant;

use crossbeam_channel::{Receiver, Sender, bounded};

use super::{Report, Round, SweepOptions};
use crate::data::Dataset;
use crate::engine::checkpoint::CHECKPOINT_FILE;
use crate::engine::protocol::{Command, Event};
use crate::engine::session::{CheckpointPlan, RunOptions, run_experiment_with};
use crate::preset::BackendChoice;
use crate::sweep::table::{Outcome, State};

/// The queue of members not yet started (each with the step to stop at, if not the end)
/// and the command senders of those running.
pub(super) struct Shared {
    pub queue: Mutex<VecDeque<(usize, Option<u64>)>>,
    pub running: Mutex<Vec<(usize, Sender<Command>)>>,
    pub stopping: std::sync::atomic::AtomicBool,
}

/// Where a worker runs its members: this machine, or one remote server.
pub(super) enum Slot {
    Local,
    Server(String),
}

pub(super) fn worker_slots(options: &SweepOptions) -> Vec<Slot> {
    if options.servers.is_empty() {
        (0..options.parallel.max(1)).map(|_| Slot::Local).collect()
    } else {
        options.servers.iter().cloned().map(Slot::Server).collect()
    }
}

/// One worker: takes members from the queue until it is empty or the sweep stops; a
/// worker whose server went away hands its member back and stops.
pub(super) fn work(slot: &Slot, round: &Round, shared: &Shared, tx: &Sender<Report>) {
    use std::sync::atomic::Ordering;
    let (members, options) = (round.members, round.options);
    loop {
        if shared.stopping.load(Ordering::SeqCst) {
            return;
        }
        let Some((i, stop_at)) = shared.queue.lock().ok().and_then(|mut q| q.pop_front()) else {
            return;
        };
        let (cmd_tx, cmd_rx) = bounded(8);
        if let Ok(mut running) = shared.running.lock() {
            running.push((i, cmd_tx.clone()));
        }
        let _ = tx.send(Report::Started(i));
        let mut exp = members[i].experiment.clone();
        if let Slot::Server(url) = slot {
            exp.train.backend = BackendChoice::Remote;
            exp.train.remote.clone_from(url);
            exp.train.remote_token_file.clone_from(&options.token_file);
        }
        let dir = options.dir.join(members[i].folder(&round.spec.axes));
        let member = MemberRun {
            index: i,
            dir: &dir,
            stop_at,
            commands: (&cmd_tx, &cmd_rx),
        };
        let (state, outcome, failure) = member.run(&exp, round.dataset, options, tx);
        if let Ok(mut running) = shared.running.lock() {
            running.retain(|(j, _)| *j != i);
        }
        if let (Slot::Server(url), Some(message)) = (slot, &failure)
            && server_gone(message)
        {
            if let Ok(mut q) = shared.queue.lock() {
                q.push_front((i, stop_at));
            }
            let _ = tx.send(Report::Requeue(i, format!("{url}: {message}")));
            return;
        }
        let _ = tx.send(Report::Done(i, state, outcome, failure));
    }
}

/// Whether a failure means the member's server is gone (not the member's own fault).
fn server_gone(message: &str) -> bool {
    [
        "remote server",
        "nothing answers at",
        "did not answer within",
        "the server is busy",
    ]
    .iter()
    .any(|sign| message.contains(sign))
}

/// One member's run: where it writes, where it stops (a pruning rung, or the end), and its
/// own command channel (the sweep's Stop, or its own at the rung).
struct MemberRun<'a> {
    index: usize,
    dir: &'a Path,
    stop_at: Option<u64>,
    commands: (&'a Sender<Command>, &'a Receiver<Command>),
}

impl MemberRun<'_> {
    /// Runs it, resumed from its checkpoint when it has one.
    fn run(
        &self,
        exp: &crate::preset::Experiment,
        dataset: &Dataset,
        options: &SweepOptions,
        tx: &Sender<Report>,
    ) -> (State, Outcome, Option<String>) {
        let (index, dir) = (self.index, self.dir);
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
        let result = run_experiment_with(exp, dataset, self.commands.1, &run_options, &mut |ev| {
            match &ev {
                Event::Step(m) => {
                    outcome.align = Some(m.align);
                    outcome.uniform = Some(m.uniform);
                    outcome.effective_rank = Some(m.effective_rank);
                }
                Event::Eval(e) => {
                    outcome.knn_top1 = Some(e.knn_top1);
                    // At its pruning rung the member stops right after the evaluation there.
                    if self.stop_at.is_some_and(|s| e.step >= s) {
                        let _ = self.commands.0.send(Command::Stop);
                    }
                }
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
}
