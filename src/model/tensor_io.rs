//! Moving plain `Vec<f32>` data in and out of burn tensors (the engine's boundary:
//! everything outside the engine sees plain data, never tensors).

use burn::tensor::{Device, Tensor, TensorData};

/// A `[n, c, h, w]` tensor from CHW-contiguous values.
pub fn images_to_tensor(data: &[f32], n: usize, size: usize, device: &Device) -> Tensor<4> {
    Tensor::from_data(TensorData::new(data.to_vec(), [n, 3, size, size]), device)
}

/// A 2-D tensor's values, row-major, as `f32`.
pub fn matrix_to_vec(t: Tensor<2>) -> Vec<f32> {
    t.into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .unwrap_or_default()
}

/// A scalar tensor's value as `f32`.
pub fn scalar(t: Tensor<1>) -> f32 {
    t.into_scalar::<f32>()
}
