// RUN: ntp-opt %s -ntp-decompose-mlp -ntp-generate-backward="grad-lane-bits=256" | FileCheck %s

// With 256-bit accumulators (AVX2) a tile of 8 f64 samples (two registers)
// accumulates the parameter gradient in 4 lanes per parameter, half the
// bytes per tile; the reverse's ops and ntp.reduce_lanes take that layout.

// CHECK-LABEL: func.func private @__ntp_net_tile_reverse
// CHECK-SAME: %[[LANES:[^:]*]]: memref<14x4xf64>
// CHECK:     ntp.affine_vjp {{.*}} into %[[LANES]] input_cotangent
// CHECK:     ntp.affine_vjp {{.*}} into %[[LANES]] input_cotangent

// CHECK-LABEL: func.func @net_backward_saved_tiles
// CHECK:     %[[SUMS:.*]] = memref.alloc() {alignment = 64 : i64} : memref<14x4xf64>
// CHECK:     func.call @__ntp_net_tile_reverse({{.*}}, %[[SUMS]],
// CHECK:     ntp.reduce_lanes %[[SUMS]] into %{{.*}} : memref<14x4xf64>, memref<?xf64>

// CHECK-LABEL: func.func @net_backward_tiles
// CHECK:     memref.alloc() {alignment = 64 : i64} : memref<14x4xf64>
// CHECK:     ntp.reduce_lanes {{.*}} : memref<14x4xf64>, memref<?xf64>
ntp.mlp @net layers [1, 3, 2] activation "tanh" order 2 : f64
