//! Views made on the device (`train.augment_on = "device"`) against the CPU's: the same
//! draws rendered with burn's tensor ops (here on flex) must give `make_view_batch`'s
//! pixels, op by op and together, with the same indices and geometry.
#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

mod common;

use burn::tensor::{Device, Tensor};

use contrastive_workbench::data::shapes::{ShapesSpec, generate};
use contrastive_workbench::device_views::render;
use contrastive_workbench::engine::Event;
use contrastive_workbench::views::drawn::Drawn;
use contrastive_workbench::views::pipeline::ViewsSpec;
use contrastive_workbench::views::plan::{PlannedStep, device_unsupported, plan_view_batch};
use contrastive_workbench::views::transform::{
    BlurParams, CropParams, ErasingParams, JitterParams, ProbParams, RotationParams, SolarizeParams,
};
use contrastive_workbench::views::{Transform, ViewPipeline, make_view_batch};

/// The largest |a - b|, NaN if any is NaN.
fn gap(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).fold(0f32, |m, (a, b)| {
        if (a - b).is_nan() {
            f32::NAN
        } else {
            m.max((a - b).abs())
        }
    })
}

/// The largest |device - CPU| over the batch's normalised views (and local crops) at
/// `step`.
fn largest_gap(views: &ViewsSpec, step: u64, batch: usize) -> f32 {
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
    let made = render(&plan, &Device::flex()).unwrap();
    let pixels: Tensor<4> = made.views;
    assert_eq!(pixels.dims(), [2 * cpu.n, 3, cpu.size, cpu.size]);
    let device: Vec<f32> = pixels.into_data().iter::<f32>().collect();
    let local_gap = match made.local {
        None => {
            assert_eq!(cpu.local_count, 0);
            0.0
        }
        Some(local) => {
            let s = cpu.local_size;
            assert_eq!(local.dims(), [cpu.local_count * cpu.n, 3, s, s]);
            gap(
                &cpu.local,
                &local.into_data().iter::<f32>().collect::<Vec<_>>(),
            )
        }
    };
    gap(&cpu.data, &device).max(local_gap)
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
        Transform::HorizontalFlip(p) | Transform::VerticalFlip(p) | Transform::Grayscale(p) => {
            p.p = 1.0
        }
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
        assert_eq!(device_unsupported(&views), None, "{name}");
        for step in 0..2 {
            let gap = largest_gap(&views, step, 32);
            assert!(gap <= TOLERANCE, "{name}, step {step}: off by {gap}");
        }
    }
}

#[test]
fn what_the_device_cannot_make_is_named_and_refused() {
    let mut views = ViewsSpec::default();
    views
        .view2
        .steps
        .push(Transform::Rotation(RotationParams::default()));
    let why = device_unsupported(&views).unwrap();
    assert!(why.contains("views.view2[5] (rotation)"), "{why}");
    // Switched off, it is no obstacle.
    if let Some(Transform::Rotation(r)) = views.view2.steps.last_mut() {
        r.enabled = false;
    }
    assert_eq!(device_unsupported(&views), None);
    let mut multi = multi_crop(12, ViewPipeline::default());
    assert_eq!(device_unsupported(&multi), None);
    multi
        .local
        .pipeline
        .steps
        .insert(1, Transform::Rotation(RotationParams::default()));
    let why = device_unsupported(&multi).unwrap();
    assert!(why.contains("views.local.pipeline[1] (rotation)"), "{why}");
    // Unused local crops (count 0) are no obstacle.
    multi.local.count = 0;
    assert_eq!(device_unsupported(&multi), None);

    // A plan holding such a step anyway is an error, not a wrong picture.
    let data = generate(&ShapesSpec {
        train_per_class: 2,
        test_per_class: 1,
        ..ShapesSpec::default()
    });
    let (_, mut plan) = plan_view_batch(&data.train, &ViewsSpec::default(), 1, 0, 4);
    plan.views[0].steps.push(PlannedStep {
        draws: vec![Some(Drawn::Rotate { degrees: 10.0 }); 4],
        size: plan.size,
    });
    let Err(err) = render(&plan, &Device::flex()) else {
        panic!("a rotation rendered");
    };
    assert!(err.contains("Rotate"), "{err}");
}

#[test]
fn views_made_on_the_device_train_as_the_cpus_do() {
    use contrastive_workbench::catalogue::{MethodSpec, methods};
    use contrastive_workbench::engine::session::run_experiment;
    use contrastive_workbench::preset::AugmentOn;
    use contrastive_workbench::views::Transform;
    use contrastive_workbench::views::transform::RotationParams;
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
    // A step the device lacks keeps the views on the CPU, and says so.
    exp.views
        .view1
        .steps
        .push(Transform::Rotation(RotationParams::default()));
    let (_, warnings) = run(&exp);
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("views.view1[5] (rotation) runs on the CPU only")),
        "{warnings:?}"
    );
}

#[test]
fn a_remote_run_keeps_its_views_on_the_cpu_and_says_so() {
    use contrastive_workbench::engine::session::view_source::views_on_device;
    use contrastive_workbench::preset::{AugmentOn, BackendChoice};
    let mut exp = common::tiny_experiment(8, 16, 3);
    exp.train.augment_on = AugmentOn::Device;
    let mut warnings = Vec::new();
    assert!(views_on_device(&exp, &exp.views, &mut |e| warnings.push(e)));
    assert!(warnings.is_empty(), "{warnings:?}");
    exp.train.backend = BackendChoice::Remote;
    assert!(!views_on_device(&exp, &exp.views, &mut |e| warnings.push(e)));
    assert!(
        matches!(&warnings[..], [Event::Warning { message }] if message.contains("remote")),
        "{warnings:?}"
    );
}
