#!/bin/bash
# GPU checks of the NVPTX target (needs an NVIDIA GPU + driver; NOT run in
# CI): benchmarks/gpu_checks.py
#   1. correctness: GPU kernels (orders 0..9, f32 and f64, several batch
#      sizes including ragged ones) against the CPU kernels, which the CPU
#      test suite checks against the reference evaluator; same tolerances as
#      the CPU tests;
#   2. timing: orders 0..9 of the 1-24-24-24-1 tanh network at batch 256 and
#      4096, f32 and f64, beside PyTorch nested autograd and JAX
#      jax.experimental.jet (jit, precision "highest"), one table;
#   3. (--bundle mode) the scaling study on the GPU: benchmarks/paper_study.py
#      --device cuda with the bundle's CUDA artifacts (order sweep 0..9 of
#      1-24-24-24-1 and the reduced grid, batch 256, f32) beside PyTorch
#      nested autograd and n-TangentProp on the GPU, agreement checked first;
#      its PyTorch cells stop when the time budget is spent (env:
#      STUDY=0 skips it; TOTAL_BUDGET_S=510, the whole command's budget from
#      its start, of which the study gets what gpu_checks.py left, less 60 s;
#      STUDY_ARGS: more paper_study.py options).
# Both the forward and the reverse mode (forward-save + backward-saved, the
# bundle's CUDA artifacts carry it) are checked against the CPU kernels and
# timed (a training step beside PyTorch nested autograd + backward and JAX
# jax.grad of the jet).
#   4. (--bundle mode) partials kernels: benchmarks/gpu_partials_checks.py,
#      the bundle's partials/ (Laplacian d = 2, 8, 32; 35 partials to order
#      4; mixed partials with the reverse mode) against their CPU kernels,
#      and the Laplacian and the 35 partials timed beside PyTorch on the GPU
#      (nested autograd, the forward Laplacian, vmap(hessian)); within
#      PARTIALS_BUDGET_S (70 s; --quick 25 s) before the study (PARTIALS=0
#      skips it). Its results: gpu_partials_<gpu>_<date>.{md,csv}.
# Usage:
#   test/gpu/run-gpu-checks.sh --bundle DIR [--quick] [gpu_checks.py options]
#       --quick: the rerun mode, about 2 minutes: orders 0,1,2,5,9, fewer
#       correctness batches, 60 s of timing, no scaling study, the partials
#       checks in 25 s (TOTAL_BUDGET_S=140 unless set).
#   test/gpu/run-gpu-checks.sh --bundle DIR --dry-run
#       here, without a GPU: the bundle checked (gpu_checks.py --dry-run)
#       and the study's artifacts (paper_study.py --dry-run); exit 0 = ready.
#   test/gpu/run-gpu-checks.sh --bundle DIR [gpu_checks.py options]
#       kernels and runtime prebuilt by test/gpu/make-gpu-bundle.sh on a
#       machine with the compiler; here only python3 with numpy and torch
#       (CUDA) is needed, JAX optionally. Nothing is built.
#   test/gpu/run-gpu-checks.sh [build-dir]   (env: CHIP=sm_XX)
#       builds ntp here first (needs clang-22 and MLIR 22).
# Results (markdown, CSV, the log) go to $OUT if set, else <repo>/gpu-results;
# the study's to <out>/study/ (paper_study.csv, tables.md, study_cuda.png),
# its log to <out>/gpu_checks.log as well: 7 files in all.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
out=${OUT:-$root/gpu-results}

have_gpu() {
  if command -v nvidia-smi >/dev/null; then
    if ! nvidia-smi >/dev/null 2>&1; then
      echo "run-gpu-checks: no NVIDIA GPU/driver here (nvidia-smi failed)" >&2
      return 1
    fi
    echo "GPU: $(nvidia-smi --query-gpu=name,compute_cap,driver_version,compute_mode --format=csv,noheader | head -n1)"
  fi
  return 0
}

if [ "${1:-}" = --bundle ]; then
  bundle=${2:?"usage: $0 --bundle DIR"}
  shift 2
  if [ "${1:-}" = --dry-run ]; then
    # No GPU needed: everything but the runs themselves.
    set +e
    python3 -u "$root/benchmarks/gpu_checks.py" --bundle "$bundle" --dry-run
    status=$?
    python3 -u "$root/benchmarks/paper_study.py" --device cuda --dry-run \
      --kernels "$bundle/cuda" --runtime "$bundle/libntp_runtime.so"
    study_status=$?
    python3 -u "$root/benchmarks/gpu_partials_checks.py" --bundle "$bundle" \
      --dry-run
    partials_status=$?
    echo "run-gpu-checks: dry run: gpu_checks.py exit $status, paper_study.py exit $study_status, gpu_partials_checks.py exit $partials_status"
    [ "$status" = 0 ] && status=$study_status
    [ "$status" = 0 ] && status=$partials_status
    exit "$status"
  fi
  partials_args=(--time-budget-s "${PARTIALS_BUDGET_S:-70}")
  if [ "${1:-}" = --quick ]; then
    shift
    : "${TOTAL_BUDGET_S:=140}" "${STUDY:=0}"
    set -- --quick "$@"
    partials_args=(--quick --time-budget-s "${PARTIALS_BUDGET_S:-25}")
  fi
  have_gpu || exit 77
  mkdir -p "$out"
  log=$out/gpu_checks.log
  echo "run-gpu-checks: bundle $bundle, results in $out" | tee "$log"
  # No build: the bundle holds the runtime and every artifact.
  set +e
  python3 -u "$root/benchmarks/gpu_checks.py" --bundle "$bundle" \
    --out "$out" "$@" 2>&1 | tee -a "$log"
  status=${PIPESTATUS[0]}
  echo "run-gpu-checks: gpu_checks.py exit $status after ${SECONDS} s" | tee -a "$log"
  # Partials kernels (issue 12 item 7): correctness against the bundle's CPU
  # partials kernels, the Laplacian beside PyTorch (PARTIALS=0 skips it).
  if [ "${PARTIALS:-1}" != 0 ] && [ "$status" != 77 ]; then
    timeout -k 10 $(( ${partials_args[-1]%.*} + 60 )) \
      python3 -u "$root/benchmarks/gpu_partials_checks.py" --bundle "$bundle" \
      --out "$out" "${partials_args[@]}" 2>&1 | tee -a "$log"
    partials_status=${PIPESTATUS[0]}
    echo "run-gpu-checks: gpu_partials_checks.py exit $partials_status after ${SECONDS} s" | tee -a "$log"
    [ "$status" = 0 ] && status=$partials_status
  fi
  study_status=0
  left=$(( ${TOTAL_BUDGET_S:-510} - SECONDS ))
  if [ "${STUDY:-1}" = 0 ]; then
    echo "run-gpu-checks: STUDY=0: no scaling study" | tee -a "$log"
  elif [ "$status" = 77 ]; then
    echo "run-gpu-checks: no CUDA device for PyTorch: no scaling study" | tee -a "$log"
  elif [ "$left" -lt 90 ]; then
    echo "run-gpu-checks: ${left} s left of TOTAL_BUDGET_S: no scaling study" | tee -a "$log"
  else
    # PyTorch cells start until left - 60 s; the rest (ntp-only cells,
    # tables, the figure) fits in the margin; timeout is the backstop.
    echo "run-gpu-checks: scaling study (PyTorch for up to $((left - 60)) s)" | tee -a "$log"
    # shellcheck disable=SC2086 # STUDY_ARGS: several options
    timeout -k 10 $((left - 10)) python3 -u "$root/benchmarks/paper_study.py" \
      --device cuda --kernels "$bundle/cuda" \
      --runtime "$bundle/libntp_runtime.so" --out "$out/study" \
      --reps 20 --min-reps 3 --budget-s 2 --time-budget-s $((left - 60)) \
      ${STUDY_ARGS:-} 2>&1 | tee -a "$log"
    study_status=${PIPESTATUS[0]}
    echo "run-gpu-checks: paper_study.py exit $study_status" | tee -a "$log"
  fi
  [ "$status" = 0 ] && status=$study_status
  echo "run-gpu-checks: exit $status after ${SECONDS} s; results in $out" | tee -a "$log"
  exit "$status"
fi

build=${1:-$root/build-gpu-checks}
have_gpu || exit 77
if [ -z "${CHIP:-}" ]; then
  cc=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader | head -n1)
  CHIP=sm_${cc/./}
fi
cmake -G Ninja -S "$root" -B "$build" \
  -DMLIR_DIR=${MLIR_DIR:-/usr/lib/llvm-22/lib/cmake/mlir} \
  -DCMAKE_C_COMPILER=${CC:-clang-22} -DCMAKE_CXX_COMPILER=${CXX:-clang++-22} >/dev/null
ninja -C "$build" ntp-compile ntp_runtime
mkdir -p "$out"
exec python3 -u "$root/benchmarks/gpu_checks.py" --build "$build" \
  --chip "$CHIP" --out "$out"
