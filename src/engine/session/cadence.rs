//! When a run logs, evaluates, checkpoints and exports: the one place that decides.

use super::RunOptions;
use crate::preset::Experiment;

/// What is due after a step.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[expect(
    clippy::struct_excessive_bools,
    reason = "independent answers to 'is X due after this step', read one by one"
)]
pub struct Due {
    /// Report the step's metrics (every `train.log_every` steps and the last).
    pub log: bool,
    /// Write a periodic checkpoint (the final one is written when the run ends).
    pub checkpoint: bool,
    /// Evaluate (every `eval.every` steps and the last).
    pub evaluate: bool,
    /// Export the model after the evaluation.
    pub export: bool,
    /// This was the run's last step.
    pub last: bool,
}

/// A run's schedule of reports and writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cadence {
    total: u64,
    log_every: u64,
    eval_every: u64,
    /// `None`: no checkpoints; `Some(0)`: only when the run ends.
    checkpoint_every: Option<u64>,
    export_each_eval: bool,
}

impl Cadence {
    pub fn new(exp: &Experiment, options: &RunOptions) -> Self {
        Self {
            total: exp.train.steps,
            log_every: exp.train.log_every.max(1),
            eval_every: exp.eval.every.max(1),
            checkpoint_every: options.checkpoints.as_ref().map(|p| p.every),
            export_each_eval: options.export_each_eval.is_some(),
        }
    }

    /// What is due once `step` steps are done.
    pub fn after(&self, step: u64) -> Due {
        let last = step == self.total;
        let evaluate = step.is_multiple_of(self.eval_every) || last;
        Due {
            log: step.is_multiple_of(self.log_every) || last,
            checkpoint: !last
                && self
                    .checkpoint_every
                    .is_some_and(|every| every > 0 && step.is_multiple_of(every)),
            evaluate,
            export: evaluate && self.export_each_eval,
            last,
        }
    }

    /// A fresh run (not a resumed one) exports its random-init evaluation, so the folder
    /// holds the baseline from the start.
    pub fn exports_the_start(&self, first_step: u64) -> bool {
        first_step == 0 && self.export_each_eval
    }

    /// When the run ends, stopped or finished: whether a final checkpoint is written, and
    /// whether the model is exported (a stopped run's latest model; a finished run was
    /// exported after its last evaluation).
    pub fn at_end(&self, stopped: bool) -> (bool, bool) {
        (
            self.checkpoint_every.is_some(),
            stopped && self.export_each_eval,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::session::CheckpointPlan;

    fn cadence(checkpoint_every: Option<u64>, export: bool) -> Cadence {
        let mut exp = Experiment::default();
        exp.train.steps = 100;
        exp.train.log_every = 5;
        exp.eval.every = 30;
        let options = RunOptions {
            checkpoints: checkpoint_every.map(|every| CheckpointPlan {
                dir: "ckpt".into(),
                every,
            }),
            export_each_eval: export.then(|| "out".into()),
            ..RunOptions::default()
        };
        Cadence::new(&exp, &options)
    }

    #[test]
    fn logs_evaluations_and_the_last_step_fall_on_their_multiples() {
        let c = cadence(Some(40), true);
        let due: Vec<(u64, Due)> = (1..=100).map(|s| (s, c.after(s))).collect();
        let steps = |f: fn(&Due) -> bool| -> Vec<u64> {
            due.iter().filter(|(_, d)| f(d)).map(|(s, _)| *s).collect()
        };
        assert_eq!(steps(|d| d.evaluate), vec![30, 60, 90, 100]);
        assert_eq!(steps(|d| d.export), vec![30, 60, 90, 100]);
        // The final checkpoint is the end's, not a periodic one.
        assert_eq!(steps(|d| d.checkpoint), vec![40, 80]);
        assert_eq!(steps(|d| d.last), vec![100]);
        assert_eq!(steps(|d| d.log).len(), 20);
        assert!(c.after(100).log && c.after(5).log && !c.after(6).log);
    }

    #[test]
    fn without_folders_nothing_is_written() {
        let c = cadence(None, false);
        assert!((1..=100).all(|s| !c.after(s).checkpoint && !c.after(s).export));
        assert_eq!(c.at_end(true), (false, false));
        assert!(!c.exports_the_start(0));
        let c = cadence(Some(0), true);
        assert!((1..=100).all(|s| !c.after(s).checkpoint));
        assert_eq!(c.at_end(false), (true, false));
        assert_eq!(c.at_end(true), (true, true));
        assert!(c.exports_the_start(0) && !c.exports_the_start(40));
    }
}
