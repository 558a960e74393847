// RUN: ntp-opt %s -ntp-decompose-mlp -ntp-generate-backward | FileCheck %s

// The reverse-mode kernels are generated from the forward's jet ops, each
// VJP rule applied in reverse order. 1 -> 3 -> 2 tanh at order 2.

// CHECK-LABEL: func.func @net_forward_tiles
// CHECK-SAME: attributes {ntp.kernel, ntp.workspace_per_tile = 216 : i64}

// The training path: the backward from saved jets (no forward).
// CHECK-LABEL: func.func @net_backward_saved_tiles
// CHECK-SAME: (%[[X:.*]]: memref<?xf64>, %[[V:.*]]: memref<?xf64>, %[[P:.*]]: memref<?xf64>, %[[C:.*]]: memref<?xf64>, %[[G:.*]]: memref<?xf64>, %[[XG:.*]]: memref<?xf64>, %[[WS:.*]]: memref<?xf64>, %{{.*}}: index, %{{.*}}: index, %{{.*}}: index)
// Lane-wise gradient accumulators (14 parameters x 8 lanes), zeroed once.
// CHECK:     %[[LANES:.*]] = memref.alloc() : memref<14x8xf64>
// CHECK:     scf.for
// CHECK:       vector.store %{{.*}}, %[[LANES]]
// CHECK:     scf.for
// CHECK:     %[[J0:.*]] = memref.reinterpret_cast %[[WS]]
// CHECK:     %[[A1:.*]] = memref.reinterpret_cast %[[WS]]
// CHECK:     %[[H1:.*]] = memref.reinterpret_cast %[[WS]]
// CHECK:     memref.reinterpret_cast %[[WS]]
// CHECK-NOT: ntp.seed
// CHECK-NOT: ntp.affine {{.*}} into
// CHECK:     ntp.load_cotangent %[[C]]
// CHECK:     ntp.affine_vjp %[[H1]], %[[P]][6], %{{.*}} into %[[LANES]] input_cotangent %[[HB:.*]] live_orders 3
// CHECK:     ntp.activate_vjp "tanh" %[[A1]], %[[HB]] into %[[AB:.*]] live_orders 2
// CHECK:     ntp.affine_vjp %[[J0]], %[[P]][0], %[[AB]] into %[[LANES]] input_cotangent %[[JB:.*]] live_orders 2
// CHECK:     ntp.seed_vjp %[[JB]] into %[[XG]]
// CHECK:   }
// CHECK:   ntp.reduce_lanes %[[LANES]] into %[[G]] : memref<14x8xf64>, memref<?xf64>
// CHECK:   memref.dealloc %[[LANES]]

// The forward that saves every layer's jet into the workspace.
// CHECK-LABEL: func.func @net_forward_save_tiles
// CHECK: ntp.seed
// CHECK: ntp.affine
// CHECK: ntp.activate "tanh"
// CHECK: ntp.affine
// CHECK: ntp.store_jet
// CHECK-NOT: ntp.affine_vjp

// The stateless backward: forward on the stack, then the reverse.
// CHECK-LABEL: func.func @net_backward_tiles
// CHECK-COUNT-4: memref.alloca() : memref<3x{{[0-9]}}x8xf64>
// CHECK: scf.for
// CHECK: ntp.seed
// CHECK: ntp.activate "tanh"
// CHECK: ntp.load_cotangent
// CHECK: ntp.affine_vjp
// CHECK: ntp.activate_vjp "tanh"
// CHECK: ntp.affine_vjp
// CHECK: ntp.seed_vjp
ntp.mlp @net layers [1, 3, 2] activation "tanh" order 2 : f64
