//! Networks: the encoder every method trains and the heads methods put on top of it.
//! Plain burn modules; methods compose them.

pub mod autoregressive;
pub mod ema;
pub mod encoder;
pub mod fast_block;
pub mod head;
pub mod lab;
pub mod patches;
pub mod tensor_io;

pub use encoder::{Norm, SmallCnn, SmallCnnConfig};
pub use head::{BnMlp, BnMlpConfig, MlpHead, MlpHeadConfig};
