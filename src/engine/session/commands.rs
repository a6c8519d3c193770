//! The UI's commands, applied between steps.

use crossbeam_channel::{Receiver, RecvTimeoutError, TryRecvError};

use super::super::probe_runner::ProbeRunner;
use super::super::protocol::{Command, Event};
use super::RunResult;
use super::writers::export_and_report;
use crate::data::Dataset;
use crate::preset::Experiment;

pub enum Flow {
    Continue,
    Stop,
}

/// Applies pending commands; blocks while paused.
pub fn handle_commands(
    commands: &Receiver<Command>,
    step: u64,
    exp: &Experiment,
    dataset: &Dataset,
    result: &mut RunResult,
    probes: &mut ProbeRunner,
    emit: &mut dyn FnMut(Event),
) -> Flow {
    let mut paused = false;
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
            Command::Stop => return Flow::Stop,
            // Asked for by the user: reported, and training goes on either way.
            Command::Export(dir) => {
                let _ = export_and_report(&dir, exp, dataset, result, emit);
            }
            Command::Probe => probes.start_latest(),
        }
    }
}
