//! Runs t-SNE on its own thread so the projection animates without touching the frame
//! rate: each evaluation's embeddings are handed over, the layout continues from the
//! previous one, and a new layout is published every `PUBLISH_EVERY` of work. It rests
//! once a layout has had `ITERATIONS_PER_DATA` iterations, or while paused.

use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, TryRecvError, bounded, unbounded};
use eframe::egui;

use crate::projection::{TSNE_MAX_POINTS, Tsne};

/// Iterations after which a layout is left alone until new data arrives.
pub const ITERATIONS_PER_DATA: u32 = 1000;
const PUBLISH_EVERY: Duration = Duration::from_millis(40);
const PERPLEXITY: f32 = 30.0;

enum Input {
    Data {
        step: u64,
        embeddings: Vec<f32>,
        dim: usize,
    },
    Pause(bool),
}

/// A layout as the worker last published it.
#[derive(Clone, Debug, PartialEq)]
pub struct TsneLayout {
    /// The evaluation step whose embeddings it lays out.
    pub step: u64,
    /// One point for each of the first `points.len()` projected images.
    pub points: Vec<[f32; 2]>,
    /// Iterations run on this step's data.
    pub iterations: u32,
    /// Iterations per second over the last burst of work.
    pub iterations_per_sec: f32,
}

/// The UI's handle; dropping it ends the thread.
pub struct TsneWorker {
    inputs: Sender<Input>,
    layouts: Receiver<TsneLayout>,
    latest: Option<TsneLayout>,
    last_step_sent: Option<u64>,
}

impl TsneWorker {
    pub fn start(ctx: egui::Context) -> Self {
        let (inputs, input_rx) = unbounded();
        let (layout_tx, layouts) = bounded(2);
        std::thread::Builder::new()
            .name("tsne".into())
            .spawn(move || run(&input_rx, &layout_tx, &ctx))
            .expect("spawning the t-SNE thread");
        Self {
            inputs,
            layouts,
            latest: None,
            last_step_sent: None,
        }
    }

    /// Hands over an evaluation's embeddings once (later calls for the same step do
    /// nothing). At most `TSNE_MAX_POINTS` rows are laid out.
    pub fn offer(&mut self, step: u64, embeddings: &[f32], dim: usize) {
        if self.last_step_sent == Some(step) || dim == 0 {
            return;
        }
        self.last_step_sent = Some(step);
        let rows = (embeddings.len() / dim).min(TSNE_MAX_POINTS);
        let _ = self.inputs.send(Input::Data {
            step,
            embeddings: embeddings[..rows * dim].to_vec(),
            dim,
        });
    }

    pub fn set_paused(&self, paused: bool) {
        let _ = self.inputs.send(Input::Pause(paused));
    }

    /// The newest layout published so far.
    pub fn latest(&mut self) -> Option<&TsneLayout> {
        while let Ok(l) = self.layouts.try_recv() {
            self.latest = Some(l);
        }
        self.latest.as_ref()
    }
}

fn run(inputs: &Receiver<Input>, layouts: &Sender<TsneLayout>, ctx: &egui::Context) {
    let mut tsne: Option<(u64, Tsne)> = None;
    let mut paused = false;
    loop {
        let resting = paused
            || tsne
                .as_ref()
                .is_none_or(|(_, t)| t.iters_on_data >= ITERATIONS_PER_DATA);
        let next = if resting {
            inputs.recv().map_err(|_| TryRecvError::Disconnected)
        } else {
            inputs.try_recv()
        };
        match next {
            Ok(Input::Pause(p)) => paused = p,
            Ok(Input::Data {
                step,
                embeddings,
                dim,
            }) => match &mut tsne {
                Some((s, t)) => {
                    *s = step;
                    t.set_data(&embeddings, dim);
                }
                None => tsne = Some((step, Tsne::new(&embeddings, dim, PERPLEXITY))),
            },
            Err(TryRecvError::Disconnected) => return,
            Err(TryRecvError::Empty) => {
                let Some((step, t)) = &mut tsne else { continue };
                let started = Instant::now();
                let mut done = 0u32;
                while started.elapsed() < PUBLISH_EVERY && t.iters_on_data < ITERATIONS_PER_DATA {
                    t.step();
                    done += 1;
                }
                let layout = TsneLayout {
                    step: *step,
                    points: t.layout().to_vec(),
                    iterations: t.iters_on_data,
                    iterations_per_sec: done as f32 / started.elapsed().as_secs_f32().max(1e-6),
                };
                // The UI only wants the newest; when it is behind, this one waits.
                if layouts.send(layout).is_err() {
                    return;
                }
                ctx.request_repaint();
            }
        }
    }
}
