// RUN: ntp-opt %s -split-input-file -ntp-decompose-mlp | FileCheck %s

// Typed layers: a slope follows its layer's bias in params (W1 [4x1] at 0,
// b1 at 4, per-neuron slopes at 8..11; W2 at 12, b2 at 28, one slope at 32;
// W3 at 33), scales the affine output before the activation, and a residual
// layer keeps its input in a third buffer until the in-place sum.

// CHECK: module attributes {ntp.kernel = #ntp.kernel<"net", layers = [1, 4, 4, 1], {{.*}}slopes = "neuron,layer", residual = "0,1">}
// CHECK-LABEL: func.func @net_forward_tiles
// CHECK-SAME: (%{{[a-z0-9]+}}: memref<?xf64>, %{{[a-z0-9]+}}: memref<?xf64>, %[[P:[a-z0-9]+]]: memref<?xf64>
// CHECK-DAG: %[[A:.*]] = memref.alloca() : memref<3x4x8xf64>
// CHECK-DAG: %[[B:.*]] = memref.alloca() : memref<3x4x8xf64>
// CHECK-DAG: %[[C:.*]] = memref.alloca() : memref<3x4x8xf64>
// CHECK: scf.for
// CHECK:   ntp.seed
// CHECK:   ntp.affine %{{.*}}, %[[P]][0] into %[[B]] live_orders 2
// CHECK:   ntp.scale %[[B]], %[[P]][8] into %[[A]] live_orders 2 per_neuron
// CHECK:   ntp.activate "tanh" %[[A]] into %[[H1:.*]] live_orders 2
// CHECK:   ntp.affine %[[H1]], %[[P]][12] into %[[Y2:.*]] live_orders 3
// CHECK:   ntp.scale %[[Y2]], %[[P]][32] into %[[S2:.*]] live_orders 3 :
// CHECK:   ntp.activate "tanh" %[[S2]] into %[[F2:.*]] live_orders 3
// CHECK:   ntp.add_jets %[[H1]], %[[F2]] into %[[F2]] live_orders 3
// CHECK:   ntp.affine %[[F2]], %[[P]][33] into %[[OUT:.*]] live_orders 3
// CHECK:   ntp.store_jet %[[OUT]]
ntp.mlp @net layers [1, 4, 4, 1] activation "tanh" slopes ["neuron", "layer"] residual [false, true] order 2 : f64

// -----

// Fourier features of 3 frequencies of a 2-d input: B [3, 2] leads params,
// 2 pi B x (and + pi / 2 for the cosines) into width 6, its sines, then the
// first layer reads width 6 (W_1 [4, 6] at 6, b_1 at 30, W_2 at 34).

// CHECK: module attributes {ntp.kernel = #ntp.kernel<"ff", layers = [2, 4, 1], {{.*}}fourier = 3>}
// CHECK-LABEL: func.func @ff_forward_tiles
// CHECK-SAME: (%{{[a-z0-9]+}}: memref<?xf32>, %{{[a-z0-9]+}}: memref<?xf32>, %[[P:[a-z0-9]+]]: memref<?xf32>
// CHECK: scf.for
// CHECK:   ntp.seed %{{.*}} into %[[X:.*]], %{{.*}}, %{{.*}} :
// CHECK:   ntp.fourier_project %[[X]], %[[P]][0] into %[[Z:.*]] live_orders 2 : memref<5x2x16xf32, {{.*}}>, memref<?xf32>, memref<5x6x16xf32>
// CHECK:   ntp.activate "sin" %[[Z]] into %[[E:.*]] live_orders 2 : memref<5x6x16xf32>, memref<5x6x16xf32>
// CHECK:   ntp.affine %[[E]], %[[P]][6] into %[[H:.*]] live_orders 5
// CHECK:   ntp.activate "tanh" %[[H]]
// CHECK:   ntp.affine %{{.*}}, %[[P]][34] into
ntp.mlp @ff layers [2, 4, 1] activation "tanh" fourier 3 order 4 : f32
