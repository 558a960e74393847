// RUN: ntp-compile %s --target-cpu=znver4 --emit=asm | FileCheck %s --check-prefix=ZEN4
// RUN: ntp-compile %s --target-cpu=x86-64-v3 --emit=asm | FileCheck %s --check-prefix=AVX2
// RUN: ntp-compile %s --target-cpu=znver4 --interleave=1 --affine-outputs=1 --hoist-primitives=false --emit=asm | FileCheck %s --check-prefix=BASE
// RUN: not ntp-compile %s --interleave=9 --emit=asm 2>&1 | FileCheck %s --check-prefix=BAD

// The schedule each CPU gets from its LLVM scheduling model, in the machine
// code. Zen 4 (512-bit vectors, 32 registers, one FMA per cycle of latency
// 4): two neurons' activation jets per call of one function (order 3: both
// fit in registers), zmm FMAs. The AVX2 baseline (16 ymm registers; a
// 16-lane f32 jet takes two): one neuron per call. Both evaluate the
// primitives (tanh) in a loop of their own and pass them in (`_p`).
// --interleave=1 --affine-outputs=1 --hoist-primitives=false: the
// unscheduled lowering. (The affine blocks are in
// test/Conversion/NtpToLoops/affine-blocking-auto.mlir.)

// ZEN4-LABEL: __ntp_jet_tanh_o3_l4_v16f32_taylor_x2_p:
// ZEN4: vfmadd{{[0-9]+}}ps {{.*}}%zmm
// ZEN4-LABEL: ntp_kernel_forward_tiles:
// ZEN4: callq __ntp_jet_tanh_o3_l4_v16f32_taylor_x2_p
// ZEN4: vfmadd231ps {{.*}}%zmm

// AVX2-NOT: _x2
// AVX2-LABEL: ntp_kernel_forward_tiles:
// AVX2: vfmadd{{[0-9]+}}ps {{.*}}%ymm
// AVX2-NOT: _x2

// BASE-NOT: _x2
// BASE-LABEL: ntp_kernel_forward_tiles:
// BASE: callq __ntp_jet_tanh_o3_l4_v16f32_taylor{{$|@}}
// BASE-NOT: _x2

// BAD: --interleave and --affine-outputs must be in 0..8 and --affine-orders at least 0
ntp.mlp @net layers [1, 8, 8, 1] activation "tanh" order 3 : f32
