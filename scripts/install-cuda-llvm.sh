#!/usr/bin/env bash
# Makes `cargo build --release --features cuda` build from the package registries alone.
#
# Why: burn's CUDA backend (cubecl-cuda 0.11) compiles its kernels with LLVM's NVPTX target
# and depends on cubecl-llvm, whose build dependency tracel-llvm-bundler downloads a
# prebuilt LLVM from GitHub releases. Its build script skips the download when the marker
# file `.tracel-llvm-installed` sits in `<data dir>/tracel/tracel-llvm-<bundler version>`
# (`$XDG_DATA_HOME`, else `~/.local/share`), and cubecl-llvm then links that folder's LLVM
# through its `bin/llvm-config --link-static`. PyPI's mlc-llvm-static wheels ship exactly
# that: static, position-independent LLVM libraries with the NVPTX target, the headers and
# a standalone `llvm-config`. This script installs them into a folder of ours, links the
# bundler's folder to them and writes the marker. It is idempotent; run it again after
# `cargo update` moves tracel-llvm-bundler (the folder name follows its version).
#
# Needs: python3 with pip (PyPI), a C++ compiler (cubecl-llvm's shims), and zlib and zstd
# to link against (Debian: g++ zlib1g-dev libzstd-dev, installed here when missing and root).
set -euo pipefail
cd "$(dirname "$0")/.."

# The wheels: LLVM 23.1.1, a patch release beside the bundler's 23.1.0 (same C API).
llvm_release=23.1.1.post0
llvm_major=23
wheels=(mlc-llvm-static=="$llvm_release" mlc-llvm-static-extra-targets=="$llvm_release")

die() { echo "install-cuda-llvm: $*" >&2; exit 1; }

# The bundler's version decides the folder its build script looks in.
bundler=$(awk '/^name = "tracel-llvm-bundler"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)
[ -n "$bundler" ] || die "Cargo.lock names no tracel-llvm-bundler: is the cuda feature still burn/cuda?"
[ "${bundler%%.*}" = "$llvm_major" ] ||
  die "tracel-llvm-bundler $bundler wants LLVM ${bundler%%.*}, these wheels are LLVM $llvm_major: update llvm_release here"

data_dir=${XDG_DATA_HOME:-$HOME/.local/share}
install_dir="$data_dir/contrastive-workbench/mlc-llvm-static-$llvm_release"
llvm_root="$install_dir/mlc_llvm_static/static"
bundler_dir="$data_dir/tracel/tracel-llvm-$bundler"
marker="$llvm_root/.tracel-llvm-installed"

# zlib and zstd: LLVM's `llvm-config --system-libs` asks the linker for -lz -lzstd; g++:
# cubecl-llvm compiles two C++ shims.
missing=()
for pkg in zlib1g-dev libzstd-dev g++; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ] && command -v apt-get >/dev/null; then
  [ "$(id -u)" = 0 ] || die "install ${missing[*]} (Debian packages) first, or run this as root"
  echo "installing: ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
command -v c++ >/dev/null || die "no C++ compiler (c++): cubecl-llvm compiles two C++ shims against LLVM"

if [ ! -x "$llvm_root/bin/llvm-config" ]; then
  echo "installing LLVM $llvm_release (static, with NVPTX) from PyPI into $install_dir"
  rm -rf "$install_dir"
  mkdir -p "$install_dir"
  # Debian's own Python refuses pip without the override flag, even into a --target folder.
  python3 -m pip install --quiet --no-deps --target "$install_dir" "${wheels[@]}" ||
    python3 -m pip install --quiet --no-deps --break-system-packages --target "$install_dir" "${wheels[@]}" ||
    die "pip could not install ${wheels[*]}"
fi

version=$("$llvm_root/bin/llvm-config" --version) || die "$llvm_root/bin/llvm-config does not run (python3?)"
[ "${version%%.*}" = "$llvm_major" ] || die "$llvm_root holds LLVM $version, not $llvm_major"
"$llvm_root/bin/llvm-config" --targets-built | grep -qw NVPTX ||
  die "LLVM in $llvm_root lacks the NVPTX target (mlc-llvm-static-extra-targets missing?)"

# The bundler's folder: a link to ours. A real folder there is the bundler's own download
# (it writes the same marker when done): that LLVM works too, and is not ours to delete.
mkdir -p "$(dirname "$bundler_dir")"
if [ -d "$bundler_dir" ] && [ ! -L "$bundler_dir" ]; then
  [ -e "$bundler_dir/.tracel-llvm-installed" ] ||
    die "$bundler_dir is a half-finished download of the bundler's: remove it and run this again"
  echo "$bundler_dir already holds tracel's own LLVM; nothing to do"
  exit 0
fi
ln -sfn "$llvm_root" "$bundler_dir"
touch "$marker"
echo "LLVM $version with NVPTX at $llvm_root, linked as $bundler_dir"
echo "now: cargo build --release --features cuda"
