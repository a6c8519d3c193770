//! The first rung of the loss ladder: Hadsell, Chopra, LeCun 2006, "Dimensionality Reduction
//! by Learning an Invariant Mapping". Pairs, not softmaxes: two views of one image are a
//! similar pair and are pulled together; views of different images are pushed apart until
//! they are at least a margin away, and then left alone.

use burn::tensor::{Int, Tensor, TensorData};

use super::common::{HeadNet, halves};
use super::plain::{Pairs, plain};
use super::{BuildContext, Method};
use crate::catalogue::methods::hadsell::Settings;
use crate::losses::{margin_contrastive, pairwise_sq_distances};

pub fn build(ctx: &BuildContext) -> Box<dyn Method> {
    let s = Settings::read(ctx.params);
    let net = HeadNet::new(ctx, ctx.encoder.output_dim(), s.projection_dim);
    plain(ctx, net, move |z, pairs: &Pairs| {
        let n = pairs.images;
        let (diag, off) = diagonal_split(n);
        let index = |v: Vec<i64>| {
            let len = v.len();
            Tensor::<1, Int>::from_data(TensorData::new(v, [len]), &pairs.device)
        };
        let (z1, z2) = halves(z, n);
        let d = pairwise_sq_distances(z1, z2).reshape([n * n]);
        margin_contrastive(
            d.clone().select(0, index(diag)),
            d.select(0, index(off)),
            s.margin,
        )
        .into()
    })
    .normalized()
    .boxed()
}

/// Flat positions of the diagonal and of everything else in an `n x n` matrix.
pub fn diagonal_split(n: usize) -> (Vec<i64>, Vec<i64>) {
    let all = 0..(n * n) as i64;
    all.partition(|&k| k as usize / n == k as usize % n)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_diagonal_split_covers_the_matrix_once() {
        let (diag, off) = super::diagonal_split(3);
        assert_eq!(diag, vec![0, 4, 8]);
        assert_eq!(off, vec![1, 2, 3, 5, 6, 7]);
    }
}
