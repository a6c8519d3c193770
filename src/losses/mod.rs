//! Losses: pure functions of tensors, each documented with shapes and its paper.

pub mod negative_cosine;
pub mod normalize;
pub mod nt_xent;

pub use negative_cosine::negative_cosine;
pub use normalize::l2_normalize;
pub use nt_xent::nt_xent;
