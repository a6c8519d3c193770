//! Test data and checks shared by the t-SNE and UMAP tests: clustered points, and "the
//! layout keeps the clusters apart".

use rand::{RngExt, SeedableRng};

/// `k` clusters of `per` points around random centres in `d` dims, and their labels.
pub fn clusters(k: usize, per: usize, d: usize, spread: f32) -> (Vec<f32>, Vec<usize>) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let centres: Vec<Vec<f32>> = (0..k)
        .map(|_| (0..d).map(|_| rng.random_range(-1.0..1.0f32)).collect())
        .collect();
    let mut x = Vec::new();
    let mut labels = Vec::new();
    for (c, centre) in centres.iter().enumerate() {
        for _ in 0..per {
            x.extend(
                centre
                    .iter()
                    .map(|v| v + spread * rng.random_range(-1.0..1.0f32)),
            );
            labels.push(c);
        }
    }
    (x, labels)
}

fn dist(a: [f32; 2], b: [f32; 2]) -> f32 {
    ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2)).sqrt()
}

/// Centroid of cluster `c` in layout `y`, and the farthest member's distance from it.
pub fn centroid(y: &[[f32; 2]], labels: &[usize], c: usize) -> ([f32; 2], f32) {
    let pts: Vec<[f32; 2]> = (0..y.len())
        .filter(|&i| labels[i] == c)
        .map(|i| y[i])
        .collect();
    let m = pts.iter().fold([0.0; 2], |a, q| [a[0] + q[0], a[1] + q[1]]);
    let m = [m[0] / pts.len() as f32, m[1] / pts.len() as f32];
    let radius = pts.iter().map(|q| dist(*q, m)).fold(0.0f32, f32::max);
    (m, radius)
}

/// Every point's nearest other point is from its own cluster, and every two of the `k`
/// clusters are farther apart than they are wide.
pub fn assert_clusters_kept_apart(y: &[[f32; 2]], labels: &[usize], k: usize) {
    for i in 0..y.len() {
        let nearest = (0..y.len())
            .filter(|&j| j != i)
            .min_by(|&a, &b| dist(y[a], y[i]).total_cmp(&dist(y[b], y[i])))
            .expect("at least two points");
        assert_eq!(labels[nearest], labels[i], "point {i}");
    }
    for a in 0..k {
        for b in a + 1..k {
            let ((ma, ra), (mb, rb)) = (centroid(y, labels, a), centroid(y, labels, b));
            let gap = dist(ma, mb);
            assert!(
                gap > ra + rb,
                "clusters {a} and {b}: gap {gap}, radii {ra} {rb}"
            );
        }
    }
}
