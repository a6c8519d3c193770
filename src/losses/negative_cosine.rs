//! The negative cosine similarity of SimSiam and BYOL (up to a constant): D(p, z) =
//! -mean_i cos(p_i, z_i). Callers apply the stop-gradient to `z` when the method wants it.

use burn::tensor::Tensor;

use super::l2_normalize;

/// `p`, `z`: `[n, d]`. Returns `[1]`: -mean over rows of cos(p_i, z_i), in [-1, 1].
pub fn negative_cosine(p: Tensor<2>, z: Tensor<2>) -> Tensor<1> {
    -(l2_normalize(p) * l2_normalize(z)).sum_dim(1).mean()
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::{Device, TensorData};

    fn t(rows: &[[f32; 2]], device: &Device) -> Tensor<2> {
        let flat: Vec<f32> = rows.iter().flatten().copied().collect();
        Tensor::from_data(TensorData::new(flat, [rows.len(), 2]), device)
    }

    #[test]
    fn matches_the_direct_formula() {
        let device = Device::flex();
        // Row 0: same direction (cos 1); row 1: orthogonal (0); row 2: 45 degrees (1/sqrt 2).
        let p = t(&[[2.0, 0.0], [0.0, 1.0], [1.0, 1.0]], &device);
        let z = t(&[[5.0, 0.0], [3.0, 0.0], [0.0, 4.0]], &device);
        let v = negative_cosine(p, z).into_scalar::<f32>();
        let expected = -(1.0 + 0.0 + std::f32::consts::FRAC_1_SQRT_2) / 3.0;
        assert!((v - expected).abs() < 1e-6, "{v} vs {expected}");
    }

    #[test]
    fn a_detached_target_gets_no_gradient() {
        let device = Device::flex().autodiff();
        let p = t(&[[0.3, -1.2], [2.0, 0.5]], &device).require_grad();
        let z = t(&[[1.0, 0.2], [-0.4, 0.9]], &device).require_grad();
        let grads = negative_cosine(p.clone(), z.clone().detach()).backward();
        assert!(p.grad(&grads).is_some());
        assert!(
            z.grad(&grads).is_none(),
            "gradient leaked through the stop-gradient"
        );
        let grads = negative_cosine(p, z.clone()).backward();
        assert!(z.grad(&grads).is_some());
    }
}
