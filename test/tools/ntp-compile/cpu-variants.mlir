// REQUIRES: x86-registered-target
// RUN: ntp-compile %s --target-cpu=x86-64-v3,znver4,sapphirerapids -o %t.so
// RUN: llvm-nm -D --defined-only %t.so | FileCheck %s --check-prefix=SYMS
// RUN: strings %t.so | FileCheck %s --check-prefix=MANIFEST
// RUN: not ntp-compile %s --target-cpu=x86-64-v3,x86-64-v3 -o %t.bad.so 2>&1 | FileCheck %s --check-prefix=TWICE
// RUN: not ntp-compile %s --target-cpu=x86-64-v3,bogus -o %t.bad.so 2>&1 | FileCheck %s --check-prefix=UNKNOWN
// RUN: not ntp-compile %s --target-cpu=x86-64-v3, -o %t.bad.so 2>&1 | FileCheck %s --check-prefix=EMPTY
// RUN: not ntp-compile %s --target-cpu=native,znver4 -o %t.bad.so 2>&1 | FileCheck %s --check-prefix=NATIVE
// RUN: not ntp-compile %s --target-cpu=x86-64-v3,haswell -o %t.bad.so 2>&1 | FileCheck %s --check-prefix=SAME
// RUN: not ntp-compile %s --target-cpu=x86-64-v3,znver4 --emit=asm 2>&1 | FileCheck %s --check-prefix=STAGE
// RUN: not ntp-compile %s --target-cpu=x86-64-v3,znver4 --symbol-prefix=net -o %t.bad.so 2>&1 | FileCheck %s --check-prefix=PREFIX
// RUN: not ntp-compile %s --target-triple=aarch64-linux-gnu --target-cpu=neoverse-v2,a64fx --emit=obj -o %t.bad.o 2>&1 | FileCheck %s --check-prefix=ARCH
// RUN: not ls %t.bad.so %t.bad.o

// One artifact, a kernel per CPU (docs/TARGETS.md, "Several CPUs in one
// artifact"): the variants in the runtime's order of preference (more
// recorded features first: Sapphire Rapids has avx512fp16, Zen 4 does not),
// each exporting its entry points and its own manifest under
// ntp_kernel_v<i>, nothing else of theirs; the artifact's manifest lists
// them in cpu_variants.

// SYMS-NOT: __ntp_jet
// SYMS: ntp_kernel_manifest
// SYMS-NEXT: ntp_kernel_v0_backward_saved_tiles
// SYMS-NEXT: ntp_kernel_v0_backward_tiles
// SYMS-NEXT: ntp_kernel_v0_forward_save_tiles
// SYMS-NEXT: ntp_kernel_v0_forward_tiles
// SYMS-NEXT: ntp_kernel_v0_manifest
// SYMS-NEXT: ntp_kernel_v1_backward_saved_tiles
// SYMS: ntp_kernel_v1_manifest
// SYMS: ntp_kernel_v2_forward_tiles
// SYMS-NEXT: ntp_kernel_v2_manifest

// MANIFEST: target_cpu=sapphirerapids
// MANIFEST: cpu_variants=sapphirerapids:sse4.2,avx,avx2,fma,bmi,bmi2,avx512f,avx512dq,avx512cd,avx512bw,avx512vl,avx512ifma,avx512vbmi,avx512vnni,avx512bf16,avx512fp16;znver4:sse4.2,avx,avx2,fma,bmi,bmi2,avx512f,avx512dq,avx512cd,avx512bw,avx512vl,avx512ifma,avx512vbmi,avx512vnni,avx512bf16;x86-64-v3:sse4.2,avx,avx2,fma,bmi,bmi2{{$}}

// TWICE: ntp-compile: error: --target-cpu lists 'x86-64-v3' twice
// UNKNOWN: ntp-compile: error: unknown target CPU 'bogus'
// EMPTY: ntp-compile: error: --target-cpu lists an empty CPU name; a list names CPUs
// NATIVE: ntp-compile: error: --target-cpu lists 'native'; a list names CPUs
// SAME: ntp-compile: error: --target-cpu lists 'x86-64-v3' and 'haswell', which have the same instruction-set features
// STAGE: ntp-compile: error: several --target-cpu values make one artifact (--emit=so); emit other stages for one CPU at a time
// PREFIX: ntp-compile: error: --symbol-prefix does not apply to an artifact with several CPU variants
// ARCH: ntp-compile: error: several --target-cpu values make one x86-64 artifact whose variants the runtime tells apart by their instruction-set features; for aarch64-unknown-linux-gnu name one CPU
ntp.mlp @net layers [1, 8, 8, 1] activation "tanh" order 3 : f32
