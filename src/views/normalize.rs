//! The last step of every pipeline: per-channel normalisation `(x - mean) / std` of RGB in
//! 0..=1, shared by both views, evaluation and the exported encoder's documented input.
//! Editable (torchvision's `Normalize`): the default maps 0..1 to -1..1; ImageNet's
//! statistics suit encoders going to or coming from torchvision; the dataset's own
//! statistics are computed from the loaded images.

use serde::{Deserialize, Serialize};

use super::ImageF32;
use crate::data::ImageSet;

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Normalize {
    pub mean: [f32; 3],
    pub std: [f32; 3],
}

impl Default for Normalize {
    fn default() -> Self {
        Self::HALF
    }
}

impl Normalize {
    /// 0..1 to -1..1 in every channel.
    pub const HALF: Self = Self {
        mean: [0.5; 3],
        std: [0.5; 3],
    };

    /// The values as they are, 0..1 (a device renders views from these, then normalises).
    pub const NONE: Self = Self {
        mean: [0.0; 3],
        std: [1.0; 3],
    };

    /// torchvision's ImageNet statistics.
    pub const IMAGENET: Self = Self {
        mean: [0.485, 0.456, 0.406],
        std: [0.229, 0.224, 0.225],
    };

    /// The per-channel mean and standard deviation of every pixel of `images`.
    pub fn of_images(images: &ImageSet) -> Self {
        let mut sum = [0f64; 3];
        let mut sq = [0f64; 3];
        let mut count = 0f64;
        for i in 0..images.len() {
            for px in images.image(i).chunks_exact(3) {
                for c in 0..3 {
                    let v = f64::from(px[c]) / 255.0;
                    sum[c] += v;
                    sq[c] += v * v;
                }
                count += 1.0;
            }
        }
        let count = count.max(1.0);
        let mean = [0, 1, 2].map(|c| sum[c] / count);
        let std = [0, 1, 2].map(|c| (sq[c] / count - mean[c] * mean[c]).max(0.0).sqrt());
        Self {
            mean: mean.map(|m| m as f32),
            // A constant channel would divide by zero: keep it as is.
            std: std.map(|s| if s < 1e-3 { 1.0 } else { s as f32 }),
        }
    }

    /// Checks `views.normalize`.
    pub fn validate(&self) -> Result<(), String> {
        // Below 1e-3 (a 1/1000 of the pixel range) a pixel's step becomes a thousand
        // units: a tiny std blew BatchNorm's running variance to infinity while the loss
        // stayed finite. Computed statistics use 1 for a constant channel, never less.
        if let Some(s) = self.std.iter().find(|s| !(**s >= 1e-3 && **s <= 10.0)) {
            return Err(format!(
                "views.normalize.std contains {s}; each must be in [0.001, 10]"
            ));
        }
        if let Some(m) = self.mean.iter().find(|m| !(-10.0..=10.0).contains(*m)) {
            return Err(format!(
                "views.normalize.mean contains {m}; each must be in [-10, 10]"
            ));
        }
        Ok(())
    }

    /// Writes an HWC image as normalised CHW into `out`.
    pub fn write_chw(&self, img: &ImageF32, out: &mut [f32]) {
        let hw = img.width * img.height;
        for (p, px) in img.data.chunks_exact(3).enumerate() {
            for c in 0..3 {
                out[c * hw + p] = (px[c] - self.mean[c]) / self.std[c];
            }
        }
    }

    /// How the input is normalised, in words (for export READMEs).
    pub fn describe(&self) -> String {
        format!(
            "normalised per channel as (x - mean) / std with mean {:?} and std {:?}",
            self.mean, self.std
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_each_channel_with_its_own_statistics() {
        let n = Normalize {
            mean: [0.5, 0.0, 1.0],
            std: [0.5, 2.0, 0.25],
        };
        let img = ImageF32 {
            width: 2,
            height: 1,
            data: vec![1.0, 1.0, 1.0, 0.0, 0.5, 0.5],
        };
        let mut out = [0.0; 6];
        n.write_chw(&img, &mut out);
        // CHW: R of both pixels, then G, then B.
        assert_eq!(out, [1.0, -1.0, 0.5, 0.25, 0.0, -2.0]);
    }

    #[test]
    fn dataset_statistics_match_the_pixels() {
        // Two 1x1 images: red (255, 0, 0) and grey (51, 0, 102) -> channel means and stds.
        let images = ImageSet {
            size: 1,
            pixels: vec![255, 0, 0, 51, 0, 102],
            labels: vec![0, 0],
            ..ImageSet::default()
        };
        let n = Normalize::of_images(&images);
        assert!(
            (n.mean[0] - 0.6).abs() < 1e-6 && (n.std[0] - 0.4).abs() < 1e-6,
            "{n:?}"
        );
        // A constant channel keeps std 1 rather than dividing by zero.
        assert_eq!((n.mean[1], n.std[1]), (0.0, 1.0));
        assert!(
            (n.mean[2] - 0.2).abs() < 1e-6 && (n.std[2] - 0.2).abs() < 1e-6,
            "{n:?}"
        );
        assert!(n.validate().is_ok());
        let bad = Normalize {
            std: [0.5, 0.0, 0.5],
            ..Normalize::HALF
        };
        assert!(bad.validate().unwrap_err().contains("views.normalize.std"));
        // A std too small to be a pixel scale sent BatchNorm's running variance to inf.
        let tiny = Normalize {
            std: [1e-30; 3],
            ..Normalize::HALF
        };
        assert!(tiny.validate().unwrap_err().contains("[0.001, 10]"));
    }
}
