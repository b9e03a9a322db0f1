#!/usr/bin/env bash
# Issue 27's GPU checks as one call on a lent GPU machine, which has PyTorch and pytest but no VapourSynth:
# the GPU tests, then bench/gpu.py (its defaults, or the options given), their output under OUT.
#   bash training/recipes/device.sh pack      # here, once: .device/ with VapourSynth's wheel and the dvd plugin
#   run(command='bash bench/device.sh $OUT', carry=['.device'], timeout_s=600)
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${1:?usage: bench/device.sh OUT [bench/gpu.py options]}; shift
PY=${PYTHON:-python3}
SITE=$(PYTHON=$PY bash "$ROOT/training/recipes/device.sh" site) || exit 1
export PYTHONPATH=$SITE:$ROOT${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1
cd "$ROOT"
nvidia-smi > "$OUT/gpu.txt" 2>&1
# The tests of the cuda backend and the GPU frame path (their CUDA cases skip without a GPU; TensorRT's need
# TensorRT, which that machine lacks), at most 3 minutes; a failure here does not stop the benchmark.
timeout 180 $PY -m pytest -q -p no:cacheprovider tests/test_backends_cuda.py tests/test_gpu_path.py 2>&1 | tee "$OUT/tests.log" | tail -15
$PY bench/gpu.py "$@" 2>&1 | tee "$OUT/gpu.log"
