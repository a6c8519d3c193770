//! Representation metrics on plain `f32` matrices (row-major `[n, d]`): no burn here, so
//! each is checked against its formula directly.
//!
//! - `align_uniform`: alignment and uniformity;
//! - `collapse`, `effective_rank`: the collapse signal and the effective rank;
//! - `pair_similarity`: positive and negative pair similarity (means and
//!   `SIMILARITY_BINS` = 40-bin histograms);
//! - `similarity_matrix`: the batch similarity matrix of the first `MATRIX_PAIRS` pairs;
//! - `silhouette`: the silhouette of a labelled 2-D layout;
//! - `knn`: weighted kNN (nalgebra for the GEMM), queries scored in blocks so memory stays
//!   bounded;
//! - `linear_probe`: softmax regression on nalgebra, with its confusion matrix;
//! - `matrix`: small helpers over row-major slices.

pub mod align_uniform;
pub mod collapse;
pub mod effective_rank;
pub mod knn;
pub mod linear_probe;
pub mod matrix;
pub mod pair_similarity;
pub mod silhouette;
pub mod similarity_matrix;

pub use align_uniform::{alignment, uniformity};
pub use collapse::normalized_std;
pub use effective_rank::{effective_rank, rank_collapsed};
pub use knn::{KnnParams, knn_accuracy};
pub use linear_probe::{ProbeParams, ProbeScore, linear_probe};
pub use pair_similarity::{PairSimilarity, SIMILARITY_BINS, pair_similarity};
pub use silhouette::silhouette;
pub use similarity_matrix::{MATRIX_PAIRS, similarity_matrix};
