//! The silhouette (Rousseeuw 1987) of a labelled 2-D layout: how much the picture's
//! clusters are the labels. For each point, `a` is its mean distance to the other points
//! of its label and `b` the smallest mean distance to the points of another label;
//! `s = (b - a) / max(a, b)`, and the score is the mean of `s` over the points. 1: tight
//! clusters far apart; 0: the labels mixed; below 0: points nearer another label. A point
//! alone in its label counts 0, as Rousseeuw defines it. Written here (twenty lines)
//! rather than taken from a clustering crate, which would bring a whole ML stack.

/// The mean silhouette of `points` grouped by `labels`, or `None` with fewer than two
/// labels present.
pub fn silhouette(points: &[[f32; 2]], labels: &[u16]) -> Option<f32> {
    let n = points.len().min(labels.len());
    let groups = labels[..n].iter().copied().max()? as usize + 1;
    let mut sizes = vec![0usize; groups];
    for &l in &labels[..n] {
        sizes[l as usize] += 1;
    }
    if sizes.iter().filter(|&&s| s > 0).count() < 2 {
        return None;
    }
    let mut total = 0.0f64;
    let mut sums = vec![0.0f64; groups];
    for i in 0..n {
        sums.iter_mut().for_each(|s| *s = 0.0);
        let [xi, yi] = points[i];
        for j in 0..n {
            let [xj, yj] = points[j];
            sums[labels[j] as usize] += f64::from((xi - xj).hypot(yi - yj));
        }
        let own = labels[i] as usize;
        if sizes[own] < 2 {
            continue;
        }
        let a = sums[own] / (sizes[own] - 1) as f64;
        let b = (0..groups)
            .filter(|&g| g != own && sizes[g] > 0)
            .map(|g| sums[g] / sizes[g] as f64)
            .fold(f64::INFINITY, f64::min);
        let spread = a.max(b);
        if spread > 0.0 {
            total += (b - a) / spread;
        }
    }
    Some((total / n as f64) as f32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_pairs_on_a_line_score_as_computed_by_hand() {
        // Label 0 at x = 0 and 1, label 1 at x = 10 and 11.
        let points = [[0.0, 0.0], [1.0, 0.0], [10.0, 0.0], [11.0, 0.0]];
        let s = silhouette(&points, &[0, 0, 1, 1]).unwrap();
        // x = 0: a = 1, b = (10 + 11) / 2; x = 1: a = 1, b = (9 + 10) / 2; the same mirrored.
        let by_hand = (9.5 / 10.5 + 8.5 / 9.5) / 2.0;
        assert!((s - by_hand).abs() < 1e-6, "{s} vs {by_hand}");
        // The same points labelled across the clusters: each is nearer the other label.
        let crossed = silhouette(&points, &[0, 1, 0, 1]).unwrap();
        assert!(crossed < 0.0, "{crossed}");
    }

    #[test]
    fn mixed_labels_score_near_zero_and_one_label_has_none() {
        // A grid with labels in a checkerboard-free repeating pattern: no label clusters.
        let points: Vec<[f32; 2]> = (0..400)
            .map(|i| [(i % 20) as f32, (i / 20) as f32])
            .collect();
        let labels: Vec<u16> = (0..400).map(|i| ((i * 7 + i / 20) % 4) as u16).collect();
        let s = silhouette(&points, &labels).unwrap();
        assert!(s.abs() < 0.05, "{s}");
        assert_eq!(silhouette(&points, &vec![3; 400]), None);
    }

    #[test]
    fn a_point_alone_in_its_label_counts_zero() {
        let points = [[0.0, 0.0], [0.1, 0.0], [5.0, 0.0]];
        let s = silhouette(&points, &[0, 0, 1]).unwrap();
        // x = 0: a = 0.1, b = 5; x = 0.1: a = 0.1, b = 4.9; x = 5 is alone and counts 0.
        let by_hand = ((5.0 - 0.1) / 5.0 + (4.9 - 0.1) / 4.9) / 3.0;
        assert!((s - by_hand).abs() < 1e-5, "{s} vs {by_hand}");
    }
}
