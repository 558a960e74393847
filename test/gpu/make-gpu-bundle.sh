#!/bin/bash
# Builds, on a machine WITHOUT a GPU (the one with clang-22 + MLIR 22), every
# file benchmarks/gpu_checks.py needs, so that the GPU machine builds nothing:
#   libntp_runtime.so          the runtime (links no LLVM/MLIR, no CUDA library)
#   cpu/cpu_<dtype>_<n>.so     CPU kernels (--target-cpu x86-64-v3), the reference
#   cuda/ptx_sm_90_<dtype>_<n>.ntp    CUDA artifacts, PTX image (the driver
#                              compiles it for whatever sm_90 part it meets)
#   cuda/lanes_sm_90_<dtype>_<n>.ntp  PTX of --gpu-mapping=lanes (a warp per
#                              sample, 4 samples per block)
#   cuda/cubin_sm_90_<dtype>_<n>.ntp  the same with a cubin from ptxas (only if
#                              ptxas is found), so the timing compares both
#   cuda/study_<layers>_f32_<n>.ntp   PTX (default mapping) for the scaling
#                              study's reduced grid on the GPU
#                              (benchmarks/paper_study.py --device cuda):
#                              depth {3,5} x width {24,64}, orders 1,3,6,8;
#                              1-24-24-24-1 is ptx_<chip>_f32_<n>.ntp, which
#                              also serves the study's order sweep (0..9)
#   partials/<case>_<dtype>_{cpu.so,sample.ntp,lanes.ntp}  partials kernels
#                              (issue 12 item 7; benchmarks/gpu_partials_checks.py):
#                              the Laplacian of d-64-64-64-1 (d = 2, 8, 32),
#                              the 35 partials of total order <= 4 of
#                              3-64-64-64-1, mixed
#                              partials + Laplacian + biharmonic of 3-24-24-1
#                              with the reverse mode; CPU kernels (the
#                              reference) and PTX of both mappings (lanes:
#                              one sample per block)
#   ptxas-report.txt           ptxas -v of the order-9 kernels (with cubins)
#   MANIFEST.txt               ntp commit, date, tools, and every file (bytes, sha256)
# for the 1-24-24-24-1 tanh network, orders 0..9, f32 and f64. The CUDA
# artifacts of the network carry the reverse mode (--gpu-backward:
# forward-save, backward-saved, the gradient reduction), checked and timed
# beside the forward; the CPU kernels have it too.
# Usage: test/gpu/make-gpu-bundle.sh [build-dir] [out-dir]
#   defaults: <repo>/build, <repo>/gpu-bundle   (env: ORDERS=9, CHIP=sm_90,
#   PTXAS=/usr/local/cuda/bin/ptxas; PTXAS=none: PTX only; STUDY=0: no
#   study grid artifacts)
# Then on the GPU machine: test/gpu/run-gpu-checks.sh --bundle gpu-bundle
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
out=${2:-$root/gpu-bundle}
orders=${ORDERS:-9}
chip=${CHIP:-sm_90}
layers=1,24,24,24,1
activation=tanh
target_cpu=x86-64-v3

ninja -C "$build" ntp-compile ntp_runtime
# Private copies: a concurrent build in the same tree must not relink them
# while the bundle is made (and the bundle is built by one ntp-compile).
tools=$(mktemp -d)
trap 'rm -rf "$tools"' EXIT
cp "$build/bin/ntp-compile" "$build/runtime/libntp_runtime.so" "$tools/"
compile=$tools/ntp-compile
runtime=$tools/libntp_runtime.so

# The runtime must need nothing but the C/C++ system libraries.
needed=$(objdump -p "$runtime" | awk '/NEEDED/ {print $2}')
for lib in $needed; do
  case $lib in
    libc.so.*|libstdc++.so.*|libgcc_s.so.*|libm.so.*|libdl.so.*|libpthread.so.*|ld-linux*) ;;
    *) echo "make-gpu-bundle: $runtime needs $lib (only libc/libstdc++/libgcc/libm/libdl/libpthread allowed)" >&2
       exit 1 ;;
  esac
done

ptxas=${PTXAS:-/usr/local/cuda/bin/ptxas}
formats="ptx lanes"
if [ "$ptxas" != none ] && [ -x "$ptxas" ]; then
  formats="ptx cubin lanes"
else
  ptxas=none
  echo "make-gpu-bundle: no ptxas ($ptxas): PTX artifacts only" >&2
fi

rm -rf "$out"
mkdir -p "$out/cpu" "$out/cuda"
cp "$runtime" "$out/libntp_runtime.so"
common=(--layers "$layers" --activation "$activation")
: >"$out/ptxas-report.txt"
for dtype in f32 f64; do
  for ((n = 0; n <= orders; n++)); do
    "$compile" "${common[@]}" --order "$n" --dtype "$dtype" \
      --target-cpu "$target_cpu" -o "$out/cpu/cpu_${dtype}_$n.so"
    for fmt in $formats; do
      if [ "$fmt" = lanes ]; then
        # A warp per sample (docs/NVPTX.md), as PTX.
        args=(--target=nvptx --chip="$chip" --gpu-format=ptx
              --gpu-mapping=lanes --samples-per-block=4 --gpu-backward)
      else
        args=(--target=nvptx --chip="$chip" --gpu-format="$fmt"
              --gpu-backward)
      fi
      [ "$fmt" = cubin ] && args+=(--ptxas="$ptxas")
      if [ "$fmt" = cubin ] && [ "$n" = "$orders" ]; then
        echo "== $dtype order $n $chip" >>"$out/ptxas-report.txt"
        "$compile" "${common[@]}" --order "$n" --dtype "$dtype" "${args[@]}" \
          --ptxas-report -o "$out/cuda/${fmt}_${chip}_${dtype}_$n.ntp" \
          >>"$out/ptxas-report.txt" 2>&1
      else
        "$compile" "${common[@]}" --order "$n" --dtype "$dtype" "${args[@]}" \
          -o "$out/cuda/${fmt}_${chip}_${dtype}_$n.ntp"
      fi
    done
  done
done
[ -s "$out/ptxas-report.txt" ] || rm -f "$out/ptxas-report.txt"

# The scaling study's reduced grid (f32, PTX, default mapping). The 1-24-24-24-1
# network is the bundle's own ptx_<chip>_f32_<n>.ntp (the study finds
# artifacts by their manifest, not by name).
study_depths="3 5" study_widths="24 64" study_orders="1 3 6 8"
study=none
if [ "${STUDY:-1}" != 0 ]; then
  study="depths ${study_depths// /,} widths ${study_widths// /,} orders ${study_orders// /,} f32 ptx"
  for d in $study_depths; do
    for w in $study_widths; do
      net=1$(printf ",$w%.0s" $(seq "$d")),1
      [ "$net" = "$layers" ] && continue
      for n in $study_orders; do
        "$compile" --layers "$net" --activation "$activation" --order "$n" \
          --dtype f32 --target=nvptx --chip="$chip" --gpu-format=ptx \
          --gpu-backward -o "$out/cuda/study_${net//,/-}_f32_$n.ntp"
      done
    done
  done
fi

# Partials kernels (PARTIALS=0: none). The request is in each artifact's
# manifest (ntp_kernel_partials_get); the CPU kernel of a case is the
# reference its CUDA kernels are checked against.
partials=none
if [ "${PARTIALS:-1}" != 0 ]; then
  mkdir -p "$out/partials"
  all35=$(python3 -c 'import itertools
print(";".join(",".join(map(str, a)) for n in range(5)
               for a in itertools.product(range(n + 1), repeat=3)
               if sum(a) == n))')
  # The CPU reference is multi-direction (another lowering than the GPU's
  # collapsed Laplacian or multivariate partials), forward only where the
  # GPU's is (gpu_partials_checks.py checks that both agree); with the
  # reverse mode, its reverse per ray (the GPU's follows its multivariate
  # forward: ntp.activate_poly_vjp), so that the two share neither.
  partials_case() { # name layers mappings backward request-flags...
    local name=$1 net=$2 mappings=$3 backward=$4
    shift 4
    local bwd=() cpu=(--partials-lowering=multi-direction --backward=false)
    [ "$backward" = 1 ] && bwd=(--gpu-backward) &&
      cpu=(--partials-lowering=multi-direction
        --partials-reverse-lowering=per-ray)
    for dtype in f32 f64; do
      "$compile" --layers "$net" --activation "$activation" --dtype "$dtype" \
        "$@" "${cpu[@]}" --target-cpu "$target_cpu" \
        -o "$out/partials/${name}_${dtype}_cpu.so"
      for mapping in $mappings; do
        "$compile" --layers "$net" --activation "$activation" \
          --dtype "$dtype" "$@" --target=nvptx --chip="$chip" \
          --gpu-format=ptx --gpu-mapping="$mapping" --samples-per-block=1 \
          "${bwd[@]}" -o "$out/partials/${name}_${dtype}_${mapping}.ntp"
      done
    done
  }
  for d in 2 8 32; do
    partials_case "lap_d$d" "$d,64,64,64,1" "sample lanes" 0 \
      --operator laplacian
  done
  partials_case all35_d3 3,64,64,64,1 "sample lanes" 0 --partials "$all35"
  partials_case mixed_d3 3,24,24,1 "sample lanes" 1 \
    --partials "0,0,0;1,0,0;2,0,0;1,1,0;2,1,1" --operator laplacian \
    --operator biharmonic:0,1
  partials="lap_d2,lap_d8,lap_d32,all35_d3,mixed_d3"
fi

commit=$(git -C "$root" rev-parse HEAD 2>/dev/null || echo unknown)
# Uncommitted changes under the directories the bundle is built from.
dirty=$(git -C "$root" status --porcelain -- lib include runtime tools cmake CMakeLists.txt 2>/dev/null | head -n1)
{
  echo "ntp-gpu-bundle 1"
  echo "commit=$commit${dirty:+ (with uncommitted changes)}"
  echo "date=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "host=$(uname -srm)"
  echo "layers=$layers"
  echo "activation=$activation"
  echo "orders=0..$orders"
  echo "dtypes=f32,f64"
  echo "chip=$chip"
  echo "formats=${formats// /,}"
  echo "backward=1"
  echo "target_cpu=$target_cpu"
  echo "study_grid=$study"
  echo "partials=$partials"
  echo "ptxas=$([ "$ptxas" = none ] && echo none || "$ptxas" --version | grep -o 'release.*' | head -n1)"
  echo "runtime_needs=$(echo $needed | tr ' ' ',')"
  echo "runtime_symbol_versions=$(objdump -T "$runtime" | grep -oE '(GLIBC|GLIBCXX|CXXABI)_[0-9.]+' | sort -Vu | awk -F_ '{v[$1]=$0} END {for (k in v) printf "%s ", v[k]}')"
  echo "files:"
  (cd "$out" && find . -type f ! -name MANIFEST.txt | sed 's|^\./||' | sort |
     while read -r f; do
       printf '%s %s %s\n' "$(stat -c %s "$f")" "$(sha256sum "$f" | cut -d' ' -f1)" "$f"
     done)
} >"$out/MANIFEST.txt"

total=$(du -sb "$out" | cut -f1)
echo "make-gpu-bundle: $out: $(find "$out" -type f | wc -l) files, $total bytes ($formats; orders 0..$orders; $chip)"
if [ "$total" -gt $((40 * 1024 * 1024)) ]; then
  echo "make-gpu-bundle: bundle over 40 MiB" >&2
  exit 1
fi
