// RUN: ntp-opt %s -ntp-decompose-mlp -ntp-generate-backward | FileCheck %s

// The reverse-mode kernels are generated from the forward's jet ops, each
// VJP rule applied in reverse order. 1 -> 3 -> 2 tanh at order 2.

// CHECK-LABEL: func.func @net_forward_tiles
// CHECK-SAME: attributes {ntp.kernel, ntp.workspace_per_tile = 216 : i64}

// The reverse of one tile, a function of its own (never inlined) that both
// backwards call: the lane-wise gradient accumulators (14 parameters x 8
// lanes) an argument, the steps' jets at constant offsets (0, 24, 96, 168)
// from the tile's first element in one buffer, the cotangents on its stack.
// CHECK-LABEL: func.func private @__ntp_net_tile_reverse
// CHECK-SAME: (%[[X:.*]]: memref<?xf64>, %[[V:.*]]: memref<?xf64>, %[[P:.*]]: memref<?xf64>, %[[C:.*]]: memref<?xf64>, %[[LANES:.*]]: memref<14x8xf64>, %[[XG:.*]]: memref<?xf64>, %[[JETS:.*]]: memref<?xf64>, %[[START:.*]]: index, %{{.*}}: index, %{{.*}}: index)
// CHECK-SAME: attributes {passthrough = ["noinline"]}
// CHECK:     %[[O0:.*]] = arith.addi %[[START]], %c0
// CHECK:     %[[J0:.*]] = memref.reinterpret_cast %[[JETS]] to offset: [%[[O0]]], sizes: [3, 1, 8]
// CHECK:     %[[O1:.*]] = arith.addi %[[START]], %c24
// CHECK:     %[[A1:.*]] = memref.reinterpret_cast %[[JETS]] to offset: [%[[O1]]], sizes: [3, 3, 8]
// CHECK:     %[[O2:.*]] = arith.addi %[[START]], %c96
// CHECK:     %[[H1:.*]] = memref.reinterpret_cast %[[JETS]] to offset: [%[[O2]]], sizes: [3, 3, 8]
// CHECK:     arith.addi %[[START]], %c168
// CHECK-NOT: ntp.seed
// CHECK-NOT: ntp.affine {{.*}} into
// CHECK:     ntp.load_cotangent %[[C]]
// CHECK:     ntp.affine_vjp %[[H1]], %[[P]][6], %{{.*}} into %[[LANES]] input_cotangent %[[HB:.*]] live_orders 3
// CHECK:     ntp.activate_vjp "tanh" %[[A1]], %[[HB]] into %[[AB:.*]] live_orders 2 output %[[H1]]
// CHECK:     ntp.affine_vjp %[[J0]], %[[P]][0], %[[AB]] into %[[LANES]] input_cotangent %[[JB:.*]] live_orders 2
// CHECK:     ntp.seed_vjp %[[JB]] into %[[XG]]
// CHECK-NEXT: return

// The training path: the backward from saved jets (no forward): per tile,
// the reverse on the tile's slice of the workspace (216 elements a tile).
// CHECK-LABEL: func.func @net_backward_saved_tiles
// CHECK-SAME: (%[[SX:.*]]: memref<?xf64>, %[[SV:.*]]: memref<?xf64>, %[[SP:.*]]: memref<?xf64>, %[[SC:.*]]: memref<?xf64>, %[[G:.*]]: memref<?xf64>, %[[SXG:.*]]: memref<?xf64>, %[[WS:.*]]: memref<?xf64>, %[[B:.*]]: index, %{{.*}}: index, %{{.*}}: index)
// Lane-wise gradient accumulators on a cache line, zeroed once.
// CHECK:     %[[SUMS:.*]] = memref.alloc() {alignment = 64 : i64} : memref<14x8xf64>
// CHECK:     scf.for
// CHECK:       vector.store %{{.*}}, %[[SUMS]]
// CHECK:     scf.for %[[T:.*]] = 
// CHECK:     %[[FIRST:.*]] = arith.muli %[[T]], %c216
// CHECK:     func.call @__ntp_net_tile_reverse(%[[SX]], %[[SV]], %[[SP]], %[[SC]], %[[SUMS]], %[[SXG]], %[[WS]], %[[FIRST]], %[[B]], %[[T]])
// CHECK:   }
// CHECK:   ntp.reduce_lanes %[[SUMS]] into %[[G]] : memref<14x8xf64>, memref<?xf64>
// CHECK:   memref.dealloc %[[SUMS]]

// The forward of one tile.
// CHECK-LABEL: func.func private @__ntp_net_tile_forward
// CHECK: ntp.seed
// CHECK: ntp.affine
// CHECK: ntp.activate "tanh"
// CHECK: ntp.affine
// CHECK-NOT: ntp.store_jet
// CHECK: return

// The forward that saves every layer's jet into the workspace.
// CHECK-LABEL: func.func @net_forward_save_tiles
// CHECK: func.call @__ntp_net_tile_forward
// CHECK: ntp.store_jet
// CHECK-NOT: ntp.affine_vjp

// The stateless backward: the forward into one stack buffer laid out like
// a tile's workspace slice, then the reverse.
// CHECK-LABEL: func.func @net_backward_tiles
// CHECK:     %[[STACK:.*]] = memref.alloca() : memref<216xf64>
// CHECK:     %[[BUF:.*]] = memref.cast %[[STACK]] : memref<216xf64> to memref<?xf64>
// CHECK-NOT: memref.alloca
// CHECK:     scf.for
// CHECK:     func.call @__ntp_net_tile_forward(%{{.*}}, %{{.*}}, %{{.*}}, %[[BUF]], %[[ZERO:[^,]*]],
// CHECK:     func.call @__ntp_net_tile_reverse(%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %[[BUF]], %[[ZERO]],
ntp.mlp @net layers [1, 3, 2] activation "tanh" order 2 : f64
