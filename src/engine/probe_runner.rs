//! Runs linear probes on their own threads while training goes on, and reports them in
//! the order they were started. The step-0 probe is the random-init baseline.

use super::evaluate::ProbeInputs;
use super::export::MetricsLog;
use super::protocol::{Event, ProbeReport};
use crate::metrics::ProbeScore;
use crate::worker::{Report, Worker, no_wake};

#[derive(Default)]
pub struct ProbeRunner {
    running: Vec<(u64, Worker<ProbeScore>)>,
    /// The features of the latest evaluation (what an on-demand probe uses).
    latest: Option<ProbeInputs>,
    /// The last step a probe was started for.
    started_for: Option<u64>,
    baseline: Option<f32>,
    class_names: Vec<String>,
}

impl ProbeRunner {
    pub fn new(class_names: Vec<String>) -> Self {
        Self {
            class_names,
            ..Self::default()
        }
    }

    /// A resumed run's baseline (its step-0 probe was reported before the checkpoint).
    pub fn restore_baseline(&mut self, baseline: Option<f32>) {
        self.baseline = baseline;
        self.started_for = self.started_for.or(Some(0));
    }

    /// Keeps an evaluation's features; starts a probe on them when `probe_now`.
    pub fn offer(&mut self, inputs: ProbeInputs, probe_now: bool) {
        self.latest = Some(inputs);
        if probe_now {
            self.start_latest();
        }
    }

    /// Probes the latest evaluation's features, unless that was done already.
    pub fn start_latest(&mut self) {
        let Some(inputs) = self.latest.clone() else {
            return;
        };
        if self.started_for == Some(inputs.step) {
            return;
        }
        self.started_for = Some(inputs.step);
        let step = inputs.step;
        // The session polls between steps, so nobody needs waking.
        let worker = Worker::spawn("linear-probe", 1, no_wake(), move |out| {
            out.send(inputs.score());
        });
        self.running.push((step, worker));
    }

    /// Reports the probes that have finished (in start order); `wait` joins them all.
    pub fn poll(&mut self, wait: bool, log: &mut MetricsLog, emit: &mut dyn FnMut(Event)) {
        while let Some((_, worker)) = self.running.first() {
            let report = if wait {
                worker.wait()
            } else {
                match worker.poll() {
                    Some(report) => Some(report),
                    None => return,
                }
            };
            let (step, _) = self.running.remove(0);
            let score = match report {
                Some(Report::Item(score)) => score,
                Some(Report::Failed(why)) => {
                    emit(Event::ProbeFailed { step, message: why });
                    continue;
                }
                None => {
                    emit(Event::ProbeFailed {
                        step,
                        message: "the linear probe ended without a result".into(),
                    });
                    continue;
                }
            };
            let baseline = *self.baseline.get_or_insert(score.accuracy);
            let report = ProbeReport {
                step,
                accuracy: score.accuracy,
                baseline,
                confusion: score.confusion,
                class_names: self.class_names.clone(),
            };
            let logged = Event::Probe(report);
            log.record(&logged);
            emit(logged);
        }
    }
}
