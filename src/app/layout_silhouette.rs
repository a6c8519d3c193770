//! The silhouette of the projection on screen, by what it is coloured by: a number beside
//! the picture that says how much its clusters are the classes (or the colours, the
//! backgrounds). Recomputed when the picture changes, at most a few times a second, since
//! an animated t-SNE changes every frame and 2,000 points cost milliseconds.

use std::time::{Duration, Instant};

use super::projection_view::ColourBy;
use crate::engine::ProjectionFrame;
use crate::metrics::silhouette;

const EVERY: Duration = Duration::from_millis(400);

/// Which picture a silhouette belongs to.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Key {
    step: u64,
    layout_iterations: Option<u32>,
    colour: ColourBy,
    points: usize,
}

#[derive(Default)]
pub struct LayoutSilhouette {
    last: Option<(Key, Instant, Option<f32>)>,
}

impl LayoutSilhouette {
    /// The silhouette of `points` (the frame's images, laid out) grouped by `colour`, or
    /// `None` where the colouring is not a grouping of the images (kNN right/wrong, views).
    pub fn of(
        &mut self,
        frame: &ProjectionFrame,
        points: &[[f32; 2]],
        layout_iterations: Option<u32>,
        colour: ColourBy,
    ) -> Option<f32> {
        let key = Key {
            step: frame.step,
            layout_iterations,
            colour,
            points: points.len(),
        };
        if let Some((last, at, value)) = &self.last {
            // Same picture, or a moving one measured a moment ago.
            let moving_on = last.step == key.step && last.colour == key.colour;
            if *last == key || (moving_on && at.elapsed() < EVERY) {
                return *value;
            }
        }
        let value = grouping(frame, colour).and_then(|labels| {
            let n = points.len().min(labels.len());
            silhouette(&points[..n], &labels[..n])
        });
        self.last = Some((key, Instant::now(), value));
        value
    }
}

/// Each point's group under `colour`.
fn grouping(frame: &ProjectionFrame, colour: ColourBy) -> Option<&[u16]> {
    match colour {
        ColourBy::Class => Some(&frame.labels),
        ColourBy::Attribute(k) => frame.attributes.get(k).map(|a| &a.of_point[..]),
        ColourBy::KnnCorrect | ColourBy::View => None,
    }
}
