// RUN: ntp-opt %s -ntp-decompose-mlp="tile-size=2 partials-reverse-lowering=per-ray" -ntp-generate-backward | FileCheck %s

// The reverse mode of a partials kernel: 2 -> 3 -> 1 tanh, requests
// d^2/dx0 dx1, f and the Laplacian, computed from three rays (e1, (1,1), e0)
// of 3 jet coefficients each (C = 9). The combine's VJP is the combine with
// the transposed weights (9 x 3); each ray then runs the jet VJP rules in
// reverse, one ray after another; the seeds' order-0 cotangents are summed
// into the x gradient by weight-1 combines in two ping-pong buffers. (The
// reverse mode forced per-ray: by default it follows the forward's
// multi-direction lowering, generate-backward-partials-rays.mlir.)
// Workspace per tile: C * (2 + 3 + 3 + 1) * 2 = 162.

// CHECK: ntp.kernel = #ntp.kernel<"p", layers = [2, 3, 1], activation = "tanh", order = 2, element_type = f64, tile = 2, backward = true, workspace_per_tile = 162, entry_points = [@p_forward_tiles, @p_backward_tiles, @p_forward_save_tiles, @p_backward_saved_tiles], partials = [1, 1, 0, 0, -2, -2]>

// CHECK-LABEL: func.func @p_forward_tiles
// CHECK-SAME: attributes {ntp.kernel, ntp.partials, ntp.workspace_per_tile = 162 : i64}

// The training path's reverse: no forward, the jets from the workspace.
// CHECK-LABEL: func.func @p_backward_saved_tiles
// CHECK-SAME: (%{{.*}}: memref<?xf64>, %{{.*}}: memref<?xf64>, %[[P:.*]]: memref<?xf64>, %[[C:.*]]: memref<?xf64>, %[[G:.*]]: memref<?xf64>, %[[XG:.*]]: memref<?xf64>, %[[WS:.*]]: memref<?xf64>, %{{.*}}: index, %{{.*}}: index, %{{.*}}: index)
// CHECK-SAME: attributes {ntp.kernel, ntp.partials, ntp.workspace_per_tile = 162 : i64}
// CHECK-DAG: %[[OUTBAR:.*]] = memref.alloca() : memref<3x1x2xf64>
// CHECK-DAG: %[[RAYSBAR:.*]] = memref.alloca() : memref<9x1x2xf64>
// CHECK-DAG: %[[LANES:.*]] = memref.alloc() : memref<13x2xf64>
// CHECK: scf.for
// CHECK-NOT: ntp.seed
// CHECK-NOT: ntp.affine {{.*}} into
// CHECK: ntp.load_cotangent %[[C]] into %[[OUTBAR]]
// CHECK: ntp.combine_partials %[[OUTBAR]] into %[[RAYSBAR]] weights [0.000000e+00, 1.000000e+00, 0.000000e+00, 0.000000e+00, 0.000000e+00, 0.000000e+00, -5.000000e-01, 0.000000e+00, 1.000000e+00, 0.000000e+00, 0.000000e+00, 0.000000e+00, 0.000000e+00, 0.000000e+00, 0.000000e+00, 5.000000e-01, 0.000000e+00, 0.000000e+00, 0.000000e+00, 0.000000e+00, 0.000000e+00, 0.000000e+00, 0.000000e+00, 0.000000e+00, -5.000000e-01, 0.000000e+00, 1.000000e+00] : memref<3x1x2xf64>, memref<9x1x2xf64>
// Ray 0: its jets at the start of the tile's slice, its top cotangent rows
// 0..2 of the ray cotangents.
// CHECK: %[[J0:.*]] = memref.reinterpret_cast %[[WS]] to offset: [%{{.*}}], sizes: [3, 2, 2]
// CHECK: %[[A0:.*]] = memref.reinterpret_cast %[[WS]] to offset: [%{{.*}}], sizes: [3, 3, 2]
// CHECK: %[[H0:.*]] = memref.reinterpret_cast %[[WS]] to offset: [%{{.*}}], sizes: [3, 3, 2]
// CHECK: %[[SEEDBAR0:.*]] = memref.subview %[[S0:.*]][1, 0, 0] [3, 2, 2]
// CHECK: %[[TOP0:.*]] = memref.subview %[[RAYSBAR]][0, 0, 0] [3, 1, 2]
// CHECK: ntp.affine_vjp %[[H0]], %[[P]][9], %[[TOP0]] into %[[LANES]] input_cotangent %[[HB:.*]] live_orders 3
// CHECK: ntp.activate_vjp "tanh" %[[A0]], %[[HB]] into %[[AB:.*]] live_orders 2
// CHECK: ntp.affine_vjp %[[J0]], %[[P]][0], %[[AB]] into %[[LANES]] input_cotangent %[[SEEDBAR0]] live_orders 2
// CHECK: %[[ACC1:.*]] = memref.subview %[[S1:.*]][0, 0, 0] [1, 2, 2]
// CHECK: %[[ROW0:.*]] = memref.subview %[[S0]][1, 0, 0] [1, 2, 2]
// CHECK: ntp.combine_partials %[[ROW0]] into %[[ACC1]] weights [1.000000e+00]
// Ray 1 accumulates onto the sum so far.
// CHECK: memref.subview %[[RAYSBAR]][3, 0, 0] [3, 1, 2]
// CHECK: ntp.affine_vjp
// CHECK: ntp.activate_vjp
// CHECK: ntp.affine_vjp
// CHECK: %[[ACC0:.*]] = memref.subview %[[S0]][0, 0, 0] [1, 2, 2]
// CHECK: %[[BOTH:.*]] = memref.subview %[[S1]][0, 0, 0] [2, 2, 2]
// CHECK: ntp.combine_partials %[[BOTH]] into %[[ACC0]] weights [1.000000e+00, 1.000000e+00]
// CHECK: memref.subview %[[RAYSBAR]][6, 0, 0] [3, 1, 2]
// CHECK: ntp.combine_partials {{.*}} weights [1.000000e+00, 1.000000e+00]
// CHECK: %[[XBAR:.*]] = memref.subview %[[S1]][0, 0, 0] [1, 2, 2]
// CHECK: ntp.seed_vjp %[[XBAR]] into %[[XG]]
// CHECK: }
// CHECK: ntp.reduce_lanes %[[LANES]] into %[[G]]
// CHECK: memref.dealloc %[[LANES]]

// The forward that saves every ray's jets, the tops stacked at offset
// C * (2 + 3 + 3) * 2 = 144 of the tile's slice, then combines and stores.
// CHECK-LABEL: func.func @p_forward_save_tiles
// CHECK: scf.for
// CHECK: ntp.seed
// CHECK: ntp.affine
// CHECK: ntp.activate "tanh"
// CHECK: ntp.affine
// CHECK: ntp.seed
// CHECK: ntp.seed
// CHECK: ntp.combine_partials %[[TOPS:.*]] into %{{.*}} weights [0.000000e+00, 0.000000e+00, -5.000000e-01,
// CHECK: ntp.store_jet {{.*}} live_orders 3
// CHECK-NOT: ntp.affine_vjp

// The stateless backward: each ray's forward on the stack (without its
// top affine, whose output the reverse does not read), then its reverse.
// CHECK-LABEL: func.func @p_backward_tiles
// CHECK: scf.for
// CHECK: ntp.load_cotangent
// CHECK: ntp.combine_partials
// CHECK-COUNT-3: ntp.seed
// CHECK: ntp.seed_vjp
ntp.mlp @p layers [2, 3, 1] activation "tanh" order 2 partials [[1, 1], [0, 0]] operators [#ntp.laplacian] : f64
