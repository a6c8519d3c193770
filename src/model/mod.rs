//! Networks: the encoder every method trains and the heads methods put on top of it.
//! Plain burn modules; methods compose them.

pub mod autoregressive;
pub mod ema;
pub mod encoder;
pub mod fast_block;
pub mod head;
pub mod lab;
pub mod patches;
pub mod resnet;
pub mod tensor_io;

pub use encoder::{Encoder, EncoderConfig, EncoderKind, Norm, SmallCnn};
pub use head::{BnMlp, BnMlpConfig, MlpHead, MlpHeadConfig};
