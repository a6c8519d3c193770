"""The reference training step, PyTorch and contrastive-workbench back to back on this machine.

Runs bench/torch_step.py (NCHW, then channels_last) and `contrastive-workbench bench --json`
(the fused kernels, then burn's own ops), each in its own process, with the same thread
count, and prints views/s, the parts of the step, peak RSS, the ratios against PyTorch and
each step's share of the cores' GEMM peak (the step's FLOPs as PyTorch counts them, over
the GFLOP/s of one large PyTorch matrix product timed in the same run).

    python3 -m pip install -r bench/requirements.txt     # once (large: PyPI's torch wheel)
    cargo build --release
    python3 bench/compare.py                              # or --binary PATH --python PATH
    python3 bench/compare.py --rounds 3                   # interleaved, each one's median round
"""

import argparse
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def lines_of(cmd, env):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env).stdout
    return [json.loads(l) for l in out.splitlines() if l.startswith("{")]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", default=os.path.join(HERE, "..", "target", "release", "contrastive-workbench"))
    ap.add_argument("--python", default=sys.executable, help="a Python with torch installed")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--encoder", choices=["small-cnn", "resnet18", "vit"], default="small-cnn",
                    help="the backbone (resnet18 and vit at the workbench's default shapes)")
    ap.add_argument("--rounds", type=int, default=1,
                    help="repeat PyTorch and ours this many times, interleaved, and report each "
                         "implementation's median round (a shared machine's speed drifts by 25%%)")
    ap.add_argument("--size", type=int, default=32,
                    help="the views' side in pixels (64, or 96 for STL-10's size; not the ViT)")
    args = ap.parse_args()

    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads), RAYON_NUM_THREADS=str(args.threads))
    # Neither side gets the glibc variables that hide allocation costs.
    for var in ("MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_"):
        env.pop(var, None)
    rounds = [one_round(args, env) for _ in range(max(1, args.rounds))]
    rows = [median_round([r[0][i] for r in rounds], "s_per_step") for i in range(len(rounds[0][0]))]
    ours = [median_round([r[1][i] for r in rounds], "s_per_step") for i in range(len(rounds[0][1]))]
    # The best of one timing per round: the cores' peak, less the moments another tenant
    # of the machine took its share.
    peak = max(lines_of([args.python, os.path.join(HERE, "torch_step.py"), "--gemm-peak",
                         "--threads", str(args.threads)], env)[0]["gemm_peak_gflops"]
               for _ in rounds)
    gflop = rows[0]["gflop_per_step"]
    base = rows[0]["views_per_sec"]
    print(f"{args.encoder} step: {2 * args.batch} views of {args.size}x{args.size}x3, {args.threads} threads, "
          f"median of {args.steps} steps after 2 warm-up")
    print(f"GEMM peak of these cores (PyTorch, 2048^3 fp32): {peak:.0f} GFLOP/s; "
          f"the step is {gflop:.1f} GFLOP (PyTorch's count)")
    print(f"{'implementation':58} {'s/step':>7} {'views/s':>8} {'vs PyTorch NCHW':>16} {'peak RSS':>9}"
          f" {'of peak':>8}")

    def share(seconds):
        return f"{gflop / seconds / peak * 100:7.0f}%"

    for r in rows:
        print(f"{r['impl']:58} {r['s_per_step']:7.3f} {r['views_per_sec']:8.0f} "
              f"{r['views_per_sec'] / base:15.2f}x {r['peak_rss_mib']:7.0f} MiB {share(r['s_per_step'])}")
        print(f"{'':4}forward + loss {r['forward_loss_s']:.3f} s, backward {r['backward_s']:.3f} s, "
              f"optimiser {r['optimizer_s']:.3f} s")
    for r in ours:
        p = r["phases"]
        rss = r.get("peak_rss_mib")
        print(f"{r['implementation']:58} {r['s_per_step']:7.3f} {r['views_per_sec']:8.0f} "
              f"{r['views_per_sec'] / base:15.2f}x {rss if rss is None else round(rss):>5} MiB "
              f"{share(r['s_per_step'])}")
        print(f"{'':4}forward + loss {p['encoder_forward'] + p['head_forward'] + p['loss']:.3f} s, "
              f"backward {p['backward']:.3f} s, optimiser {p['optimizer']:.3f} s")
    per_round = [r[1][0]["views_per_sec"] / r[0][1]["views_per_sec"] for r in rounds]
    print(f"{ours[0]['implementation']} vs PyTorch channels_last: "
          f"{ours[0]['views_per_sec'] / rows[1]['views_per_sec']:.2f}x"
          + (f" (medians of {len(rounds)} interleaved rounds; each round: "
             + ", ".join(f"{x:.2f}x" for x in per_round) + ")" if len(rounds) > 1 else ""))


def one_round(args, env):
    """PyTorch NCHW, PyTorch channels_last, then ours: (PyTorch's rows, ours)."""
    rows = []
    for layout in ("nchw", "channels_last"):
        rows += lines_of([args.python, os.path.join(HERE, "torch_step.py"), "--layout", layout,
                          "--threads", str(args.threads), "--steps", str(args.steps),
                          "--batch", str(args.batch), "--encoder", args.encoder,
                          "--size", str(args.size)], env)
    ours = lines_of([args.binary, "bench", "--json", "--steps", str(args.steps),
                     "--batch", str(args.batch), "--encoder", args.encoder,
                     "--size", str(args.size)], env)
    return rows, ours


def median_round(results, key):
    """The result whose `key` is the median across rounds (the lower middle of an even count)."""
    return sorted(results, key=lambda r: r[key])[(len(results) - 1) // 2]


if __name__ == "__main__":
    main()
