"""Do the backends train alike? One checkpoint, then the same steps resumed on each backend.

Trains the preset (SimCLR on the built-in shapes by default) for --warm steps on the CPU and
keeps its checkpoint; copies that run folder once per backend and resumes each copy for
--steps more steps on its backend, logging every step. The views come from the same seeded
pipeline on the CPU in every copy, so each step's loss may differ only by the backends'
floating-point rounding. Prints one JSON line per backend with the largest relative
difference from the CPU's losses, and exits 1 when one exceeds --tolerance or a backend
that was found failed; a backend this machine lacks is reported and skipped.

    python3 bench/backend_agreement.py --binary target/release/contrastive-workbench \\
        --backends cpu,cuda,gpu --out /tmp/agreement
    python3 bench/backend_agreement.py --compare cpu.jsonl cuda.jsonl   # two logs only
"""

import argparse
import json
import math
import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
UNAVAILABLE = "backend unavailable"


def finite_or_none(x):
    """Strict JSON has no NaN or Infinity: a loss that blew up (or none) is written as null."""
    return x if x is not None and math.isfinite(x) else None


def losses_of(lines):
    """{step: loss} of a `train` run's JSON lines (steps without a loss are skipped)."""
    out = {}
    for line in lines:
        if not line.startswith("{"):
            continue
        row = json.loads(line)
        if "step" in row and row.get("loss") is not None:
            out[int(row["step"])] = float(row["loss"])
    return out


def compare(reference, other):
    """The largest relative difference over the steps both logged, and how many those are."""
    steps = sorted(set(reference) & set(other))
    worst = 0.0
    for s in steps:
        a, b = reference[s], other[s]
        if a != a or b != b:  # NaN: never agreement
            return float("inf"), len(steps)
        worst = max(worst, abs(a - b) / max(abs(a), 1e-12))
    return worst, len(steps)


def logged_preset(preset, folder):
    """`preset` with every step logged and no evaluation inside the compared steps."""
    with open(preset) as f:
        text = f.read()
    lines = []
    for line in text.splitlines():
        key = line.split("=")[0].strip()
        if key == "log_every":
            line = "log_every = 1"
        elif key == "every":
            line = "every = 100000"
        lines.append(line)
    path = os.path.join(folder, "agreement-preset.toml")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return path


def train(binary, args, log):
    """Runs `train ...`; its stdout lines, or None when it failed (stderr kept in `log`)."""
    with open(log, "w") as err:
        done = subprocess.run([binary, "train", *args], stdout=subprocess.PIPE, stderr=err, text=True)
    if done.returncode != 0:
        return None
    return done.stdout.splitlines()


def tail(path, n=3):
    with open(path) as f:
        return " | ".join(l.strip() for l in f.read().splitlines()[-n:])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", default=os.path.join(HERE, "..", "target", "release", "contrastive-workbench"))
    ap.add_argument("--preset", default=os.path.join(HERE, "..", "presets", "simclr-shapes.toml"))
    ap.add_argument("--backends", default="cpu,cuda,gpu", help="comma-separated; the first is the reference")
    ap.add_argument("--warm", type=int, default=10, help="CPU steps before the checkpoint")
    ap.add_argument("--steps", type=int, default=20, help="steps resumed on each backend")
    ap.add_argument("--tolerance", type=float, default=1e-3, help="largest relative loss difference")
    ap.add_argument("--out", default="backend-agreement")
    ap.add_argument("--compare", nargs=2, metavar=("REFERENCE", "OTHER"),
                    help="only compare two `train` logs (JSON lines)")
    args = ap.parse_args()

    if args.compare:
        logs = []
        for path in args.compare:
            with open(path) as f:
                logs.append(losses_of(f.read().splitlines()))
        worst, n = compare(*logs)
        ok = n > 0 and worst <= args.tolerance
        print(json.dumps({"steps": n, "max_rel_diff": finite_or_none(worst), "ok": ok}))
        return 0 if ok else 1

    os.makedirs(args.out, exist_ok=True)
    preset = logged_preset(args.preset, args.out)
    base = os.path.join(args.out, "checkpoint-run")
    shutil.rmtree(base, ignore_errors=True)
    warm = train(args.binary, ["--preset", preset, "--backend", "cpu", "--steps", str(args.warm),
                               "--checkpoint-every", str(args.warm), "--out", base],
                 os.path.join(args.out, "checkpoint-run.stderr"))
    if warm is None:
        print(json.dumps({"backend": "cpu", "error": "the checkpoint run failed: "
                          + tail(os.path.join(args.out, "checkpoint-run.stderr"))}))
        return 1

    total = args.warm + args.steps
    reference, failed = None, False
    for backend in args.backends.split(","):
        run = os.path.join(args.out, backend)
        shutil.rmtree(run, ignore_errors=True)
        shutil.copytree(base, run)
        stderr = os.path.join(args.out, backend + ".stderr")
        lines = train(args.binary, ["--preset", preset, "--backend", backend, "--steps", str(total),
                                    "--resume", "--out", run], stderr)
        if lines is None:
            why = tail(stderr)
            skipped = UNAVAILABLE in why
            failed |= not skipped
            print(json.dumps({"backend": backend, "skipped" if skipped else "error": why}))
            continue
        with open(os.path.join(args.out, backend + ".jsonl"), "w") as f:
            f.write("\n".join(lines) + "\n")
        losses = {s: l for s, l in losses_of(lines).items() if s > args.warm}
        if reference is None:
            reference = losses
            print(json.dumps({"backend": backend, "reference": True, "steps": len(losses),
                              "first_loss": finite_or_none(losses.get(args.warm + 1)),
                              "last_loss": finite_or_none(losses.get(total))}))
            continue
        worst, n = compare(reference, losses)
        ok = n == len(reference) > 0 and worst <= args.tolerance
        failed |= not ok
        print(json.dumps({"backend": backend, "steps": n, "max_rel_diff": finite_or_none(worst),
                          "last_loss": finite_or_none(losses.get(total)), "ok": ok}))
    if reference is None:
        failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
