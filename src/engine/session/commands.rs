//! The UI's commands, applied between steps.

use crossbeam_channel::{Receiver, RecvTimeoutError, TryRecvError};

use super::super::protocol::{Command, Event};
use super::writers::export_and_report;

pub enum Flow {
    Continue,
    /// Take the next step, then pause.
    StepThenPause,
    Stop,
}

impl super::Session<'_> {
    /// Applies pending commands; blocks while paused. `start_paused` holds the run before
    /// this step (the step after a `Step` command).
    pub(super) fn handle_commands(
        &mut self,
        commands: &Receiver<Command>,
        start_paused: bool,
        step: u64,
        emit: &mut dyn FnMut(Event),
    ) -> Flow {
        let (exp, dataset) = (self.exp, self.dataset);
        let (result, probes, pace) = (&mut self.result, &mut self.probes, &mut self.pace);
        let mut paused = start_paused;
        if paused {
            emit(Event::Paused { step });
        }
        loop {
            let cmd = if paused {
                match commands.recv_timeout(std::time::Duration::from_millis(200)) {
                    Ok(c) => c,
                    Err(RecvTimeoutError::Timeout) => continue,
                    Err(RecvTimeoutError::Disconnected) => return Flow::Stop,
                }
            } else {
                match commands.try_recv() {
                    Ok(c) => c,
                    Err(TryRecvError::Empty) => return Flow::Continue,
                    Err(TryRecvError::Disconnected) => return Flow::Stop,
                }
            };
            match cmd {
                Command::Pause => {
                    if !paused {
                        paused = true;
                        emit(Event::Paused { step });
                    }
                }
                Command::Resume => {
                    if paused {
                        emit(Event::Resumed { step });
                        return Flow::Continue;
                    }
                }
                Command::Step => {
                    if paused {
                        emit(Event::Resumed { step });
                    }
                    return Flow::StepThenPause;
                }
                Command::Stop => return Flow::Stop,
                // Asked for by the user: reported, and training goes on either way.
                Command::Export(dir) => {
                    let _ = export_and_report(&dir, exp, dataset, result, emit);
                }
                Command::Probe => probes.start_latest(),
                Command::SpeedLimit(limit) => pace.set(limit),
            }
        }
    }
}
