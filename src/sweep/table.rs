//! `sweep.csv`: one row per member with its varied settings, seed, state and final
//! figures, written whole after every change (by the engine, atomically), so it
//! loads in pandas as is and never half-written. Each cell's mean and spread over seeds
//! is computed here too, for the table the window and the command print.

use std::path::Path;

use super::{Axis, Member};

/// Where a member stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    Queued,
    Running,
    Finished,
    /// Stopped by the user or a signal; its checkpoint continues it.
    Stopped,
    Failed,
    /// Left behind by successive halving: its folder stays, it runs no further.
    Pruned,
}

impl State {
    pub fn name(self) -> &'static str {
        match self {
            State::Queued => "queued",
            State::Running => "running",
            State::Finished => "finished",
            State::Stopped => "stopped",
            State::Failed => "failed",
            State::Pruned => "pruned",
        }
    }

    /// Finished or pruned: a resumed sweep leaves it as it is.
    pub fn is_final(self) -> bool {
        matches!(self, State::Finished | State::Pruned)
    }

    fn parse(s: &str) -> Option<Self> {
        [
            State::Queued,
            State::Running,
            State::Finished,
            State::Stopped,
            State::Failed,
            State::Pruned,
        ]
        .into_iter()
        .find(|st| st.name() == s)
    }
}

/// A member's final figures (on the encoder output h, the same space for every method).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Outcome {
    pub knn_top1: Option<f32>,
    pub probe_top1: Option<f32>,
    pub align: Option<f32>,
    pub uniform: Option<f32>,
    pub effective_rank: Option<f32>,
    pub steps: u64,
    pub wall_seconds: f64,
}

/// One row of `sweep.csv`.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    /// The member's folder under the sweep's.
    pub folder: String,
    pub cell: usize,
    /// One value per axis, as written.
    pub values: Vec<String>,
    pub seed: u64,
    pub state: State,
    pub outcome: Outcome,
}

impl Row {
    pub fn queued(member: &Member, axes: &[Axis]) -> Self {
        Self {
            folder: member.folder(axes),
            cell: member.cell,
            values: member.values.iter().map(super::axis::plain).collect(),
            seed: member.experiment.seed,
            state: State::Queued,
            outcome: Outcome::default(),
        }
    }
}

const FIGURES: [&str; 7] = [
    "final_knn_top1",
    "probe_top1",
    "align",
    "uniform",
    "effective_rank",
    "steps",
    "wall_seconds",
];

fn header(axes: &[Axis]) -> Vec<String> {
    let mut h = vec!["member".to_string(), "cell".to_string()];
    h.extend(axes.iter().map(|a| a.key.clone()));
    h.extend(["seed", "state"].map(String::from));
    h.extend(FIGURES.map(String::from));
    h
}

fn opt(v: Option<f32>) -> String {
    v.map(|v| v.to_string()).unwrap_or_default()
}

/// Every row as the text of `sweep.csv` (the engine writes it atomically).
pub fn to_csv(axes: &[Axis], rows: &[Row]) -> Result<Vec<u8>, String> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let fail = |e: csv::Error| format!("cannot write {}: {e}", super::TABLE_FILE);
    w.write_record(header(axes)).map_err(fail)?;
    for r in rows {
        let o = &r.outcome;
        let mut rec = vec![r.folder.clone(), r.cell.to_string()];
        rec.extend(r.values.iter().cloned());
        rec.push(r.seed.to_string());
        rec.push(r.state.name().to_string());
        rec.extend([
            opt(o.knn_top1),
            opt(o.probe_top1),
            opt(o.align),
            opt(o.uniform),
            opt(o.effective_rank),
            o.steps.to_string(),
            format!("{:.3}", o.wall_seconds),
        ]);
        w.write_record(rec).map_err(fail)?;
    }
    w.into_inner()
        .map_err(|e| format!("cannot write {}: {e}", super::TABLE_FILE))
}

/// Reads `sweep.csv` from `dir` (for resuming), checking it has the axes' columns.
pub fn read(dir: &Path, axes: &[Axis]) -> Result<Vec<Row>, String> {
    let path = dir.join(super::TABLE_FILE);
    let bad = |what: String| format!("{}: {what}", path.display());
    let mut r = csv::Reader::from_path(&path).map_err(|e| bad(e.to_string()))?;
    let expected = header(axes);
    let found: Vec<String> = r
        .headers()
        .map_err(|e| bad(e.to_string()))?
        .iter()
        .map(String::from)
        .collect();
    if found != expected {
        return Err(bad(format!(
            "its columns {found:?} are not this sweep's {expected:?}"
        )));
    }
    let n = axes.len();
    let mut rows = Vec::new();
    for (line, rec) in r.records().enumerate() {
        let rec = rec.map_err(|e| bad(e.to_string()))?;
        let at = |i: usize| rec.get(i).unwrap_or("");
        let num = |i: usize| at(i).parse::<f32>().ok();
        let row_err = |what: &str| bad(format!("row {}: {what}", line + 2));
        rows.push(Row {
            folder: at(0).to_string(),
            cell: at(1).parse().map_err(|_| row_err("cell is not a number"))?,
            values: (0..n).map(|i| at(2 + i).to_string()).collect(),
            seed: at(2 + n)
                .parse()
                .map_err(|_| row_err("seed is not a number"))?,
            state: State::parse(at(3 + n)).ok_or_else(|| row_err("unknown state"))?,
            outcome: Outcome {
                knn_top1: num(4 + n),
                probe_top1: num(5 + n),
                align: num(6 + n),
                uniform: num(7 + n),
                effective_rank: num(8 + n),
                steps: at(9 + n).parse().unwrap_or(0),
                wall_seconds: at(10 + n).parse().unwrap_or(0.0),
            },
        });
    }
    Ok(rows)
}

/// A figure a sweep is compared by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Metric {
    Knn,
    Probe,
    Align,
    Uniform,
    EffectiveRank,
}

impl Metric {
    pub const ALL: [Metric; 5] = [
        Metric::Knn,
        Metric::Probe,
        Metric::Align,
        Metric::Uniform,
        Metric::EffectiveRank,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Metric::Knn => "kNN top-1",
            Metric::Probe => "probe top-1",
            Metric::Align => "alignment",
            Metric::Uniform => "uniformity",
            Metric::EffectiveRank => "effective rank",
        }
    }

    /// Whether a larger value is better (alignment and uniformity are better lower).
    pub fn higher_is_better(self) -> bool {
        !matches!(self, Metric::Align | Metric::Uniform)
    }

    /// Accuracies read as percentages.
    pub fn is_accuracy(self) -> bool {
        matches!(self, Metric::Knn | Metric::Probe)
    }

    pub fn of(self, o: &Outcome) -> Option<f32> {
        match self {
            Metric::Knn => o.knn_top1,
            Metric::Probe => o.probe_top1,
            Metric::Align => o.align,
            Metric::Uniform => o.uniform,
            Metric::EffectiveRank => o.effective_rank,
        }
    }

    /// A value as the table shows it.
    pub fn format(self, v: f32) -> String {
        if self.is_accuracy() {
            format!("{:.1}%", 100.0 * v)
        } else {
            format!("{v:.3}")
        }
    }
}

/// A cell's figure over its finished seeds.
#[derive(Clone, Debug, PartialEq)]
pub struct CellSummary {
    pub cell: usize,
    pub values: Vec<String>,
    /// Finished members of the cell.
    pub finished: usize,
    pub members: usize,
    /// Mean and sample standard deviation of the metric over finished seeds.
    pub mean: Option<f32>,
    pub std: Option<f32>,
}

/// Every cell's mean and spread of `metric` over its finished seeds, in cell order.
pub fn summarise(rows: &[Row], metric: Metric) -> Vec<CellSummary> {
    let mut cells: Vec<CellSummary> = Vec::new();
    for r in rows {
        if !cells.iter().any(|c| c.cell == r.cell) {
            cells.push(CellSummary {
                cell: r.cell,
                values: r.values.clone(),
                finished: 0,
                members: 0,
                mean: None,
                std: None,
            });
        }
    }
    cells.sort_by_key(|c| c.cell);
    for c in &mut cells {
        let of_cell: Vec<&Row> = rows.iter().filter(|r| r.cell == c.cell).collect();
        c.members = of_cell.len();
        let finished: Vec<&&Row> = of_cell
            .iter()
            .filter(|r| r.state == State::Finished)
            .collect();
        c.finished = finished.len();
        let v: Vec<f32> = finished
            .iter()
            .filter_map(|r| metric.of(&r.outcome))
            .collect();
        if !v.is_empty() {
            let mean = v.iter().sum::<f32>() / v.len() as f32;
            c.mean = Some(mean);
            c.std = (v.len() > 1).then(|| {
                let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f32>() / (v.len() - 1) as f32;
                var.sqrt()
            });
        }
    }
    cells
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(cell: usize, seed: u64, state: State, knn: Option<f32>) -> Row {
        Row {
            folder: format!("c{cell}-s{seed}"),
            cell,
            values: vec![format!("{cell}")],
            seed,
            state,
            outcome: Outcome {
                knn_top1: knn,
                steps: 3,
                wall_seconds: 1.5,
                ..Outcome::default()
            },
        }
    }

    #[test]
    fn the_table_round_trips_and_refuses_another_sweeps_columns() {
        let dir = tempfile::tempdir().unwrap();
        let axes = vec![Axis::parse("train.steps=1,2").unwrap()];
        let rows = vec![
            row(0, 0, State::Finished, Some(0.5)),
            row(1, 0, State::Queued, None),
        ];
        std::fs::write(dir.path().join("sweep.csv"), to_csv(&axes, &rows).unwrap()).unwrap();
        assert_eq!(read(dir.path(), &axes).unwrap(), rows);
        let text = std::fs::read_to_string(dir.path().join("sweep.csv")).unwrap();
        assert!(
            text.starts_with("member,cell,train.steps,seed,state,final_knn_top1,"),
            "{text}"
        );
        let other = vec![Axis::parse("train.batch_size=8").unwrap()];
        let e = read(dir.path(), &other).unwrap_err();
        assert!(e.contains("columns"), "{e}");
    }

    #[test]
    fn cells_summarise_their_finished_seeds() {
        let rows = vec![
            row(0, 0, State::Finished, Some(0.5)),
            row(0, 1, State::Finished, Some(0.7)),
            row(1, 0, State::Finished, Some(0.4)),
            row(1, 1, State::Failed, None),
        ];
        let s = summarise(&rows, Metric::Knn);
        assert_eq!(s.len(), 2);
        assert!((s[0].mean.unwrap() - 0.6).abs() < 1e-6);
        // Sample std of 0.5 and 0.7: 0.1414.
        assert!((s[0].std.unwrap() - 0.141_421).abs() < 1e-5);
        assert_eq!((s[1].finished, s[1].members), (1, 2));
        assert_eq!(s[1].std, None);
        // Another metric, absent from these rows: counted, no figure.
        let p = summarise(&rows, Metric::Probe);
        assert_eq!((p[0].finished, p[0].mean), (2, None));
    }
}
