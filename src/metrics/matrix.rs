//! Small helpers over row-major `[n, d]` slices.

/// Row `i` of a row-major matrix with `d` columns.
pub fn row(m: &[f32], d: usize, i: usize) -> &[f32] {
    &m[i * d..(i + 1) * d]
}

/// A copy with every row scaled to unit L2 norm (zero rows stay zero).
pub fn l2_normalized_rows(m: &[f32], d: usize) -> Vec<f32> {
    let mut out = m.to_vec();
    for r in out.chunks_exact_mut(d) {
        let n = r.iter().map(|v| v * v).sum::<f32>().sqrt();
        if n > 1e-12 {
            r.iter_mut().for_each(|v| *v /= n);
        }
    }
    out
}

pub fn squared_distance(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}
