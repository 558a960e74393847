#!/bin/sh
# ptxas accepts every PTX ntp-compile emits: orders 0..12 x {f32, f64} x
# {sm_80, sm_90} for the 1-24-24-24-1 tanh network, plus the other
# activations at order 4, one activation per hidden layer (silu,gelu,cos),
# orders 20 and 32 (the Taylor recurrence), and the lanes mapping
# (--gpu-mapping=lanes) at orders 0, 1, 2, 5, 9, 12. Usage: ptxas-acceptance.sh <ntp-compile> [ptxas]
# Exits 77 (CTest: skipped) when ptxas is absent.
set -u
compile=${1:?usage: ptxas-acceptance.sh <ntp-compile> [ptxas]}
ptxas=${2:-${NTP_PTXAS:-/usr/local/cuda/bin/ptxas}}
if [ ! -x "$ptxas" ]; then
  ptxas=$(command -v ptxas 2>/dev/null || true)
fi
if [ -z "$ptxas" ] || [ ! -x "$ptxas" ]; then
  echo "SKIPPED: ptxas not found (set NTP_PTXAS or install the CUDA toolkit)"
  exit 77
fi
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
failures=0
count=0
check() { # chip dtype order activation [mapping]
  mapping=${5:-sample}
  out="$dir/$(echo "$4" | tr , _)-$2-o$3-$1-$mapping"
  if ! "$compile" --target=nvptx --chip="$1" --layers 1,24,24,24,1 \
      --activation "$4" --order "$3" --dtype "$2" --gpu-mapping="$mapping" \
      --emit=ptx -o "$out.ptx" 2>"$out.log"; then
    echo "FAIL: ntp-compile $1 $2 order $3 $4 $mapping"; cat "$out.log"
    failures=$((failures + 1)); return
  fi
  if ! "$ptxas" -arch="$1" -O3 "$out.ptx" -o "$out.cubin" 2>"$out.log"; then
    echo "FAIL: ptxas rejects $1 $2 order $3 $4 $mapping"; cat "$out.log"
    failures=$((failures + 1)); return
  fi
  count=$((count + 1))
}
for chip in sm_80 sm_90; do
  for dtype in f32 f64; do
    for order in 0 1 2 3 4 5 6 7 8 9 10 11 12; do
      check "$chip" "$dtype" "$order" tanh
    done
    for activation in sigmoid sin identity exp softplus cos silu gelu \
        gelu_tanh silu,gelu,cos; do
      check "$chip" "$dtype" 4 "$activation"
    done
    for order in 20 32; do
      check "$chip" "$dtype" "$order" gelu_tanh,tanh,silu
    done
    # The lanes mapping (a warp per sample).
    for order in 0 1 2 5 9 12; do
      check "$chip" "$dtype" "$order" tanh lanes
    done
    check "$chip" "$dtype" 4 softplus lanes
  done
done
echo "ptxas accepted $count kernels, $failures failures"
[ "$failures" -eq 0 ]
