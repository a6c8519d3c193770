//! A transform's random draws, apart from applying them: [`Transform::draw`] takes exactly
//! the random numbers `apply` takes, in the same order, and [`Drawn::apply`] does the rest.
//! The CPU pipeline is the two in turn; the device pipeline (`device_views`) draws here
//! too and applies the same parameters to a whole batch at once, so the two cannot drift
//! apart in what they draw.

use rand::RngExt;

use super::geometry::ViewGeometry;
use super::ops::{self, CropBox};
use super::transform::Transform;
use super::{ImageF32, ops_extra};
use crate::seeding::Rng;

/// One transform's drawn parameters, for a transform that applies (a disabled one, or one
/// whose coin came up "no", draws [`None`] instead).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Drawn {
    Crop(CropBox),
    FlipHorizontal,
    FlipVertical,
    Rotate {
        degrees: f32,
    },
    Jitter(JitterFactors),
    Grayscale,
    Blur {
        sigma: f32,
    },
    Solarize {
        threshold: f32,
    },
    Equalize,
    Posterize {
        bits: u8,
    },
    /// The rectangle filled with grey, or none when no try fitted.
    Erase(Option<CropBox>),
}

/// Colour jitter's factors, applied in this order (hue last, skipped at 0).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct JitterFactors {
    pub brightness: f32,
    pub contrast: f32,
    pub saturation: f32,
    /// In turns.
    pub hue: f32,
}

/// RandomErasing's fill: the normalisation mean, torchvision's 0 on a normalised tensor.
pub const ERASE_VALUE: f32 = 0.5;

impl Transform {
    /// Draws this step's parameters for an image of `width x height` (its size when the
    /// step runs). Disabled steps draw no random numbers, so toggling one leaves the
    /// others' draws.
    pub fn draw(&self, width: usize, height: usize, rng: &mut Rng) -> Option<Drawn> {
        if !self.enabled() {
            return None;
        }
        let coin = |p: f32, rng: &mut Rng| rng.random_bool(f64::from(p));
        match self {
            Transform::RandomResizedCrop(t) => Some(Drawn::Crop(ops::sample_crop(
                width, height, t.scale, t.ratio, rng,
            ))),
            Transform::HorizontalFlip(t) => coin(t.p, rng).then_some(Drawn::FlipHorizontal),
            Transform::VerticalFlip(t) => coin(t.p, rng).then_some(Drawn::FlipVertical),
            Transform::Rotation(t) => coin(t.p, rng).then(|| Drawn::Rotate {
                degrees: rng.random_range(-t.degrees..=t.degrees),
            }),
            Transform::ColorJitter(j) => coin(j.p, rng).then(|| {
                let mut factor = |x: f32| rng.random_range((1.0 - x).max(0.0)..=1.0 + x);
                let (brightness, contrast, saturation) = (
                    factor(j.brightness),
                    factor(j.contrast),
                    factor(j.saturation),
                );
                Drawn::Jitter(JitterFactors {
                    brightness,
                    contrast,
                    saturation,
                    hue: rng.random_range(-j.hue..=j.hue),
                })
            }),
            Transform::Grayscale(t) => coin(t.p, rng).then_some(Drawn::Grayscale),
            Transform::GaussianBlur(t) => coin(t.p, rng).then(|| Drawn::Blur {
                sigma: rng.random_range(t.sigma[0]..=t.sigma[1]),
            }),
            Transform::Solarize(t) => coin(t.p, rng).then_some(Drawn::Solarize {
                threshold: t.threshold,
            }),
            Transform::Equalize(t) => coin(t.p, rng).then_some(Drawn::Equalize),
            Transform::Posterize(t) => coin(t.p, rng).then_some(Drawn::Posterize { bits: t.bits }),
            Transform::RandomErasing(t) => coin(t.p, rng).then(|| {
                Drawn::Erase(ops_extra::sample_erasure(
                    width, height, t.scale, t.ratio, rng,
                ))
            }),
        }
    }
}

impl Drawn {
    /// Records where the view moves in its image (crops, flips, rotations) when this step
    /// runs on a `width x height` image.
    pub fn track(self, width: usize, height: usize, geometry: &mut ViewGeometry) {
        match self {
            Drawn::Crop(bbox) => geometry.crop(bbox, width, height),
            Drawn::FlipHorizontal => geometry.flip_horizontal(),
            Drawn::FlipVertical => geometry.flip_vertical(),
            Drawn::Rotate { degrees } => geometry.rotated |= degrees != 0.0,
            _ => {}
        }
    }

    /// Applies the drawn step to `img` on the CPU (a crop resizes to `out x out`),
    /// recording crops, flips and rotations in `geometry`.
    pub fn apply(self, img: ImageF32, out: usize, geometry: &mut ViewGeometry) -> ImageF32 {
        self.track(img.width, img.height, geometry);
        let mut v = img;
        match self {
            Drawn::Crop(bbox) => v = ops::crop_resize(&v, bbox, out),
            Drawn::FlipHorizontal => ops::flip_horizontal(&mut v),
            Drawn::FlipVertical => ops_extra::flip_vertical(&mut v),
            Drawn::Rotate { degrees } => v = ops_extra::rotate(&v, degrees),
            Drawn::Jitter(f) => {
                ops::adjust_brightness(&mut v, f.brightness);
                ops::adjust_contrast(&mut v, f.contrast);
                ops::adjust_saturation(&mut v, f.saturation);
                if f.hue != 0.0 {
                    ops::adjust_hue(&mut v, f.hue);
                }
            }
            Drawn::Grayscale => ops::to_grayscale(&mut v),
            Drawn::Blur { sigma } => ops::gaussian_blur(&mut v, sigma),
            Drawn::Solarize { threshold } => ops::solarize(&mut v, threshold),
            Drawn::Equalize => ops_extra::equalize(&mut v),
            Drawn::Posterize { bits } => ops_extra::posterize(&mut v, bits),
            Drawn::Erase(rect) => {
                if let Some(rect) = rect {
                    ops_extra::fill(&mut v, rect, ERASE_VALUE);
                }
            }
        }
        v
    }
}
