use burn::tensor::Tensor;

/// Rows of `[n, d]` scaled to unit L2 norm (norms clamped at 1e-12 to avoid 0/0).
pub fn l2_normalize(z: Tensor<2>) -> Tensor<2> {
    let norm = z
        .clone()
        .powf_scalar(2.0)
        .sum_dim(1)
        .sqrt()
        .clamp_min(1e-12);
    z / norm
}
