#!/usr/bin/env bash
# The GPU figures of the README, in one short run (under 8 minutes, inside one device call's
# 10) on a machine with an NVIDIA GPU: `bench` on every backend the binary has (the CPU,
# then wgpu; CUDA too if it was built with `--features cuda`, which needs GitHub access for
# cubecl's LLVM), one headless SimCLR run on the built-in shapes on the GPU, and PyTorch's
# CUDA step of the same reference model for the ratio. Everything lands in OUT_DIR
# (8 files at most).
#
# Build here and carry the binary stripped and compressed (the device machine takes 64 MiB
# in all; measured: 204 MB built, 153 MB stripped, 27 MB after xz):
#   cargo build --release --features gpu
#   mkdir -p gpu-bin && strip -o gpu-bin/contrastive-workbench \
#       "${CARGO_TARGET_DIR:-target}/release/contrastive-workbench" \
#     && xz -T0 -6 gpu-bin/contrastive-workbench
# then, there (carry gpu-bin, and .gl with the Vulkan loader if it has none):
#   bench/gpu_check.sh gpu-bin/contrastive-workbench.xz "$OUT"
# Every step is bounded by `timeout` (470 s in all), and one that fails leaves the others'
# figures.
set -uo pipefail
bin=${1:?usage: bench/gpu_check.sh BINARY OUT_DIR}
out=${2:?usage: bench/gpu_check.sh BINARY OUT_DIR}
mkdir -p "$out"
summary="$out/summary.txt"
if [[ $bin == *.xz ]]; then
  xz -dc "$bin" >/tmp/contrastive-workbench && chmod +x /tmp/contrastive-workbench
  bin=/tmp/contrastive-workbench
fi

# The Vulkan loader, when carried as .debs (see the device README), and NVIDIA's ICD.
for deb in .gl/*.deb; do [ -e "$deb" ] && dpkg -x "$deb" /; done
ldconfig 2>/dev/null || true
icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
[ -e "$icd" ] && export VK_DRIVER_FILES="$icd"

step() { # name, seconds, command...: runs it, logs its exit status and time.
  local name=$1 limit=$2
  shift 2
  local start rc
  start=$(date +%s)
  timeout "$limit" "$@"
  rc=$?
  echo "$name: exit $rc after $(($(date +%s) - start)) s" >>"$summary"
}

nvidia-smi >"$out/nvidia-smi.txt" 2>&1
echo "binary: $("$bin" --version 2>&1)" >"$summary"

step bench 200 "$bin" bench --steps 5 >"$out/bench.txt" 2>&1

run=$(mktemp -d)/simclr-shapes
step train 150 "$bin" train --preset presets/simclr-shapes.toml --backend auto \
  --out "$run" >"$out/train.jsonl" 2>"$out/train-stderr.txt"
[ -e "$run/eval.csv" ] && cp "$run/eval.csv" "$out/train-eval.csv"

step pytorch-cuda 60 python3 bench/torch_step.py --device cuda --steps 20 \
  >"$out/torch.jsonl" 2>&1
step pytorch-cuda-channels-last 60 python3 bench/torch_step.py --device cuda --steps 20 \
  --layout channels_last >>"$out/torch.jsonl" 2>&1

cat "$summary"
grep -E "^device:|train_step" "$out/bench.txt"
grep -m1 "^backend:" "$out/train-stderr.txt"
tail -n 2 "$out/train.jsonl"
cat "$out/torch.jsonl"
