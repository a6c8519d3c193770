//! The README of a ViT's export: its architecture, tensors, and how to load it in timm.

use crate::methods::ExportedEncoder;
use crate::model::{EncoderConfig, Pooling};
use crate::preset::Experiment;

/// The README for `encoders` (ViTs of `exp.encoder`'s shape, trained on `image_size`
/// pixel images); `tables` are their tensor tables and `input` describes each one's input.
pub(super) fn vit_readme(
    encoders: &[ExportedEncoder],
    exp: &Experiment,
    tables: &[String],
    input: &dyn Fn(&ExportedEncoder) -> String,
    image_size: usize,
) -> String {
    let e = &exp.encoder;
    let mut sections = String::new();
    let mut loads = String::new();
    for (encoder, table) in encoders.iter().zip(tables) {
        sections += &format!(
            "## `{n}` ({p} parameters)\nInput: {input}.\n\n{table}\n",
            n = encoder.name,
            p = burn::module::Module::num_params(&encoder.network),
            input = input(encoder),
        );
        loads += &format!(
            "{n} = load(\"{n}.safetensors\", in_chans={c})\n",
            n = encoder.name,
            c = encoder.input.channels()
        );
    }
    let grid = e.image_size / e.patch;
    let (pooling, timm_pool, class_token) = match e.pooling {
        Pooling::ClassToken => (
            "the class token's output after the final LayerNorm (`norm`)",
            "token",
            "True",
        ),
        Pooling::Mean => (
            "the mean of the patch tokens, then a LayerNorm (`fc_norm`); no class token",
            "avg",
            "False",
        ),
    };
    format!(
        r#"# Exported encoder: {name}

Trained by contrastive-workbench with method `{method}` on `{dataset}`.
`preset.toml` reproduces the run: `contrastive-workbench train --preset preset.toml`.

## Files
- `*.safetensors`: weights in timm's `VisionTransformer` names and layout (float32);
  `*.bpk`: the same as a burn record (burnpack); `*.onnx`: {onnx} Its height and width
  are fixed at {onnx_size}, the size the encoder trained on (the position embeddings
  resampled to its grid, as the model does); the batch is free.
- `metrics.csv`, `eval.csv`: the logged training metrics and kNN evaluations.
- `embeddings.npy`, `embeddings.csv`, `vectors.tsv`, `metadata.tsv`: the held-out images'
  representations.

## Architecture
{arch}

{sections}## Loading it in PyTorch with timm
```python
from safetensors.torch import load_file
from timm.models.vision_transformer import VisionTransformer

def load(path, in_chans=3):
    model = VisionTransformer(
        img_size={size}, patch_size={patch}, in_chans=in_chans, num_classes=0,
        embed_dim={dim}, depth={depth}, num_heads={heads},
        global_pool="{timm_pool}", class_token={class_token},
        # dynamic_img_size=True for other image sizes (timm then resamples pos_embed
        # bicubically; the workbench resamples bilinearly).
    )
    model.load_state_dict(load_file(path))
    return model.eval()

{loads}```
`model(x)` is the {dim}-d representation ({pooling}).
"#,
        name = exp.name,
        method = exp.method.kind,
        dataset = exp.dataset.label(),
        arch = architecture(e, grid, pooling),
        onnx = super::export::ONNX_LINE,
        size = e.image_size,
        onnx_size = encoders
            .first()
            .map_or(image_size, |first| first.input.side(image_size)),
        patch = e.patch,
        dim = e.embed_dim,
        depth = e.depth,
        heads = e.heads,
    )
}

fn architecture(e: &EncoderConfig, grid: usize, pooling: &str) -> String {
    format!(
        "A Vision Transformer (Dosovitskiy et al. 2021) as timm builds it: {p}x{p} patches \
         embedded by a stride-{p} convolution into {grid}x{grid} tokens of width {d}, learned \
         position embeddings laid out for {s}x{s} images, {depth} pre-norm blocks (LayerNorm \
         eps 1e-6; {h}-head self-attention with one fused `qkv` projection with bias; an MLP \
         {d} -> {hidden} -> {d} with exact GELU), no dropout. The representation is \
         {pooling}, {d}-d.",
        p = e.patch,
        d = e.embed_dim,
        s = e.image_size,
        depth = e.depth,
        h = e.heads,
        hidden = 4 * e.embed_dim,
    )
}
