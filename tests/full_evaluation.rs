//! The full-split protocol: asked for, it scores the whole of both splits at step 0 and
//! at the end, and its figures are what an independent kNN over all features gives.
#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

mod common;

use contrastive_workbench::engine::evaluate::embed_images;
use contrastive_workbench::metrics::{KnnParams, knn_accuracy};

#[test]
fn the_full_protocol_scores_every_image_at_the_start_and_the_end() {
    let mut exp = common::tiny_experiment(20, 16, 3);
    exp.eval.full_split = true;
    let dataset = exp.dataset.load().unwrap();
    let result = common::run_to_end(&exp);
    assert!(result.failed.is_none(), "{:?}", result.failed);
    let reports = &result.metrics.full_evals;
    assert_eq!(reports.iter().map(|r| r.step).collect::<Vec<_>>(), [0, 3]);
    let last = reports.last().unwrap();
    assert_eq!(
        (last.train_images, last.test_images),
        (dataset.train.len(), dataset.test.len())
    );
    let settings: Vec<(usize, f32)> = last.knn.iter().map(|k| (k.k, k.temperature)).collect();
    assert_eq!(settings, [(20, 0.1), (200, 0.1)]);
    assert!((0.0..=1.0).contains(&last.probe_top1));
    assert!(last.seconds > 0.0);

    // The same figures from every image's features, scored independently.
    let method = result.method.as_deref().unwrap();
    let device = result.device.as_ref().unwrap();
    let all = |n: usize| (0..n).collect::<Vec<_>>();
    let norm = &exp.views.normalize;
    let (bank, d) = embed_images(
        method,
        &dataset.train,
        &all(dataset.train.len()),
        norm,
        device,
    );
    let (queries, _) = embed_images(
        method,
        &dataset.test,
        &all(dataset.test.len()),
        norm,
        device,
    );
    for figure in &last.knn {
        let params = KnnParams {
            k: figure.k,
            temperature: figure.temperature,
        };
        let top1 = knn_accuracy(
            &bank,
            &dataset.train.labels,
            &queries,
            &dataset.test.labels,
            d,
            dataset.class_names.len(),
            params,
        );
        assert_eq!(figure.top1, top1, "k = {}", figure.k);
    }
    // The export's table has both rows.
    let csv = result.metrics.full_evals_csv();
    assert_eq!(csv.lines().count(), 3, "{csv}");
    assert!(csv.starts_with("step,train_images,test_images,knn_top1_k20_t0.1,knn_top1_k200_t0.1"));
}

#[test]
fn without_asking_no_full_evaluation_runs() {
    let exp = common::tiny_experiment(10, 16, 2);
    assert!(common::run_to_end(&exp).metrics.full_evals.is_empty());
}
