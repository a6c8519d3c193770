//! One step of a view pipeline: a torchvision-style transform with its parameters and the
//! probability it is applied. Saved in presets as `op = "<name>"` plus its fields.

use serde::{Deserialize, Serialize};

use super::ImageF32;
use super::geometry::ViewGeometry;
use crate::seeding::Rng;

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

/// A transform with nothing but its probability.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProbParams {
    pub enabled: bool,
    pub p: f32,
}

impl ProbParams {
    fn with_p(p: f32) -> Self {
        Self { enabled: true, p }
    }
}

impl Default for ProbParams {
    fn default() -> Self {
        Self::with_p(0.5)
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RotationParams {
    pub enabled: bool,
    pub p: f32,
    /// The angle is uniform in [-degrees, degrees].
    pub degrees: f32,
}

impl Default for RotationParams {
    fn default() -> Self {
        Self {
            enabled: true,
            p: 0.5,
            degrees: 15.0,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct JitterParams {
    pub enabled: bool,
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
            enabled: true,
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
    pub enabled: bool,
    pub p: f32,
    /// Range of the Gaussian's sigma in pixels.
    pub sigma: [f32; 2],
}

impl Default for BlurParams {
    fn default() -> Self {
        Self {
            enabled: true,
            p: 0.2,
            sigma: [0.1, 1.0],
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SolarizeParams {
    pub enabled: bool,
    pub p: f32,
    /// Values at or above this (0..=1) are inverted.
    pub threshold: f32,
}

impl Default for SolarizeParams {
    fn default() -> Self {
        Self {
            enabled: true,
            p: 0.2,
            threshold: 0.5,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PosterizeParams {
    pub enabled: bool,
    pub p: f32,
    /// Bits kept per channel (1..=8).
    pub bits: u8,
}

impl Default for PosterizeParams {
    fn default() -> Self {
        Self {
            enabled: true,
            p: 0.5,
            bits: 4,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ErasingParams {
    pub enabled: bool,
    pub p: f32,
    /// Range of the erased area as a fraction of the image.
    pub scale: [f32; 2],
    /// Range of the erased rectangle's aspect ratio.
    pub ratio: [f32; 2],
}

impl Default for ErasingParams {
    fn default() -> Self {
        // torchvision's RandomErasing defaults.
        Self {
            enabled: true,
            p: 0.5,
            scale: [0.02, 0.33],
            ratio: [0.3, 3.3],
        }
    }
}

/// One transform, tagged by `op` in presets (torchvision's names in kebab case).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "kebab-case")]
pub enum Transform {
    RandomResizedCrop(CropParams),
    HorizontalFlip(ProbParams),
    VerticalFlip(ProbParams),
    Rotation(RotationParams),
    ColorJitter(JitterParams),
    Grayscale(ProbParams),
    GaussianBlur(BlurParams),
    Solarize(SolarizeParams),
    Equalize(ProbParams),
    Posterize(PosterizeParams),
    RandomErasing(ErasingParams),
}

impl Transform {
    /// One of each, with torchvision-like defaults: what the editor's "add" menu offers.
    pub fn catalogue() -> Vec<Transform> {
        vec![
            Transform::RandomResizedCrop(CropParams::default()),
            Transform::HorizontalFlip(ProbParams::default()),
            Transform::VerticalFlip(ProbParams::default()),
            Transform::Rotation(RotationParams::default()),
            Transform::ColorJitter(JitterParams::default()),
            Transform::Grayscale(ProbParams::with_p(0.2)),
            Transform::GaussianBlur(BlurParams::default()),
            Transform::Solarize(SolarizeParams::default()),
            Transform::Equalize(ProbParams::default()),
            Transform::Posterize(PosterizeParams::default()),
            Transform::RandomErasing(ErasingParams::default()),
        ]
    }

    /// The name written in presets (`op = "..."`).
    pub fn op(&self) -> &'static str {
        match self {
            Transform::RandomResizedCrop(_) => "random-resized-crop",
            Transform::HorizontalFlip(_) => "horizontal-flip",
            Transform::VerticalFlip(_) => "vertical-flip",
            Transform::Rotation(_) => "rotation",
            Transform::ColorJitter(_) => "color-jitter",
            Transform::Grayscale(_) => "grayscale",
            Transform::GaussianBlur(_) => "gaussian-blur",
            Transform::Solarize(_) => "solarize",
            Transform::Equalize(_) => "equalize",
            Transform::Posterize(_) => "posterize",
            Transform::RandomErasing(_) => "random-erasing",
        }
    }

    pub fn enabled(&self) -> bool {
        *self.enabled_ref()
    }

    pub fn enabled_mut(&mut self) -> &mut bool {
        match self {
            Transform::RandomResizedCrop(t) => &mut t.enabled,
            Transform::HorizontalFlip(t)
            | Transform::VerticalFlip(t)
            | Transform::Grayscale(t)
            | Transform::Equalize(t) => &mut t.enabled,
            Transform::Rotation(t) => &mut t.enabled,
            Transform::ColorJitter(t) => &mut t.enabled,
            Transform::GaussianBlur(t) => &mut t.enabled,
            Transform::Solarize(t) => &mut t.enabled,
            Transform::Posterize(t) => &mut t.enabled,
            Transform::RandomErasing(t) => &mut t.enabled,
        }
    }

    fn enabled_ref(&self) -> &bool {
        match self {
            Transform::RandomResizedCrop(t) => &t.enabled,
            Transform::HorizontalFlip(t)
            | Transform::VerticalFlip(t)
            | Transform::Grayscale(t)
            | Transform::Equalize(t) => &t.enabled,
            Transform::Rotation(t) => &t.enabled,
            Transform::ColorJitter(t) => &t.enabled,
            Transform::GaussianBlur(t) => &t.enabled,
            Transform::Solarize(t) => &t.enabled,
            Transform::Posterize(t) => &t.enabled,
            Transform::RandomErasing(t) => &t.enabled,
        }
    }

    /// Checks the parameters; `at` names the step as in a preset (`views.view1[2]`).
    pub fn validate(&self, at: &str) -> Result<(), String> {
        let at = format!("{at} ({})", self.op());
        let prob = |p: f32| {
            if (0.0..=1.0).contains(&p) {
                Ok(())
            } else {
                Err(format!(
                    "{at}: p = {p} is out of range: a probability must be in 0..=1"
                ))
            }
        };
        let range = |name: &str, r: [f32; 2], lo: f32, hi: f32| {
            if r[0] >= lo && r[1] <= hi && r[0] <= r[1] {
                Ok(())
            } else {
                Err(format!(
                    "{at}: {name} = [{}, {}] is out of range: need {lo} <= min <= max <= {hi}",
                    r[0], r[1]
                ))
            }
        };
        let within = |name: &str, v: f32, lo: f32, hi: f32| {
            if (lo..=hi).contains(&v) {
                Ok(())
            } else {
                Err(format!(
                    "{at}: {name} = {v} is out of range: must be in {lo}..={hi}"
                ))
            }
        };
        match self {
            Transform::RandomResizedCrop(t) => {
                range("scale", t.scale, 0.01, 1.0)?;
                range("ratio", t.ratio, 0.1, 10.0)
            }
            Transform::HorizontalFlip(t)
            | Transform::VerticalFlip(t)
            | Transform::Grayscale(t)
            | Transform::Equalize(t) => prob(t.p),
            Transform::Rotation(t) => {
                prob(t.p)?;
                within("degrees", t.degrees, 0.0, 180.0)
            }
            Transform::ColorJitter(t) => {
                prob(t.p)?;
                within("brightness", t.brightness, 0.0, 1.0)?;
                within("contrast", t.contrast, 0.0, 1.0)?;
                within("saturation", t.saturation, 0.0, 1.0)?;
                within("hue", t.hue, 0.0, 0.5)
            }
            Transform::GaussianBlur(t) => {
                prob(t.p)?;
                range("sigma", t.sigma, 0.0, 10.0)
            }
            Transform::Solarize(t) => {
                prob(t.p)?;
                within("threshold", t.threshold, 0.0, 1.0)
            }
            Transform::Posterize(t) => {
                prob(t.p)?;
                within("bits", f32::from(t.bits), 1.0, 8.0)
            }
            Transform::RandomErasing(t) => {
                prob(t.p)?;
                range("scale", t.scale, 0.0, 1.0)?;
                range("ratio", t.ratio, 0.05, 20.0)
            }
        }
    }

    /// Applies the step to `img` (already `out x out`, except before a crop).
    /// Disabled steps draw no random numbers, so toggling one leaves the others' draws.
    pub fn apply(&self, img: ImageF32, out: usize, rng: &mut Rng) -> ImageF32 {
        self.apply_tracked(img, out, rng, &mut ViewGeometry::default())
    }

    /// [`apply`](Self::apply), also recording crops and flips in `geometry`.
    pub fn apply_tracked(
        &self,
        img: ImageF32,
        out: usize,
        rng: &mut Rng,
        geometry: &mut ViewGeometry,
    ) -> ImageF32 {
        match self.draw(img.width, img.height, rng) {
            Some(drawn) => drawn.apply(img, out, geometry),
            None => img,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_transform_round_trips_through_toml_by_its_op_name() {
        #[derive(Serialize, Deserialize, PartialEq, Debug)]
        struct Holder {
            steps: Vec<Transform>,
        }
        let h = Holder {
            steps: Transform::catalogue(),
        };
        let text = toml::to_string(&h).unwrap();
        for t in &h.steps {
            assert!(text.contains(&format!("op = \"{}\"", t.op())), "{text}");
        }
        let back: Holder = toml::from_str(&text).unwrap();
        assert_eq!(back, h);
        // Unknown fields and unknown ops are refused, naming them.
        let err = toml::from_str::<Holder>("[[steps]]\nop = \"solarize\"\nthreshhold = 0.3\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("threshhold"), "{err}");
        let err = toml::from_str::<Holder>("[[steps]]\nop = \"sharpen\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("sharpen"), "{err}");
        // Omitted fields take their defaults, `enabled` included.
        let h: Holder = toml::from_str("[[steps]]\nop = \"rotation\"\ndegrees = 30.0\n").unwrap();
        assert_eq!(
            h.steps[0],
            Transform::Rotation(RotationParams {
                degrees: 30.0,
                ..RotationParams::default()
            })
        );
    }

    #[test]
    fn validation_names_the_step_and_field() {
        let mut t = Transform::ColorJitter(JitterParams::default());
        if let Transform::ColorJitter(j) = &mut t {
            j.hue = 0.9;
        }
        let err = t.validate("views.view1[2]").unwrap_err();
        assert!(
            err.contains("views.view1[2] (color-jitter): hue = 0.9"),
            "{err}"
        );
        for t in Transform::catalogue() {
            t.validate("x").unwrap();
        }
    }
}
