//! Representation metrics on plain `f32` matrices (row-major `[n, d]`): no burn here, so
//! each is checked against its formula directly.

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
