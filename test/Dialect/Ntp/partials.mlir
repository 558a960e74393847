// RUN: ntp-opt %s | ntp-opt | FileCheck %s

// A partials kernel: multi-indices, then named operators; a plain jet
// kernel prints as before.

// CHECK-LABEL: ntp.mlp @heat layers [3, 16, 1] activation "tanh" order 2 partials {{\[}}[0, 0, 0], [0, 0, 1], [1, 1, 0]] operators [#ntp.laplacian<[0, 1]>] : f64
ntp.mlp @heat layers [3, 16, 1] activation "tanh" order 2 partials [[0, 0, 0], [0, 0, 1], [1, 1, 0]] operators [#ntp.laplacian<[0, 1]>] : f64

// CHECK-LABEL: ntp.mlp @plate layers [2, 8, 1] activation "sin" order 4 operators [#ntp.biharmonic, #ntp.laplacian] : f32
ntp.mlp @plate layers [2, 8, 1] activation "sin" order 4 operators [#ntp.biharmonic, #ntp.laplacian] : f32

// CHECK-LABEL: ntp.mlp @mixed layers [2, 8, 1] activation "exp" order 6 partials {{\[}}[3, 3]] : f64
ntp.mlp @mixed layers [2, 8, 1] activation "exp" order 6 partials [[3, 3]] : f64

// CHECK-LABEL: ntp.mlp @jet layers [1, 8, 1] activation "tanh" order 3 : f32
ntp.mlp @jet layers [1, 8, 1] activation "tanh" order 3 : f32

// CHECK-LABEL: func.func @combine
func.func @combine(%rays: memref<3x1x8xf64>, %out: memref<2x1x8xf64>) {
  // CHECK: ntp.combine_partials %{{.*}} into %{{.*}} weights [1.000000e+00, 0.000000e+00, 0.000000e+00, 0.000000e+00, -2.500000e-01, 5.000000e-01] : memref<3x1x8xf64>, memref<2x1x8xf64>
  ntp.combine_partials %rays into %out weights [1.0, 0.0, 0.0, 0.0, -0.25, 0.5] : memref<3x1x8xf64>, memref<2x1x8xf64>
  return
}
