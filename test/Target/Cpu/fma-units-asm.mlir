// REQUIRES: x86-registered-target
// RUN: ntp-compile %s --target-cpu=x86-64-v3 --emit=asm | FileCheck %s --check-prefix=AVX2
// RUN: ntp-compile %s --target-cpu=znver4 --emit=asm | FileCheck %s --check-prefix=ONE
// RUN: ntp-compile %s --target-cpu=skylake-avx512 --emit=asm | FileCheck %s --check-prefix=TWO
// RUN: ntp-compile %s --target-cpu=sapphirerapids --emit=asm | FileCheck %s --check-prefix=SPR

// The schedule of issue 17 item 4 in the machine code of each x86 class,
// derived from LLVM 22's scheduling model (ScheduleChoice tests in
// test/unit/compiler/ScheduleTest.cpp hold the facts; AArch64 NEON and SVE:
// aarch64-asm.mlir). Interleaved neurons show in the activation function's
// name (_x<n>; _p: its primitives are evaluated in a loop of their own and
// passed in, on every CPU), the vector width and the register file in the
// FMAs.
//   x86-64-v3 (AVX2, the AOT default): 16 ymm registers, a 16-lane f32 jet
//     takes two: one neuron per call, ymm0..15 only.
//   znver4 (AVX-512, one 512-bit FMA unit, latency 4): two neurons per call,
//     zmm FMAs reaching zmm16..31.
//   skylake-avx512 (two 512-bit FMA units): three neurons per call (8 = 3 +
//     3 + 2, the rest one at a time).
//   sapphirerapids: zmm code (the kernels' prefer-vector-width); LLVM 22
//     models one zmm FMA per cycle there, the Xeons have two (cpuVectorFacts
//     says so): three neurons per call, as on Skylake-SP.

// AVX2-NOT: _x{{[0-9]}}
// AVX2-NOT: %zmm
// AVX2-NOT: %ymm{{(1[6-9]|2[0-9]|3[01])}}
// AVX2-LABEL: __ntp_jet_tanh_o3_l4_v16f32_taylor_p:
// AVX2: vfmadd{{[0-9]+}}ps {{.*}}%ymm
// AVX2-LABEL: ntp_kernel_forward_tiles:
// AVX2: callq __ntp_jet_tanh_o3_l4_v16f32_taylor_p{{$|@}}
// AVX2: vfmadd{{[0-9]+}}ps {{.*}}%ymm
// AVX2-NOT: _x{{[0-9]}}
// AVX2-NOT: %zmm

// ONE-NOT: _x3
// ONE-LABEL: __ntp_jet_tanh_o3_l4_v16f32_taylor_x2_p:
// ONE: vfmadd{{[0-9]+}}ps {{.*}}%zmm{{(1[6-9]|2[0-9]|3[01])}}
// ONE-LABEL: ntp_kernel_forward_tiles:
// ONE: callq __ntp_jet_tanh_o3_l4_v16f32_taylor_x2_p
// ONE: vfmadd231ps {{.*}}%zmm
// ONE-NOT: _x3

// TWO-LABEL: __ntp_jet_tanh_o3_l4_v16f32_taylor_x3_p:
// TWO: vfmadd{{[0-9]+}}ps {{.*}}%zmm{{(1[6-9]|2[0-9]|3[01])}}
// TWO-LABEL: ntp_kernel_forward_tiles:
// TWO: callq __ntp_jet_tanh_o3_l4_v16f32_taylor_x3_p
// TWO: callq __ntp_jet_tanh_o3_l4_v16f32_taylor_x3_p
// TWO: vfmadd231ps {{.*}}%zmm

// SPR-LABEL: __ntp_jet_tanh_o3_l4_v16f32_taylor_x3_p:
// SPR: vfmadd{{[0-9]+}}ps {{.*}}%zmm
// SPR-LABEL: ntp_kernel_forward_tiles:
// SPR: callq __ntp_jet_tanh_o3_l4_v16f32_taylor_x3_p
// SPR: callq __ntp_jet_tanh_o3_l4_v16f32_taylor_x3_p
ntp.mlp @net layers [1, 8, 8, 1] activation "tanh" order 3 : f32
