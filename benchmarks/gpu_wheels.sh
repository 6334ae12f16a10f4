#!/usr/bin/env bash
# Prepare .whl/: the Python packages benchmarks/gpu_check.sh needs on a GPU machine that has no
# network (Python 3.12, x86-64; torch, numpy, rich, typer, safetensors, filelock, threadpoolctl,
# cloudpickle, pytest are there already).
#
# Why parts: warp-lang's wheel is 149 MB (its warp.so alone is 298 MB unpacked), while one call
# of the device tool carries at most 64 MiB with the checkout. So the packages are installed
# here into one folder (for Python 3.12, nothing imported: pip only unpacks), the files no run
# imports are dropped (warp's examples, tests and CPU compiler warp-clang.so; MuJoCo's studio),
# the folder is packed as one tar.xz and cut into parts of at most PART_MIB MiB:
#   .whl/part1/, .whl/part2/, ...   each: site.tar.xz.NN + MANIFEST (sha256 of every part)
# Each part travels in its own call, the calls back to back (a machine stays warm 30 s):
#   call k < last:  carry [".whl/partk"]  command: bash benchmarks/gpu_check.sh --stage
#   last call:      carry [".whl/partK"]  command: bash benchmarks/gpu_check.sh
# This script prints those calls with the sizes that travel.
#
# Usage: bash benchmarks/gpu_wheels.sh        (PART_MIB=48 by default; needs pip, xz, network)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
PART_MIB=${PART_MIB:-48}
W=.whl
PKGS=(
  mujoco==4.0.1 mujoco-core==4.0.1 mujoco-warp==4.0.0 warp-lang==1.19.0
  gymnasium==1.4.0 farama-notifications==0.0.6 absl-py==2.5.1 etils==1.15.0
)
PLAT=()
for p in manylinux_2_28_x86_64 manylinux_2_27_x86_64 manylinux_2_17_x86_64 manylinux2014_x86_64 \
  manylinux1_x86_64; do PLAT+=(--platform "$p"); done
TARGET=(--only-binary=:all: --python-version 3.12 --implementation cp "${PLAT[@]}")

grep -qx '.whl/' .gitignore || { echo "add '.whl/' to .gitignore first" >&2; exit 2; }
mkdir -p "$W/dl"
echo "downloading ${#PKGS[@]} wheels into $W/dl (cached there)..."
"$PY" -m pip download -q --no-deps "${TARGET[@]}" -d "$W/dl" "${PKGS[@]}"

rm -rf "$W/site" "$W"/part*
echo "unpacking for Python 3.12 into $W/site..."
"$PY" -m pip install -q --no-index --no-deps --no-compile --find-links "$W/dl" "${TARGET[@]}" \
  --target "$W/site" "${PKGS[@]}"
# what no run imports: warp's examples, tests and CPU-kernel compiler (CUDA needs none of them),
# MuJoCo's headers, tests and test models
rm -rf "$W/site/warp/examples" "$W/site/warp/tests" "$W/site/warp/bin/warp-clang.so" \
  "$W/site/mujoco/include" "$W/site/mujoco/testdata" "$W/site/bin"
find "$W/site" -name '*_test.py' -delete
du -sm "$W/site" | awk '{print "unpacked, pruned:", $1, "MB"}'

echo "packing (xz -9: tens of minutes on 2 busy cores)..."
tar -C "$W/site" -cf - . | xz -9 -T0 > "$W/site.tar.xz"
split -b "${PART_MIB}M" -d "$W/site.tar.xz" "$W/site.tar.xz."
rm -rf "$W/site" "$W/site.tar.xz"
parts=("$W"/site.tar.xz.*)
n=${#parts[@]}
(cd "$W" && sha256sum site.tar.xz.* > MANIFEST)
tree_mib=$(git ls-files -z | xargs -0 du -cb 2>/dev/null | tail -1 | awk '{printf "%.1f", $1/1048576}')
i=1
for f in "${parts[@]}"; do
  mkdir -p "$W/part$i"
  mv "$f" "$W/part$i/"
  cp "$W/MANIFEST" "$W/part$i/"
  size=$(du -cb "$W/part$i"/* | tail -1 | awk '{printf "%.1f", $1/1048576}')
  if ((i < n)); then cmd="bash benchmarks/gpu_check.sh --stage"; else cmd="bash benchmarks/gpu_check.sh"; fi
  echo "call $i of $n: carry [\"$W/part$i\"] ($size MiB + tracked files $tree_mib MiB)  command: $cmd"
  i=$((i + 1))
done
rm "$W/MANIFEST"
