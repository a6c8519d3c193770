//! 2-D projections of embeddings for the live scatter plot.

pub mod pca;

pub use pca::{Pca2, pca_2d};
