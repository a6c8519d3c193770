//! The run's evaluations: kNN on the held-out sample against the random-init baseline,
//! the projection with the first images' augmented views, and the linear probe's inputs.

use burn::tensor::Device;

use super::super::evaluate::{EvalSample, evaluate, view_pairs};
use super::super::export::MetricsLog;
use super::super::full_evaluation::full_evaluation;
use super::super::probe_runner::ProbeRunner;
use super::super::protocol::{EvalReport, Event};
use crate::data::Dataset;
use crate::methods::Method;
use crate::preset::Experiment;

pub struct Evaluator<'a> {
    exp: &'a Experiment,
    dataset: &'a Dataset,
    sample: EvalSample,
    device: Device,
    /// The step-0 accuracy (NaN until measured; a resumed run brings its own).
    baseline: f32,
    /// The step-0 accuracy of each nuisance attribute.
    attribute_baselines: Vec<f32>,
}

impl<'a> Evaluator<'a> {
    /// `first`: a resumed run's first evaluation, whose baselines it keeps.
    pub fn new(
        exp: &'a Experiment,
        dataset: &'a Dataset,
        device: Device,
        first: Option<&EvalReport>,
    ) -> Self {
        Self {
            exp,
            dataset,
            sample: EvalSample::new(dataset, &exp.eval, exp.seed),
            device,
            baseline: first.map_or(f32::NAN, |e| e.baseline_top1),
            attribute_baselines: first.map_or(Vec::new(), |e| {
                e.attributes.iter().map(|a| a.baseline_top1).collect()
            }),
        }
    }

    /// Evaluates `method` at `step`: logs and reports the kNN figure and the projection,
    /// and hands the features to the probes (probed at the start and at the end).
    pub fn run(
        &mut self,
        method: &dyn Method,
        step: u64,
        log: &mut MetricsLog,
        probes: &mut ProbeRunner,
        emit: &mut dyn FnMut(Event),
    ) {
        let (exp, dataset) = (self.exp, self.dataset);
        let evaluation = evaluate(
            method,
            dataset,
            &self.sample,
            &exp.eval,
            &exp.views.normalize,
            &self.device,
            step,
        );
        if step == 0 {
            self.baseline = evaluation.knn_top1;
            self.attribute_baselines = evaluation.attribute_top1();
        }
        let report = EvalReport {
            step,
            knn_top1: evaluation.knn_top1,
            baseline_top1: self.baseline,
            attributes: evaluation.attribute_report(&self.attribute_baselines),
            per_class: evaluation.per_class.clone(),
        };
        let logged = Event::Eval(report);
        log.record(&logged);
        emit(logged);
        let mut frame = evaluation.frame;
        frame.view_pairs = view_pairs(
            method,
            dataset,
            &self.sample,
            exp,
            &self.device,
            &evaluation.pca,
            frame.space,
        );
        emit(Event::Projection(frame));
        probes.offer(
            evaluation.probe_inputs,
            step == 0 || step == exp.train.steps,
        );
    }

    /// The full-split protocol at `step`, when the preset asks for it.
    pub fn run_full(
        &self,
        method: &dyn Method,
        step: u64,
        log: &mut MetricsLog,
        emit: &mut dyn FnMut(Event),
    ) {
        if !self.exp.eval.full_split {
            return;
        }
        let report = full_evaluation(
            method,
            self.dataset,
            &self.exp.eval,
            &self.exp.views.normalize,
            &self.device,
            step,
        );
        let logged = Event::FullEval(report);
        log.record(&logged);
        emit(logged);
    }
}
