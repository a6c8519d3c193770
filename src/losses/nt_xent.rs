//! NT-Xent, the normalised temperature-scaled cross-entropy of SimCLR
//! (Chen et al. 2020, eq. 1): for each of the 2N views, a softmax over the 2N-1 other
//! views in which the other view of the same image is the positive.

use burn::tensor::activation::log_softmax;
use burn::tensor::{Int, Tensor, TensorData};

use super::l2_normalize;

/// `z`: `[2N, d]` projections where rows `i` and `i + N` are a positive pair.
/// Returns the mean loss over all 2N anchors, a `[1]` tensor.
///
/// # Panics
/// If the row count is odd or `temperature` is not positive.
pub fn nt_xent(z: Tensor<2>, temperature: f32) -> Tensor<1> {
    assert!(
        temperature > 0.0,
        "Illegal temperature {temperature}: must be > 0"
    );
    let [rows, _] = z.dims();
    assert!(
        rows % 2 == 0 && rows >= 2,
        "NT-Xent needs 2N rows, got {rows}"
    );
    let n = rows / 2;
    let device = z.device();
    let z = l2_normalize(z);
    let logits = z.clone().matmul(z.transpose()) / temperature;
    // A view is not its own negative: mask the diagonal out of the softmax.
    let self_mask = Tensor::<2, Int>::eye(rows, &device).equal_elem(1);
    let logits = logits.mask_fill(self_mask, -1.0e9);
    let log_prob = log_softmax(logits, 1);
    let positives: Vec<i64> = (0..rows).map(|i| ((i + n) % rows) as i64).collect();
    let idx = Tensor::<2, Int>::from_data(TensorData::new(positives, [rows, 1]), &device);
    -log_prob.gather(1, idx).mean()
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Device;

    fn tensor(rows: &[[f32; 2]], device: &Device) -> Tensor<2> {
        let flat: Vec<f32> = rows.iter().flatten().copied().collect();
        Tensor::from_data(TensorData::new(flat, [rows.len(), 2]), device)
    }

    #[test]
    fn matches_the_hand_computed_value() {
        // Two images, orthogonal unit embeddings, both views identical, t = 1.
        // Each anchor: positive sim 1, two negatives sim 0, so
        // loss = -ln(e / (e + 2)) = ln(e + 2) - 1.
        let device = Device::flex();
        let z = tensor(&[[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [0.0, 1.0]], &device);
        let loss = nt_xent(z, 1.0).into_scalar::<f32>();
        let expected = (std::f32::consts::E + 2.0).ln() - 1.0;
        assert!((loss - expected).abs() < 1e-5, "{loss} vs {expected}");
    }

    #[test]
    fn matches_an_independent_f64_implementation() {
        let device = Device::flex();
        let rows = [
            [0.3f32, -1.2],
            [2.0, 0.5],
            [-0.7, 0.1],
            [0.2, -1.0],
            [1.5, 0.9],
            [-1.1, -0.3],
        ];
        let t = 0.5;
        let loss = nt_xent(tensor(&rows, &device), t).into_scalar::<f32>();
        // Direct formula.
        let unit: Vec<[f64; 2]> = rows
            .iter()
            .map(|r| {
                let n = (f64::from(r[0]).powi(2) + f64::from(r[1]).powi(2)).sqrt();
                [f64::from(r[0]) / n, f64::from(r[1]) / n]
            })
            .collect();
        let sim = |a: usize, b: usize| unit[a][0] * unit[b][0] + unit[a][1] * unit[b][1];
        let m = rows.len();
        let mut total = 0.0;
        for i in 0..m {
            let pos = (i + m / 2) % m;
            let denom: f64 = (0..m)
                .filter(|&k| k != i)
                .map(|k| (sim(i, k) / f64::from(t)).exp())
                .sum();
            total += -((sim(i, pos) / f64::from(t)).exp() / denom).ln();
        }
        let expected = total / m as f64;
        assert!(
            (f64::from(loss) - expected).abs() < 1e-5,
            "{loss} vs {expected}"
        );
    }

    #[test]
    fn gradients_flow_to_the_embeddings() {
        let device = Device::flex().autodiff();
        let z = tensor(&[[0.3, -1.2], [2.0, 0.5], [0.2, -1.0], [1.5, 0.9]], &device).require_grad();
        let loss = nt_xent(z.clone(), 0.5);
        let grads = loss.backward();
        let g = z.grad(&grads).expect("gradient for z");
        let values = g
            .into_data()
            .convert::<f32>()
            .try_into_vec::<f32>()
            .unwrap();
        assert!(values.iter().all(|v| v.is_finite()));
        assert!(values.iter().any(|v| v.abs() > 1e-4), "{values:?}");
    }

    #[test]
    #[should_panic(expected = "Illegal temperature")]
    fn rejects_a_zero_temperature() {
        let device = Device::flex();
        let _ = nt_xent(tensor(&[[1.0, 0.0], [1.0, 0.0]], &device), 0.0);
    }
}
