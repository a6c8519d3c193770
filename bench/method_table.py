"""Re-measures the README's method table: every row's method, on the view pipeline and data
of presets/simclr-shapes.toml and presets/simclr-fashion-mnist.toml, under one protocol
(200 steps of 64 images, Adam 1e-3 at a constant rate, the reference encoder, kNN with a
2,000-image bank and 800 queries), at several seeds. Prints one line per run and a
Markdown table of the means.

Usage: python3 bench/method_table.py BINARY [--seeds 0 1] [--rows simclr,moco]
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import tomllib

HERE = os.path.dirname(os.path.abspath(__file__))
PRESETS = os.path.join(HERE, "..", "presets")

# (row label, method preset, overrides of its [method] table)
ROWS = [
    ("SimCLR", "simclr-shapes", {}),
    ("MoCo v2", "moco-v2-shapes", {}),
    ("BYOL", "byol-shapes", {}),
    ("SimSiam", "simsiam-shapes", {}),
    ("Barlow Twins", "barlow-twins-shapes", {}),
    ("VICReg", "vicreg-shapes", {}),
    ("InstDisc", "instdisc-shapes", {}),
    ("CMC L vs ab", "cmc-shapes", {}),
    ("DIM local, cross-view", "dim-shapes", {}),
    ("DIM + global (0.5)", "dim-shapes", {"global_weight": 0.5}),
    ("DIM + prior (0.1)", "dim-shapes", {"prior_weight": 0.1}),
    ("CPC v2 3x3", "cpc-shapes", {}),
    ("CPC v2 7x7, k=1..3", "cpc-shapes", {"grid": 7, "steps": 3}),
    ("PixPro", "pixpro-shapes", {}),
    ("CMC L/a/b full", "cmc-shapes", {"views": "L-a-b", "graph": "full"}),
    ("CMC L/a/b core", "cmc-shapes", {"views": "L-a-b", "graph": "core"}),
    ("Margin (Hadsell)", "hadsell-shapes", {}),
    ("Triplet", "triplet-shapes", {}),
    ("NCE vs InfoNCE", "nce-shapes", {}),
    ("MoCo v3", "mocov3-shapes", {}),
    ("NNCLR", "nnclr-shapes", {}),
    ("DINO (multi-crop 2+4)", "dino-shapes", {}),
    ("DCL", "dcl-shapes", {}),
    ("DCLW", "dcl-shapes", {"weighted": True}),
    ("SupCon (labels)", "supcon-shapes", {}),
    ("SwAV", "swav-shapes", {}),
]
BASES = ["simclr-shapes", "simclr-fashion-mnist"]


def load(name):
    with open(os.path.join(PRESETS, f"{name}.toml"), "rb") as f:
        return tomllib.load(f)


def value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, list):
        return "[" + ", ".join(value(x) for x in v) + "]"
    return repr(v)


def write_toml(d, prefix=""):
    """The subset of TOML presets use: scalars, arrays, tables, arrays of tables."""
    lines = [f"{k} = {value(v)}" for k, v in d.items()
             if not isinstance(v, dict) and not (isinstance(v, list) and v and isinstance(v[0], dict))]
    for k, v in d.items():
        name = f"{prefix}{k}"
        if isinstance(v, dict):
            lines += ["", f"[{name}]", write_toml(v, f"{name}.")]
        elif isinstance(v, list) and v and isinstance(v[0], dict):
            for item in v:
                lines += ["", f"[[{name}]]", write_toml(item, f"{name}.")]
    return "\n".join(l for l in lines if l is not None)


def experiment(base, method_preset, overrides, seed):
    exp = load(base)
    exp["name"] = f"table-{method_preset}"
    exp["seed"] = seed
    exp["method"] = {**load(method_preset)["method"], **overrides}
    exp["train"].update(steps=200, batch_size=64, learning_rate=1e-3, optimizer="adam",
                        schedule="constant", warmup_steps=0, log_every=50)
    exp["eval"].update(every=200, bank_size=2000, query_size=800, knn_k=20,
                       knn_temperature=0.1)
    return exp


def run(binary, exp):
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "preset.toml")
        with open(path, "w") as f:
            f.write(write_toml(exp) + "\n")
        out = subprocess.run([binary, "train", "--preset", path, "--out", os.path.join(tmp, "run")],
                             capture_output=True, text=True)
    if out.returncode != 0:
        return None, out.stderr.strip().splitlines()[-1] if out.stderr.strip() else "failed"
    final = json.loads(out.stdout.strip().splitlines()[-1])
    return (final["baseline_top1"], final["final_knn_top1"]), None


def main():
    p = argparse.ArgumentParser()
    p.add_argument("binary")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    p.add_argument("--rows", default="")
    a = p.parse_args()
    wanted = [r for r in a.rows.split(",") if r]
    table = []
    for label, preset, overrides in ROWS:
        if wanted and not any(w.lower() in label.lower() for w in wanted):
            continue
        cells = []
        for base in BASES:
            runs, why = [], None
            for seed in a.seeds:
                got, why = run(a.binary, experiment(base, preset, overrides, seed))
                print(f"{label:24} {base:22} seed {seed}: "
                      + (f"{100 * got[0]:.1f} -> {100 * got[1]:.1f}" if got else f"refused: {why}"),
                      flush=True)
                if got is None:
                    break
                runs.append(got)
            if runs:
                base_mean = 100 * sum(r[0] for r in runs) / len(runs)
                trained = [100 * r[1] for r in runs]
                mean = sum(trained) / len(trained)
                spread = " / ".join(f"{t:.1f}" for t in trained)
                cells.append(f"{base_mean:.1f} -> {mean:.1f} ({spread})")
            else:
                cells.append("refused")
        table.append(f"| {label} | {' | '.join(cells)} |")
    print("\n| method | shapes | fashion-mnist-mini |\n|---|---|---|")
    print("\n".join(table))


if __name__ == "__main__":
    sys.exit(main())
