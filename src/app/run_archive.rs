//! Earlier runs of this session, kept so their curves can be overlaid on the current one
//! (loss, kNN, alignment/uniformity and the align-uniform plane).

use crate::engine::{EvalReport, StepMetrics};
use crate::preset::Experiment;

/// Most earlier runs kept (the oldest is dropped first).
pub const MAX_PAST_RUNS: usize = 8;

#[derive(Clone, Debug, PartialEq)]
pub struct PastRun {
    /// "run 2: MoCo v2 (moco-shapes)": legend text.
    pub label: String,
    pub steps: Vec<StepMetrics>,
    pub evals: Vec<EvalReport>,
    /// Overlaid on the dashboard.
    pub shown: bool,
}

/// The legend label of the `number`th run of the session.
pub fn run_label(number: usize, exp: &Experiment) -> String {
    let method =
        crate::catalogue::find(&exp.method.kind).map_or(exp.method.kind.as_str(), |m| m.name);
    format!("run {number}: {method} ({})", exp.name)
}

/// Archives a finished run's curves (when it has any), keeping at most `MAX_PAST_RUNS`.
pub fn archive(
    past: &mut Vec<PastRun>,
    label: String,
    steps: Vec<StepMetrics>,
    evals: Vec<EvalReport>,
) {
    if steps.is_empty() && evals.is_empty() {
        return;
    }
    past.push(PastRun {
        label,
        steps,
        evals,
        shown: true,
    });
    if past.len() > MAX_PAST_RUNS {
        past.remove(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eval(step: u64) -> EvalReport {
        EvalReport {
            step,
            knn_top1: 0.5,
            baseline_top1: 0.4,
            attributes: Vec::new(),
            per_class: Vec::new(),
        }
    }

    #[test]
    fn empty_runs_are_not_kept_and_the_oldest_goes_first() {
        let mut past = Vec::new();
        archive(&mut past, "nothing".into(), vec![], vec![]);
        assert!(past.is_empty());
        for i in 0..MAX_PAST_RUNS + 2 {
            archive(&mut past, format!("run {i}"), vec![], vec![eval(i as u64)]);
        }
        assert_eq!(past.len(), MAX_PAST_RUNS);
        assert_eq!(past[0].label, "run 2");
        assert!(past.iter().all(|r| r.shown));
        assert_eq!(
            run_label(3, &Experiment::default()),
            format!("run 3: SimCLR ({})", Experiment::default().name)
        );
    }
}
