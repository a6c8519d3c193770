//! The trainer thread: runs an experiment off the UI thread, takes commands over a bounded
//! channel and sends events through an [`event_queue`](super::event_queue) that never
//! blocks (training never waits for the UI), waking the UI after each event.
//! A panic inside the run becomes an `Event::Failed`, never a hung UI. The same thread
//! kind also browses an exported encoder (`spawn_browser`); either way, once the job is
//! done it keeps the model and serves `Export` commands.

use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::sync::Arc;
use std::thread::JoinHandle;

use crossbeam_channel::{Receiver, Sender, bounded};

use super::browse::browse_encoder;
use super::event_queue::{EventReceiver, EventSender, event_queue};
use super::protocol::{Command, Event};
use super::session::{RunOptions, RunResult, export_and_report, run_experiment_with};
use crate::data::Dataset;
use crate::preset::Experiment;

/// Commands waiting for the trainer; small, since the user clicks slowly.
const COMMAND_CAPACITY: usize = 64;

/// Called after each event so the UI repaints (egui's `request_repaint`).
pub type Notify = Arc<dyn Fn() + Send + Sync>;

/// The UI's side of a running trainer.
pub struct TrainerHandle {
    pub commands: Sender<Command>,
    pub events: EventReceiver,
    thread: Option<JoinHandle<()>>,
}

impl TrainerHandle {
    pub fn send(&self, cmd: Command) {
        // A trainer that has exited cannot take commands; its final event already said why.
        let _ = self.commands.send(cmd);
    }

    pub fn is_running(&self) -> bool {
        self.thread.as_ref().is_some_and(|t| !t.is_finished())
    }
}

impl Drop for TrainerHandle {
    fn drop(&mut self) {
        let _ = self.commands.send(Command::Stop);
        // Dropping `commands` disconnects the channel, which ends the trainer's export loop;
        // the thread is detached rather than joined so closing the window never waits.
    }
}

/// Starts training `exp` on `dataset` on a thread named "trainer".
pub fn spawn_trainer(exp: Experiment, dataset: Arc<Dataset>, notify: Notify) -> TrainerHandle {
    spawn_trainer_with(exp, dataset, RunOptions::default(), notify)
}

/// `spawn_trainer` with checkpoints or a resume.
pub fn spawn_trainer_with(
    exp: Experiment,
    dataset: Arc<Dataset>,
    options: RunOptions,
    notify: Notify,
) -> TrainerHandle {
    spawn_job(dataset, notify, move |dataset, commands, emit| {
        let result = run_experiment_with(&exp, dataset, commands, &options, emit);
        (exp, result)
    })
}

/// Evaluates the exported encoder in `dir` on `dataset` on the same kind of thread (see
/// `browse`); its model can then be exported like a trained one.
pub fn spawn_browser(dir: PathBuf, dataset: Arc<Dataset>, notify: Notify) -> TrainerHandle {
    spawn_job(dataset, notify, move |dataset, _commands, emit| {
        browse_encoder(&dir, dataset, &super::backend::cpu_device(), emit)
    })
}

/// The job produces a run's result; afterwards the thread serves exports of it.
type Job = dyn FnOnce(&Dataset, &Receiver<Command>, &mut dyn FnMut(Event)) -> (Experiment, RunResult)
    + Send;

fn spawn_job(
    dataset: Arc<Dataset>,
    notify: Notify,
    job: impl FnOnce(&Dataset, &Receiver<Command>, &mut dyn FnMut(Event)) -> (Experiment, RunResult)
    + Send
    + 'static,
) -> TrainerHandle {
    let (cmd_tx, cmd_rx) = bounded::<Command>(COMMAND_CAPACITY);
    let (ev_tx, ev_rx) = event_queue();
    let job: Box<Job> = Box::new(job);
    // One sender moves into the thread; the other stays here in case it cannot start.
    let (tx_for_thread, fallback) = (ev_tx.clone(), ev_tx);
    let wake = Arc::clone(&notify);
    let spawned = std::thread::Builder::new()
        .name("trainer".into())
        .spawn(move || job_main(job, &dataset, &cmd_rx, &tx_for_thread, &notify));
    let thread = match spawned {
        Ok(thread) => Some(thread),
        Err(e) => {
            fallback.send(Event::Failed {
                step: 0,
                message: format!("cannot start the trainer thread: {e}"),
            });
            wake();
            None
        }
    };
    TrainerHandle {
        commands: cmd_tx,
        events: ev_rx,
        thread,
    }
}

fn job_main(
    job: Box<Job>,
    dataset: &Dataset,
    commands: &Receiver<Command>,
    events: &EventSender,
    notify: &Notify,
) {
    let mut emit = |ev: Event| {
        events.send(ev);
        notify();
    };
    let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| job(dataset, commands, &mut emit)));
    let (exp, result): (Experiment, RunResult) = match outcome {
        Ok(result) => result,
        Err(panic) => {
            let message = crate::worker::panic_message(panic.as_ref());
            emit(Event::Failed {
                step: 0,
                message: format!("the trainer crashed: {message}"),
            });
            return;
        }
    };
    // The run is over; keep the model so the user can still export it. A model whose
    // device has gone (a remote server that stopped) cannot be read back: that is a
    // failed export, not a dead thread.
    for cmd in commands.iter() {
        if let Command::Export(dir) = cmd {
            let exported = std::panic::catch_unwind(AssertUnwindSafe(|| {
                export_and_report(&dir, &exp, dataset, &result, &mut emit)
            }));
            if let Err(panic) = exported {
                emit(Event::ExportFailed {
                    message: format!(
                        "the model cannot be read back from its device ({}); the run \
                         folder keeps the last export written during the run",
                        crate::worker::panic_message(panic.as_ref())
                    ),
                });
            }
        }
    }
}
