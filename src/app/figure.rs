//! A dashboard plot as plain data: named series of points with a drawing style. Built from
//! the run history each frame, drawn with egui_plot, and written out as CSV by "Save
//! data" (so what is saved is exactly what is drawn).

use eframe::egui::Color32;
use egui_plot::Corner;

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Style {
    Line {
        width: f32,
        dashed: bool,
        colour: Option<Color32>,
    },
    /// Markers only (e.g. a trajectory's latest point).
    Markers { radius: f32, colour: Color32 },
    /// A dashed grey reference line at `y` (the series holds one point `[NaN, y]`).
    Reference,
}

impl Style {
    pub const LINE: Style = Style::Line {
        width: 1.5,
        dashed: false,
        colour: None,
    };
}

#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    pub name: String,
    pub points: Vec<[f64; 2]>,
    pub style: Style,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Figure {
    pub title: String,
    pub legend: Corner,
    /// What the x and y values are, for the CSV header.
    pub x_name: &'static str,
    pub y_name: &'static str,
    pub series: Vec<Series>,
    pub x_range: Option<(f64, f64)>,
    pub y_range: Option<(f64, f64)>,
    /// The largest value the y axis labels (a percentage's 100): the room made for the
    /// legend above it is left unlabelled.
    pub y_label_max: Option<f64>,
}

impl Figure {
    pub fn new(title: &str, legend: Corner) -> Self {
        Self {
            title: title.into(),
            legend,
            x_name: "step",
            y_name: "value",
            series: Vec::new(),
            x_range: None,
            y_range: None,
            y_label_max: None,
        }
    }

    pub fn axes(mut self, x: &'static str, y: &'static str) -> Self {
        self.x_name = x;
        self.y_name = y;
        self
    }

    pub fn line(&mut self, name: impl Into<String>, points: Vec<[f64; 2]>, style: Style) {
        self.series.push(Series {
            name: name.into(),
            points,
            style,
        });
    }

    pub fn reference(&mut self, name: &str, y: f64) {
        self.line(name, vec![[f64::NAN, y]], Style::Reference);
    }

    /// Long-format CSV: one row per point, `series,<x>,<y>` (reference lines have no x).
    pub fn csv(&self) -> String {
        let quote = |s: &str| {
            if s.contains([',', '"', '\n']) {
                format!("\"{}\"", s.replace('"', "\"\""))
            } else {
                s.to_string()
            }
        };
        let num = |v: f64| {
            if v.is_nan() {
                String::new()
            } else {
                v.to_string()
            }
        };
        let mut out = format!("series,{},{}\n", self.x_name, self.y_name);
        for s in &self.series {
            for p in &s.points {
                out += &format!("{},{},{}\n", quote(&s.name), num(p[0]), num(p[1]));
            }
        }
        out
    }

    /// The y range that shows every point with room of its own for the legend, `legend_px`
    /// tall in a plot `plot_px` tall: above the data for a top corner, below it for a
    /// bottom one, so it hides no curve (and a margin of 5% of the data's span on the
    /// other side). None when the figure fixes its y range or has no data.
    pub fn legend_room(&self, legend_px: f64, plot_px: f64) -> Option<(f64, f64)> {
        if self.y_range.is_some() || plot_px <= 0.0 {
            return None;
        }
        let ys = self
            .series
            .iter()
            .flat_map(|s| s.points.iter().map(|p| p[1]))
            .filter(|y| y.is_finite());
        let (lo, hi) = ys.fold(None, |acc: Option<(f64, f64)>, y| {
            Some(acc.map_or((y, y), |(lo, hi)| (lo.min(y), hi.max(y))))
        })?;
        // A flat curve still gets room in proportion to its size.
        let span = (hi - lo).max(1e-3 * hi.abs().max(1.0));
        let margin = 0.05 * span;
        // The legend's share of the plot, at most 45%: a small plot with a long legend
        // keeps most of its height for the curves (the legend may then cover a corner).
        let share = (legend_px / plot_px).clamp(0.0, 0.45);
        let room = (span + margin) * share / (1.0 - share);
        Some(match self.legend {
            Corner::LeftTop | Corner::RightTop => (lo - margin, hi + room),
            Corner::LeftBottom | Corner::RightBottom => (lo - room, hi + margin),
        })
    }

    /// How many entries its legend lists (one per distinct name).
    pub fn legend_entries(&self) -> usize {
        let mut names: Vec<&str> = self.series.iter().map(|s| s.name.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        names.iter().filter(|n| !n.is_empty()).count()
    }

    /// A file name for the figure: lower case, words joined by '-'.
    pub fn slug(&self) -> String {
        let mut s = String::new();
        for c in self.title.chars() {
            if c.is_ascii_alphanumeric() {
                s.push(c.to_ascii_lowercase());
            } else if !s.ends_with('-') && !s.is_empty() {
                s.push('-');
            }
        }
        s.trim_end_matches('-').to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_legend_gets_room_of_its_own_beside_the_data() {
        let mut f = Figure::new("kNN", Corner::LeftTop);
        f.line("a", vec![[0.0, 40.0], [1.0, 80.0]], Style::LINE);
        f.reference("random init", 40.0);
        // A legend a quarter of the plot's height: the data and their 5% margin (2) keep
        // the lower three quarters.
        let (lo, hi) = f.legend_room(50.0, 200.0).unwrap();
        assert!((lo - 38.0).abs() < 1e-9, "{lo}");
        assert!(((80.0 - lo) / (hi - lo) - 0.75).abs() < 1e-9, "{hi}");
        f.legend = Corner::RightBottom;
        let (lo, hi) = f.legend_room(50.0, 200.0).unwrap();
        assert!((hi - 82.0).abs() < 1e-9, "{hi}");
        assert!(((hi - 40.0) / (hi - lo) - 0.75).abs() < 1e-9, "{lo}");
        assert_eq!(f.legend_entries(), 2);
        // A fixed range is left as it is; no data, nothing to make room beside.
        f.y_range = Some((0.0, 1.0));
        assert_eq!(f.legend_room(50.0, 200.0), None);
        assert_eq!(
            Figure::new("empty", Corner::LeftTop).legend_room(50.0, 200.0),
            None
        );
    }

    #[test]
    fn csv_is_long_format_with_quoted_names_and_reference_lines() {
        let mut f = Figure::new("kNN top-1 (%)", Corner::LeftTop).axes("step", "top1_percent");
        f.line(
            "run 1: SimCLR, lr 0.1",
            vec![[0.0, 10.0], [5.0, 12.5]],
            Style::LINE,
        );
        f.reference("random init", 10.0);
        assert_eq!(
            f.csv(),
            "series,step,top1_percent\n\"run 1: SimCLR, lr 0.1\",0,10\n\
             \"run 1: SimCLR, lr 0.1\",5,12.5\nrandom init,,10\n"
        );
        assert_eq!(f.slug(), "knn-top-1");
        assert_eq!(
            Figure::new(
                "alignment vs uniformity (lower left is better)",
                Corner::LeftTop
            )
            .slug(),
            "alignment-vs-uniformity-lower-left-is-better"
        );
    }
}
