//! The Compare tab's part of the window: the sweep being set up (up to three settings and
//! their values, the seeds), the sweep running on its own thread, and what it has
//! reported (each member's row and kNN curve). It applies the [`CompareAction`]s.
//!
//! A sweep goes to `sweeps/<experiment>-<settings>` beside the export folder (so
//! `runs/sweeps/...` by default); starting the same sweep again
//! continues it there (finished members stay, interrupted ones resume from their
//! checkpoints), a different one takes a new folder.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use eframe::egui;

use super::action::CompareAction;
use crate::data::Dataset;
use crate::engine::Event;
use crate::engine::sweep_runner::{SweepEvent, SweepHandle, SweepOptions, spawn_sweep};
use crate::preset::Experiment;
use crate::sweep::table::{Row, State};
use crate::sweep::{Axis, Member, SweepSpec};

/// One varied setting as typed: its key and its values' text (`0.1, 0.5` or
/// `0.001..0.1:3:log`).
#[derive(Clone, Debug, PartialEq)]
pub struct AxisDraft {
    pub key: String,
    pub values: String,
}

pub struct CompareState {
    pub axes: Vec<AxisDraft>,
    pub seeds: u32,
    /// Members at once on this machine.
    pub parallel: usize,
    /// Successive halving: the worse half of the cells stops at `prune_every` steps, the
    /// worse half of the rest at twice that, and so on.
    pub prune: bool,
    pub prune_every: u64,
    /// The sweep running or last run, its folder and its members.
    pub sweep: Option<(SweepSpec, PathBuf)>,
    job: Option<SweepHandle>,
    /// One row per member, as `sweep.csv` has it.
    pub rows: Vec<Row>,
    /// Each member's kNN top-1 (%) over its evaluations: (step, top-1).
    pub curves: Vec<Vec<[f64; 2]>>,
    /// Each member's loss over its logged steps: (step, loss).
    pub losses: Vec<Vec<[f64; 2]>>,
    /// How the sweep ended, for the status line.
    pub message: Option<String>,
    /// The cells' table is sorted by this column, descending when true.
    pub sort: (usize, bool),
    /// What the table, heat map and parallel coordinates compare.
    pub metric: crate::sweep::table::Metric,
}

impl Default for CompareState {
    fn default() -> Self {
        Self {
            axes: vec![AxisDraft {
                key: "method.temperature".into(),
                values: "0.1, 0.5".into(),
            }],
            seeds: 2,
            parallel: 1,
            prune: false,
            prune_every: 100,
            sweep: None,
            job: None,
            rows: Vec::new(),
            curves: Vec::new(),
            losses: Vec::new(),
            message: None,
            sort: (0, false),
            metric: crate::sweep::table::Metric::Knn,
        }
    }
}

impl CompareState {
    /// The sweep the drafts describe on `base`, and its members, or what is wrong.
    pub fn plan(&self, base: &Experiment) -> Result<(SweepSpec, Vec<Member>), String> {
        let axes = self
            .axes
            .iter()
            .map(|a| Axis::parse(&format!("{}={}", a.key, a.values)))
            .collect::<Result<Vec<_>, _>>()?;
        let short: Vec<&str> = axes.iter().map(Axis::short_name).collect();
        let spec = SweepSpec {
            name: format!("{}-{}", base.name, short.join("-")),
            axes,
            seeds: self.seeds,
            prune_every: self.prune.then_some(self.prune_every),
            base: base.clone(),
        };
        let members = spec.members()?;
        Ok((spec, members))
    }

    /// The open sweep's axis keys, in order (none when no sweep is open).
    pub fn sweep_keys(&self) -> Vec<String> {
        self.sweep.as_ref().map_or_else(Vec::new, |(spec, _)| {
            spec.axes.iter().map(|a| a.key.clone()).collect()
        })
    }

    pub fn is_running(&self) -> bool {
        self.job.as_ref().is_some_and(SweepHandle::is_running)
    }

    pub fn apply(
        &mut self,
        action: CompareAction,
        base: &Experiment,
        dataset: &Arc<Dataset>,
        export_dir: &str,
        ctx: &egui::Context,
    ) {
        match action {
            CompareAction::Start => {
                let runs = Path::new(export_dir).parent().unwrap_or(Path::new("runs"));
                self.start(base, dataset, &runs.join("sweeps"), ctx);
            }
            CompareAction::Stop => {
                if let Some(job) = &self.job {
                    job.stop();
                }
            }
        }
    }

    fn start(
        &mut self,
        base: &Experiment,
        dataset: &Arc<Dataset>,
        root: &Path,
        ctx: &egui::Context,
    ) {
        if self.is_running() {
            return;
        }
        let (spec, members) = match self.plan(base) {
            Ok(planned) => planned,
            Err(e) => {
                self.message = Some(format!("cannot start the sweep: {e}"));
                return;
            }
        };
        let (dir, resume) = folder_for(&spec, root);
        self.rows = members.iter().map(|m| Row::queued(m, &spec.axes)).collect();
        self.curves = vec![Vec::new(); members.len()];
        self.losses = vec![Vec::new(); members.len()];
        self.message = Some(format!(
            "{} runs into {}{}",
            members.len(),
            dir.display(),
            if resume { " (continuing it)" } else { "" }
        ));
        let options = SweepOptions {
            dir: dir.clone(),
            parallel: self.parallel.max(1),
            servers: Vec::new(),
            token_file: String::new(),
            checkpoint_every: 100,
            resume,
        };
        let ctx = ctx.clone();
        self.job = Some(spawn_sweep(
            spec.clone(),
            members,
            Arc::clone(dataset),
            options,
            Arc::new(move || ctx.request_repaint()),
        ));
        self.sweep = Some((spec, dir));
    }

    /// Takes in what the sweep reported since the last frame.
    pub fn poll(&mut self) {
        let Some(job) = &self.job else { return };
        while let Ok(ev) = job.events.try_recv() {
            match ev {
                SweepEvent::Member(row) => {
                    if let Some(i) = self.rows.iter().position(|r| r.folder == row.folder) {
                        self.rows[i] = row;
                    }
                }
                SweepEvent::Run(i, Event::Eval(e)) => {
                    if let Some(curve) = self.curves.get_mut(i) {
                        curve.push([e.step as f64, 100.0 * f64::from(e.knn_top1)]);
                    }
                }
                SweepEvent::Run(i, Event::Step(m)) => {
                    if let Some(curve) = self.losses.get_mut(i) {
                        curve.push([m.step as f64, f64::from(m.loss)]);
                    }
                }
                SweepEvent::Run(..) => {}
                SweepEvent::ServerLost { message, .. } => {
                    self.message = Some(format!("a server went away: {message}"));
                }
                SweepEvent::Ended { failed, stopped } => {
                    self.message = Some(match (failed, stopped) {
                        (Some(e), _) => format!("the sweep failed: {e}"),
                        (None, true) => "stopped: Start continues it where it stopped".to_string(),
                        (None, false) => "finished".to_string(),
                    });
                }
            }
        }
    }

    /// As the window closes: the running members stop and write their checkpoints (at most
    /// `limit`), so Start (or `sweep --resume`) continues them next time.
    pub fn finish_on_exit(&mut self, limit: std::time::Duration) {
        if let Some(job) = &self.job
            && !job.stop_and_wait(limit)
        {
            crate::errln!(
                "the sweep's members did not stop within {limit:?}; their last periodic checkpoints stay"
            );
        }
    }

    /// A member's run folder, when it has finished (to open it as a run).
    pub fn member_dir(&self, i: usize) -> Option<PathBuf> {
        let (_, dir) = self.sweep.as_ref()?;
        let row = self.rows.get(i)?;
        (row.state == State::Finished).then(|| dir.join(&row.folder))
    }
}

/// The sweep's folder under `root`: the one already holding this very sweep (to continue
/// it), else the first free `<name>`, `<name>-2`, ...
fn folder_for(spec: &SweepSpec, root: &Path) -> (PathBuf, bool) {
    let mut k = 1;
    loop {
        let dir = if k == 1 {
            root.join(&spec.name)
        } else {
            root.join(format!("{}-{k}", spec.name))
        };
        if !dir.exists() {
            return (dir, false);
        }
        if SweepSpec::load(&dir).is_ok_and(|s| s == *spec) {
            return (dir, true);
        }
        k += 1;
    }
}
