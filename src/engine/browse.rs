//! Browsing with an exported encoder instead of training one: load a run folder, evaluate
//! it once on the loaded dataset (kNN, projection, linear probe, each against the same
//! networks at their random initialisation) and report it with the events a run sends, so
//! the dashboard, projection and neighbours work unchanged. The result can be exported
//! (embeddings of this dataset included) like a trained model.

use std::path::Path;

use burn::tensor::Device;

use super::evaluate::{EvalSample, evaluate, view_pairs};
use super::frozen_encoder::FrozenEncoder;
use super::protocol::{BackendInfo, EvalReport, Event, ProbeReport};
use super::session::RunResult;
use crate::data::Dataset;
use crate::preset::Experiment;

/// Evaluates the encoder in `dir` on `dataset`; returns the preset it was trained with and
/// a result holding the frozen encoder (for export). Failures are reported as
/// `Event::Failed` and leave no method in the result.
pub fn browse_encoder(
    dir: &Path,
    dataset: &Dataset,
    device: &Device,
    emit: &mut dyn FnMut(Event),
) -> (Experiment, RunResult) {
    let device = device.clone();
    let mut result = RunResult {
        device: Some(device.clone()),
        ..RunResult::empty()
    };
    let loaded = FrozenEncoder::load(dir, dataset.image_size(), &device).and_then(|trained| {
        let initial = FrozenEncoder::random_init(dir, dataset.image_size(), &device)?;
        Ok((trained, initial))
    });
    let (trained, initial) = match loaded {
        Ok(pair) => pair,
        Err(e) => {
            let message = format!("cannot open the encoder: {e:#}");
            result.fail(0, message, emit);
            return (Experiment::default(), result);
        }
    };
    if dataset.train.len() < 2 || dataset.test.is_empty() {
        let message = format!(
            "dataset {} needs train and held-out images to evaluate an encoder",
            dataset.name
        );
        result.fail(0, message, emit);
        return (trained.experiment.clone(), result);
    }
    let exp = trained.experiment.clone();
    emit(Event::Started {
        backend: BackendInfo {
            name: "CPU (flex)".into(),
            reason: format!("browsing the frozen encoder in {}", dir.display()),
        },
        total_steps: 0,
    });
    let sample = EvalSample::new(dataset, &exp.eval, exp.seed);
    let run = |m: &FrozenEncoder| {
        evaluate(
            m,
            dataset,
            &sample,
            &exp.eval,
            &exp.views.normalize,
            &device,
            0,
        )
    };
    let base = run(&initial);
    let now = run(&trained);
    let eval = EvalReport {
        step: 0,
        knn_top1: now.knn_top1,
        baseline_top1: base.knn_top1,
        attributes: now.attribute_report(&base.attribute_top1()),
        per_class: now.per_class.clone(),
    };
    let logged = Event::Eval(eval);
    result.metrics.record(&logged);
    emit(logged);
    let mut frame = now.frame;
    frame.view_pairs = view_pairs(
        &trained,
        dataset,
        &sample,
        &exp,
        &device,
        &now.pca,
        frame.space,
    );
    emit(Event::Projection(frame));
    let (probe, probe_base) = std::thread::scope(|s| {
        // The two probes are independent: train them side by side.
        let b = s.spawn(|| base.probe_inputs.score());
        (now.probe_inputs.score(), b.join())
    });
    let probe_base = probe_base.map_or(f32::NAN, |p| p.accuracy);
    let report = ProbeReport {
        step: 0,
        accuracy: probe.accuracy,
        baseline: probe_base,
        confusion: probe.confusion,
        class_names: dataset.class_names.clone(),
    };
    let logged = Event::Probe(report);
    result.metrics.record(&logged);
    emit(logged);
    result.method = Some(Box::new(trained));
    emit(Event::Finished {
        step: 0,
        stopped: false,
    });
    (exp, result)
}
