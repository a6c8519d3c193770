"""Reads a ViT export as timm would: the tensor names and shapes must be exactly the
state_dict of timm's VisionTransformer(img_size, patch_size, in_chans=3, num_classes=0,
embed_dim, depth, num_heads, global_pool, class_token) for the shape in the export's
preset.toml, derived here from timm's layout rule rather than from the file; and a NumPy
ViT written from timm's forward pass, using those tensors alone, must give the features
burn computed for a fixed input (written by tests/python_export.rs), to 1e-4; and
encoder.onnx passes ONNX's checker and gives the same features in onnxruntime
(check_export.check_onnx; the graph's image size is the preset's).

Usage: python3 check_vit.py EXPORT_DIR
"""

import os
import sys
import tomllib

import numpy as np
from safetensors.numpy import load_file

LN_EPS = 1e-6  # timm's ViT LayerNorm
MLP_RATIO = 4


def timm_shapes(image_size, patch, dim, depth, class_token, inputs=3):
    """timm.models.vision_transformer.VisionTransformer's state_dict shapes (num_classes=0,
    qkv_bias=True, global_pool "token" with a class token or "avg" without one)."""
    grid = (image_size // patch) ** 2
    shapes = {
        "patch_embed.proj.weight": [dim, inputs, patch, patch],
        "patch_embed.proj.bias": [dim],
        "pos_embed": [1, grid + int(class_token), dim],
    }
    if class_token:
        shapes["cls_token"] = [1, 1, dim]
    for i in range(depth):
        pre = f"blocks.{i}"
        for norm in ("norm1", "norm2"):
            shapes[f"{pre}.{norm}.weight"] = [dim]
            shapes[f"{pre}.{norm}.bias"] = [dim]
        for name, (o, i_) in {
            "attn.qkv": (3 * dim, dim),
            "attn.proj": (dim, dim),
            "mlp.fc1": (MLP_RATIO * dim, dim),
            "mlp.fc2": (dim, MLP_RATIO * dim),
        }.items():
            shapes[f"{pre}.{name}.weight"] = [o, i_]
            shapes[f"{pre}.{name}.bias"] = [o]
    final = "norm" if class_token else "fc_norm"  # timm: fc_norm when pooling is "avg"
    shapes[f"{final}.weight"] = [dim]
    shapes[f"{final}.bias"] = [dim]
    return shapes


def layer_norm(x, s, pre):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + LN_EPS) * s[f"{pre}.weight"] + s[f"{pre}.bias"]


def linear(x, s, pre):
    return x @ s[f"{pre}.weight"].T + s[f"{pre}.bias"]


def gelu(x):
    from math import erf, sqrt

    return 0.5 * x * (1.0 + np.vectorize(erf)(x / sqrt(2.0)))


def softmax(x):
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def attention(x, s, pre, heads):
    b, n, d = x.shape
    qkv = linear(x, s, f"{pre}.qkv").reshape(b, n, 3, heads, d // heads).transpose(2, 0, 3, 1, 4)
    q, k, v = qkv[0], qkv[1], qkv[2]
    a = softmax(q @ k.transpose(0, 1, 3, 2) / np.sqrt(d // heads))
    return linear((a @ v).transpose(0, 2, 1, 3).reshape(b, n, d), s, f"{pre}.proj")


def forward(s, x, patch, depth, heads, class_token):
    w = s["patch_embed.proj.weight"]
    b, c, h, wd = x.shape
    gh, gw = h // patch, wd // patch
    # A stride-p p x p convolution is a linear map of each patch, in (c, y, x) order.
    cols = x.reshape(b, c, gh, patch, gw, patch).transpose(0, 2, 4, 1, 3, 5).reshape(b, gh * gw, -1)
    t = cols @ w.reshape(w.shape[0], -1).T + s["patch_embed.proj.bias"]
    if class_token:
        t = np.concatenate([np.repeat(s["cls_token"], b, axis=0), t], axis=1)
    t = t + s["pos_embed"]
    for i in range(depth):
        pre = f"blocks.{i}"
        t = t + attention(layer_norm(t, s, f"{pre}.norm1"), s, f"{pre}.attn", heads)
        hidden = gelu(linear(layer_norm(t, s, f"{pre}.norm2"), s, f"{pre}.mlp.fc1"))
        t = t + linear(hidden, s, f"{pre}.mlp.fc2")
    if class_token:
        return layer_norm(t, s, "norm")[:, 0]
    return layer_norm(t.mean(axis=1), s, "fc_norm")


def main():
    export_dir = sys.argv[1]
    with open(f"{export_dir}/preset.toml", "rb") as f:
        enc = tomllib.load(f)["encoder"]
    assert enc["kind"] == "vit", enc
    # The workbench's defaults where the preset leaves a field out.
    patch, dim = enc.get("patch", 4), enc.get("embed_dim", 128)
    depth, heads = enc.get("depth", 6), enc.get("heads", 4)
    image_size = enc.get("image_size", 32)
    class_token = enc.get("pooling", "class-token") == "class-token"
    raw = load_file(f"{export_dir}/encoder.safetensors")
    want = timm_shapes(image_size, patch, dim, depth, class_token)
    assert sorted(raw) == sorted(want), sorted(set(raw) ^ set(want))
    for name, shape in want.items():
        assert list(raw[name].shape) == shape, (name, raw[name].shape, shape)
        assert raw[name].dtype == np.float32, (name, raw[name].dtype)
    s = {k: v.astype(np.float64) for k, v in raw.items()}
    x = np.load(f"{export_dir}/input.npy").reshape(-1, 3, image_size, image_size).astype(np.float64)
    got = forward(s, x, patch, depth, heads, class_token)
    expected = np.load(f"{export_dir}/output.npy")
    err = float(np.abs(got - expected).max())
    assert err < 1e-4, f"NumPy ViT differs from burn's by {err}"
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from check_export import check_onnx

    onnx_err = check_onnx(export_dir, prefix="", any_size=False)
    print(f"ok: {len(s)} tensors in timm's names, max error {err:.2e}, "
          f"onnx max error {onnx_err:.2e}")


if __name__ == "__main__":
    main()
