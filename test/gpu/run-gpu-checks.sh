#!/bin/bash
# GPU checks of the NVPTX target (needs an NVIDIA GPU + driver; NOT run in
# CI). Builds ntp, then benchmarks/gpu_checks.py:
#   1. correctness: GPU kernels (orders 0..9, f32 and f64, several batch
#      sizes including ragged ones) against the CPU kernels, which the CPU
#      test suite checks against the reference evaluator; same tolerances as
#      the CPU tests;
#   2. timing: orders 0..9 of the 1-24-24-24-1 tanh network at batch 256 and
#      4096, f32 and f64, beside PyTorch nested autograd and JAX
#      jax.experimental.jet (jit, precision "highest"), one table.
# Usage: test/gpu/run-gpu-checks.sh [build-dir]   (env: CHIP=sm_XX)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$root/build-gpu-checks}
if ! command -v nvidia-smi >/dev/null || ! nvidia-smi >/dev/null 2>&1; then
  echo "run-gpu-checks: no NVIDIA GPU/driver here (nvidia-smi failed)" >&2
  exit 77
fi
if [ -z "${CHIP:-}" ]; then
  cc=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader | head -n1)
  CHIP=sm_${cc/./}
fi
echo "GPU: $(nvidia-smi --query-gpu=name --format=csv,noheader | head -n1) ($CHIP)"
cmake -G Ninja -S "$root" -B "$build" \
  -DMLIR_DIR=${MLIR_DIR:-/usr/lib/llvm-22/lib/cmake/mlir} \
  -DCMAKE_C_COMPILER=${CC:-clang-22} -DCMAKE_CXX_COMPILER=${CXX:-clang++-22} >/dev/null
ninja -C "$build" ntp-compile ntp_runtime
exec python3 "$root/benchmarks/gpu_checks.py" --build "$build" --chip "$CHIP"
