//! `views.strength`: one knob that scales a view pipeline, as the papers' augmentation
//! ablations do (SimCLR's colour-distortion strength, the crop's minimum scale). At 1 the
//! pipeline is unchanged; below 1 it is gentler, above 1 harsher. Each scaled parameter is
//! clamped to its valid range.

use crate::views::{Transform, ViewsSpec};

/// The largest strength a sweep accepts.
pub const MAX: f64 = 3.0;

/// Scales both views' crop and colour steps by `s`:
/// - colour jitter: brightness, contrast and saturation times `s` (at most 1), hue times
///   `s` (at most 0.5), as SimCLR's strength `s` scales its jitter;
/// - random resized crop: the uncovered part of the image, `1 - min_scale`, times `s`, so
///   a stronger view crops smaller (min scale at least 0.01, at most the max scale).
pub fn scale(views: &mut ViewsSpec, s: f64) {
    // In f64, so that s = 1 gives back exactly the f32 values it started from.
    let times = |v: f32, cap: f64| (f64::from(v) * s).min(cap) as f32;
    for step in views
        .view1
        .steps
        .iter_mut()
        .chain(views.view2.steps.iter_mut())
    {
        match step {
            Transform::ColorJitter(j) => {
                j.brightness = times(j.brightness, 1.0);
                j.contrast = times(j.contrast, 1.0);
                j.saturation = times(j.saturation, 1.0);
                j.hue = times(j.hue, 0.5);
            }
            Transform::RandomResizedCrop(c) => {
                let lo = 1.0 - (1.0 - f64::from(c.scale[0])) * s;
                c.scale[0] = (lo as f32).clamp(0.01, c.scale[1]);
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::preset::Experiment;

    fn jitter_and_crop(v: &ViewsSpec) -> (f32, f32, f32) {
        let mut out = (f32::NAN, f32::NAN, f32::NAN);
        for step in &v.view1.steps {
            match step {
                Transform::ColorJitter(j) => (out.0, out.1) = (j.brightness, j.hue),
                Transform::RandomResizedCrop(c) => out.2 = c.scale[0],
                _ => {}
            }
        }
        out
    }

    #[test]
    fn strength_scales_jitter_and_crop_and_one_changes_nothing() {
        let base = Experiment::default().views;
        let (b, h, lo) = jitter_and_crop(&base);
        assert!(
            b.is_finite() && lo.is_finite(),
            "the default pipeline has both steps"
        );
        let mut same = base.clone();
        scale(&mut same, 1.0);
        assert_eq!(same, base);
        let mut half = base.clone();
        scale(&mut half, 0.5);
        let (b2, h2, lo2) = jitter_and_crop(&half);
        assert!((b2 - b * 0.5).abs() < 1e-6 && (h2 - h * 0.5).abs() < 1e-6);
        assert!((1.0 - lo2 - 0.5 * (1.0 - lo)).abs() < 1e-6, "{lo} -> {lo2}");
        let mut harsh = base.clone();
        scale(&mut harsh, MAX);
        let (b3, h3, lo3) = jitter_and_crop(&harsh);
        assert!(b3 <= 1.0 && h3 <= 0.5 && lo3 >= 0.01);
        assert!(harsh.validate().is_ok());
        // Both views are scaled alike.
        assert_eq!(harsh.view1, harsh.view2);
    }
}
