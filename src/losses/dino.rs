//! DINO's self-distillation loss (Caron et al. 2021, "Emerging Properties in
//! Self-Supervised Vision Transformers", eq. 1 and 2, Algorithm 1): the student's softmax
//! over K outputs at temperature `t_s` must match the teacher's, which is centred (its
//! batch mean subtracted, an EMA of it) and sharpened (a low temperature `t_t`). Centering
//! alone would collapse to the uniform distribution, sharpening alone to one output: the
//! two together keep the teacher in between (sec. 5.3, fig. 7).

use burn::tensor::Tensor;
use burn::tensor::activation::{log_softmax, softmax};

/// The teacher's targets `softmax((t - c) / t_t)` of its outputs `[N, K]` with the centre
/// `c` (`[1, K]`, none to skip centering). Detached: no gradient reaches the teacher.
pub fn teacher_targets(teacher: Tensor<2>, centre: Option<Tensor<2>>, t_t: f64) -> Tensor<2> {
    assert!(t_t > 0.0, "Illegal teacher temperature {t_t}: must be > 0");
    let centred = match centre {
        Some(c) => teacher.detach() - c,
        None => teacher.detach(),
    };
    softmax(centred / t_t, 1).detach()
}

/// The DINO loss: the mean over every pair of a teacher target (one per global view) and
/// a student output of a *different* crop of the cross-entropy
/// `-sum_k q_k log softmax(s / t_s)_k`, each averaged over the `N` images (the
/// reference's `DINOLoss`: `total_loss / n_loss_terms`). `targets`: the teacher's for
/// global views 0, 1, ...; `student`: the student's outputs `[N, K]` for every crop, the
/// global views first in the same order. Returns `[1]`.
pub fn dino(targets: &[Tensor<2>], student: &[Tensor<2>], t_s: f64) -> Tensor<1> {
    assert!(t_s > 0.0, "Illegal student temperature {t_s}: must be > 0");
    assert!(
        !targets.is_empty() && student.len() > targets.len().min(1),
        "DINO needs a teacher target and another crop"
    );
    let log_p: Vec<Tensor<2>> = student
        .iter()
        .map(|s| log_softmax(s.clone() / t_s, 1))
        .collect();
    let mut total: Option<Tensor<1>> = None;
    let mut terms = 0usize;
    for (iq, q) in targets.iter().enumerate() {
        for (v, lp) in log_p.iter().enumerate() {
            if v == iq {
                continue;
            }
            let term = -(q.clone() * lp.clone()).sum_dim(1).mean();
            total = Some(match total {
                Some(t) => t + term,
                None => term,
            });
            terms += 1;
        }
    }
    total.expect("at least one term") / terms as f64
}

/// The centre's EMA after a batch: `m c + (1 - m) mean_i t_i` over the teacher outputs of
/// all global views (`[rows, K]`). Returns `[1, K]`, detached.
pub fn updated_centre(centre: Tensor<2>, teacher: Tensor<2>, momentum: f64) -> Tensor<2> {
    (centre * momentum + teacher.detach().mean_dim(0) * (1.0 - momentum)).detach()
}

/// The mean entropy, in nats, of the rows of `p` (`[N, K]`, probabilities).
pub fn mean_entropy(p: Tensor<2>) -> f32 {
    let p = p.detach();
    let h = -(p.clone() * p.clamp_min(1e-12).log()).sum_dim(1).mean();
    h.into_scalar()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::losses::test_util::{close, matrix, value};
    use burn::tensor::{Device, TensorData};

    const N: usize = 2;
    const K: usize = 3;
    /// Teacher outputs of the two global views, then student outputs of three crops.
    const T: [f64; 12] = [
        0.5, -0.2, 1.0, 0.1, 0.9, -0.4, -0.3, 0.2, 0.6, 1.1, -0.5, 0.0,
    ];
    const S: [f64; 18] = [
        0.2, 0.7, -0.1, -0.6, 0.3, 0.4, 1.2, -0.8, 0.5, 0.0, 0.3, -0.2, -0.4, 0.8, 0.1, 0.6, -0.3,
        0.9,
    ];
    const C: [f64; K] = [0.1, -0.2, 0.05];

    fn block(x: &[f64], b: usize, i: usize) -> &[f64] {
        &x[(b * N + i) * K..(b * N + i + 1) * K]
    }

    fn softmax64(x: &[f64], t: f64) -> Vec<f64> {
        let m = x.iter().cloned().fold(f64::MIN, f64::max);
        let e: Vec<f64> = x.iter().map(|v| ((v - m) / t).exp()).collect();
        let s: f64 = e.iter().sum();
        e.iter().map(|v| v / s).collect()
    }

    /// Eq. 2 by the definition in f64 loops.
    fn reference(t: &[f64], s: &[f64], ts: f64, tt: f64) -> f64 {
        let (mut total, mut terms) = (0.0, 0);
        for iq in 0..2 {
            for v in 0..3 {
                if v == iq {
                    continue;
                }
                let mut term = 0.0;
                for i in 0..N {
                    let centred: Vec<f64> =
                        block(t, iq, i).iter().zip(C).map(|(a, c)| a - c).collect();
                    let q = softmax64(&centred, tt);
                    let p = softmax64(block(s, v, i), ts);
                    term -= (0..K).map(|k| q[k] * p[k].ln()).sum::<f64>();
                }
                total += term / N as f64;
                terms += 1;
            }
        }
        total / f64::from(terms)
    }

    fn blocks(x: &[f64], count: usize, device: &Device) -> Vec<Tensor<2>> {
        let v: Vec<f32> = x.iter().map(|&v| v as f32).collect();
        let all = Tensor::<2>::from_data(TensorData::new(v, [count * N, K]), device);
        (0..count)
            .map(|b| all.clone().narrow(0, b * N, N))
            .collect()
    }

    fn loss(s: &[Tensor<2>], ts: f64, tt: f64) -> Tensor<1> {
        let device = s[0].device();
        let centre = matrix(&[C.map(|c| c as f32)], &device);
        let targets: Vec<Tensor<2>> = blocks(&T, 2, &device)
            .into_iter()
            .map(|t| teacher_targets(t, Some(centre.clone()), tt))
            .collect();
        dino(&targets, s, ts)
    }

    #[test]
    fn matches_an_independent_f64_implementation() {
        let device = Device::flex();
        for (ts, tt) in [(0.1, 0.04), (0.5, 0.07), (1.0, 1.0)] {
            let want = reference(&T, &S, ts, tt);
            close(
                value(loss(&blocks(&S, 3, &device), ts, tt)),
                want,
                1e-4 * (1.0 + want),
            );
        }
    }

    #[test]
    fn matches_the_hand_computed_value() {
        // A uniform teacher over K = 2 outputs and a student certain of neither: each term
        // is -(ln 1/2) = ln 2, whatever the pairing.
        let device = Device::flex();
        let zero = matrix(&[[0.0, 0.0]], &device);
        let targets = [teacher_targets(zero.clone(), None, 0.04)];
        close(
            value(dino(&targets, &[zero.clone(), zero], 0.1)),
            2f64.ln(),
            1e-6,
        );
    }

    #[test]
    fn its_gradient_matches_finite_differences_and_never_reaches_the_teacher() {
        let device = Device::flex().autodiff();
        let (ts, tt) = (0.5, 0.2);
        let all = {
            let v: Vec<f32> = S.iter().map(|&v| v as f32).collect();
            Tensor::<2>::from_data(TensorData::new(v, [3 * N, K]), &device).require_grad()
        };
        let teacher = {
            let v: Vec<f32> = T.iter().map(|&v| v as f32).collect();
            Tensor::<2>::from_data(TensorData::new(v, [2 * N, K]), &device).require_grad()
        };
        let crops: Vec<Tensor<2>> = (0..3).map(|b| all.clone().narrow(0, b * N, N)).collect();
        let centre = matrix(&[C.map(|c| c as f32)], &device).require_grad();
        let targets: Vec<Tensor<2>> = (0..2)
            .map(|b| {
                teacher_targets(
                    teacher.clone().narrow(0, b * N, N),
                    Some(centre.clone()),
                    tt,
                )
            })
            .collect();
        let grads = dino(&targets, &crops, ts).backward();
        assert!(teacher.grad(&grads).is_none(), "the teacher got a gradient");
        assert!(centre.grad(&grads).is_none(), "the centre got a gradient");
        let g: Vec<f32> = all
            .grad(&grads)
            .unwrap()
            .into_data()
            .iter::<f32>()
            .collect();
        let h = 1e-6;
        for (e, &autodiff) in g.iter().enumerate() {
            let at = |delta: f64| {
                let mut x = S;
                x[e] += delta;
                reference(&T, &x, ts, tt)
            };
            let numeric = (at(h) - at(-h)) / (2.0 * h);
            assert!(
                (f64::from(autodiff) - numeric).abs() < 1e-4 * (1.0 + numeric.abs()),
                "element {e}: autodiff {autodiff} vs numeric {numeric}"
            );
        }
    }

    #[test]
    fn the_centre_moves_toward_the_batch_mean() {
        let device = Device::flex();
        let centre = matrix(&[[1.0, 0.0]], &device);
        let teacher = matrix(&[[0.0, 2.0], [2.0, 4.0]], &device);
        let got: Vec<f32> = updated_centre(centre, teacher, 0.9)
            .into_data()
            .iter::<f32>()
            .collect();
        // 0.9 (1, 0) + 0.1 (1, 3).
        assert!(
            (got[0] - 1.0).abs() < 1e-6 && (got[1] - 0.3).abs() < 1e-6,
            "{got:?}"
        );
        let uniform = matrix(&[[0.25, 0.25, 0.25, 0.25]], &device);
        assert!((f64::from(mean_entropy(uniform)) - 4f64.ln()).abs() < 1e-6);
    }
}
