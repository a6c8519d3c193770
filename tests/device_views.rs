//! Views made on the device (`train.augment_on = "device"`) against the CPU's: the same
//! draws rendered with burn's tensor ops (here on flex) must give `make_view_batch`'s
//! pixels, op by op and together, with the same indices and geometry.
#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

mod common;

use burn::tensor::{Device, Tensor};

use contrastive_workbench::data::shapes::{ShapesSpec, generate};
use contrastive_workbench::device_views::render;
use contrastive_workbench::engine::Event;
use contrastive_workbench::views::pipeline::ViewsSpec;
use contrastive_workbench::views::plan::plan_view_batch;
use contrastive_workbench::views::transform::{
    BlurParams, CropParams, ErasingParams, JitterParams, PosterizeParams, ProbParams,
    RotationParams, SolarizeParams,
};
use contrastive_workbench::views::{Transform, ViewPipeline, make_view_batch};

/// |a - b| element by element; infinite where either is NaN (so a NaN is never within a
/// tolerance, nor lost by a maximum).
fn differences(a: &[f32], b: &[f32]) -> Vec<f32> {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(a, b)| {
            let d = (a - b).abs();
            if d.is_nan() { f32::INFINITY } else { d }
        })
        .collect()
}

/// The largest |device - CPU| over the batch's normalised views (and local crops) at
/// `step`.
fn largest_gap(views: &ViewsSpec, step: u64, batch: usize) -> f32 {
    gaps(views, step, batch).into_iter().fold(0f32, f32::max)
}

/// |device - CPU| for every value of the batch's normalised views and local crops at
/// `step` (NaN where either is).
fn gaps(views: &ViewsSpec, step: u64, batch: usize) -> Vec<f32> {
    let data = generate(&ShapesSpec {
        train_per_class: 8,
        test_per_class: 1,
        ..ShapesSpec::default()
    });
    let cpu = make_view_batch(&data.train, views, 11, step, batch);
    let (planned, plan) = plan_view_batch(&data.train, views, 11, step, batch);
    assert_eq!(planned.indices, cpu.indices);
    assert_eq!(planned.geometry, cpu.geometry);
    assert!(planned.data.is_empty());
    let made = render(&plan, &Device::flex());
    let pixels: Tensor<4> = made.views;
    assert_eq!(pixels.dims(), [2 * cpu.n, 3, cpu.size, cpu.size]);
    let device: Vec<f32> = pixels.into_data().iter::<f32>().collect();
    let mut gaps = differences(&cpu.data, &device);
    match made.local {
        None => assert_eq!(cpu.local_count, 0),
        Some(local) => {
            let s = cpu.local_size;
            assert_eq!(local.dims(), [cpu.local_count * cpu.n, 3, s, s]);
            let local: Vec<f32> = local.into_data().iter::<f32>().collect();
            gaps.extend(differences(&cpu.local, &local));
        }
    }
    gaps
}

fn only(steps: Vec<Transform>) -> ViewsSpec {
    ViewsSpec::same(ViewPipeline { steps })
}

/// SimCLR's views and two local crops of `size` pixels through `pipeline`.
fn multi_crop(size: usize, pipeline: ViewPipeline) -> ViewsSpec {
    let mut views = ViewsSpec::default();
    views.local.count = 2;
    views.local.size = size;
    views.local.pipeline = pipeline;
    views
}

fn crop() -> Transform {
    Transform::RandomResizedCrop(CropParams::default())
}

fn always(t: Transform) -> Transform {
    let mut t = t;
    match &mut t {
        Transform::HorizontalFlip(p)
        | Transform::VerticalFlip(p)
        | Transform::Grayscale(p)
        | Transform::Equalize(p) => p.p = 1.0,
        Transform::Rotation(r) => r.p = 1.0,
        Transform::Posterize(b) => b.p = 1.0,
        Transform::ColorJitter(j) => j.p = 1.0,
        Transform::GaussianBlur(b) => b.p = 1.0,
        Transform::Solarize(s) => s.p = 1.0,
        Transform::RandomErasing(e) => e.p = 1.0,
        _ => {}
    }
    t
}

// Views are normalised to -1..1, so 2e-5 is about 1e-5 of a pixel's range: float
// rounding, where a wrong formula or a swapped axis is off by tenths.
const TOLERANCE: f32 = 2e-5;

#[test]
fn each_op_alone_gives_the_cpus_views() {
    let half = ProbParams {
        enabled: true,
        p: 0.5,
    };
    let cases: Vec<(&str, Vec<Transform>)> = vec![
        ("crop", vec![crop()]),
        (
            "horizontal flip",
            vec![Transform::HorizontalFlip(half.clone())],
        ),
        ("vertical flip", vec![Transform::VerticalFlip(half.clone())]),
        (
            "jitter",
            vec![always(Transform::ColorJitter(JitterParams {
                hue: 0.5,
                ..JitterParams::default()
            }))],
        ),
        ("greyscale", vec![Transform::Grayscale(half.clone())]),
        (
            "blur",
            // Wide sigmas reflect more than once off a 32-pixel edge.
            vec![always(Transform::GaussianBlur(BlurParams {
                sigma: [0.1, 10.0],
                ..BlurParams::default()
            }))],
        ),
        (
            "solarize",
            vec![always(Transform::Solarize(SolarizeParams {
                threshold: 0.3,
                ..SolarizeParams::default()
            }))],
        ),
        (
            "erasing",
            vec![always(Transform::RandomErasing(ErasingParams::default()))],
        ),
        (
            "rotation",
            // Past 45 degrees the corners leave the image on every side.
            vec![always(Transform::Rotation(RotationParams {
                degrees: 180.0,
                ..RotationParams::default()
            }))],
        ),
        ("equalize", vec![always(Transform::Equalize(half.clone()))]),
        (
            "posterize, 3 bits",
            vec![always(Transform::Posterize(PosterizeParams {
                bits: 3,
                ..PosterizeParams::default()
            }))],
        ),
        (
            "posterize, 0 and 8 bits",
            vec![
                Transform::Posterize(PosterizeParams {
                    bits: 8,
                    ..PosterizeParams::default()
                }),
                Transform::Posterize(PosterizeParams {
                    bits: 0,
                    p: 0.3,
                    ..PosterizeParams::default()
                }),
            ],
        ),
    ];
    for (name, steps) in cases {
        for step in 0..3 {
            let gap = largest_gap(&only(steps.clone()), step, 16);
            assert!(gap <= TOLERANCE, "{name}, step {step}: off by {gap}");
        }
    }
}

#[test]
fn whole_pipelines_give_the_cpus_views() {
    let every_op = vec![
        crop(),
        always(Transform::HorizontalFlip(ProbParams::default())),
        Transform::VerticalFlip(ProbParams::default()),
        always(Transform::ColorJitter(JitterParams::default())),
        Transform::Grayscale(ProbParams::default()),
        always(Transform::GaussianBlur(BlurParams::default())),
        always(Transform::Solarize(SolarizeParams::default())),
        Transform::RandomErasing(ErasingParams::default()),
        always(Transform::Rotation(RotationParams::default())),
    ];
    let cases = [
        ("SimCLR", ViewsSpec::default()),
        (
            "BYOL's asymmetric pair",
            ViewsSpec::byol(ViewPipeline::default()),
        ),
        (
            "strong colour",
            ViewsSpec::same(ViewPipeline::strong_colour()),
        ),
        ("every op", only(every_op)),
        (
            "SwAV's multi-crop",
            multi_crop(12, ViewPipeline::strong_colour()),
        ),
        // Without a crop, a local view is the whole image resized, as on the CPU.
        (
            "multi-crop, no crop",
            multi_crop(
                16,
                ViewPipeline {
                    steps: vec![always(Transform::GaussianBlur(BlurParams::default()))],
                },
            ),
        ),
    ];
    for (name, views) in cases {
        for step in 0..2 {
            let gap = largest_gap(&views, step, 32);
            assert!(gap <= TOLERANCE, "{name}, step {step}: off by {gap}");
        }
    }
}

/// The level ops after resampling and colour. A value the two sides compute a rounding
/// apart can land on either side of a level's boundary (`round(v * 255)`), and one such
/// pixel can move a whole channel through equalize's lookup table (its counts change):
/// the CPU's own arithmetic at a kink, as a ReLU's gate. So the steps before are compared
/// level by level first, and every channel whose levels agree must agree after the op.
#[test]
fn level_ops_after_resampling_agree_wherever_the_levels_do() {
    let before = only(vec![
        crop(),
        always(Transform::ColorJitter(JitterParams::default())),
        always(Transform::GaussianBlur(BlurParams::default())),
    ]);
    let data = generate(&ShapesSpec {
        train_per_class: 8,
        test_per_class: 1,
        ..ShapesSpec::default()
    });
    let channel = 32 * 32;
    // 8-bit levels of the normalised views ((x - 0.5) / 0.5).
    let level = |y: f32| ((y * 0.5 + 0.5) * 255.0).round();
    for last in [
        Transform::Equalize(ProbParams::default()),
        Transform::Posterize(PosterizeParams::default()),
    ] {
        let mut then = before.clone();
        then.view1.steps.push(always(last.clone()));
        then.view2.steps.push(always(last.clone()));
        for step in 0..2 {
            let cpu = make_view_batch(&data.train, &before, 11, step, 32).data;
            let (_, plan) = plan_view_batch(&data.train, &before, 11, step, 32);
            let device: Vec<f32> = render(&plan, &Device::flex())
                .views
                .into_data()
                .iter::<f32>()
                .collect();
            let flipped: Vec<bool> = cpu
                .chunks(channel)
                .zip(device.chunks(channel))
                .map(|(a, b)| a.iter().zip(b).any(|(a, b)| level(*a) != level(*b)))
                .collect();
            let flips = flipped.iter().filter(|&&f| f).count();
            assert!(
                flips * 20 <= flipped.len(),
                "{flips} channels' levels differ"
            );
            let gaps = gaps(&then, step, 32);
            for (k, gaps) in gaps.chunks(channel).enumerate() {
                let gap = gaps.iter().fold(0f32, |m, g| m.max(*g));
                assert!(
                    flipped[k] || gap <= TOLERANCE,
                    "{}, step {step}: channel {k} is off by {gap} with the same levels",
                    last.op()
                );
            }
        }
    }
}

#[test]
fn views_made_on_the_device_train_as_the_cpus_do() {
    use contrastive_workbench::catalogue::{MethodSpec, methods};
    use contrastive_workbench::engine::session::run_experiment;
    use contrastive_workbench::preset::AugmentOn;
    // burn's generator is one per process; nothing else in this file draws from it, so
    // the two runs start from the same weights.
    let run = |exp: &contrastive_workbench::preset::Experiment| {
        let dataset = exp.dataset.load().unwrap();
        let (_keep, rx) = crossbeam_channel::bounded(1);
        let mut warnings = Vec::new();
        let result = run_experiment(exp, &dataset, &rx, &mut |ev| {
            if let Event::Warning { message } = ev {
                warnings.push(message);
            }
        });
        assert!(result.failed.is_none(), "{:?}", result.failed);
        let losses: Vec<f32> = result.metrics.steps.iter().map(|m| m.loss).collect();
        assert_eq!(losses.len(), 3);
        (losses, warnings)
    };
    let same_losses = |exp: &mut contrastive_workbench::preset::Experiment| {
        exp.train.augment_on = AugmentOn::Cpu;
        let (on_cpu, _) = run(exp);
        exp.train.augment_on = AugmentOn::Device;
        let (on_device, warnings) = run(exp);
        assert!(
            warnings.iter().all(|w| !w.contains("augment_on")),
            "{warnings:?}"
        );
        for (a, b) in on_cpu.iter().zip(&on_device) {
            assert!(
                (a - b).abs() <= 1e-4 * a.abs(),
                "{}: {on_cpu:?} vs {on_device:?}",
                exp.method.kind
            );
        }
    };
    // SwAV trains on two local crops besides the views.
    let mut swav = common::tiny_experiment(8, 16, 3);
    swav.method = MethodSpec::with_defaults(methods().find(|m| m.id == "swav").unwrap());
    swav.views.local.count = 2;
    swav.views.local.size = 12;
    same_losses(&mut swav);
    let mut exp = common::tiny_experiment(8, 16, 3);
    same_losses(&mut exp);
    // Rotation, the one geometric step besides crops and flips.
    exp.views
        .view1
        .steps
        .push(always(Transform::Rotation(RotationParams::default())));
    same_losses(&mut exp);
}
