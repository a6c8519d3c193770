//! The loss ladder's third rung: NCE versus InfoNCE with the same candidates. Each anchor
//! (view 1 of an image) sees its positive (view 2 of the same image) and k negatives (view 2
//! of k other images, sampled). Binary NCE (Gutmann & Hyvarinen 2010) classifies each
//! candidate independently as data or noise; InfoNCE (van den Oord et al. 2018) asks which
//! of the k+1 is the positive, and log(k+1) - loss bounds the mutual information.

use burn::tensor::{Int, Tensor, TensorData};
use rand::seq::index::sample;

use super::common::{HeadNet, halves};
use super::plain::{Pairs, Scored, plain};
use super::{BuildContext, Method};
use crate::catalogue::methods::nce::Settings;
use crate::losses::{binary_nce, info_nce, info_nce_bound};
use crate::model::tensor_io::scalar;
use crate::seeding::{Stream, rng_for};

pub fn build(ctx: &BuildContext) -> Box<dyn Method> {
    let s = Settings::read(ctx.params);
    let net = HeadNet::new(ctx, ctx.encoder.output_dim(), s.projection_dim);
    let seed = ctx.seed;
    plain(ctx, net, move |z, pairs: &Pairs| {
        let n = pairs.images;
        let k = s.negatives.min(n - 1).max(1);
        let mut rng = rng_for(seed, Stream::Method, &[3, pairs.step]);
        let index = |v: Vec<i64>, cols: usize| {
            Tensor::<2, Int>::from_data(TensorData::new(v, [n, cols]), &pairs.device)
        };
        let neg_idx = index(sample_negatives(n, k, &mut rng), k);
        let pos_idx = index((0..n as i64).collect(), 1);
        let (z1, z2) = halves(z, n);
        let scores = z1.matmul(z2.transpose()) / pairs.temperature();
        let pos = scores.clone().gather(1, pos_idx);
        let neg = scores.gather(1, neg_idx);
        // The MI bound is reported for both estimators, from the same scores.
        let info = info_nce(pos.clone(), neg.clone());
        let bound = info_nce_bound(scalar(info.clone().detach()), k);
        let loss = if s.estimator == "infonce" {
            info
        } else {
            binary_nce(pos, neg)
        };
        Scored::from(loss).with_signal("InfoNCE MI bound (nats)", bound)
    })
    .normalized()
    .temperature(s.temperature)
    .boxed()
}

/// For each of `n` anchors, `k` distinct other columns in `0..n` (never the anchor's own).
pub fn sample_negatives(n: usize, k: usize, rng: &mut crate::seeding::Rng) -> Vec<i64> {
    let mut out = Vec::with_capacity(n * k);
    for i in 0..n {
        for j in sample(rng, n - 1, k).into_iter() {
            out.push(if j >= i { j as i64 + 1 } else { j as i64 });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sampled_negatives_are_distinct_and_never_the_anchor() {
        let mut rng = rng_for(0, Stream::Method, &[]);
        let (n, k) = (6, 5);
        let s = sample_negatives(n, k, &mut rng);
        for i in 0..n {
            let mut row: Vec<i64> = s[i * k..(i + 1) * k].to_vec();
            assert!(!row.contains(&(i as i64)));
            row.sort_unstable();
            row.dedup();
            assert_eq!(row.len(), k);
        }
    }
}
