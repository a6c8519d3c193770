#!/usr/bin/env bash
# The GPU figures of the README, in one run of under 8 minutes (inside one device call's
# 10) on a machine with an NVIDIA GPU, its CUDA driver and toolkit, and PyTorch with CUDA:
#   1. the training step, on every GPU backend the binary has (CUDA, then wgpu on Vulkan),
#      beside PyTorch CUDA fp32 (NCHW and channels_last) in the same run: the reference
#      SimCLR step at batch 256 and 1,024, and ResNet-18 (CIFAR stem) at batch 256;
#   2. correctness: one CPU checkpoint resumed for 20 steps on the CPU, CUDA and wgpu, each
#      step's loss within 1e-3 (relative) of the CPU's (bench/backend_agreement.py);
#   3. headless SimCLR runs on the GPU, end to end (augmentation, logging, evaluation):
#      the built-in shapes with the views made on the CPU and then on the GPU, and the
#      built-in Fashion-MNIST sample. Each logged step says its views/s and the share of
#      time the trainer waited for views.
#   4. the views' throughput (bench --views-only): SimCLR's views on every CPU thread, and
#      rendered on CUDA (train.augment_on = "device"), in views.jsonl.
# bench/gpu_ratios.py turns part 1 into the ratios. Every step is bounded by `timeout`
# (450 s in all, GPU_CHECK_SECONDS), one that fails leaves the others' figures, and everything lands in
# OUT_DIR as at most 9 files.
#
# Build here (scripts/install-cuda-llvm.sh first, once), strip and compress (the device
# machine takes 64 MiB in all):
#   cargo build --release --features gpu,cuda
#   mkdir -p gpu-bin && strip -o gpu-bin/contrastive-workbench \
#       "${CARGO_TARGET_DIR:-target}/release/contrastive-workbench" \
#     && xz -T0 -9 gpu-bin/contrastive-workbench
# then, there (carry gpu-bin, and .gl with the Vulkan loader if it has none):
#   bench/gpu_check.sh gpu-bin/contrastive-workbench.xz "$OUT"
# The op-by-op and gradient comparisons of wgpu with the CPU (tests/gpu_ops_agreement.rs)
# are a test binary, 20 MB after xz, too big to carry beside this one: a second call,
# carrying gpu-test and .gl, after
#   cargo test --release --features gpu --test gpu_ops_agreement --no-run
#   strip -o gpu-test/gpu_ops_agreement <the test binary it names> && xz -T0 -9 gpu-test/*
# runs there (the Vulkan loader set up as below):
#   xz -dc gpu-test/gpu_ops_agreement.xz >/tmp/t && chmod +x /tmp/t \
#     && /tmp/t --ignored --nocapture --test-threads=1
set -uo pipefail
bin=${1:?usage: bench/gpu_check.sh BINARY OUT_DIR}
out=${2:?usage: bench/gpu_check.sh BINARY OUT_DIR}
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$out"
summary="$out/summary.txt" steps="$out/steps.jsonl" log="$out/log.txt"
: >"$steps"
: >"$log"
if [[ $bin == *.xz ]]; then
  xz -dc "$bin" >/tmp/contrastive-workbench && chmod +x /tmp/contrastive-workbench
  bin=/tmp/contrastive-workbench
fi
export PYTHONUNBUFFERED=1

# The Vulkan loader, when carried as .debs (see the device README), and NVIDIA's ICD.
for deb in .gl/*.deb; do [ -e "$deb" ] && dpkg -x "$deb" /; done
ldconfig 2>/dev/null || true
icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
[ -e "$icd" ] && export VK_DRIVER_FILES="$icd"

# The whole check ends by this time, so it fits one device call; what ran is kept.
deadline=$(($(date +%s) + ${GPU_CHECK_SECONDS:-450}))

step() { # name, seconds, command...: runs it (output to the log), notes its exit and time.
  local name=$1 limit=$2
  shift 2
  local start rc left
  start=$(date +%s)
  left=$((deadline - start))
  if [ "$left" -lt 10 ]; then
    echo "$name: skipped, the check's time is up" >>"$summary"
    return
  fi
  [ "$left" -lt "$limit" ] && limit=$left
  echo "== $name: $*" >>"$log"
  # Through bash, so a step may be the `tagged` function (timeout runs programs only).
  timeout "$limit" bash -c '"$@"' step "$@" 2>>"$log"
  rc=$?
  echo "$name: exit $rc after $(($(date +%s) - start)) s" >>"$summary"
}

tagged() { # case, then a command whose JSON lines go to steps.jsonl with the case added.
  local case=$1
  shift
  "$@" | sed -u "s/^{/{\"case\": \"$case\", /" | grep '^{' >>"$steps"
}
export -f tagged
export steps

nvidia-smi >"$out/nvidia-smi.txt" 2>&1
{
  echo "binary: $("$bin" --version 2>&1)"
  echo "python: $(python3 -c 'import torch; print(torch.__version__, torch.version.cuda, torch.cuda.get_device_name(0))' 2>&1)"
  echo "cores: $(nproc)"
} >"$summary"

# 1. The step: ours on CUDA with PyTorch beside it, then ours on wgpu (after the
# correctness check: CUDA's figures come first if time runs short). The first call on a
# backend compiles and autotunes its kernels (kept in ~/.cache/cubecl for the later ones).
# The timing allows a device that sums long rows wrong (engine/backend/long_sums.rs), so
# its speed is known whatever; the agreement and the runs do not: their log says why a
# device was refused.
cases=("small-cnn 256" "small-cnn 1024" "resnet18 256")
bench_on() { # backend
  for c in "${cases[@]}"; do
    set -- $c
    step "bench $backend $1 $2" 90 tagged "$1-$2" \
      env CW_ALLOW_WRONG_GPU_SUMS=1 "$bin" bench --json --backend "$backend" --encoder "$1" --batch "$2" --steps 10
  done
}
backend=cuda bench_on
for layout in nchw channels_last; do
  for c in "${cases[@]}"; do
    set -- $c
    step "pytorch $layout $1 $2" 45 tagged "$1-$2" \
      python3 "$here/torch_step.py" --device cuda --layout "$layout" --encoder "$1" \
      --batch "$2" --steps 20 --warmup 5
  done
done

# How fast the views come: on every CPU thread, and rendered on the GPU (augment_on).
step "views on cuda" 45 env CW_ALLOW_WRONG_GPU_SUMS=1 \
  "$bin" bench --views-only --backend cuda --batch 256 --steps 20 >"$out/views.jsonl"

# 2. Correctness across backends.
step "agreement" 90 python3 "$here/backend_agreement.py" --binary "$bin" \
  --backends cpu,cuda,gpu --out /tmp/agreement >"$out/agreement.jsonl"
backend=gpu bench_on

# 3. Whole runs on the GPU (auto: CUDA first), every 5th step logged as the window would:
# the views made on the CPU, then (shapes) on the GPU itself (train.augment_on = device),
# whose views/s beside the first say whether the CPU keeps the GPU fed.
train_run() { # preset, where the views are made
  step "train $1 (views on $2)" 60 "$bin" train --preset "$here/../presets/$1.toml" \
    --backend auto --augment-on "$2" --steps 400 --force --out "/tmp/$1-$2" \
    >"$out/train-$1-$2.jsonl"
}
train_run simclr-shapes cpu
train_run simclr-shapes device
train_run simclr-fashion-mnist cpu

python3 "$here/gpu_ratios.py" "$steps" >>"$summary" 2>&1
cat "$summary" "$out/agreement.jsonl" "$out/views.jsonl"
for run in "$out"/train-*.jsonl; do echo "${run##*/}"; tail -n 2 "$run"; done
grep -m2 "^backend:\|device:" "$log"
