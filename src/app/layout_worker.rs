//! Runs t-SNE or UMAP on its own thread so the projection animates without touching the
//! frame rate: each evaluation's embeddings are handed over, the layout continues from the
//! previous one, and a new layout is published every `PUBLISH_EVERY` of work. It rests
//! once the layout has settled on its data, or while paused.

use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, TryRecvError, bounded};
use eframe::egui;

use crate::projection::{IterativeLayout, TSNE_MAX_POINTS, Tsne, Umap};
use crate::worker::{Outbox, Report, Worker};

/// Inputs waiting for the layout thread: evaluations come every tens of steps, so a full
/// queue means the thread is stuck, and the UI skips the offer rather than wait.
const INPUT_CAPACITY: usize = 8;

const PUBLISH_EVERY: Duration = Duration::from_millis(40);
const UMAP_NEIGHBOURS: usize = 15;

/// Which layout a worker runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LayoutKind {
    Tsne,
    Umap,
}

impl LayoutKind {
    pub fn name(self) -> &'static str {
        match self {
            LayoutKind::Tsne => "t-SNE",
            LayoutKind::Umap => "UMAP",
        }
    }

    fn start(self, x: &[f32], d: usize) -> Box<dyn IterativeLayout> {
        match self {
            LayoutKind::Tsne => Box::new(Tsne::new(x, d, crate::projection::tsne::PERPLEXITY)),
            LayoutKind::Umap => Box::new(Umap::new(x, d, UMAP_NEIGHBOURS)),
        }
    }
}

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
pub struct Layout {
    /// The evaluation step whose embeddings it lays out.
    pub step: u64,
    /// One point for each of the first `points.len()` projected images.
    pub points: Vec<[f32; 2]>,
    /// Iterations (t-SNE) or epochs (UMAP) run on this step's data.
    pub iterations: u32,
    pub settled: bool,
    /// Iterations per second over the last burst of work.
    pub iterations_per_sec: f32,
}

/// The UI's handle; dropping it ends the thread.
pub struct LayoutWorker {
    pub kind: LayoutKind,
    inputs: Sender<Input>,
    worker: Worker<Layout>,
    latest: Option<Layout>,
    /// Why the layout thread stopped, when it crashed.
    pub failed: Option<String>,
    last_step_sent: Option<u64>,
}

impl LayoutWorker {
    pub fn start(kind: LayoutKind, ctx: egui::Context) -> Self {
        let (inputs, input_rx) = bounded(INPUT_CAPACITY);
        let wake = std::sync::Arc::new(move || ctx.request_repaint());
        let worker = Worker::spawn(&kind.name().to_lowercase(), 2, wake, move |out| {
            run(kind, &input_rx, out);
        });
        Self {
            kind,
            inputs,
            worker,
            latest: None,
            failed: None,
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
        let _ = self.inputs.try_send(Input::Data {
            step,
            embeddings: embeddings[..rows * dim].to_vec(),
            dim,
        });
    }

    pub fn set_paused(&self, paused: bool) {
        let _ = self.inputs.try_send(Input::Pause(paused));
    }

    /// The newest layout published so far.
    pub fn latest(&mut self) -> Option<&Layout> {
        match self.worker.latest() {
            Some(Report::Item(l)) => self.latest = Some(l),
            Some(Report::Failed(why)) => self.failed = Some(why),
            None => {}
        }
        self.latest.as_ref()
    }
}

fn run(kind: LayoutKind, inputs: &Receiver<Input>, layouts: &Outbox<Layout>) {
    let mut current: Option<(u64, Box<dyn IterativeLayout>)> = None;
    let mut paused = false;
    loop {
        let resting = paused || current.as_ref().is_none_or(|(_, l)| l.settled());
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
            }) => match &mut current {
                Some((s, l)) => {
                    *s = step;
                    l.set_data(&embeddings, dim);
                }
                None => current = Some((step, kind.start(&embeddings, dim))),
            },
            Err(TryRecvError::Disconnected) => return,
            Err(TryRecvError::Empty) => {
                let Some((step, l)) = &mut current else {
                    continue;
                };
                let started = Instant::now();
                let mut done = 0u32;
                while started.elapsed() < PUBLISH_EVERY && !l.settled() {
                    l.step();
                    done += 1;
                }
                let layout = Layout {
                    step: *step,
                    points: l.layout().to_vec(),
                    iterations: l.iterations(),
                    settled: l.settled(),
                    iterations_per_sec: done as f32 / started.elapsed().as_secs_f32().max(1e-6),
                };
                // The UI only wants the newest; when it is behind, this one waits.
                if !layouts.send(layout) || layouts.stopped() {
                    return;
                }
            }
        }
    }
}
