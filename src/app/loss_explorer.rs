//! The NT-Xent explorer's state: a handful of points on the unit circle (pairs `i` and
//! `i + N` are positives), the temperature, the anchor whose softmax is shown, and the
//! loss's answer for them, recomputed when something changes.

use crate::engine::loss_explorer::{LossProbe, nt_xent_probe};

/// Three images, two views each.
const PAIRS: usize = 3;

pub struct LossExplorer {
    /// Each point's angle on the unit circle (radians).
    pub angles: Vec<f32>,
    pub temperature: f32,
    pub anchor: usize,
    /// The point being dragged.
    pub dragging: Option<usize>,
    probe: Option<(Vec<f32>, f32, LossProbe)>,
}

impl Default for LossExplorer {
    fn default() -> Self {
        // Each positive pair near each other, the pairs spread around the circle.
        let angles = (0..2 * PAIRS)
            .map(|i| {
                let pair = (i % PAIRS) as f32;
                let view = if i < PAIRS { -0.25 } else { 0.25 };
                pair * std::f32::consts::TAU / PAIRS as f32 + view
            })
            .collect();
        Self {
            angles,
            temperature: 0.5,
            anchor: 0,
            dragging: None,
            probe: None,
        }
    }
}

impl LossExplorer {
    /// The starting layout again, at the current temperature.
    pub fn reset_points(&mut self) {
        self.angles = Self::default().angles;
        self.anchor = 0;
    }

    pub fn points(&self) -> Vec<[f32; 2]> {
        self.angles.iter().map(|a| [a.cos(), a.sin()]).collect()
    }

    /// The positive partner of point `i`.
    pub fn partner(&self, i: usize) -> usize {
        (i + PAIRS) % (2 * PAIRS)
    }

    /// The loss, gradients and softmaxes of the current points (cached until they change).
    pub fn probe(&mut self) -> &LossProbe {
        let fresh = self
            .probe
            .as_ref()
            .is_some_and(|(a, t, _)| *a == self.angles && *t == self.temperature);
        if !fresh {
            let probe = nt_xent_probe(&self.points(), self.temperature);
            self.probe = Some((self.angles.clone(), self.temperature, probe));
        }
        &self.probe.as_ref().expect("just computed").2
    }
}
