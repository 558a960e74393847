#!/usr/bin/env bash
#===- scripts/dev.sh - Set up, build, and run ntp --------------------------===#
#
# Usage: scripts/dev.sh <command>
#   setup     install the Debian 12 packages ntp needs (only what is missing)
#   build     setup, then configure and build everything in $NTP_BUILD_DIR
#   showcase  build, then AOT-compile the PINN network and run the showcase
#   test      build, then run every test (ctest: unit, end-to-end, lit and
#             Python; installs python3-torch, -pytest, -numpy if missing)
#   bench     build, install python3-torch if missing, run ntp-bench
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
)
# The Python package's tests (ctest ntp-python-*) run on Debian's
# interpreter with its PyTorch; never pip-installed.
python_packages=(python3-torch python3-pytest python3-numpy)

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
      -DMLIR_DIR=/usr/lib/llvm-22/lib/cmake/mlir
  fi
  cmake --build "$build" -j "$jobs"
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
  build
  cd "$build"
  ctest --output-on-failure -j "$jobs"
  ;;
bench)
  build
  install_missing python3-torch
  "$build/bin/ntp-bench" "${@:2}"
  ;;
*)
  sed -n '4,14p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
  exit 2
  ;;
esac
