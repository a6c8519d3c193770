//! Sweeps: one base experiment, up to three settings varied over lists of values, each
//! cell run at the same seeds (paired, so differences between cells are not seed noise).
//! Burn-free planning, shared by the `sweep` command and the window's Compare tab; the
//! engine runs the members (`engine::sweep_runner`).
//!
//! A setting is named as in a preset (`train.batch_size`, `method.temperature`,
//! `encoder.kind`), plus `method.kind` (each cell then starts from that method's defaults)
//! and `views.strength`, which scales the view pipeline's crop and colour strengths as the
//! papers' augmentation ablations do. Every value is applied through the preset's own
//! parsing and validation, so a value out of range is refused naming the key and range.

pub mod axis;
pub mod strength;
pub mod table;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use axis::Axis;

use crate::preset::Experiment;

/// Most settings one sweep varies.
pub const MAX_AXES: usize = 3;
/// Most members one sweep may have (cells x seeds).
pub const MAX_MEMBERS: usize = 512;
/// The pseudo-setting that scales the view pipeline.
pub const STRENGTH_KEY: &str = "views.strength";
/// The sweep's own file in its folder: the base experiment and the axes.
pub const SWEEP_FILE: &str = "sweep.toml";
/// One row per member.
pub const TABLE_FILE: &str = "sweep.csv";

/// What a sweep is: written as `sweep.toml` in its folder.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SweepSpec {
    /// The folder name under `runs/` (the base experiment's name unless given).
    pub name: String,
    pub axes: Vec<Axis>,
    /// Every cell runs at seeds `0..seeds` added to the base experiment's seed.
    pub seeds: u32,
    /// Successive halving: at step k, 2k, 4k, ... the worse half of the cells (by mean
    /// kNN top-1 there) is pruned. A multiple of the base's `eval.every`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prune_every: Option<u64>,
    /// The experiment every cell starts from.
    pub base: Experiment,
}

/// One run of a sweep: a cell (one value per axis) at one seed.
#[derive(Clone, Debug, PartialEq)]
pub struct Member {
    /// The cell's index in the grid (row-major over the axes).
    pub cell: usize,
    /// The value of each axis in this cell, as written.
    pub values: Vec<toml::Value>,
    /// Which of the sweep's seeds (0-based).
    pub seed_index: u32,
    pub experiment: Experiment,
}

impl Member {
    /// The member's folder name: its cell's values and its seed, e.g.
    /// `temperature=0.1,batch_size=64-s0`.
    pub fn folder(&self, axes: &[Axis]) -> String {
        format!("{}-s{}", cell_name(axes, &self.values), self.seed_index)
    }
}

/// The name of a cell: each axis's last key segment and its value.
pub fn cell_name(axes: &[Axis], values: &[toml::Value]) -> String {
    let parts: Vec<String> = axes
        .iter()
        .zip(values)
        .map(|(a, v)| format!("{}={}", a.short_name(), axis::plain(v)))
        .collect();
    let name = if parts.is_empty() {
        "base".to_string()
    } else {
        parts.join(",")
    };
    // Only characters a folder name may hold everywhere.
    name.chars()
        .map(|c| {
            if c.is_alphanumeric() || matches!(c, '-' | '_' | '.' | '=' | ',' | '+') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// A member's experiment name: the sweep's and the cell's, in the characters a run name
/// may hold (`tiny-temperature-0.1_batch_size-64`), at most 100 of them.
fn member_name(sweep: &str, cell: &str) -> String {
    let mut name: String = format!("{sweep}-{cell}")
        .chars()
        .map(|c| match c {
            '=' => '-',
            c if c.is_alphanumeric() || matches!(c, '-' | '_' | '.' | '+') => c,
            _ => '_',
        })
        .collect();
    while name.len() > 100 {
        name.pop();
    }
    name
}

impl SweepSpec {
    /// Checks the axes and builds every member, or says what is wrong before anything
    /// runs: an unknown key (with the valid ones), a value out of range (naming key and
    /// range), too many axes or members.
    pub fn members(&self) -> Result<Vec<Member>, String> {
        if self.axes.len() > MAX_AXES {
            return Err(format!(
                "{} settings vary; a sweep varies at most {MAX_AXES}",
                self.axes.len()
            ));
        }
        if self.seeds == 0 {
            return Err("seeds = 0: a sweep runs every cell at one seed at least".into());
        }
        self.check_pruning()?;
        for (i, a) in self.axes.iter().enumerate() {
            if a.values.is_empty() {
                return Err(format!("{} has no values", a.key));
            }
            if self.axes[..i].iter().any(|b| b.key == a.key) {
                return Err(format!(
                    "{} varies twice: give it one list of values",
                    a.key
                ));
            }
        }
        let cells: usize = self.axes.iter().map(|a| a.values.len()).product();
        let total = cells.saturating_mul(self.seeds as usize);
        if total > MAX_MEMBERS {
            return Err(format!(
                "{cells} cells x {} seeds = {total} runs, more than the {MAX_MEMBERS} a sweep may hold",
                self.seeds
            ));
        }
        // Two cells of one name would share a member folder: the second would resume the
        // first's run and be counted twice (a repeated value, or values that differ only
        // in characters a folder name cannot hold).
        let mut named: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
        for cell in 0..cells {
            let name = cell_name(&self.axes, &self.cell_values(cell));
            if let Some(first) = named.insert(name.clone(), cell) {
                return Err(format!(
                    "cells {} and {} are both {name}: give each value of a setting once",
                    first + 1,
                    cell + 1
                ));
            }
        }
        let mut members = Vec::with_capacity(total);
        for cell in 0..cells {
            let values = self.cell_values(cell);
            let experiment = self.cell_experiment(&values)?;
            for seed_index in 0..self.seeds {
                let mut exp = experiment.clone();
                exp.seed = experiment.seed.wrapping_add(u64::from(seed_index));
                exp.name = member_name(&self.name, &cell_name(&self.axes, &values));
                exp.validate()?;
                members.push(Member {
                    cell,
                    values: values.clone(),
                    seed_index,
                    experiment: exp,
                });
            }
        }
        Ok(members)
    }

    /// Pruning compares cells at evaluation steps they all reach: k must be an evaluation
    /// step (a multiple of `eval.every`) before the end, and the step count not varied.
    fn check_pruning(&self) -> Result<(), String> {
        let Some(k) = self.prune_every else {
            return Ok(());
        };
        let (every, steps) = (self.base.eval.every, self.base.train.steps);
        if k == 0 || k % every.max(1) != 0 || k >= steps {
            return Err(format!(
                "prune every {k} steps: must be a multiple of eval.every = {every} below \
                 train.steps = {steps}, so the cells are compared at an evaluation"
            ));
        }
        let varied = |key: &str| self.axes.iter().any(|a| a.key == key);
        if varied("train.steps") || varied("eval.every") {
            return Err("pruning compares cells at the same steps: train.steps cannot vary".into());
        }
        Ok(())
    }

    /// The values of cell `cell`, the last axis varying fastest.
    fn cell_values(&self, mut cell: usize) -> Vec<toml::Value> {
        let mut values = vec![toml::Value::Boolean(false); self.axes.len()];
        for (i, a) in self.axes.iter().enumerate().rev() {
            values[i] = a.values[cell % a.values.len()].clone();
            cell /= a.values.len();
        }
        values
    }

    /// The base experiment with one cell's values: `method.kind` first (its defaults), then
    /// the rest, each through the preset's validation.
    fn cell_experiment(&self, values: &[toml::Value]) -> Result<Experiment, String> {
        let mut exp = self.base.clone();
        let mut order: Vec<usize> = (0..self.axes.len()).collect();
        order.sort_by_key(|&i| self.axes[i].key != "method.kind");
        for i in order {
            exp = axis::apply(&exp, &self.axes[i].key, &values[i])?;
        }
        Ok(exp)
    }

    /// Reads `sweep.toml` from `dir`.
    pub fn load(dir: &Path) -> Result<Self, String> {
        let path = dir.join(SWEEP_FILE);
        let text = std::fs::read_to_string(&path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let spec: SweepSpec =
            toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        spec.base
            .validate()
            .map_err(|e| format!("{}: base.{e}", path.display()))?;
        Ok(spec)
    }

    /// The file's text.
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).unwrap_or_else(|e| format!("# cannot serialise: {e}\n"))
    }

    /// Where the sweep goes unless told otherwise: `runs/<name>`.
    pub fn default_dir(&self) -> PathBuf {
        Path::new("runs").join(&self.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(axes: &[(&str, &str)], seeds: u32) -> SweepSpec {
        SweepSpec {
            name: "s".into(),
            axes: axes
                .iter()
                .map(|(k, v)| Axis::parse(&format!("{k}={v}")).unwrap())
                .collect(),
            seeds,
            prune_every: None,
            base: Experiment::default(),
        }
    }

    #[test]
    fn a_grid_is_every_combination_at_every_seed_paired() {
        let s = spec(
            &[
                ("method.temperature", "0.1,0.5"),
                ("train.batch_size", "32,64,128"),
            ],
            2,
        );
        let m = s.members().unwrap();
        assert_eq!(m.len(), 12);
        // Row-major, the last axis fastest, seeds innermost.
        assert_eq!(m[0].folder(&s.axes), "temperature=0.1,batch_size=32-s0");
        assert_eq!(m[1].folder(&s.axes), "temperature=0.1,batch_size=32-s1");
        assert_eq!(m[2].folder(&s.axes), "temperature=0.1,batch_size=64-s0");
        assert_eq!(m[11].folder(&s.axes), "temperature=0.5,batch_size=128-s1");
        assert_eq!(m[11].experiment.train.batch_size, 128);
        assert_eq!(
            m[11].experiment.method.params["temperature"].as_float(),
            Some(0.5)
        );
        // Paired: the same seeds in every cell.
        let seeds: Vec<u64> = m.iter().map(|x| x.experiment.seed).collect();
        assert_eq!(&seeds[..4], &[0, 1, 0, 1]);
        assert_eq!(m[0].experiment.name, "s-temperature-0.1_batch_size-32");
        assert!(m.iter().all(|x| x.experiment.validate().is_ok()));
        // Distinct folders.
        let mut folders: Vec<String> = m.iter().map(|x| x.folder(&s.axes)).collect();
        folders.sort();
        folders.dedup();
        assert_eq!(folders.len(), 12);
    }

    #[test]
    fn a_method_axis_starts_each_cell_from_that_methods_defaults() {
        let s = spec(
            &[
                ("method.kind", "simclr,byol"),
                ("train.learning_rate", "0.01"),
            ],
            1,
        );
        let m = s.members().unwrap();
        assert_eq!(m[1].experiment.method.kind, "byol");
        assert!(!m[1].experiment.method.params.contains_key("temperature"));
        assert!(
            m[1].experiment.method.params.contains_key("momentum_start")
                || !m[1].experiment.method.params.is_empty()
        );
        assert_eq!(m[1].experiment.train.learning_rate, 0.01);
        // A method setting the other method lacks is refused, naming both.
        let bad = spec(
            &[
                ("method.kind", "simclr,byol"),
                ("method.temperature", "0.1"),
            ],
            1,
        );
        let e = bad.members().unwrap_err();
        assert!(
            e.contains("method.temperature") && e.contains("byol"),
            "{e}"
        );
    }

    #[test]
    fn bad_grids_are_refused_before_anything_runs() {
        let e = spec(&[("train.steps", "1,2"), ("train.steps", "3")], 1)
            .members()
            .unwrap_err();
        assert!(e.contains("varies twice"), "{e}");
        // A repeated value would give two cells one folder (and one run counted twice).
        let e = spec(&[("method.temperature", "0.1,0.2,0.1")], 1)
            .members()
            .unwrap_err();
        assert!(
            e.contains("cells 1 and 3") && e.contains("temperature=0.1"),
            "{e}"
        );
        let e = spec(&[("train.batch_size", "1")], 1).members().unwrap_err();
        assert!(
            e.contains("train.batch_size") && e.contains("2..=4096"),
            "{e}"
        );
        let e = spec(&[("train.steps", "1")], 0).members().unwrap_err();
        assert!(e.contains("seeds"), "{e}");
        let many = (1..=600)
            .map(|v| v.to_string())
            .collect::<Vec<_>>()
            .join(",");
        let e = spec(&[("train.steps", &many)], 1).members().unwrap_err();
        assert!(e.contains("more than the 512"), "{e}");
        let e = spec(
            &[
                ("train.steps", "1"),
                ("train.batch_size", "8"),
                ("train.learning_rate", "0.1"),
                ("train.warmup_steps", "0"),
            ],
            1,
        )
        .members()
        .unwrap_err();
        assert!(e.contains("at most 3"), "{e}");
    }

    #[test]
    fn sweep_toml_round_trips() {
        let s = spec(&[("views.strength", "0.5,1,1.5")], 3);
        let back: SweepSpec = toml::from_str(&s.to_toml()).unwrap();
        assert_eq!(back, s);
    }
}
