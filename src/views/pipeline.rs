//! View pipelines: an ordered list of transforms per view, as saved in presets
//! (`[[views.view1]] op = "random-resized-crop" ...`). The two views may differ (BYOL's
//! asymmetric blur and solarize). Jitter applies brightness, contrast, saturation, hue in
//! that fixed order (torchvision shuffles it; a fixed order keeps previews easy to read).

use serde::{Deserialize, Serialize};

use super::ImageF32;
use super::geometry::ViewGeometry;
use super::normalize::Normalize;
use super::ops;
use super::transform::{
    BlurParams, CropParams, JitterParams, ProbParams, SolarizeParams, Transform,
};
use crate::seeding::{Rng, Stream, rng_for};

/// The transforms of one view, applied in order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ViewPipeline {
    pub steps: Vec<Transform>,
}

impl Default for ViewPipeline {
    /// SimCLR's recipe for small images: crop, flip, jitter, grayscale, blur.
    fn default() -> Self {
        Self::simclr(JitterParams::default(), [0.2, 1.0])
    }
}

impl ViewPipeline {
    fn simclr(jitter: JitterParams, scale: [f32; 2]) -> Self {
        Self {
            steps: vec![
                Transform::RandomResizedCrop(CropParams {
                    scale,
                    ..CropParams::default()
                }),
                Transform::HorizontalFlip(ProbParams::default()),
                Transform::ColorJitter(jitter),
                Transform::Grayscale(ProbParams {
                    p: 0.2,
                    ..ProbParams::default()
                }),
                Transform::GaussianBlur(BlurParams::default()),
            ],
        }
    }

    /// Strong colour distortion and milder crops, for the built-in shapes: their colours
    /// are a shortcut to telling images apart, and only a full hue rotation plus strong
    /// brightness/contrast/saturation changes take it away (Chen et al. 2020, sec. 3).
    pub fn strong_colour() -> Self {
        Self::simclr(
            JitterParams {
                p: 0.8,
                brightness: 0.8,
                contrast: 0.8,
                saturation: 0.8,
                hue: 0.5,
                ..JitterParams::default()
            },
            [0.35, 1.0],
        )
    }

    /// No transform: the image as stored.
    pub fn identity() -> Self {
        Self { steps: Vec::new() }
    }

    /// Checks every step; `at` is the preset path of this view (`views.view1`).
    pub fn validate(&self, at: &str) -> Result<(), String> {
        self.steps
            .iter()
            .enumerate()
            .try_for_each(|(i, t)| t.validate(&format!("{at}[{i}]")))
    }

    /// Augments `img` into an `out x out` view using `rng`.
    pub fn apply(&self, img: &ImageF32, out: usize, rng: &mut Rng) -> ImageF32 {
        self.apply_tracked(img, out, rng).0
    }

    /// [`apply`](Self::apply), also returning where the view lies in `img`.
    pub fn apply_tracked(
        &self,
        img: &ImageF32,
        out: usize,
        rng: &mut Rng,
    ) -> (ImageF32, ViewGeometry) {
        let mut geometry = ViewGeometry::IDENTITY;
        let mut v = img.clone();
        for t in &self.steps {
            v = t.apply_tracked(v, out, rng, &mut geometry);
        }
        if v.width != out || v.height != out {
            // No crop ran (or it was disabled): resize the whole image.
            let whole = ops::CropBox {
                x: 0,
                y: 0,
                w: v.width,
                h: v.height,
            };
            v = ops::crop_resize(&v, whole, out);
        }
        (v, geometry)
    }
}

/// Multi-crop (Caron et al. 2020, SwAV): besides the two global views, `count` small crops
/// per image at `size` pixels, from their own pipeline (small crop scales). Methods that
/// use them (BYOL, SimSiam) ask each local crop to predict the global views' targets.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LocalCrops {
    /// Local crops per image; 0 turns multi-crop off.
    pub count: usize,
    /// Side of a local crop in pixels.
    pub size: usize,
    pub pipeline: ViewPipeline,
}

impl Default for LocalCrops {
    /// Off; when switched on, SwAV's proportions scaled to small images: 16-pixel crops
    /// of 5-35% of the image.
    fn default() -> Self {
        let mut pipeline = ViewPipeline::strong_colour();
        for t in &mut pipeline.steps {
            if let Transform::RandomResizedCrop(c) = t {
                c.scale = [0.05, 0.35];
            }
        }
        Self {
            count: 0,
            size: 16,
            pipeline,
        }
    }
}

impl LocalCrops {
    pub const MAX_COUNT: usize = 8;

    pub fn validate(&self) -> Result<(), String> {
        if self.count > Self::MAX_COUNT {
            return Err(format!(
                "views.local.count = {} is out of range; use 0 (off) to {}",
                self.count,
                Self::MAX_COUNT
            ));
        }
        if !(4..=512).contains(&self.size) {
            return Err(format!(
                "views.local.size = {} is out of range; use 4 to 512 pixels",
                self.size
            ));
        }
        self.pipeline.validate("views.local.pipeline")
    }
}

/// The pipelines of both views, as `[views]` in a preset.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ViewsSpec {
    pub view1: ViewPipeline,
    pub view2: ViewPipeline,
    /// The final per-channel normalisation, shared by both views and evaluation.
    pub normalize: Normalize,
    /// Small extra crops (multi-crop), off by default.
    pub local: LocalCrops,
}

impl Default for ViewsSpec {
    fn default() -> Self {
        Self::same(ViewPipeline::default())
    }
}

impl ViewsSpec {
    /// Both views from one pipeline (SimCLR, MoCo).
    pub fn same(p: ViewPipeline) -> Self {
        Self {
            view1: p.clone(),
            view2: p,
            normalize: Normalize::default(),
            local: LocalCrops::default(),
        }
    }

    /// BYOL's asymmetric pair (Grill et al. 2020, table 6): blur always on view 1 and
    /// rarely on view 2, solarize only on view 2.
    pub fn byol(base: ViewPipeline) -> Self {
        let with = |blur_p: f32, solarize_p: f32| {
            let mut p = base.clone();
            for t in &mut p.steps {
                if let Transform::GaussianBlur(b) = t {
                    b.p = blur_p;
                }
            }
            p.steps.push(Transform::Solarize(SolarizeParams {
                p: solarize_p,
                ..SolarizeParams::default()
            }));
            p
        };
        Self {
            view1: with(1.0, 0.0),
            view2: with(0.1, 0.2),
            normalize: Normalize::default(),
            local: LocalCrops::default(),
        }
    }

    pub fn pipelines(&self) -> [&ViewPipeline; 2] {
        [&self.view1, &self.view2]
    }

    pub fn validate(&self) -> Result<(), String> {
        self.normalize.validate()?;
        self.local.validate()?;
        self.view1.validate("views.view1")?;
        self.view2.validate("views.view2")
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

    #[test]
    fn local_crops_round_trip_through_toml_and_are_checked() {
        let mut views = ViewsSpec::default();
        views.local.count = 4;
        views.local.size = 14;
        let text = toml::to_string(&views).unwrap();
        assert!(
            text.contains("[local]") && text.contains("[[local.pipeline]]"),
            "{text}"
        );
        let back: ViewsSpec = toml::from_str(&text).unwrap();
        assert_eq!(back, views);
        views.local.count = 9;
        assert!(views.validate().unwrap_err().contains("views.local.count"));
        views.local.count = 2;
        views.local.size = 2;
        assert!(views.validate().unwrap_err().contains("views.local.size"));
    }
    use crate::views::transform::{
        CropParams, ErasingParams, PosterizeParams, ProbParams, RotationParams,
    };

    /// Every view pixel shows the source point its geometry names: on a ramp image
    /// (red = x fraction, green = y fraction of the pixel centre), a cropped and mirrored
    /// view's pixel values are its source coordinates.
    #[test]
    fn tracked_geometry_names_where_each_view_pixel_comes_from() {
        let size = 32;
        let data = (0..size * size)
            .flat_map(|i| {
                let (x, y) = (i % size, i / size);
                [(x as f32 + 0.5) / 32.0, (y as f32 + 0.5) / 32.0, 0.0]
            })
            .collect();
        let src = ImageF32 {
            width: size,
            height: size,
            data,
        };
        let pipeline = ViewPipeline {
            steps: vec![
                Transform::HorizontalFlip(ProbParams {
                    enabled: true,
                    p: 0.5,
                }),
                Transform::RandomResizedCrop(CropParams::default()),
                Transform::VerticalFlip(ProbParams {
                    enabled: true,
                    p: 0.5,
                }),
            ],
        };
        let mut mirrored = [0, 0];
        for seed in 0..24 {
            let (view, g) = pipeline.apply_tracked(&src, 16, &mut view_rng(seed, 0, 0, 0));
            assert!(!g.rotated);
            mirrored[0] += usize::from(g.scale[0] < 0.0);
            mirrored[1] += usize::from(g.scale[1] < 0.0);
            for oy in 1..15 {
                for ox in 1..15 {
                    let (x, y) = g.to_source((ox as f32 + 0.5) / 16.0, (oy as f32 + 0.5) / 16.0);
                    let p = view.pixel(ox, oy);
                    // Bilinear sampling of a linear ramp is exact away from the clamped edge.
                    assert!(
                        (p[0] - x).abs() < 1e-4,
                        "seed {seed} ({ox}, {oy}): {p:?} vs {x}"
                    );
                    assert!(
                        (p[1] - y).abs() < 1e-4,
                        "seed {seed} ({ox}, {oy}): {p:?} vs {y}"
                    );
                }
            }
        }
        assert!(mirrored.iter().all(|&m| m > 0 && m < 24), "{mirrored:?}");
    }

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
    fn output_shape_and_range_hold_for_every_transform_at_full_strength() {
        let mut steps = Transform::catalogue();
        for t in &mut steps {
            match t {
                Transform::ColorJitter(j) => {
                    *j = JitterParams {
                        p: 1.0,
                        brightness: 1.0,
                        contrast: 1.0,
                        saturation: 1.0,
                        hue: 0.5,
                        ..JitterParams::default()
                    }
                }
                Transform::Rotation(r) => {
                    *r = RotationParams {
                        p: 1.0,
                        degrees: 180.0,
                        ..RotationParams::default()
                    }
                }
                Transform::Posterize(q) => {
                    *q = PosterizeParams {
                        p: 1.0,
                        bits: 1,
                        ..PosterizeParams::default()
                    }
                }
                Transform::RandomErasing(e) => {
                    *e = ErasingParams {
                        p: 1.0,
                        ..ErasingParams::default()
                    }
                }
                _ => {}
            }
        }
        let p = ViewPipeline { steps };
        for i in 0..30 {
            let v = p.apply(&img(), 24, &mut view_rng(0, i, 0, 0));
            assert_eq!((v.width, v.height, v.data.len()), (24, 24, 24 * 24 * 3));
            assert!(v.data.iter().all(|x| (0.0..=1.0).contains(x)));
        }
    }

    #[test]
    fn an_empty_or_all_disabled_pipeline_is_identity() {
        let v = ViewPipeline::identity().apply(&img(), 32, &mut view_rng(0, 0, 0, 0));
        assert_eq!(v, img());
        let mut p = ViewPipeline::default();
        for t in &mut p.steps {
            *t.enabled_mut() = false;
        }
        let v = p.apply(&img(), 32, &mut view_rng(0, 0, 0, 0));
        assert_eq!(v, img());
    }

    #[test]
    fn order_matters_and_disabling_a_step_keeps_the_others_draws() {
        // Grayscale then jitter differs from jitter then grayscale (saturation acts first).
        let strong = JitterParams {
            p: 1.0,
            hue: 0.0,
            ..JitterParams::default()
        };
        let grey = Transform::Grayscale(ProbParams {
            p: 1.0,
            ..ProbParams::default()
        });
        let a = ViewPipeline {
            steps: vec![grey.clone(), Transform::ColorJitter(strong.clone())],
        };
        let b = ViewPipeline {
            steps: vec![Transform::ColorJitter(strong), grey],
        };
        let rng = || view_rng(1, 0, 0, 0);
        assert_ne!(
            a.apply(&img(), 32, &mut rng()),
            b.apply(&img(), 32, &mut rng())
        );
        // A disabled step draws nothing: the pipeline equals the one without it.
        let mut with_off = ViewPipeline::default();
        *with_off.steps[1].enabled_mut() = false;
        let mut without = ViewPipeline::default();
        without.steps.remove(1);
        assert_eq!(
            with_off.apply(&img(), 32, &mut rng()),
            without.apply(&img(), 32, &mut rng())
        );
    }

    #[test]
    fn validation_names_the_view_and_step() {
        let mut v = ViewsSpec::default();
        v.view2.steps[0] = Transform::RandomResizedCrop(CropParams {
            scale: [0.5, 1.5],
            ..CropParams::default()
        });
        let err = v.validate().unwrap_err();
        assert!(
            err.contains("views.view2[0] (random-resized-crop): scale"),
            "{err}"
        );
        assert!(ViewsSpec::default().validate().is_ok());
    }

    #[test]
    fn byol_views_are_asymmetric() {
        let v = ViewsSpec::byol(ViewPipeline::default());
        let blur_p = |p: &ViewPipeline| {
            p.steps.iter().find_map(|t| match t {
                Transform::GaussianBlur(b) => Some(b.p),
                _ => None,
            })
        };
        assert_eq!((blur_p(&v.view1), blur_p(&v.view2)), (Some(1.0), Some(0.1)));
        assert_ne!(v.view1, v.view2);
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
