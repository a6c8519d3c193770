//! The window's side of a sweep: `spawn_sweep` runs it on a thread named "sweep" and
//! forwards what the window shows; the handle stops it (and, as the window closes, waits
//! for the members' checkpoints).

use std::sync::Arc;
use std::time::Instant;

use crossbeam_channel::{Receiver, Sender, bounded, unbounded};

use super::{SweepEvent, SweepOptions, run_sweep};
use crate::data::Dataset;
use crate::engine::protocol::{Command, Event};
use crate::sweep::{Member, SweepSpec};

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
    notify: crate::engine::trainer::Notify,
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
