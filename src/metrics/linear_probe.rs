//! Linear probe: multinomial logistic regression trained on frozen features (the standard
//! SSL evaluation next to kNN), with its confusion matrix on held-out features.
//!
//! Written here on nalgebra because the problem is small (up to 60,000 rows of <= 512
//! features) and deterministic training is what a probe needs; linfa's logistic regression
//! would add an ndarray stack for the same dozen lines. Features are standardised with the
//! training rows' statistics; weights start at zero and take Adam steps on softmax
//! cross-entropy with L2 weight decay: full-batch for the live probes on a few thousand
//! rows, mini-batches in a fixed shuffled order with a cosine-decayed rate for the full
//! train split.

use nalgebra::{DMatrix, DVector};
use rand::SeedableRng;
use rand::seq::SliceRandom;

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ProbeParams {
    pub epochs: usize,
    pub lr: f32,
    pub weight_decay: f32,
    /// Rows per update; 0 trains on the whole set at once.
    pub batch_size: usize,
}

impl Default for ProbeParams {
    fn default() -> Self {
        Self {
            epochs: 300,
            lr: 0.05,
            weight_decay: 1e-4,
            batch_size: 0,
        }
    }
}

impl ProbeParams {
    /// The probe for a whole train split: 20 epochs of 512-row mini-batches.
    pub fn mini_batch() -> Self {
        Self {
            epochs: 20,
            lr: 0.01,
            weight_decay: 1e-4,
            batch_size: 512,
        }
    }
}

/// What the probe scored on the held-out features.
#[derive(Clone, Debug, PartialEq)]
pub struct ProbeScore {
    /// Top-1 accuracy in 0..=1.
    pub accuracy: f32,
    /// `classes x classes` counts, row = true class, column = predicted class.
    pub confusion: Vec<u32>,
    pub classes: usize,
}

/// Trains on (`train_x`, `train_y`) and scores on (`test_x`, `test_y`); rows are
/// row-major with `d` features.
pub fn linear_probe(
    train_x: &[f32],
    train_y: &[u16],
    test_x: &[f32],
    test_y: &[u16],
    d: usize,
    classes: usize,
    params: ProbeParams,
) -> ProbeScore {
    let classes = classes.max(1);
    let mut confusion = vec![0u32; classes * classes];
    let n = train_y.len();
    if n == 0 || d == 0 || test_y.is_empty() {
        return ProbeScore {
            accuracy: 0.0,
            confusion,
            classes,
        };
    }
    let x = DMatrix::from_row_slice(n, d, &train_x[..n * d]);
    let mean = x.row_mean();
    let std = x.row_variance().map(|v| v.sqrt().max(1e-6));
    let standardise = |m: DMatrix<f32>| {
        let mut m = m;
        for mut r in m.row_iter_mut() {
            r -= &mean;
            r.component_div_assign(&std);
        }
        m
    };
    let x = standardise(x);
    let mut onehot = DMatrix::<f32>::zeros(n, classes);
    for (i, &y) in train_y.iter().enumerate() {
        onehot[(i, (y as usize).min(classes - 1))] = 1.0;
    }
    let mut w = DMatrix::<f32>::zeros(d, classes);
    let mut b = DVector::<f32>::zeros(classes);
    let mut adam_w = Adam::new(d * classes);
    let mut adam_b = Adam::new(classes);
    let mut update = |x: &DMatrix<f32>, onehot: &DMatrix<f32>, lr: f32, t: usize| {
        let mut p = logits(x, &w, &b);
        softmax_rows(&mut p);
        let g = (p - onehot) / x.nrows() as f32;
        let grad_w = x.transpose() * &g + &w * params.weight_decay;
        let grad_b = g.row_sum().transpose();
        adam_w.step(w.as_mut_slice(), grad_w.as_slice(), lr, t);
        adam_b.step(b.as_mut_slice(), grad_b.as_slice(), lr, t);
    };
    if params.batch_size == 0 || params.batch_size >= n {
        for t in 1..=params.epochs {
            update(&x, &onehot, params.lr, t);
        }
    } else {
        let mut order: Vec<usize> = (0..n).collect();
        let mut rng = rand::rngs::StdRng::seed_from_u64(0);
        let per_epoch = n.div_ceil(params.batch_size);
        let total = (params.epochs * per_epoch).max(1);
        let mut t = 0;
        for _ in 0..params.epochs {
            order.shuffle(&mut rng);
            for rows in order.chunks(params.batch_size) {
                let lr = params.lr
                    * 0.5
                    * (1.0 + (std::f32::consts::PI * t as f32 / total as f32).cos());
                t += 1;
                update(&x.select_rows(rows), &onehot.select_rows(rows), lr, t);
            }
        }
    }
    let nt = test_y.len();
    let xt = standardise(DMatrix::from_row_slice(nt, d, &test_x[..nt * d]));
    let scores = logits(&xt, &w, &b);
    let mut hits = 0usize;
    for (i, &y) in test_y.iter().enumerate() {
        let predicted = scores.row(i).transpose().argmax().0;
        let truth = (y as usize).min(classes - 1);
        confusion[truth * classes + predicted] += 1;
        hits += usize::from(predicted == truth);
    }
    ProbeScore {
        accuracy: hits as f32 / nt as f32,
        confusion,
        classes,
    }
}

fn logits(x: &DMatrix<f32>, w: &DMatrix<f32>, b: &DVector<f32>) -> DMatrix<f32> {
    let mut z = x * w;
    for mut r in z.row_iter_mut() {
        r += b.transpose();
    }
    z
}

fn softmax_rows(z: &mut DMatrix<f32>) {
    for mut r in z.row_iter_mut() {
        let max = r.max();
        r.iter_mut().for_each(|v| *v = (*v - max).exp());
        let sum = r.sum();
        r /= sum;
    }
}

/// Adam (Kingma & Ba 2015) over a flat parameter slice.
struct Adam {
    m: Vec<f32>,
    v: Vec<f32>,
}

impl Adam {
    fn new(len: usize) -> Self {
        Self {
            m: vec![0.0; len],
            v: vec![0.0; len],
        }
    }

    fn step(&mut self, params: &mut [f32], grad: &[f32], lr: f32, t: usize) {
        let (b1, b2, eps) = (0.9f32, 0.999f32, 1e-8f32);
        let c1 = 1.0 - b1.powi(t as i32);
        let c2 = 1.0 - b2.powi(t as i32);
        for ((p, &g), (m, v)) in params
            .iter_mut()
            .zip(grad)
            .zip(self.m.iter_mut().zip(self.v.iter_mut()))
        {
            *m = b1 * *m + (1.0 - b1) * g;
            *v = b2 * *v + (1.0 - b2) * g * g;
            *p -= lr * (*m / c1) / ((*v / c2).sqrt() + eps);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{RngExt, SeedableRng};

    /// `classes` Gaussian-ish blobs in `d` dims; `shuffle_labels` replaces labels by noise.
    fn blobs(
        per: usize,
        classes: usize,
        d: usize,
        seed: u64,
        shuffle_labels: bool,
    ) -> (Vec<f32>, Vec<u16>) {
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let mut centre_rng = rand::rngs::StdRng::seed_from_u64(99);
        let centres: Vec<Vec<f32>> = (0..classes)
            .map(|_| {
                (0..d)
                    .map(|_| centre_rng.random_range(-2.0..2.0f32))
                    .collect()
            })
            .collect();
        let (mut x, mut y) = (Vec::new(), Vec::new());
        for i in 0..per * classes {
            let c = i % classes;
            x.extend(
                centres[c]
                    .iter()
                    .map(|v| v + rng.random_range(-0.5..0.5f32)),
            );
            y.push(if shuffle_labels {
                rng.random_range(0..classes as u16)
            } else {
                c as u16
            });
        }
        (x, y)
    }

    #[test]
    fn separable_classes_are_learned_almost_perfectly() {
        let (tx, ty) = blobs(100, 5, 16, 1, false);
        let (vx, vy) = blobs(60, 5, 16, 2, false);
        let s = linear_probe(&tx, &ty, &vx, &vy, 16, 5, ProbeParams::default());
        assert!(s.accuracy > 0.98, "{}", s.accuracy);
        // The confusion matrix counts every test row once; its diagonal is the hits.
        assert_eq!(s.confusion.iter().sum::<u32>(), 300);
        let diagonal: u32 = (0..5).map(|c| s.confusion[c * 5 + c]).sum();
        assert!((diagonal as f32 / 300.0 - s.accuracy).abs() < 1e-6);
    }

    #[test]
    fn random_labels_stay_near_chance_on_held_out_rows() {
        let (tx, ty) = blobs(100, 5, 16, 3, true);
        let (vx, vy) = blobs(100, 5, 16, 4, true);
        let s = linear_probe(&tx, &ty, &vx, &vy, 16, 5, ProbeParams::default());
        assert!(s.accuracy < 0.3, "chance is 0.2, got {}", s.accuracy);
    }

    #[test]
    fn the_confusion_matrix_is_laid_out_true_by_predicted() {
        // One feature; class 0 at -1, class 1 at +1; a class-1 point placed at -1 in the
        // test set is predicted 0: row 1 (true), column 0 (predicted).
        let tx = [-1.0, -1.1, -0.9, 1.0, 1.1, 0.9];
        let ty = [0, 0, 0, 1, 1, 1];
        let s = linear_probe(
            &tx,
            &ty,
            &[-1.0, 1.0, -1.0],
            &[0, 1, 1],
            1,
            2,
            ProbeParams::default(),
        );
        assert_eq!(s.confusion, vec![1, 0, 1, 1]);
        assert!((s.accuracy - 2.0 / 3.0).abs() < 1e-6);
    }

    #[test]
    fn mini_batches_learn_what_full_batches_learn() {
        let (tx, ty) = blobs(300, 5, 16, 5, false);
        let (vx, vy) = blobs(60, 5, 16, 6, false);
        let params = ProbeParams {
            batch_size: 64,
            ..ProbeParams::mini_batch()
        };
        let s = linear_probe(&tx, &ty, &vx, &vy, 16, 5, params);
        assert!(s.accuracy > 0.98, "{}", s.accuracy);
        let (rx, ry) = blobs(300, 5, 16, 7, true);
        let s = linear_probe(&rx, &ry, &vx, &vy, 16, 5, params);
        assert!(s.accuracy < 0.35, "random labels: {}", s.accuracy);
    }
}
