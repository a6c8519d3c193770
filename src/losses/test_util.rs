//! Small helpers for the loss tests: tensors from literal rows, values back out.

use burn::tensor::{Device, Tensor, TensorData};

pub fn matrix<const D: usize>(rows: &[[f32; D]], device: &Device) -> Tensor<2> {
    let flat: Vec<f32> = rows.iter().flatten().copied().collect();
    Tensor::from_data(TensorData::new(flat, [rows.len(), D]), device)
}

pub fn value(t: Tensor<1>) -> f32 {
    t.into_scalar::<f32>()
}

pub fn close(a: f32, b: f64, tol: f64) {
    assert!((f64::from(a) - b).abs() < tol, "{a} vs {b}");
}
