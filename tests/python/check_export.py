"""Reads a contrastive-workbench export as a user taking the encoder elsewhere does: the
safetensors and embeddings with numpy and safetensors alone, checked against expected.json
(written by the Rust test, tests/python_export.rs, from what Rust wrote: tensor names, shapes
and values, the embeddings' shape and first row); and encoder.onnx with onnx's checker and
onnxruntime, against the burn encoder's output for a fixed input.

Usage: python3 check_export.py EXPORT_DIR EXPECTED_JSON
"""

import csv
import json
import sys

import numpy as np
from safetensors.numpy import load_file


def check_tensors(export_dir, expected):
    for file, tensors in expected["safetensors"].items():
        loaded = load_file(f"{export_dir}/{file}")
        assert sorted(loaded) == sorted(tensors), (file, sorted(loaded), sorted(tensors))
        for name, want in tensors.items():
            a = loaded[name]
            assert a.dtype == np.float32, (file, name, a.dtype)
            assert list(a.shape) == want["shape"], (file, name, a.shape, want["shape"])
            first = np.array(want["first"], dtype=np.float32)
            assert np.array_equal(a.ravel()[: len(first)], first), (file, name)
            total = float(a.astype(np.float64).sum())
            assert abs(total - want["sum"]) <= 1e-9 * max(1.0, abs(want["sum"])), (
                file, name, total, want["sum"])


def check_embeddings(export_dir, expected):
    want = expected["embeddings"]
    e = np.load(f"{export_dir}/embeddings.npy")
    assert e.dtype == np.float32, e.dtype
    assert list(e.shape) == want["shape"], (e.shape, want["shape"])
    assert np.array_equal(e[0], np.array(want["first_row"], dtype=np.float32))
    # The text files hold the same numbers (Rust prints the shortest exact decimal).
    with open(f"{export_dir}/embeddings.csv", newline="") as f:
        rows = list(csv.reader(f))
    header, body = rows[0], rows[1:]
    assert header[:4] == ["split", "index", "label", "class"], header
    assert len(header) == 4 + e.shape[1] and len(body) == e.shape[0]
    from_csv = np.array([[float(x) for x in r[4:]] for r in body], dtype=np.float32)
    assert np.allclose(from_csv, e, rtol=1e-6, atol=0), "embeddings.csv differs from the NPY"
    labels = [int(r[2]) for r in body]
    assert labels == want["labels"], "labels in embeddings.csv"
    vectors = np.loadtxt(f"{export_dir}/vectors.tsv", delimiter="\t", dtype=np.float64, ndmin=2)
    assert np.allclose(vectors.astype(np.float32), e, rtol=1e-6, atol=0), "vectors.tsv"
    with open(f"{export_dir}/metadata.tsv") as f:
        meta = f.read().splitlines()
    # The shapes' nuisance attributes follow, one column each (the Projector colours by them).
    assert meta[0].split("\t") == ["class", "label", "split", "index", "source",
                                   "colour", "background", "size"], meta[0]
    assert len(meta) == e.shape[0] + 1
    assert [int(m.split("\t")[1]) for m in meta[1:]] == want["labels"], "metadata.tsv labels"


def check_onnx(export_dir, prefix="onnx_", any_size=True):
    """encoder.onnx passes ONNX's full checker and, in onnxruntime, gives the burn
    encoder's output for the fixed input the Rust test wrote (to 1e-4), as
    <prefix>input.npy and <prefix>output.npy; with any_size, other image sizes run too."""
    import onnx
    import onnxruntime as ort

    model = onnx.load(f"{export_dir}/encoder.onnx")
    onnx.checker.check_model(model, full_check=True)
    x = np.load(f"{export_dir}/{prefix}input.npy")
    side = int(round((x.shape[1] / 3) ** 0.5))  # rows are 3 x side x side images
    x = x.reshape(-1, 3, side, side).astype(np.float32)
    want = np.load(f"{export_dir}/{prefix}output.npy")
    session = ort.InferenceSession(f"{export_dir}/encoder.onnx", providers=["CPUExecutionProvider"])
    (got,) = session.run(["representation"], {"input": x})
    err = float(np.abs(got - want).max())
    scale = max(1.0, float(np.abs(want).max()))
    assert err <= 1e-4 * scale, f"onnxruntime differs from burn by {err}"
    # The batch dimension is dynamic: one image alone gives its own row.
    (one,) = session.run(["representation"], {"input": x[:1]})
    assert np.abs(one - want[:1]).max() <= 1e-4 * scale
    # So is the image size: a larger image gives one row of the same width per image.
    if any_size:
        (larger,) = session.run(["representation"], {"input": np.zeros((2, 3, 40, 40), np.float32)})
        assert larger.shape == (2, want.shape[1]), larger.shape
    return err


def check_tensorboard(export_dir):
    """TensorBoard's own reader finds the scalars metrics.csv holds, and the hyperparameters.
    Skipped, saying so, where the tensorboard package is missing (CI installs it)."""
    try:
        from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    except ImportError:
        print("tensorboard not installed: event file check skipped")
        return "skipped"
    acc = EventAccumulator(export_dir)
    acc.Reload()
    tags = acc.Tags()["scalars"]
    for tag in ["train/loss", "representation/align", "eval/knn_top1"]:
        assert tag in tags, (tag, tags)
    with open(f"{export_dir}/metrics.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    loss = {int(r["step"]): float(r["loss"]) for r in rows}
    got = {e.step: e.value for e in acc.Scalars("train/loss")}
    assert sorted(got) == sorted(loss), (sorted(got), sorted(loss))
    for step, value in got.items():
        assert abs(value - loss[step]) <= 1e-6 * max(1.0, abs(loss[step])), (step, value, loss[step])
    with open(f"{export_dir}/eval.csv", newline="") as f:
        knn = {int(r["step"]): float(r["knn_top1"]) for r in csv.DictReader(f)}
    assert {e.step: round(e.value, 6) for e in acc.Scalars("eval/knn_top1")} == {
        k: round(v, 6) for k, v in knn.items()}
    # The hyperparameters travel as the HParams plugin's session start.
    from tensorboard.plugins.hparams import plugin_data_pb2
    content = acc.PluginTagToContent("hparams")["_hparams_/session_start_info"]
    start = plugin_data_pb2.HParamsPluginData.FromString(content).session_start_info
    assert start.hparams["train.batch_size"].number_value > 0, start.hparams
    assert start.hparams["method.kind"].string_value, start.hparams
    # The projector's config, parsed by TensorBoard's own proto, points at the embeddings.
    from google.protobuf import text_format
    from tensorboard.plugins.projector import projector_plugin
    from tensorboard.plugins.projector.projector_config_pb2 import ProjectorConfig
    with open(f"{export_dir}/projector_config.pbtxt") as f:
        config = text_format.Parse(f.read(), ProjectorConfig())
    tensor = projector_plugin._read_tensor_tsv_file(f"{export_dir}/{config.embeddings[0].tensor_path}")
    assert tensor.shape == np.load(f"{export_dir}/embeddings.npy").shape, tensor.shape
    return f"{len(got)} losses"


def main():
    export_dir, expected_path = sys.argv[1], sys.argv[2]
    with open(expected_path) as f:
        expected = json.load(f)
    check_tensors(export_dir, expected)
    check_embeddings(export_dir, expected)
    err = max(check_onnx(export_dir), check_onnx(f"{export_dir}/ln"))
    tb = check_tensorboard(export_dir)
    print(f"ok: {sum(len(t) for t in expected['safetensors'].values())} tensors, "
          f"embeddings {expected['embeddings']['shape']}, onnx max error {err:.2e}, "
          f"tensorboard {tb}")


if __name__ == "__main__":
    main()
