"""Reads a ResNet-18 export as torchvision would: the tensor names and shapes must be exactly
torchvision's resnet18 state_dict with the CIFAR stem (conv1 3x3, no fc, no
num_batches_tracked), derived here from torchvision's layout rule rather than from the file;
and a NumPy ResNet-18 built from those tensors alone must give the features burn computed
for a fixed input (written by tests/python_export.rs), to 1e-4; and encoder.onnx passes
ONNX's checker and gives the same features in onnxruntime (check_export.check_onnx).

Usage: python3 check_resnet.py EXPORT_DIR
"""

import os
import sys

import numpy as np
from safetensors.numpy import load_file

BN = ["weight", "bias", "running_mean", "running_var"]


def torchvision_shapes(width, inputs=3):
    """torchvision.models.resnet18's state_dict shapes with conv1 = Conv2d(inputs, width,
    3, 1, 1, bias=False) and fc = Identity()."""
    shapes = {"conv1.weight": [width, inputs, 3, 3]}
    shapes.update({f"bn1.{p}": [width] for p in BN})
    c_in = width
    for stage in range(4):
        c = width << stage
        for block in range(2):
            pre = f"layer{stage + 1}.{block}"
            shapes[f"{pre}.conv1.weight"] = [c, c_in, 3, 3]
            shapes[f"{pre}.conv2.weight"] = [c, c, 3, 3]
            for bn in ("bn1", "bn2"):
                shapes.update({f"{pre}.{bn}.{p}": [c] for p in BN})
            if block == 0 and stage > 0:
                shapes[f"{pre}.downsample.0.weight"] = [c, c_in, 1, 1]
                shapes.update({f"{pre}.downsample.1.{p}": [c] for p in BN})
            c_in = c
    return shapes


def conv(x, w, stride):
    n, c, h, wd = x.shape
    o, _, k, _ = w.shape
    pad = k // 2
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    ho, wo = (h + 2 * pad - k) // stride + 1, (wd + 2 * pad - k) // stride + 1
    cols = np.empty((n, c, k, k, ho, wo), dtype=np.float64)
    for i in range(k):
        for j in range(k):
            cols[:, :, i, j] = xp[:, :, i:i + stride * ho:stride, j:j + stride * wo:stride]
    return np.einsum("ncabhw,ocab->nohw", cols, w.astype(np.float64))


def bn(x, s, pre):
    g, b, m, v = (s[f"{pre}.{p}"].astype(np.float64)[None, :, None, None] for p in BN)
    return (x - m) / np.sqrt(v + 1e-5) * g + b


def forward(s, x):
    relu = lambda t: np.maximum(t, 0.0)
    h = relu(bn(conv(x, s["conv1.weight"], 1), s, "bn1"))
    for stage in range(4):
        for block in range(2):
            pre = f"layer{stage + 1}.{block}"
            stride = 2 if block == 0 and stage > 0 else 1
            out = relu(bn(conv(h, s[f"{pre}.conv1.weight"], stride), s, f"{pre}.bn1"))
            out = bn(conv(out, s[f"{pre}.conv2.weight"], 1), s, f"{pre}.bn2")
            if f"{pre}.downsample.0.weight" in s:
                h = bn(conv(h, s[f"{pre}.downsample.0.weight"], stride), s, f"{pre}.downsample.1")
            h = relu(out + h)
    return h.mean(axis=(2, 3))


def main():
    export_dir = sys.argv[1]
    s = load_file(f"{export_dir}/encoder.safetensors")
    width = s["conv1.weight"].shape[0]
    want = torchvision_shapes(width)
    assert sorted(s) == sorted(want), (sorted(set(s) ^ set(want)))
    for name, shape in want.items():
        assert list(s[name].shape) == shape, (name, s[name].shape, shape)
        assert s[name].dtype == np.float32, (name, s[name].dtype)
    # Trained statistics, not the initial ones: the check below then covers BatchNorm.
    assert not np.allclose(s["bn1.running_mean"], 0.0), "bn1 statistics were not exported"
    x = np.load(f"{export_dir}/input.npy").reshape(-1, 3, 32, 32).astype(np.float64)
    got = forward(s, x)
    expected = np.load(f"{export_dir}/output.npy")
    err = float(np.abs(got - expected).max())
    assert err < 1e-4, f"NumPy ResNet-18 differs from burn's by {err}"
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from check_export import check_onnx

    onnx_err = check_onnx(export_dir, prefix="")
    print(f"ok: {len(s)} tensors in torchvision's names, max error {err:.2e}, "
          f"onnx max error {onnx_err:.2e}")


if __name__ == "__main__":
    main()
