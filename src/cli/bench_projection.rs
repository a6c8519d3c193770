//! `bench` figures for the live views: PCA of 10k x 128, an exact t-SNE iteration and a
//! UMAP epoch on 2k points, a nearest-neighbour lookup and the linear probe, on synthetic clustered
//! embeddings. Each is also given as a ratio to a 60 fps frame (16.7 ms), the budget an
//! animated view has to fit in on its own thread.

use std::time::Instant;

use rand::{RngExt, SeedableRng};

use crate::metrics::{ProbeParams, linear_probe};
use crate::projection::{Tsne, Umap, nearest_cosine, pca_2d};

const FRAME_MS: f64 = 1000.0 / 60.0;

/// `n` rows of `d` features in 10 clusters, and their cluster labels.
fn clustered(n: usize, d: usize, seed: u64) -> (Vec<f32>, Vec<u16>) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let centres: Vec<f32> = (0..10 * d)
        .map(|_| rng.random_range(-1.0..1.0f32))
        .collect();
    let mut x = Vec::with_capacity(n * d);
    let mut y = Vec::with_capacity(n);
    for i in 0..n {
        let c = i % 10;
        x.extend((0..d).map(|k| centres[c * d + k] + rng.random_range(-0.6..0.6f32)));
        y.push(c as u16);
    }
    (x, y)
}

/// Median wall time of `runs` calls, in milliseconds.
fn median_ms(runs: usize, mut f: impl FnMut()) -> f64 {
    let mut times: Vec<f64> = (0..runs)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

pub fn projection_bench() {
    let (x, y) = clustered(10_000, 128, 1);
    let pca = median_ms(5, || drop(pca_2d(&x, 128)));
    crate::outln!(
        "PCA to 2-D of 10,000 x 128: {pca:.1} ms (median of 5) = {:.2} frames at 60 fps",
        pca / FRAME_MS
    );
    let nn = median_ms(5, || drop(nearest_cosine(&x, 128, 0, 8)));
    crate::outln!(
        "nearest 8 neighbours (cosine) among 10,000 x 128: {nn:.2} ms = {:.3} frames",
        nn / FRAME_MS
    );

    for n in [1000, 2000] {
        let (small, _) = clustered(n, 128, 2);
        let t = Instant::now();
        let mut tsne = Tsne::new(&small, 128, 30.0);
        let setup = t.elapsed().as_secs_f64() * 1e3;
        let iters = 50;
        let t = Instant::now();
        for _ in 0..iters {
            tsne.step();
        }
        let per = t.elapsed().as_secs_f64() * 1e3 / iters as f64;
        crate::outln!(
            "t-SNE (exact gradient) on {n} points: affinities {setup:.0} ms once per evaluation, then \
             {:.0} iterations/s ({per:.1} ms each = {:.2} frames)",
            1e3 / per,
            per / FRAME_MS
        );
    }

    let (small, _) = clustered(2000, 128, 2);
    let t = Instant::now();
    let mut umap = Umap::new(&small, 128, 15);
    let setup = t.elapsed().as_secs_f64() * 1e3;
    let epochs = 50;
    let t = Instant::now();
    for _ in 0..epochs {
        umap.step();
    }
    let per = t.elapsed().as_secs_f64() * 1e3 / epochs as f64;
    crate::outln!(
        "UMAP on 2000 points (15 neighbours): graph {setup:.0} ms once per evaluation, then \
         {:.0} epochs/s ({per:.2} ms each = {:.2} frames)",
        1e3 / per,
        per / FRAME_MS
    );

    let (train_x, train_y) = (&x[..2000 * 128], &y[..2000]);
    let (test_x, test_y) = (&x[2000 * 4 * 128..], &y[2000 * 4..]);
    let t = Instant::now();
    let score = linear_probe(
        train_x,
        train_y,
        test_x,
        test_y,
        128,
        10,
        ProbeParams::default(),
    );
    crate::outln!(
        "linear probe, 2,000 x 128 features, 10 classes, {} full-batch epochs: {:.0} ms \
         (scored on 2,000 held-out rows: {:.1}%)",
        ProbeParams::default().epochs,
        t.elapsed().as_secs_f64() * 1e3,
        100.0 * score.accuracy
    );
}
