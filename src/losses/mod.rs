//! Losses: pure functions of tensors, each documented with shapes and its paper, each
//! tested against values computed by hand or by an independent f64 implementation.
//!
//! - `nt_xent`: SimCLR's NT-Xent;
//! - `info_nce`: InfoNCE and binary NCE on precomputed logits;
//! - `batch_contrast`: MoCo v3's symmetric InfoNCE of queries against the batch's keys;
//! - `dcl`: decoupled contrastive learning (DCL, DCLW): NT-Xent without the positive in the
//!   denominator;
//! - `nearest_neighbour`: NNCLR's nearest-neighbour lookup and loss;
//! - `dino`: DINO's centred and sharpened self-distillation loss;
//! - `sup_con`: the supervised contrastive loss, positives from the labels;
//! - `negative_cosine`: SimSiam's and BYOL's negative cosine;
//! - `swav`: SwAV's Sinkhorn-Knopp codes and swapped-prediction loss;
//! - `redundancy`: Barlow Twins and VICReg;
//! - `margin`: Hadsell's margin loss, the triplet loss and negative mining
//!   (`choose_negatives`: random, semi-hard, hard);
//! - `mutual_info`: Deep InfoMax's JSD, DV and InfoNCE estimators and its prior-matching
//!   losses;
//! - `normalize`: `l2_normalize`.

pub mod batch_contrast;
pub mod dcl;
pub mod dino;
pub mod info_nce;
pub mod margin;
pub mod mutual_info;
pub mod nearest_neighbour;
pub mod negative_cosine;
pub mod normalize;
pub mod nt_xent;
pub mod redundancy;
pub mod sup_con;
pub mod swav;
#[cfg(test)]
pub(crate) mod test_util;

pub use batch_contrast::{batch_contrast, logit_gap, moco_v3};
pub use dcl::dcl;
pub use dino::{dino, mean_entropy, teacher_targets, updated_centre};
pub use info_nce::{binary_nce, info_nce, info_nce_bound};
pub use margin::{Mining, choose_negatives, margin_contrastive, pairwise_sq_distances, triplet};
pub use mutual_info::{MiEstimator, mi_estimate, prior_discriminator_loss, prior_encoder_loss};
pub use nearest_neighbour::{nearest_neighbours, nnclr};
pub use negative_cosine::negative_cosine;
pub use normalize::l2_normalize;
pub use nt_xent::nt_xent;
pub use redundancy::{VicRegTerms, barlow_twins, vicreg};
pub use sup_con::sup_con;
pub use swav::{sinkhorn, swapped_prediction};
