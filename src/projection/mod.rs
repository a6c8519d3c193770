//! 2-D projections of embeddings for the live scatter plot, and the neighbour lookup the
//! projection panel uses.

pub mod neighbours;
pub mod pca;
pub mod tsne;

pub use neighbours::nearest_cosine;
pub use pca::{Pca2, pca_2d};
pub use tsne::{TSNE_MAX_POINTS, Tsne};
