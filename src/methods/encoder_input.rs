//! Turning RGB images into what each exported encoder takes (a Lab channel slice, CPC's
//! patches), and the representation of images by a set of such encoders. The methods
//! whose encoders take something other than RGB (CMC, CPC) embed through this, and so
//! does an encoder loaded back from a run folder: one definition of "the representation".

use burn::module::Module;
use burn::tensor::Tensor;

use super::EncoderInput;
use crate::model::Encoder;
use crate::model::lab::rgb_to_lab;
use crate::model::patches::extract_patches;
use crate::views::Normalize;

/// The representation of normalised RGB `images` `[B, 3, H, W]`: every encoder's output on
/// its own input (in evaluation mode), concatenated in order. Lab is computed once.
pub fn embed_with(
    encoders: &[(&Encoder, EncoderInput)],
    images: Tensor<4>,
    normalize: &Normalize,
) -> Tensor<2> {
    let needs_lab = encoders.iter().any(|(_, i)| lab_channels(*i).is_some());
    let lab = needs_lab.then(|| rgb_to_lab(images.clone(), normalize));
    let outputs = encoders
        .iter()
        .map(|(net, input)| {
            let net = net.valid();
            match (*input, lab_channels(*input), &lab) {
                (_, Some((first, count)), Some(lab)) => {
                    net.forward(lab.clone().narrow(1, first, count))
                }
                (EncoderInput::RgbPatches(grid), ..) => pool_patches(
                    net.forward(extract_patches(images.clone(), &grid)),
                    grid.len(),
                ),
                _ => net.forward(images.clone()),
            }
        })
        .collect();
    Tensor::cat(outputs, 1)
}

/// (first channel, channel count) of a Lab input, as CMC's views slice it.
pub fn lab_channels(input: EncoderInput) -> Option<(usize, usize)> {
    match input {
        EncoderInput::LabL => Some((0, 1)),
        EncoderInput::LabAb => Some((1, 2)),
        EncoderInput::LabA => Some((1, 1)),
        EncoderInput::LabB => Some((2, 1)),
        EncoderInput::Rgb | EncoderInput::RgbPatches(_) => None,
    }
}

/// Mean over the grid of each image's patch embeddings: `[B * g^2, d]` -> `[B, d]`.
pub fn pool_patches(z: Tensor<2>, patches: usize) -> Tensor<2> {
    let [rows, d] = z.dims();
    let b = rows / patches;
    z.reshape([b, patches, d]).mean_dim(1).reshape([b, d])
}
