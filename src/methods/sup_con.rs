//! SupCon (Khosla et al. 2020, "Supervised Contrastive Learning"): SimCLR's encoder, head
//! and views, with every other view of the same class as a positive. It reads the labels:
//! the supervised upper bound of the comparison, not a self-supervised method.

use super::common::HeadNet;
use super::plain::{Pairs, Scored, plain};
use super::{BuildContext, Method};
use crate::catalogue::methods::sup_con::Settings;
use crate::losses::sup_con;

pub fn build(ctx: &BuildContext) -> Box<dyn Method> {
    let s = Settings::read(ctx.params);
    let net = HeadNet::new(ctx, s.projection_hidden, s.projection_dim);
    plain(ctx, net, |z, pairs: &Pairs| {
        let positives = positives_per_view(&pairs.labels);
        Scored::from(sup_con(z, &pairs.labels, pairs.temperature()))
            .with_signal("positives per view", positives)
    })
    .temperature(s.temperature)
    .boxed()
}

/// The mean number of positives an anchor has among the other `2N - 1` views: its own other
/// view and both views of every other image of its class. 1 is SimCLR's; with few classes
/// in a large batch it grows to about `2N / classes`.
fn positives_per_view(labels: &[u16]) -> f32 {
    let same: usize = labels
        .iter()
        .map(|a| labels.iter().filter(|b| *b == a).count())
        .sum();
    // Each image of a class of size c has 2c - 1 positives per view.
    (2 * same - labels.len()) as f32 / labels.len() as f32
}

#[cfg(test)]
mod tests {
    #[test]
    fn positives_count_the_other_view_and_both_views_of_each_classmate() {
        assert_eq!(super::positives_per_view(&[0, 1, 2]), 1.0);
        // Classes of 2 and 1: 3, 3 and 1 positives.
        assert!((super::positives_per_view(&[0, 0, 1]) - 7.0 / 3.0).abs() < 1e-6);
    }
}
