//! `shapes`: a procedurally generated, colourful, labelled image set.
//!
//! Each image is one shape (the label) of random colour, size, position and (mild) rotation
//! on a random background, colours drawn from small palettes, anti-aliased by 4x4
//! supersampling. Colour carries no label information, so a representation must become
//! colour-invariant to classify well: this is what makes colour jitter visibly matter.
//! Each image's colour, background and size third are recorded as nuisance attributes, so
//! evaluation can show what a representation groups images by when it is not the shape.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::{Attribute, Dataset, ImageSet};
use crate::seeding::{Stream, rng_for};
use rand::RngExt;

/// The shape classes, in label order.
pub const CLASSES: [&str; 8] = [
    "circle", "square", "triangle", "star", "cross", "ring", "crescent", "bar",
];

/// Parameters of the generated set.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ShapesSpec {
    /// Same seed, same images.
    pub seed: u64,
    pub train_per_class: usize,
    pub test_per_class: usize,
    /// Side length in pixels.
    pub size: usize,
    /// How many of the background colours are drawn from (1..=4, in the order of
    /// `BACKGROUND_NAMES`): fewer backgrounds, less for a representation to group by
    /// besides the shape.
    pub backgrounds: usize,
}

impl Default for ShapesSpec {
    fn default() -> Self {
        Self {
            seed: 0,
            train_per_class: 500,
            test_per_class: 100,
            size: 32,
            backgrounds: BACKGROUNDS.len(),
        }
    }
}

/// Generates the dataset; deterministic in `spec` (images are generated in parallel, each
/// from its own seeded stream).
pub fn generate(spec: &ShapesSpec) -> Dataset {
    let mut train = generate_split(spec, 0, spec.train_per_class);
    let mut test = generate_split(spec, 1, spec.test_per_class);
    let attribute = |name: &str, values: &[&str]| Attribute {
        name: name.into(),
        values: values.iter().map(|v| v.to_string()).collect(),
    };
    let mut attributes = vec![
        attribute("colour", &FOREGROUND_NAMES),
        attribute(
            "background",
            &BACKGROUND_NAMES[..spec.backgrounds.clamp(1, BACKGROUNDS.len())],
        ),
        attribute("size", &SIZE_NAMES),
    ];
    // One background is no attribute: every kNN "predicts" it and nothing is coloured by it.
    if spec.backgrounds <= 1 {
        attributes.remove(1);
        train.attributes.remove(1);
        test.attributes.remove(1);
    }
    Dataset {
        name: "shapes".into(),
        class_names: CLASSES.iter().map(|s| s.to_string()).collect(),
        attributes,
        train,
        test,
        report: Default::default(),
    }
}

fn generate_split(spec: &ShapesSpec, split: u64, per_class: usize) -> ImageSet {
    let n = per_class * CLASSES.len();
    let size = spec.size;
    // Interleave classes so any prefix of the split is balanced.
    let labels: Vec<u16> = (0..n).map(|i| (i % CLASSES.len()) as u16).collect();
    let images: Vec<(Vec<u8>, Nuisance)> = (0..n)
        .into_par_iter()
        .map(|i| render(spec, split, i as u64, labels[i] as usize))
        .collect();
    let of = |pick: fn(&Nuisance) -> u16| images.iter().map(|(_, a)| pick(a)).collect();
    ImageSet {
        size,
        attributes: vec![of(|a| a.colour), of(|a| a.background), of(|a| a.size)],
        pixels: images.into_iter().flat_map(|(p, _)| p).collect(),
        labels,
        // Generated: no file to point to.
        sources: Vec::new(),
    }
}

/// What an image shows besides its class: indices into `FOREGROUND_NAMES`,
/// `BACKGROUND_NAMES` and `SIZE_NAMES`.
struct Nuisance {
    colour: u16,
    background: u16,
    size: u16,
}

/// Renders image `index` of class `class`, with its nuisance attributes.
fn render(spec: &ShapesSpec, split: u64, index: u64, class: usize) -> (Vec<u8>, Nuisance) {
    let size = spec.size;
    let mut rng = rng_for(spec.seed, Stream::Dataset, &[split, index]);
    let s = size as f32;
    // Colours come from small palettes, so colour alone cannot tell images apart: many
    // images in a batch share their colours, and a contrastive method has to look at shape.
    let background = rng.random_range(0..spec.backgrounds.clamp(1, BACKGROUNDS.len()));
    let bg = BACKGROUNDS[background];
    let (colour, fg) = loop {
        let k = rng.random_range(0..FOREGROUNDS.len());
        if colour_distance(FOREGROUNDS[k], bg) > 0.45 {
            break (k, FOREGROUNDS[k]);
        }
    };
    // A faint lighting gradient across the background (a strong one is an instance cue
    // that crops do not remove, and it slows learning of the shapes).
    let shade: f32 = rng.random_range(0.0..0.05);
    let bg_a = bg.map(|v| (v * (1.0 + shade)).min(1.0));
    let bg_b = bg.map(|v| v * (1.0 - shade));
    let grad_angle: f32 = rng.random_range(0.0..std::f32::consts::TAU);
    let relative_radius: f32 = rng.random_range(RADIUS.0..RADIUS.1);
    let radius = relative_radius * s;
    let cx: f32 = rng.random_range(radius * 0.8..s - radius * 0.8);
    let cy: f32 = rng.random_range(radius * 0.8..s - radius * 0.8);
    // Rotation is mild: SimCLR's views do not rotate, so a free angle would be an
    // instance cue unrelated to the class (and squares would turn into diamonds).
    let rot: f32 = rng.random_range(-0.35..0.35);
    let (sin, cos) = rot.sin_cos();
    let (gs, gc) = grad_angle.sin_cos();

    let mut out = vec![0u8; size * size * 3];
    const SS: usize = 4;
    for y in 0..size {
        for x in 0..size {
            let mut cover = 0.0f32;
            for sy in 0..SS {
                for sx in 0..SS {
                    let px = x as f32 + (sx as f32 + 0.5) / SS as f32 - cx;
                    let py = y as f32 + (sy as f32 + 0.5) / SS as f32 - cy;
                    // Into the shape's frame: unrotate, scale to unit radius.
                    let u = (cos * px + sin * py) / radius;
                    let v = (-sin * px + cos * py) / radius;
                    if inside(class, u, v) {
                        cover += 1.0;
                    }
                }
            }
            cover /= (SS * SS) as f32;
            let t = 0.5 + 0.5 * ((x as f32 / s - 0.5) * gc + (y as f32 / s - 0.5) * gs);
            let o = (y * size + x) * 3;
            for c in 0..3 {
                let bg = bg_a[c] * (1.0 - t) + bg_b[c] * t;
                let v = bg * (1.0 - cover) + fg[c] * cover;
                out[o + c] = (v * 255.0).round().clamp(0.0, 255.0) as u8;
            }
        }
    }
    let third = (relative_radius - RADIUS.0) / (RADIUS.1 - RADIUS.0) * SIZE_NAMES.len() as f32;
    let nuisance = Nuisance {
        colour: colour as u16,
        background: background as u16,
        size: (third as usize).min(SIZE_NAMES.len() - 1) as u16,
    };
    (out, nuisance)
}

/// The shape's radius as a fraction of the image side, drawn uniformly.
const RADIUS: (f32, f32) = (0.22, 0.42);

/// The radius range in equal thirds.
const SIZE_NAMES: [&str; 3] = ["small", "medium", "large"];

const FOREGROUND_NAMES: [&str; 6] = ["red", "yellow", "green", "blue", "purple", "white"];

const BACKGROUND_NAMES: [&str; 4] = ["dark", "grey", "teal", "brown"];

const FOREGROUNDS: [[f32; 3]; 6] = [
    [0.90, 0.20, 0.20],
    [0.95, 0.75, 0.10],
    [0.20, 0.70, 0.30],
    [0.20, 0.45, 0.90],
    [0.65, 0.30, 0.80],
    [0.95, 0.95, 0.95],
];

const BACKGROUNDS: [[f32; 3]; 4] = [
    [0.10, 0.10, 0.12],
    [0.45, 0.45, 0.48],
    [0.15, 0.30, 0.40],
    [0.55, 0.40, 0.25],
];

fn colour_distance(a: [f32; 3], b: [f32; 3]) -> f32 {
    ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2) + (a[2] - b[2]).powi(2)).sqrt()
}

/// Whether the point (u, v), in a frame where the shape has radius 1, is inside class `class`.
fn inside(class: usize, u: f32, v: f32) -> bool {
    let r = (u * u + v * v).sqrt();
    match class {
        0 => r <= 0.9,
        1 => u.abs() <= 0.72 && v.abs() <= 0.72,
        2 => regular_polygon(u, v, 3, 1.0),
        3 => star(u, v),
        4 => (u.abs() <= 0.28 && v.abs() <= 0.95) || (v.abs() <= 0.28 && u.abs() <= 0.95),
        5 => (0.55..=0.95).contains(&r),
        6 => r <= 0.9 && ((u - 0.45).powi(2) + v * v).sqrt() > 0.7,
        7 => u.abs() <= 0.95 && v.abs() <= 0.3,
        _ => false,
    }
}

/// Inside a regular `n`-gon with circumradius `circumradius`, one vertex pointing up.
fn regular_polygon(u: f32, v: f32, n: usize, circumradius: f32) -> bool {
    let apothem = circumradius * (std::f32::consts::PI / n as f32).cos();
    (0..n).all(|k| {
        // Edge normals sit between the vertices.
        let phi = std::f32::consts::FRAC_PI_2
            + std::f32::consts::PI / n as f32
            + std::f32::consts::TAU * k as f32 / n as f32;
        u * phi.cos() + v * phi.sin() <= apothem
    })
}

/// A five-pointed star: radius interpolates between outer and inner vertices by angle.
fn star(u: f32, v: f32) -> bool {
    let r = (u * u + v * v).sqrt();
    let sector = std::f32::consts::TAU / 5.0;
    let a = v.atan2(u).rem_euclid(sector) / sector; // 0..1 within one point
    let t = (a - 0.5).abs() * 2.0; // 1 at the tips, 0 between them
    let edge = 0.42 + (1.0 - 0.42) * t;
    r <= edge
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> ShapesSpec {
        ShapesSpec {
            seed: 3,
            train_per_class: 4,
            test_per_class: 2,
            size: 32,
            backgrounds: 4,
        }
    }

    #[test]
    fn one_background_draws_only_the_first_and_records_no_background() {
        let d = generate(&ShapesSpec {
            backgrounds: 1,
            train_per_class: 10,
            ..small()
        });
        let names: Vec<&str> = d.attributes.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(names, ["colour", "size"]);
        assert_eq!(d.train.attributes.len(), 2);
        // Every image's corner pixel is the first background (dark), within its shading.
        let dark = BACKGROUNDS[0];
        for i in 0..d.train.len() {
            let px = &d.train.pixels[i * d.train.image_len()..][..3];
            for c in 0..3 {
                let v = f32::from(px[c]) / 255.0;
                assert!((v - dark[c]).abs() < 0.06, "image {i}: {px:?} vs {dark:?}");
            }
        }
        // Four backgrounds keep all three attributes.
        let full = generate(&small());
        assert_eq!(full.attributes.len(), 3);
    }

    #[test]
    fn nuisance_attributes_are_what_the_pixels_show() {
        let d = generate(&ShapesSpec {
            train_per_class: 30,
            ..small()
        });
        let names: Vec<&str> = d.attributes.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(names, ["colour", "background", "size"]);
        let set = &d.train;
        assert!(set.attributes.iter().all(|a| a.len() == set.len()));
        let near = |px: &[u8], c: [f32; 3], tol: f32| {
            px.iter()
                .zip(c)
                .all(|(&p, c)| (f32::from(p) / 255.0 - c).abs() < tol)
        };
        let (size, mut checked) = (set.size, 0);
        for i in 0..set.len() {
            let img = set.image(i);
            // The background: some corner shows it (within the faint lighting gradient).
            let bg = BACKGROUNDS[set.attributes[1][i] as usize];
            let corners = [0, size - 1, size * (size - 1), size * size - 1];
            assert!(
                corners
                    .iter()
                    .any(|&c| near(&img[3 * c..3 * c + 3], bg, 0.06)),
                "image {i}: no corner shows background {bg:?}"
            );
            // The colour: the most common pixel value other than the background's.
            let fg = FOREGROUNDS[set.attributes[0][i] as usize];
            let shape_pixels = img.chunks(3).filter(|p| near(p, fg, 0.01)).count();
            assert!(shape_pixels > 0, "image {i}: no pixel of colour {fg:?}");
            checked += 1;
        }
        assert_eq!(checked, set.len());
        // Size thirds: larger thirds cover more pixels on average.
        let cover = |third: u16| {
            let (mut sum, mut n) = (0usize, 0usize);
            for i in (0..set.len()).filter(|&i| set.attributes[2][i] == third) {
                let fg = FOREGROUNDS[set.attributes[0][i] as usize];
                sum += set.image(i).chunks(3).filter(|p| near(p, fg, 0.01)).count();
                n += 1;
            }
            sum as f32 / n.max(1) as f32
        };
        assert!(cover(0) < cover(1) && cover(1) < cover(2));
    }

    #[test]
    fn same_seed_same_images_other_seed_other_images() {
        let a = generate(&small());
        let b = generate(&small());
        assert_eq!(a, b);
        let c = generate(&ShapesSpec { seed: 4, ..small() });
        assert_ne!(a.train.pixels, c.train.pixels);
    }

    #[test]
    fn splits_have_balanced_labels_and_right_sizes() {
        let d = generate(&small());
        assert_eq!(d.train.len(), 32);
        assert_eq!(d.test.len(), 16);
        assert_eq!(d.train.pixels.len(), 32 * 32 * 32 * 3);
        assert_eq!(d.train.class_counts(8), vec![4; 8]);
        assert_eq!(d.class_names.len(), 8);
    }

    #[test]
    fn every_class_covers_a_plausible_area() {
        // Area of each shape at unit radius, estimated on a grid: distinct, non-trivial.
        let mut areas = Vec::new();
        for (class, name) in CLASSES.iter().enumerate() {
            let mut n = 0;
            for i in 0..200 {
                for j in 0..200 {
                    let u = i as f32 / 100.0 - 1.0;
                    let v = j as f32 / 100.0 - 1.0;
                    if inside(class, u, v) {
                        n += 1;
                    }
                }
            }
            let area = n as f32 / 10_000.0;
            assert!(area > 0.5 && area < 3.2, "{name}: area {area}");
            areas.push(area);
        }
        // Circle area close to pi * 0.81.
        assert!((areas[0] - std::f32::consts::PI * 0.81).abs() < 0.05);
    }
}
