//! The collapse signal of Chen & He (2021, SimSiam, sec. 4.1): the standard deviation of
//! L2-normalised embeddings, per dimension, averaged. Healthy representations spread over
//! the sphere give about 1/sqrt(d); a collapsed one (every input to one point) gives 0.

use super::matrix::l2_normalized_rows;

/// Mean over dimensions of the (population) std across rows of the row-normalised `z`.
pub fn normalized_std(z: &[f32], d: usize) -> f32 {
    let u = l2_normalized_rows(z, d);
    let rows = u.len() / d;
    if rows == 0 {
        return f32::NAN;
    }
    let mut total = 0.0f64;
    for c in 0..d {
        let col = (0..rows).map(|r| f64::from(u[r * d + c]));
        let mean = col.clone().sum::<f64>() / rows as f64;
        let var = col.map(|v| (v - mean).powi(2)).sum::<f64>() / rows as f64;
        total += var.sqrt();
    }
    (total / d as f64) as f32
}

/// The value a healthy, isotropic `d`-dimensional embedding reaches.
pub fn healthy_std(d: usize) -> f32 {
    1.0 / (d as f32).sqrt()
}

/// True when the std has fallen below a quarter of the healthy value: the dashboard's alarm.
pub fn is_collapsing(z_std: f32, d: usize) -> bool {
    z_std.is_finite() && z_std < 0.25 * healthy_std(d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::RngExt;

    #[test]
    fn collapsed_is_zero_and_gaussian_is_near_one_over_sqrt_d() {
        let d = 64;
        let same: Vec<f32> = (0..100).flat_map(|_| (0..d).map(|c| c as f32)).collect();
        assert!(normalized_std(&same, d) < 1e-6);
        assert!(is_collapsing(normalized_std(&same, d), d));

        let mut rng = crate::seeding::rng_for(0, crate::seeding::Stream::Sample, &[]);
        let gauss: Vec<f32> = (0..2000 * d)
            .map(|_| {
                // Box-Muller.
                let (u1, u2): (f32, f32) = (rng.random_range(1e-7..1.0), rng.random());
                (-2.0 * u1.ln()).sqrt() * (std::f32::consts::TAU * u2).cos()
            })
            .collect();
        let s = normalized_std(&gauss, d);
        assert!((s - healthy_std(d)).abs() < 0.01, "{s}");
        assert!(!is_collapsing(s, d));
    }
}
