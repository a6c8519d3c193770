//! The small CNN as ONNX: per stage a `Conv` (3x3, padding 1) with its BatchNorm folded in,
//! or, for layer-norm encoders, the `Conv` then the layer norm written out (ReduceMean,
//! Sub, Mul, ReduceMean, Add, Sqrt, Div, then the per-channel affine); then `Relu`.

use super::{Builder, fold_batch_norm, int, ints, values};
use crate::engine::onnx_proto::ModelProto;
use crate::model::SmallCnn;

/// The ONNX model of `network` (evaluation mode) taking `inputs` channels.
pub fn encoder_model(network: &SmallCnn, inputs: usize, doc: &str) -> ModelProto {
    let mut b = Builder::new(doc);
    let mut x = "input".to_string();
    let mut channels = inputs;
    for (i, block) in network.blocks.iter().enumerate() {
        let (weight, bias, dims) = fold_batch_norm(&block.conv, block.bn.as_ref());
        let stride = block.conv.stride[0];
        let mut h = b.conv(&format!("blocks.{i}"), &x, (&weight, &bias), dims, stride);
        if let Some(ln) = &block.ln {
            h = layer_norm(&mut b, i, &h, ln, dims[0]);
        }
        let relu = format!("blocks.{i}.relu");
        b.node("Relu", &[&h], &relu, vec![]);
        x = relu;
        channels = dims[0];
    }
    b.finish(&x, inputs, channels, doc)
}

/// GroupNorm with one group (layer norm over C, H, W) with its per-channel affine.
fn layer_norm(b: &mut Builder, i: usize, x: &str, ln: &burn::nn::GroupNorm, c: usize) -> String {
    let p = |s: &str| format!("blocks.{i}.ln.{s}");
    let axes = || ints("axes", &[1, 2, 3]);
    b.node(
        "ReduceMean",
        &[x],
        &p("mean"),
        vec![axes(), int("keepdims", 1)],
    );
    b.node("Sub", &[x, &p("mean")], &p("centred"), vec![]);
    b.node(
        "Mul",
        &[&p("centred"), &p("centred")],
        &p("squared"),
        vec![],
    );
    b.node(
        "ReduceMean",
        &[&p("squared")],
        &p("var"),
        vec![axes(), int("keepdims", 1)],
    );
    b.constant(&p("epsilon"), &[], &[ln.epsilon as f32]);
    b.node("Add", &[&p("var"), &p("epsilon")], &p("var_eps"), vec![]);
    b.node("Sqrt", &[&p("var_eps")], &p("std"), vec![]);
    b.node("Div", &[&p("centred"), &p("std")], &p("normalised"), vec![]);
    let mut out = p("normalised");
    if let (Some(gamma), Some(beta)) = (&ln.gamma, &ln.beta) {
        b.constant(&p("weight"), &[c, 1, 1], &values(gamma.val()));
        b.constant(&p("bias"), &[c, 1, 1], &values(beta.val()));
        b.node("Mul", &[&out, &p("weight")], &p("scaled"), vec![]);
        b.node("Add", &[&p("scaled"), &p("bias")], &p("affine"), vec![]);
        out = p("affine");
    }
    out
}
