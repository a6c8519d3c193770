//! 2-D projections of embeddings for the live scatter plot (PCA; t-SNE and UMAP, which
//! step and warm-start), and the neighbour lookup the projection panel uses.
//!
//! - `pca`: PCA to 2-D (nalgebra's symmetric eigendecomposition);
//! - `tsne`: exact-gradient t-SNE on sparse affinities;
//! - `umap`: UMAP on an exact kNN graph with umap-learn's SGD;
//! - `neighbours`: cosine nearest neighbours;
//! - `align`: one layout turned, mirrored and scaled onto another of the same points.
//!
//! t-SNE and UMAP step and warm-start behind one `IterativeLayout` trait (written here
//! because the crates only fit from scratch); their per-row work runs on rayon.

pub mod align;
#[cfg(test)]
mod layout_checks;
pub mod neighbours;
pub mod pca;
pub mod tsne;
pub mod umap;

pub use neighbours::nearest_cosine;
pub use pca::{Pca2, pca_2d};
pub use tsne::{TSNE_MAX_POINTS, Tsne};
pub use umap::Umap;

/// A 2-D layout optimised step by step that can take new data and continue (t-SNE, UMAP).
pub trait IterativeLayout: Send {
    fn set_data(&mut self, x: &[f32], d: usize);
    fn step(&mut self);
    fn layout(&self) -> &[[f32; 2]];
    /// Steps since the data last changed.
    fn iterations(&self) -> u32;
    /// Enough steps on this data; rest until new data arrives.
    fn settled(&self) -> bool;
}

impl IterativeLayout for Tsne {
    fn set_data(&mut self, x: &[f32], d: usize) {
        Tsne::set_data(self, x, d);
    }
    fn step(&mut self) {
        Tsne::step(self);
    }
    fn layout(&self) -> &[[f32; 2]] {
        Tsne::layout(self)
    }
    fn iterations(&self) -> u32 {
        self.iters_on_data
    }
    fn settled(&self) -> bool {
        self.iters_on_data >= tsne::ITERATIONS_PER_DATA
    }
}

impl IterativeLayout for Umap {
    fn set_data(&mut self, x: &[f32], d: usize) {
        Umap::set_data(self, x, d);
    }
    fn step(&mut self) {
        Umap::step(self);
    }
    fn layout(&self) -> &[[f32; 2]] {
        Umap::layout(self)
    }
    fn iterations(&self) -> u32 {
        self.iters_on_data
    }
    fn settled(&self) -> bool {
        Umap::settled(self)
    }
}
