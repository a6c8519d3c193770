//! The ViT as ONNX (opset 17), node names following timm's modules: the patch `Conv`,
//! tokens (`Reshape`, `Transpose`), the class token `Expand`ed to the batch and
//! `Concat`enated, the position embeddings `Add`ed; per block `LayerNormalization`, the
//! fused qkv `MatMul`, heads split by `Reshape`/`Transpose`/`Gather`, `Softmax` of the
//! scaled scores, the output projection, the residual `Add`s, and the MLP with GELU written
//! as erf (opset 17 has no `Gelu`); then the final norm and the class token (`Gather`) or
//! the patch tokens' mean (`ReduceMean`, then `fc_norm`).
//!
//! Height and width are fixed at the size the encoder was trained on (the dataset's
//! images, or CPC's patches): the position embeddings are written resampled to that grid
//! as the model resamples them, so the graph gives the model's output on those inputs; the
//! batch is dynamic.

use burn::nn::{LayerNorm, Linear};

use super::{Builder, float, int, ints, values};
use crate::engine::onnx_proto::ModelProto;
use crate::model::vit::{Block, LN_EPS, Vit};

/// The ONNX model of `network` (evaluation mode) taking `inputs` channels of `size x
/// size` images.
pub fn vit_model(network: &Vit, inputs: usize, doc: &str, size: usize) -> ModelProto {
    let mut b = Builder::new(doc);
    let d = network.dim();
    let patch = network.patch_embed.proj.weight.dims()[2];
    let grid = (size / patch).max(1);
    let pos_embed = values(network.pos_embed_for(grid, grid));
    let tokens = pos_embed.len() / d;
    let mut h = embed(&mut b, network, &pos_embed, tokens);
    for (i, block) in network.blocks.iter().enumerate() {
        h = transformer_block(&mut b, &format!("blocks.{i}"), &h, block, d);
    }
    pool(&mut b, network, &h, tokens);
    b.model(inputs, Some(size), d, doc)
}

/// The tokens `[B, prefix + N, D]`: patches, the class token, the position embeddings
/// (`pos_embed`, `tokens` of them).
fn embed(b: &mut Builder, network: &Vit, pos_embed: &[f32], tokens: usize) -> String {
    let proj = &network.patch_embed.proj;
    let [d, c_in, patch, _] = proj.weight.dims();
    let weight = values(proj.weight.val());
    let bias = proj
        .bias
        .as_ref()
        .map_or_else(|| vec![0.0; d], |p| values(p.val()));
    let patches = b.conv_valid(
        "patch_embed.proj",
        "input",
        (&weight, &bias),
        [d, c_in, patch, patch],
        patch,
    );
    // [B, D, gh, gw] -> [B, N, D].
    b.constant_i64("shape.tokens_by_dim", &[3], &[0, d as i64, -1]);
    b.node(
        "Reshape",
        &[&patches, "shape.tokens_by_dim"],
        "patch_embed.flat",
        vec![],
    );
    b.node(
        "Transpose",
        &["patch_embed.flat"],
        "patch_embed.tokens",
        vec![ints("perm", &[0, 2, 1])],
    );
    let mut h = "patch_embed.tokens".to_string();
    if let Some(cls) = &network.cls_token {
        b.constant("cls_token", &[1, 1, d], &values(cls.val()));
        // [1, 1, D] expanded to [B, 1, D]: the batch read from the input's shape.
        b.node("Shape", &["input"], "input.shape", vec![]);
        b.constant_i64("index.first", &[1], &[0]);
        b.node(
            "Gather",
            &["input.shape", "index.first"],
            "input.batch",
            vec![int("axis", 0)],
        );
        b.constant_i64("shape.one_by_dim", &[2], &[1, d as i64]);
        b.node(
            "Concat",
            &["input.batch", "shape.one_by_dim"],
            "shape.cls",
            vec![int("axis", 0)],
        );
        b.node(
            "Expand",
            &["cls_token", "shape.cls"],
            "cls_token.batch",
            vec![],
        );
        b.node(
            "Concat",
            &["cls_token.batch", &h],
            "tokens",
            vec![int("axis", 1)],
        );
        h = "tokens".into();
    }
    b.constant("pos_embed", &[1, tokens, d], pos_embed);
    b.node("Add", &[&h, "pos_embed"], "pos_drop", vec![]);
    "pos_drop".into()
}

/// The class token after the final norm, or the patch tokens' mean then `fc_norm`.
fn pool(b: &mut Builder, network: &Vit, h: &str, tokens: usize) {
    let prefix = usize::from(network.cls_token.is_some());
    match (&network.norm, &network.fc_norm) {
        (Some(norm), _) => {
            let normed = layer_norm(b, "norm", h, norm);
            b.constant_i64("index.cls", &[], &[0]);
            b.node(
                "Gather",
                &[&normed, "index.cls"],
                "representation",
                vec![int("axis", 1)],
            );
        }
        (None, fc_norm) => {
            let n = tokens - prefix;
            b.constant_i64("slice.starts", &[1], &[prefix as i64]);
            b.constant_i64("slice.ends", &[1], &[(prefix + n) as i64]);
            b.constant_i64("slice.axes", &[1], &[1]);
            b.node(
                "Slice",
                &[h, "slice.starts", "slice.ends", "slice.axes"],
                "patch_tokens",
                vec![],
            );
            let out = if fc_norm.is_some() {
                "pooled"
            } else {
                "representation"
            };
            b.node(
                "ReduceMean",
                &["patch_tokens"],
                out,
                vec![ints("axes", &[1]), int("keepdims", 0)],
            );
            if let Some(fc_norm) = fc_norm {
                let normed = layer_norm(b, "fc_norm", "pooled", fc_norm);
                b.node("Identity", &[&normed], "representation", vec![]);
            }
        }
    }
}

/// x + attn(norm1(x)), then + mlp(norm2(.)).
fn transformer_block(b: &mut Builder, name: &str, x: &str, block: &Block, d: usize) -> String {
    let p = |s: &str| format!("{name}.{s}");
    let normed = layer_norm(b, &p("norm1"), x, &block.norm1);
    let attended = attention(b, &p("attn"), &normed, block, d);
    b.node("Add", &[x, &attended], &p("residual1"), vec![]);
    let normed = layer_norm(b, &p("norm2"), &p("residual1"), &block.norm2);
    let hidden = linear(b, &p("mlp.fc1"), &normed, &block.mlp.fc1);
    let activated = gelu(b, &p("mlp.act"), &hidden);
    let out = linear(b, &p("mlp.fc2"), &activated, &block.mlp.fc2);
    b.node("Add", &[&p("residual1"), &out], &p("residual2"), vec![]);
    p("residual2")
}

/// softmax(q k^T / sqrt(d_head)) v per head, q, k, v split from the fused projection in
/// timm's order (`[3, heads, d_head]` on its output).
fn attention(b: &mut Builder, name: &str, x: &str, block: &Block, d: usize) -> String {
    let p = |s: &str| format!("{name}.{s}");
    let heads = block.attn.heads;
    let d_head = d / heads;
    let qkv = linear(b, &p("qkv"), x, &block.attn.qkv);
    b.constant_i64(
        &p("shape.split"),
        &[5],
        &[0, 0, 3, heads as i64, d_head as i64],
    );
    b.node(
        "Reshape",
        &[&qkv, &p("shape.split")],
        &p("qkv.split"),
        vec![],
    );
    b.node(
        "Transpose",
        &[&p("qkv.split")],
        &p("qkv.heads"),
        vec![ints("perm", &[2, 0, 3, 1, 4])],
    );
    for (i, part) in ["q", "k", "v"].iter().enumerate() {
        b.constant_i64(&p(&format!("index.{part}")), &[], &[i as i64]);
        b.node(
            "Gather",
            &[&p("qkv.heads"), &p(&format!("index.{part}"))],
            &p(part),
            vec![int("axis", 0)],
        );
    }
    b.node(
        "Transpose",
        &[&p("k")],
        &p("k.t"),
        vec![ints("perm", &[0, 1, 3, 2])],
    );
    b.node("MatMul", &[&p("q"), &p("k.t")], &p("scores"), vec![]);
    b.constant(&p("scale"), &[], &[1.0 / (d_head as f32).sqrt()]);
    b.node("Mul", &[&p("scores"), &p("scale")], &p("scaled"), vec![]);
    b.node(
        "Softmax",
        &[&p("scaled")],
        &p("weights"),
        vec![int("axis", -1)],
    );
    b.node("MatMul", &[&p("weights"), &p("v")], &p("mixed"), vec![]);
    b.node(
        "Transpose",
        &[&p("mixed")],
        &p("mixed.t"),
        vec![ints("perm", &[0, 2, 1, 3])],
    );
    b.constant_i64(&p("shape.merge"), &[3], &[0, 0, d as i64]);
    b.node(
        "Reshape",
        &[&p("mixed.t"), &p("shape.merge")],
        &p("merged"),
        vec![],
    );
    linear(b, &p("proj"), &p("merged"), &block.attn.proj)
}

/// `x W + b` (burn stores W as `[d_in, d_out]`).
fn linear(b: &mut Builder, name: &str, x: &str, l: &Linear) -> String {
    let [d_in, d_out] = l.weight.dims();
    b.constant(
        &format!("{name}.weight"),
        &[d_in, d_out],
        &values(l.weight.val()),
    );
    b.node(
        "MatMul",
        &[x, &format!("{name}.weight")],
        &format!("{name}.matmul"),
        vec![],
    );
    let Some(bias) = &l.bias else {
        return format!("{name}.matmul");
    };
    b.constant(&format!("{name}.bias"), &[d_out], &values(bias.val()));
    b.node(
        "Add",
        &[&format!("{name}.matmul"), &format!("{name}.bias")],
        name,
        vec![],
    );
    name.to_string()
}

fn layer_norm(b: &mut Builder, name: &str, x: &str, ln: &LayerNorm) -> String {
    let gamma = values(ln.gamma.val());
    let beta = ln
        .beta
        .as_ref()
        .map_or_else(|| vec![0.0; gamma.len()], |p| values(p.val()));
    b.constant(&format!("{name}.weight"), &[gamma.len()], &gamma);
    b.constant(&format!("{name}.bias"), &[beta.len()], &beta);
    b.node(
        "LayerNormalization",
        &[x, &format!("{name}.weight"), &format!("{name}.bias")],
        name,
        // burn keeps a LayerNorm's epsilon private; the ViT builds every one with LN_EPS.
        vec![int("axis", -1), float("epsilon", LN_EPS as f32)],
    );
    name.to_string()
}

/// GELU as x * (1 + erf(x / sqrt 2)) / 2.
fn gelu(b: &mut Builder, name: &str, x: &str) -> String {
    let p = |s: &str| format!("{name}.{s}");
    b.constant(&p("inv_sqrt2"), &[], &[std::f32::consts::FRAC_1_SQRT_2]);
    b.constant(&p("one"), &[], &[1.0]);
    b.constant(&p("half"), &[], &[0.5]);
    b.node("Mul", &[x, &p("inv_sqrt2")], &p("scaled"), vec![]);
    b.node("Erf", &[&p("scaled")], &p("erf"), vec![]);
    b.node("Add", &[&p("erf"), &p("one")], &p("shifted"), vec![]);
    b.node("Mul", &[x, &p("shifted")], &p("product"), vec![]);
    b.node("Mul", &[&p("product"), &p("half")], name, vec![]);
    name.to_string()
}
