//! The augmentation pipeline of one view, with its parameters as saved in presets.
//! Order follows SimCLR's torchvision recipe: crop -> flip -> colour jitter -> grayscale
//! -> blur -> solarize. Jitter applies brightness, contrast, saturation, hue in that
//! fixed order (torchvision shuffles it; a fixed order keeps previews easy to read).

use rand::RngExt;
use serde::{Deserialize, Serialize};

use super::ImageF32;
use super::ops;
use crate::seeding::{Rng, Stream, rng_for};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CropParams {
    pub enabled: bool,
    /// Range of the crop's area as a fraction of the image.
    pub scale: [f32; 2],
    /// Range of the crop's aspect ratio (width / height).
    pub ratio: [f32; 2],
}

impl Default for CropParams {
    fn default() -> Self {
        Self {
            enabled: true,
            scale: [0.2, 1.0],
            ratio: [0.75, 4.0 / 3.0],
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct JitterParams {
    /// Probability that jitter is applied at all.
    pub p: f32,
    /// Factors are drawn from [max(0, 1-x), 1+x] for these three...
    pub brightness: f32,
    pub contrast: f32,
    pub saturation: f32,
    /// ...and the hue shift from [-hue, hue] turns (at most 0.5).
    pub hue: f32,
}

impl Default for JitterParams {
    fn default() -> Self {
        // SimCLR's strength-0.5 jitter for small images.
        Self {
            p: 0.8,
            brightness: 0.4,
            contrast: 0.4,
            saturation: 0.4,
            hue: 0.1,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BlurParams {
    pub p: f32,
    /// Range of the Gaussian's sigma in pixels.
    pub sigma: [f32; 2],
}

impl Default for BlurParams {
    fn default() -> Self {
        Self {
            p: 0.2,
            sigma: [0.1, 1.0],
        }
    }
}

/// All parameters of one view's augmentation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ViewPipeline {
    pub crop: CropParams,
    /// Probability of a horizontal flip.
    pub flip_p: f32,
    pub jitter: JitterParams,
    pub grayscale_p: f32,
    pub blur: BlurParams,
    /// Probability of solarizing; 0 by default (BYOL uses it on one view).
    pub solarize_p: f32,
}

impl Default for ViewPipeline {
    fn default() -> Self {
        Self {
            crop: CropParams::default(),
            flip_p: 0.5,
            jitter: JitterParams::default(),
            grayscale_p: 0.2,
            blur: BlurParams::default(),
            solarize_p: 0.0,
        }
    }
}

impl ViewPipeline {
    /// Strong colour distortion and milder crops, for the built-in shapes: their colours
    /// are a shortcut to telling images apart, and only a full hue rotation plus strong
    /// brightness/contrast/saturation changes take it away (Chen et al. 2020, sec. 3).
    pub fn strong_colour() -> Self {
        Self {
            crop: CropParams {
                scale: [0.35, 1.0],
                ..CropParams::default()
            },
            jitter: JitterParams {
                p: 0.8,
                brightness: 0.8,
                contrast: 0.8,
                saturation: 0.8,
                hue: 0.5,
            },
            ..Self::default()
        }
    }

    /// Checks every parameter; the error names the field, as written in a preset.
    pub fn validate(&self) -> Result<(), String> {
        let prob = |name: &str, p: f32| {
            if (0.0..=1.0).contains(&p) {
                Ok(())
            } else {
                Err(format!(
                    "views.{name} = {p} is out of range: a probability must be in 0..=1"
                ))
            }
        };
        let range = |name: &str, r: [f32; 2], lo: f32, hi: f32| {
            if r[0] >= lo && r[1] <= hi && r[0] <= r[1] {
                Ok(())
            } else {
                Err(format!(
                    "views.{name} = [{}, {}] is out of range: need {lo} <= min <= max <= {hi}",
                    r[0], r[1]
                ))
            }
        };
        range("crop.scale", self.crop.scale, 0.01, 1.0)?;
        range("crop.ratio", self.crop.ratio, 0.1, 10.0)?;
        prob("flip_p", self.flip_p)?;
        prob("jitter.p", self.jitter.p)?;
        for (name, v) in [
            ("jitter.brightness", self.jitter.brightness),
            ("jitter.contrast", self.jitter.contrast),
            ("jitter.saturation", self.jitter.saturation),
        ] {
            if !(0.0..=1.0).contains(&v) {
                return Err(format!(
                    "views.{name} = {v} is out of range: must be in 0..=1"
                ));
            }
        }
        if !(0.0..=0.5).contains(&self.jitter.hue) {
            return Err(format!(
                "views.jitter.hue = {} is out of range: must be in 0..=0.5",
                self.jitter.hue
            ));
        }
        prob("grayscale_p", self.grayscale_p)?;
        prob("blur.p", self.blur.p)?;
        range("blur.sigma", self.blur.sigma, 0.0, 10.0)?;
        prob("solarize_p", self.solarize_p)
    }

    /// Augments `img` into an `out x out` view using `rng`.
    pub fn apply(&self, img: &ImageF32, out: usize, rng: &mut Rng) -> ImageF32 {
        let bbox = if self.crop.enabled {
            ops::sample_crop(img.width, img.height, self.crop.scale, self.crop.ratio, rng)
        } else {
            ops::CropBox {
                x: 0,
                y: 0,
                w: img.width,
                h: img.height,
            }
        };
        let mut v = ops::crop_resize(img, bbox, out);
        if rng.random_bool(f64::from(self.flip_p)) {
            ops::flip_horizontal(&mut v);
        }
        if rng.random_bool(f64::from(self.jitter.p)) {
            let j = &self.jitter;
            let mut factor = |x: f32| rng.random_range((1.0 - x).max(0.0)..=1.0 + x);
            let (b, c, s) = (
                factor(j.brightness),
                factor(j.contrast),
                factor(j.saturation),
            );
            let h = rng.random_range(-j.hue..=j.hue);
            ops::adjust_brightness(&mut v, b);
            ops::adjust_contrast(&mut v, c);
            ops::adjust_saturation(&mut v, s);
            if h != 0.0 {
                ops::adjust_hue(&mut v, h);
            }
        }
        if rng.random_bool(f64::from(self.grayscale_p)) {
            ops::to_grayscale(&mut v);
        }
        if rng.random_bool(f64::from(self.blur.p)) {
            let sigma = rng.random_range(self.blur.sigma[0]..=self.blur.sigma[1]);
            ops::gaussian_blur(&mut v, sigma);
        }
        if rng.random_bool(f64::from(self.solarize_p)) {
            ops::solarize(&mut v, 0.5);
        }
        v
    }
}

/// The generator for view `view` of batch slot `slot` at training step `step`.
pub fn view_rng(seed: u64, step: u64, slot: usize, view: usize) -> Rng {
    rng_for(seed, Stream::View, &[step, slot as u64, view as u64])
}

/// The dataset indices that form the batch of step `step` (sampled without replacement
/// within a batch).
pub fn batch_indices(seed: u64, step: u64, dataset_len: usize, batch: usize) -> Vec<usize> {
    let mut rng = rng_for(seed, Stream::Batch, &[step]);
    rand::seq::index::sample(&mut rng, dataset_len, batch.min(dataset_len)).into_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn img() -> ImageF32 {
        let data = (0..32 * 32 * 3)
            .map(|i| ((i * 7) % 255) as f32 / 255.0)
            .collect();
        ImageF32 {
            width: 32,
            height: 32,
            data,
        }
    }

    #[test]
    fn same_seed_same_view_different_view_index_differs() {
        let p = ViewPipeline::default();
        let a = p.apply(&img(), 32, &mut view_rng(5, 0, 3, 0));
        let b = p.apply(&img(), 32, &mut view_rng(5, 0, 3, 0));
        let c = p.apply(&img(), 32, &mut view_rng(5, 0, 3, 1));
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn output_shape_and_range_hold_for_strong_settings() {
        let p = ViewPipeline {
            jitter: JitterParams {
                p: 1.0,
                brightness: 1.0,
                contrast: 1.0,
                saturation: 1.0,
                hue: 0.5,
            },
            blur: BlurParams {
                p: 1.0,
                sigma: [0.5, 2.0],
            },
            solarize_p: 0.5,
            ..ViewPipeline::default()
        };
        for i in 0..50 {
            let v = p.apply(&img(), 24, &mut view_rng(0, i, 0, 0));
            assert_eq!((v.width, v.height, v.data.len()), (24, 24, 24 * 24 * 3));
            assert!(v.data.iter().all(|x| (0.0..=1.0).contains(x)));
        }
    }

    #[test]
    fn disabled_pipeline_is_identity() {
        let p = ViewPipeline {
            crop: CropParams {
                enabled: false,
                ..CropParams::default()
            },
            flip_p: 0.0,
            jitter: JitterParams {
                p: 0.0,
                ..JitterParams::default()
            },
            grayscale_p: 0.0,
            blur: BlurParams {
                p: 0.0,
                ..BlurParams::default()
            },
            solarize_p: 0.0,
        };
        let v = p.apply(&img(), 32, &mut view_rng(0, 0, 0, 0));
        for (a, b) in v.data.iter().zip(&img().data) {
            assert!((a - b).abs() < 1e-6);
        }
    }

    #[test]
    fn validation_names_the_field() {
        let mut p = ViewPipeline::default();
        p.crop.scale = [0.5, 1.5];
        assert!(p.validate().unwrap_err().contains("views.crop.scale"));
        let mut p = ViewPipeline::default();
        p.jitter.hue = 0.9;
        assert!(p.validate().unwrap_err().contains("views.jitter.hue"));
        assert!(ViewPipeline::default().validate().is_ok());
    }

    #[test]
    fn batch_indices_are_distinct_and_deterministic() {
        let a = batch_indices(1, 7, 100, 32);
        assert_eq!(a, batch_indices(1, 7, 100, 32));
        assert_ne!(a, batch_indices(1, 8, 100, 32));
        let mut s = a.clone();
        s.sort_unstable();
        s.dedup();
        assert_eq!(s.len(), 32);
    }
}
