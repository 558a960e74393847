// RUN: ntp-opt %s -ntp-cpu-pipeline | FileCheck %s

// The whole CPU pipeline ends in the LLVM dialect: no ntp, scf, memref or
// vector op survives, the arithmetic is packed (vector FMAs across the tile),
// and f32 tanh is a polynomial (no libm call).

// CHECK-LABEL: llvm.func @pinn_forward_tiles
// CHECK-NOT: ntp.{{mlp|seed|affine|activate|store_jet}}
// CHECK-NOT: scf.
// CHECK-NOT: memref.
// CHECK: llvm.intr.fma({{.*}}) : (vector<16xf32>, vector<16xf32>, vector<16xf32>) -> vector<16xf32>
// CHECK-NOT: llvm.call @tanhf
// CHECK: llvm.return
ntp.mlp @pinn layers [1, 24, 24, 24, 1] activation "tanh" order 3 : f32
