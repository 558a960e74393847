#!/usr/bin/env bash
#===- scripts/dev.sh - Set up, build, and run ntp --------------------------===#
#
# Usage: scripts/dev.sh <command>
#   setup     install the Debian 12 packages ntp needs (only what is missing)
#   build     setup, then configure and build everything in $NTP_BUILD_DIR
#   showcase  build, then AOT-compile the PINN network and run the showcase
#   test      build, then run every test (ctest: unit, end-to-end, lit and
#             Python; installs python3-torch, -pytest, -numpy if missing,
#             and creates the JAX environment, see jax_venv)
#   jax-venv  create or update only the JAX environment of ntp.jax
#   bench     build, install python3-torch if missing, run ntp-bench
#   sanitize  the runtime and its unit tests under ASan + UBSan, plus the
#             fuzzers' corpus replays ($NTP_SANITIZE_BUILD_DIR, no MLIR)
#   fuzz [s]  the sanitize build, then each libFuzzer harness for s seconds
#             (default $NTP_FUZZ_SECONDS or 30) with a fixed seed
#
# Idempotent: run it as often as you like; it installs and rebuilds only what
# is missing or stale. Needs root (or sudo) for apt-get the first time.
#
#===----------------------------------------------------------------------===#
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${NTP_BUILD_DIR:-$root/build}
jobs=${NTP_JOBS:-$(nproc)}

packages=(
  cmake ninja-build gcc g++ clang-22 python3
  llvm-22-dev llvm-22-tools libmlir-22-dev mlir-22-tools
  libgtest-dev googletest
  libclang-rt-22-dev # ASan, UBSan, libFuzzer: clang-22 does not pull it in
)
# The Python package's tests (ctest ntp-python-*) run on Debian's
# interpreter with its PyTorch; never pip-installed.
python_packages=(python3-torch python3-pytest python3-numpy python3-venv)

# ntp.jax's tests (ctest ntp-jax-*) run in a virtual environment of their
# own, with JAX, jaxlib and their numpy from PyPI (pinned in
# python/requirements-jax.txt), apart from Debian's torch and numpy. Created
# once (about 1 minute and 650 MB); recreated only when the pins change.
jax_venv=${NTP_JAX_VENV:-$HOME/.cache/ntp/jax-venv}
jax_venv() {
  install_missing python3-venv
  local req="$root/python/requirements-jax.txt"
  local stamp="$jax_venv/ntp-requirements.txt"
  if [ -x "$jax_venv/bin/python" ] && cmp -s "$req" "$stamp"; then
    return 0
  fi
  echo "== creating the JAX environment in $jax_venv"
  rm -rf "$jax_venv"
  /usr/bin/python3 -m venv "$jax_venv"
  "$jax_venv/bin/pip" install -q --disable-pip-version-check \
    --no-input -r "$req"
  cp "$req" "$stamp"
}

install_missing() {
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
      missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "== installing: ${missing[*]}"
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q \
    --no-install-recommends "${missing[@]}"
}

setup() { install_missing "${packages[@]}"; }

build() {
  setup
  if [ ! -f "$build/build.ninja" ]; then
    cmake -G Ninja -S "$root" -B "$build" \
      -DCMAKE_BUILD_TYPE=Release \
      -DCMAKE_C_COMPILER=clang-22 -DCMAKE_CXX_COMPILER=clang++-22 \
      -DMLIR_DIR=/usr/lib/llvm-22/lib/cmake/mlir \
      -DNTP_JAX_PYTHON="$jax_venv/bin/python"
  elif [ -x "$jax_venv/bin/python" ] &&
    ! grep -q '^NTP_JAX_FOUND:INTERNAL=ON' "$build/CMakeCache.txt"; then
    # The JAX environment appeared after the first configure: look again.
    cmake "$build" -DNTP_JAX_PYTHON="$jax_venv/bin/python" >/dev/null
  fi
  cmake --build "$build" -j "$jobs"
}

# The runtime alone (it links no MLIR) under ASan + UBSan, with the fuzzers.
sanitize_build=${NTP_SANITIZE_BUILD_DIR:-$root/build-asan}
sanitize_build() {
  setup
  if [ ! -f "$sanitize_build/build.ninja" ]; then
    local launcher=()
    command -v ccache >/dev/null &&
      launcher=(-DCMAKE_C_COMPILER_LAUNCHER=ccache
        -DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
    cmake -G Ninja -S "$root" -B "$sanitize_build" \
      -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DCMAKE_C_COMPILER=clang-22 -DCMAKE_CXX_COMPILER=clang++-22 \
      -DNTP_ENABLE_COMPILER=OFF -DNTP_SANITIZE=address,undefined \
      -DNTP_BUILD_FUZZERS=ON "${launcher[@]}"
  fi
  cmake --build "$sanitize_build" -j "$jobs"
}
# Every report is fatal; leaks are reported.
export ASAN_OPTIONS=${ASAN_OPTIONS:-halt_on_error=1:detect_leaks=1:detect_stack_use_after_return=1:strict_string_checks=1:check_initialization_order=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}

# fuzz <seconds>: each harness for that long from its committed corpus (new
# inputs go to a scratch directory in the build tree, never into the repo);
# any finding (crash, leak, timeout, invariant) fails, leaving the input in
# $sanitize_build/fuzz-findings/.
fuzz() {
  local seconds=$1 status=0
  local src="$root/test/fuzz" bin="$sanitize_build/test/fuzz"
  mkdir -p "$sanitize_build/fuzz-findings"
  for h in cpu_artifact:ntp-fuzz-cpu-artifact cuda_memory:ntp-fuzz-cuda-memory \
    manifest:ntp-fuzz-manifest; do
    local dir=${h%%:*} exe=${h#*:}
    local scratch="$sanitize_build/fuzz-corpus/$dir"
    mkdir -p "$scratch"
    echo "== fuzz: $exe for ${seconds}s"
    local log="$sanitize_build/fuzz-findings/$dir.log"
    if "$bin/$exe" "$scratch" "$src/$dir/corpus" -seed=1 \
      -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
      -use_value_profile=1 -dict="$src/ntp.dict" -print_final_stats=1 \
      -artifact_prefix="$sanitize_build/fuzz-findings/$dir-" >"$log" 2>&1; then
      grep -E '^(Done|stat::number_of_executed_units|stat::new_units_added)' "$log" || true
    else
      tail -n 60 "$log"
      echo "== fuzz: $exe FOUND A PROBLEM (see $log; input in $sanitize_build/fuzz-findings/)"
      status=1
    fi
  done
  return $status
}

case "${1:-}" in
setup) setup ;;
build) build ;;
showcase)
  build
  "$build/bin/ntp-showcase" "$build/examples/pinn.so"
  ;;
test)
  install_missing "${python_packages[@]}"
  jax_venv
  build
  cd "$build"
  ctest --output-on-failure -j "$jobs"
  ;;
jax-venv) jax_venv ;;
sanitize)
  sanitize_build
  cd "$sanitize_build"
  ctest --output-on-failure -j "$jobs"
  ;;
fuzz)
  sanitize_build
  fuzz "${2:-${NTP_FUZZ_SECONDS:-30}}"
  ;;
bench)
  build
  install_missing python3-torch
  "$build/bin/ntp-bench" "${@:2}"
  ;;
*)
  sed -n '4,19p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
  exit 2
  ;;
esac
