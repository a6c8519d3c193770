//! The trainer thread obeys its channel: pause, resume, stop; a panic inside the run
//! becomes an error event instead of a hung UI.
#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use contrastive_workbench::data::Dataset;
use contrastive_workbench::engine::{Command, Event, TrainerHandle, spawn_trainer};

fn wait_for(
    h: &TrainerHandle,
    timeout: Duration,
    mut pred: impl FnMut(&Event) -> bool,
) -> Vec<Event> {
    let deadline = Instant::now() + timeout;
    let mut seen = Vec::new();
    while Instant::now() < deadline {
        if let Ok(ev) = h.events.recv_timeout(Duration::from_millis(50)) {
            let done = pred(&ev);
            seen.push(ev);
            if done {
                return seen;
            }
        }
    }
    panic!("timed out; events so far: {seen:?}");
}

#[test]
fn pause_resume_and_stop_through_the_channel() {
    let exp = common::tiny_experiment(8, 16, 100_000);
    let dataset = Arc::new(exp.dataset.load().unwrap());
    let repaints = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&repaints);
    let h = spawn_trainer(
        exp,
        dataset,
        Arc::new(move || {
            counter.fetch_add(1, Ordering::SeqCst);
        }),
    );
    let limit = Duration::from_secs(120);
    wait_for(&h, limit, |e| matches!(e, Event::Started { .. }));
    wait_for(&h, limit, |e| matches!(e, Event::Step(m) if m.step >= 2));

    h.send(Command::Pause);
    let seen = wait_for(&h, limit, |e| matches!(e, Event::Paused { .. }));
    let paused_at = match seen.last() {
        Some(Event::Paused { step }) => *step,
        _ => unreachable!(),
    };
    // While paused no step is taken.
    std::thread::sleep(Duration::from_millis(600));
    let during: Vec<Event> = h.events.try_iter().collect();
    assert!(
        !during.iter().any(|e| matches!(e, Event::Step(_))),
        "stepped while paused: {during:?}"
    );

    h.send(Command::Resume);
    wait_for(
        &h,
        limit,
        |e| matches!(e, Event::Resumed { step } if *step == paused_at),
    );
    wait_for(
        &h,
        limit,
        |e| matches!(e, Event::Step(m) if m.step > paused_at),
    );

    // Step from a pause: exactly one step, reported, then paused again.
    h.send(Command::Pause);
    let seen = wait_for(&h, limit, |e| matches!(e, Event::Paused { .. }));
    let Some(Event::Paused { step: before_step }) = seen.last().cloned() else {
        unreachable!()
    };
    h.send(Command::Step);
    let seen = wait_for(&h, limit, |e| matches!(e, Event::Paused { .. }));
    let stepped: Vec<u64> = seen
        .iter()
        .filter_map(|e| match e {
            Event::Step(m) => Some(m.step),
            _ => None,
        })
        .collect();
    assert_eq!(stepped, vec![before_step + 1], "{seen:?}");
    let Some(Event::Paused { step: paused_again }) = seen.last().cloned() else {
        unreachable!()
    };
    assert_eq!(paused_again, before_step + 1);

    // Stopping a paused run takes no further step: it finishes where it paused.
    h.send(Command::Stop);
    let seen = wait_for(&h, limit, |e| matches!(e, Event::Finished { .. }));
    assert!(
        matches!(seen.last(), Some(Event::Finished { step, stopped: true }) if *step == paused_again),
        "stopped at {paused_again}, finished as {:?}",
        seen.last()
    );
    assert!(
        !seen.iter().any(|e| matches!(e, Event::Step(_))),
        "stepped after stop: {seen:?}"
    );
    assert!(
        repaints.load(Ordering::SeqCst) > 0,
        "the UI was never woken"
    );
}

#[test]
fn stopped_runs_can_still_export() {
    let exp = common::tiny_experiment(8, 16, 100_000);
    let dataset = Arc::new(exp.dataset.load().unwrap());
    let h = spawn_trainer(exp, dataset, Arc::new(|| {}));
    let limit = Duration::from_secs(120);
    wait_for(&h, limit, |e| matches!(e, Event::Step(_)));
    h.send(Command::Stop);
    wait_for(&h, limit, |e| matches!(e, Event::Finished { .. }));
    let dir = tempfile::tempdir().unwrap();
    h.send(Command::Export(dir.path().to_path_buf()));
    let seen = wait_for(&h, limit, |e| {
        matches!(e, Event::Exported { .. } | Event::ExportFailed { .. })
    });
    assert!(
        matches!(seen.last(), Some(Event::Exported { .. })),
        "{seen:?}"
    );
    assert!(dir.path().join("encoder.safetensors").exists());
    assert!(dir.path().join("preset.toml").exists());
}

#[test]
fn a_panic_in_the_trainer_becomes_a_failed_event() {
    let exp = common::tiny_experiment(8, 16, 10);
    let mut dataset: Dataset = exp.dataset.load().unwrap();
    // Corrupt the in-memory pixels: indexing an image now panics inside the run.
    dataset.train.pixels.truncate(100);
    let h = spawn_trainer(exp, Arc::new(dataset), Arc::new(|| {}));
    let seen = wait_for(&h, Duration::from_secs(120), |e| {
        matches!(e, Event::Failed { .. })
    });
    match seen.last() {
        Some(Event::Failed { message, .. }) => assert!(message.contains("crashed"), "{message}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn an_invalid_experiment_fails_with_the_field_named() {
    let mut exp = common::tiny_experiment(8, 16, 10);
    exp.train.learning_rate = -1.0;
    let dataset = Arc::new(exp.dataset.load().unwrap());
    let h = spawn_trainer(exp, dataset, Arc::new(|| {}));
    let seen = wait_for(&h, Duration::from_secs(30), |e| {
        matches!(e, Event::Failed { .. })
    });
    match seen.last() {
        Some(Event::Failed { message, .. }) => {
            assert!(message.contains("train.learning_rate"), "{message}")
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn multi_crop_runs_through_the_engine_for_the_methods_that_use_it() {
    use contrastive_workbench::catalogue::{MethodSpec, methods};
    for info in methods().filter(|m| m.needs.local_crops) {
        let mut exp = common::tiny_experiment(8, 8, 3);
        exp.encoder.channels = vec![8, 16];
        exp.method = MethodSpec::with_defaults(info);
        exp.views.local.count = 2;
        exp.views.local.size = 12;
        let result = common::run_to_end(&exp);
        assert!(result.failed.is_none(), "{}: {:?}", info.id, result.failed);
        assert_eq!(result.steps_done, 3, "{}", info.id);
        // Every step is logged (log_every = 1): the check below sees all three.
        assert_eq!(result.metrics.steps.len(), 3, "{}", info.id);
        assert!(result.metrics.steps.iter().all(|m| m.loss.is_finite()));
    }
    assert!(methods().filter(|m| m.needs.local_crops).count() >= 2);
}

#[test]
fn linear_probes_run_at_start_on_demand_and_at_the_end() {
    use contrastive_workbench::engine::session::run_experiment;
    let mut exp = common::tiny_experiment(8, 16, 6);
    exp.eval.every = 3;
    let dataset = exp.dataset.load().unwrap();
    let (tx, rx) = crossbeam_channel::unbounded();
    let mut probes = Vec::new();
    let mut finished_after_probes = false;
    let result = run_experiment(&exp, &dataset, &rx, &mut |ev| match ev {
        // Asked for after the middle evaluation, as the UI's button does.
        Event::Eval(e) if e.step == 3 => tx.send(Command::Probe).unwrap(),
        Event::Probe(p) => probes.push(p),
        Event::Finished { .. } => finished_after_probes = probes.len() == 3,
        _ => {}
    });
    assert!(result.failed.is_none(), "{:?}", result.failed);
    assert_eq!(
        probes.iter().map(|p| p.step).collect::<Vec<_>>(),
        vec![0, 3, 6]
    );
    assert!(
        finished_after_probes,
        "every probe is reported before Finished"
    );
    let classes = dataset.class_names.len();
    for p in &probes {
        // The step-0 probe is everyone's baseline.
        assert_eq!(p.baseline, probes[0].accuracy);
        assert_eq!(p.class_names, dataset.class_names);
        assert_eq!(p.confusion.len(), classes * classes);
        let total: u32 = p.confusion.iter().sum();
        assert_eq!(total as usize, exp.eval.query_size.min(dataset.test.len()));
        let hits: u32 = (0..classes).map(|c| p.confusion[c * classes + c]).sum();
        assert!((hits as f32 / total as f32 - p.accuracy).abs() < 1e-6);
    }
    assert_eq!(result.metrics.probes, probes);
    // The export carries the probe figures and the final confusion matrix.
    let dir = tempfile::tempdir().unwrap();
    let mut exported = Vec::new();
    contrastive_workbench::engine::session::export_and_report(
        dir.path(),
        &exp,
        &dataset,
        &result,
        &mut |e| exported.push(e),
    )
    .unwrap();
    let csv = std::fs::read_to_string(dir.path().join("probe.csv")).unwrap();
    assert_eq!(csv.lines().count(), 4, "{csv}");
    let confusion = std::fs::read_to_string(dir.path().join("confusion.csv")).unwrap();
    assert_eq!(confusion.lines().count(), classes + 1);
    assert!(
        confusion
            .lines()
            .nth(1)
            .unwrap()
            .starts_with(&format!("\"{}\"", dataset.class_names[0]))
    );
}

#[test]
fn projections_carry_each_images_two_views_in_the_same_picture() {
    use contrastive_workbench::engine::session::run_experiment;
    use contrastive_workbench::views::{ViewPipeline, ViewsSpec};
    let run = |views: ViewsSpec| {
        let mut exp = common::tiny_experiment(8, 16, 2);
        exp.views = views;
        let dataset = exp.dataset.load().unwrap();
        let (_tx, rx) = crossbeam_channel::unbounded();
        let mut frames = Vec::new();
        run_experiment(&exp, &dataset, &rx, &mut |ev| {
            if let Event::Projection(f) = ev {
                frames.push(f);
            }
        });
        frames
    };
    // With no augmentation both views are the image itself: they land on its point.
    let plain = run(ViewsSpec::same(ViewPipeline::identity()));
    let f = plain.last().unwrap();
    assert_eq!(f.view_pairs.len(), 100.min(f.points.len()));
    for (pair, point) in f.view_pairs.iter().zip(&f.points) {
        for v in pair {
            assert!(
                (v[0] - point[0]).abs() < 1e-3 && (v[1] - point[1]).abs() < 1e-3,
                "{v:?} vs {point:?}"
            );
        }
    }
    // With augmentation the two views of an image land apart.
    let augmented = run(ViewsSpec::same(ViewPipeline::default()));
    let apart = augmented[0]
        .view_pairs
        .iter()
        .filter(|p| (p[0][0] - p[1][0]).abs() + (p[0][1] - p[1][1]).abs() > 1e-3)
        .count();
    assert!(apart > 90, "{apart} of 100 pairs differ");
}

#[test]
fn an_image_folder_with_nothing_held_out_names_the_field() {
    use contrastive_workbench::data::DatasetSpec;
    use contrastive_workbench::data::image_folder::ImageFolderSpec;
    let dir = tempfile::tempdir().unwrap();
    for class in ["a", "b"] {
        for i in 0..3 {
            let img = image::RgbImage::from_pixel(8, 8, image::Rgb([i * 60, 10, 200]));
            std::fs::create_dir_all(dir.path().join(class)).unwrap();
            img.save(dir.path().join(format!("{class}/{i}.png")))
                .unwrap();
        }
    }
    let mut exp = common::tiny_experiment(8, 4, 2);
    exp.dataset = DatasetSpec::ImageFolder(ImageFolderSpec {
        held_out: 0.0,
        size: 16,
        ..ImageFolderSpec::at(dir.path())
    });
    let dataset = exp.dataset.load().unwrap();
    let (_keep, commands) = crossbeam_channel::bounded(1);
    let result = contrastive_workbench::engine::session::run_experiment(
        &exp,
        &dataset,
        &commands,
        &mut |_| {},
    );
    let message = result.failed.unwrap();
    assert!(message.contains("dataset.held_out = 0"), "{message}");
}

#[test]
fn every_method_is_measured_on_the_encoder_output_with_its_own_space_beside_it() {
    let encoder_width = common::tiny_experiment(4, 8, 2).encoder.output_dim();
    for id in ["simclr", "moco", "cmc"] {
        let mut exp = common::tiny_experiment(4, 8, 2);
        let info = contrastive_workbench::catalogue::find(id).unwrap();
        exp.method = contrastive_workbench::catalogue::MethodSpec::with_defaults(info);
        let result = common::run_to_end(&exp);
        assert!(result.failed.is_none(), "{id}: {:?}", result.failed);
        for m in &result.metrics.steps {
            // 1/sqrt(d) of the encoder's width: the figures are on h, whatever the method.
            let healthy = 1.0 / (encoder_width as f32).sqrt();
            assert!(
                (m.z_std_healthy - healthy).abs() < 1e-6,
                "{id}: {}",
                m.z_std_healthy
            );
            let own = m.own.as_ref().unwrap();
            assert!(own.align.is_finite() && !own.space.is_empty(), "{id}");
        }
    }
}

#[test]
fn evaluations_score_each_nuisance_attribute_and_the_projection_carries_them() {
    let exp = common::tiny_experiment(10, 16, 2);
    let dataset = exp.dataset.load().unwrap();
    let (_keep, commands) = crossbeam_channel::bounded(1);
    let mut frames = Vec::new();
    let result = contrastive_workbench::engine::session::run_experiment(
        &exp,
        &dataset,
        &commands,
        &mut |ev| {
            if let Event::Projection(f) = ev {
                frames.push(f);
            }
        },
    );
    assert!(result.failed.is_none(), "{:?}", result.failed);
    let last = result.metrics.evals.last().unwrap();
    let names: Vec<&str> = last.attributes.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(names, ["colour", "background", "size"]);
    let first = &result.metrics.evals[0];
    for (a, b) in last.attributes.iter().zip(&first.attributes) {
        assert!((0.0..=1.0).contains(&a.top1) && a.chance > 0.0 && a.chance <= 1.0);
        assert_eq!(
            a.baseline_top1, b.top1,
            "{}: the baseline is step 0's",
            a.name
        );
    }
    // Each projected point carries its image's values.
    let frame = frames.last().unwrap();
    for (a, values) in frame.attributes.iter().zip(&dataset.test.attributes) {
        for (p, &i) in frame.indices.iter().enumerate() {
            assert_eq!(a.of_point[p], values[i], "{} of point {p}", a.name);
        }
    }
    // Per class: every class, and the classes' correct queries add up to the overall top-1.
    let names: Vec<&str> = last.per_class.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, dataset.class_names);
    let queries: usize = last.per_class.iter().map(|c| c.queries).sum();
    assert_eq!(queries, frame.indices.len());
    let right: f32 = last
        .per_class
        .iter()
        .map(|c| c.top1 * c.queries as f32)
        .sum();
    assert!((right / queries as f32 - last.knn_top1).abs() < 1e-5);
    let csv = result.metrics.evals_csv();
    let header = csv.lines().next().unwrap();
    assert!(header.starts_with(
        "step,knn_top1,baseline_top1,knn_colour_top1,knn_background_top1,knn_size_top1,knn_class_"
    ), "{header}");
    assert_eq!(header.split(',').count(), 6 + dataset.class_names.len());
}
