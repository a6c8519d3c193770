"""The GPU check's step figures as ratios: each of the workbench's backends against PyTorch.

Reads the JSON lines bench/gpu_check.sh gathered (each with a "case", e.g. "resnet18-256":
`contrastive-workbench bench --json --backend ...` and bench/torch_step.py --device cuda in
both layouts) and prints, per case, every implementation's seconds per step, views/s and
views/s over PyTorch's (above 1: faster than PyTorch). A case PyTorch did not finish has
no ratio.

    python3 bench/gpu_ratios.py OUT/steps.jsonl
"""

import json
import sys


def rows_of(path):
    with open(path) as f:
        return [json.loads(l) for l in f if l.startswith("{")]


def name_of(row):
    """PyTorch's lines say "impl", the workbench's "implementation"."""
    return row.get("impl") or row.get("implementation") or "?"


def layout_of(row):
    name = name_of(row)
    if not name.startswith("pytorch"):
        return None
    return "channels_last" if "channels_last" in name else "nchw"


def table(rows):
    """Lines of the ratio table, in the order the cases first appear."""
    cases = list(dict.fromkeys(r["case"] for r in rows))
    lines = [f"{'case':16} {'implementation':64} {'s/step':>8} {'views/s':>9} {'vs NCHW':>8} {'vs CL':>7}"]
    for case in cases:
        these = [r for r in rows if r["case"] == case]
        torch = {layout_of(r): r["views_per_sec"] for r in these if layout_of(r)}
        for r in these:
            ratio = lambda layout: (f"{r['views_per_sec'] / torch[layout]:.2f}x"
                                    if layout in torch else "-")
            lines.append(f"{case:16} {name_of(r)[:64]:64} {r['s_per_step']:8.4f} "
                         f"{r['views_per_sec']:9.0f} {ratio('nchw'):>8} {ratio('channels_last'):>7}")
    return lines


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: gpu_ratios.py STEPS_JSONL")
    print("\n".join(table(rows_of(sys.argv[1]))))


if __name__ == "__main__":
    main()
