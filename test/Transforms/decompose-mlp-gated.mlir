// RUN: ntp-opt %s -split-input-file -ntp-decompose-mlp | FileCheck %s

// A gated network (the modified MLP): U and V from the seed X into buffers
// of their own (W_u [4x1] at 0, b_u at 4, W_v at 8, b_v at 12), then per
// hidden layer affine, activate and ntp.gate_jets of U, V and the
// activation (W_1 at 16, W_2 at 24, W_3 at 44); two ping-pong buffers
// beside U and V. X is last read by the first hidden affine.

// CHECK: module attributes {ntp.kernel = #ntp.kernel<"net", layers = [1, 4, 4, 1], {{.*}}gated = 1>}
// CHECK-LABEL: func.func @net_forward_tiles
// CHECK-SAME: (%{{[a-z0-9]+}}: memref<?xf64>, %{{[a-z0-9]+}}: memref<?xf64>, %[[P:[a-z0-9]+]]: memref<?xf64>
// CHECK-COUNT-4: memref.alloca() : memref<3x4x8xf64>
// CHECK-NOT: memref.alloca
// CHECK: scf.for
// CHECK:   ntp.seed %{{.*}} into %[[X:.*]], %{{.*}}, %{{.*}} :
// CHECK:   ntp.affine %[[X]], %[[P]][0] into %[[YU:.*]] live_orders 2
// CHECK:   ntp.activate "tanh" %[[YU]] into %[[U:.*]] live_orders 2
// CHECK:   ntp.affine %[[X]], %[[P]][8] into %[[YV:.*]] live_orders 2
// CHECK:   ntp.activate "tanh" %[[YV]] into %[[V:.*]] live_orders 2
// CHECK:   ntp.affine %[[X]], %[[P]][16] into %[[Y1:.*]] live_orders 2
// CHECK:   ntp.activate "tanh" %[[Y1]] into %[[Z1:.*]] live_orders 2
// CHECK:   ntp.gate_jets %[[U]], %[[V]], %[[Z1]] into %[[H1:.*]] live_orders 3
// CHECK:   ntp.affine %[[H1]], %[[P]][24] into %[[Y2:.*]] live_orders 3
// CHECK:   ntp.activate "tanh" %[[Y2]] into %[[Z2:.*]] live_orders 3
// CHECK:   ntp.gate_jets %[[U]], %[[V]], %[[Z2]] into %[[H2:.*]] live_orders 3
// CHECK:   ntp.affine %[[H2]], %[[P]][44] into %[[OUT:.*]] live_orders 3
// CHECK:   ntp.store_jet %[[OUT]]
ntp.mlp @net layers [1, 4, 4, 1] activation "tanh" gated order 2 : f64

// -----

// With Fourier features (B [3, 2] at 0) X is the sines (width 6): W_u, W_v
// and W_1 read it ([5, 6] each: W_u at 6, W_v at 41, W_1 at 76); the
// first hidden layer's slopes (one per neuron, at 111) follow b_1, its
// activation (silu) is U's and V's too, the second layer's is tanh.

// CHECK: module attributes {ntp.kernel = #ntp.kernel<"ff", layers = [2, 5, 5, 1], {{.*}}slopes = "neuron,none", fourier = 3, gated = 1>}
// CHECK-LABEL: func.func @ff_forward_tiles
// CHECK-SAME: (%{{[a-z0-9]+}}: memref<?xf32>, %{{[a-z0-9]+}}: memref<?xf32>, %[[P:[a-z0-9]+]]: memref<?xf32>
// CHECK: scf.for
// CHECK:   ntp.fourier_project %{{.*}}, %[[P]][0] into %[[Z:.*]] live_orders 2
// CHECK:   ntp.activate "sin" %[[Z]] into %[[X:.*]] live_orders 2
// CHECK:   ntp.affine %[[X]], %[[P]][6] into %{{.*}} live_orders 5
// CHECK:   ntp.activate "silu"
// CHECK:   ntp.affine %[[X]], %[[P]][41] into %{{.*}} live_orders 5
// CHECK:   ntp.activate "silu"
// CHECK:   ntp.affine %[[X]], %[[P]][76] into %[[Y1:.*]] live_orders 5
// CHECK:   ntp.scale %[[Y1]], %[[P]][111] into %[[S1:.*]] live_orders 5 per_neuron
// CHECK:   ntp.activate "silu" %[[S1]]
// CHECK:   ntp.gate_jets
// CHECK:   ntp.affine %{{.*}}, %[[P]][116] into
// CHECK:   ntp.activate "tanh"
// CHECK:   ntp.gate_jets
// CHECK:   ntp.affine %{{.*}}, %[[P]][146] into
ntp.mlp @ff layers [2, 5, 5, 1] activation ["silu", "tanh"] fourier 3 gated slopes ["neuron", "none"] order 4 : f32
