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

// CHECK: ntp.kernel = #ntp.kernel<"p", layers = [2, 3, 1], activation = "tanh", order = 2, element_type = f64, tile = 2, backward = true, workspace_per_tile = 162, entry_points = [@p_forward_tiles, @p_backward_tiles, @p_forward_save_tiles, @p_backward_saved_tiles], partials = [1, 1, 0, 0, -2, -2], partials_lowering = "multi-direction: 1 block of rows 7; 84 flops + 3 primitives per sample", partials_reverse_lowering = "per-ray; 198 flops + 9 primitives per sample">

// CHECK-LABEL: func.func @p_forward_tiles
// CHECK-SAME: attributes {ntp.kernel, ntp.partials, ntp.workspace_per_tile = 162 : i64}

// One ray's reverse (the three rays run the same layers): a never-inlined
// function of the tile, its jets at constant offsets from one base (a tile's
// workspace slice, or the recomputing backward's stack buffer), its top
// cotangent and its seed's cotangent arguments, its chain's two cotangent
// buffers on its own stack.
// CHECK-LABEL: func.func private @__ntp_p_group0_tile_reverse
// CHECK-SAME: (%{{.*}}: memref<?xf64>, %[[P:.*]]: memref<?xf64>, %[[TOP:.*]]: memref<3x1x2xf64, strided<[2, 2, 1], offset: ?>>, %[[SEEDBAR:.*]]: memref<3x2x2xf64, strided<[4, 2, 1], offset: ?>>, %[[LANES:.*]]: memref<13x2xf64>, %[[JETS:.*]]: memref<?xf64>, %{{.*}}: index, %{{.*}}: index, %{{.*}}: index)
// CHECK-SAME: attributes {passthrough = ["noinline"]}
// CHECK: %[[J:.*]] = memref.reinterpret_cast %[[JETS]] to offset: [%{{.*}}], sizes: [3, 2, 2]
// CHECK: %[[A:.*]] = memref.reinterpret_cast %[[JETS]] to offset: [%{{.*}}], sizes: [3, 3, 2]
// CHECK: %[[H:.*]] = memref.reinterpret_cast %[[JETS]] to offset: [%{{.*}}], sizes: [3, 3, 2]
// CHECK: %[[HB:.*]] = memref.alloca() : memref<3x3x2xf64>
// CHECK: %[[AB:.*]] = memref.alloca() : memref<3x3x2xf64>
// CHECK: ntp.affine_vjp %[[H]], %[[P]][9], %[[TOP]] into %[[LANES]] input_cotangent %[[HB]] live_orders 3
// CHECK: ntp.activate_vjp "tanh" %[[A]], %[[HB]] into %[[AB]] live_orders 2
// CHECK: ntp.affine_vjp %[[J]], %[[P]][0], %[[AB]] into %[[LANES]] input_cotangent %[[SEEDBAR]] live_orders 2
// CHECK: return

// The training path's reverse: no forward, the jets from the workspace.
// CHECK-LABEL: func.func @p_backward_saved_tiles
// CHECK-SAME: (%[[X:.*]]: memref<?xf64>, %{{.*}}: memref<?xf64>, %[[P:.*]]: memref<?xf64>, %[[C:.*]]: memref<?xf64>, %[[G:.*]]: memref<?xf64>, %[[XG:.*]]: memref<?xf64>, %[[WS:.*]]: memref<?xf64>, %[[B:.*]]: index, %{{.*}}: index, %{{.*}}: index)
// CHECK-SAME: attributes {ntp.kernel, ntp.partials, ntp.workspace_per_tile = 162 : i64}
// CHECK-DAG: %[[OUTBAR:.*]] = memref.alloca() : memref<3x1x2xf64>
// CHECK-DAG: %[[RAYSBAR:.*]] = memref.alloca() : memref<9x1x2xf64>
// CHECK-DAG: %[[LANES:.*]] = memref.alloc() {alignment = 64 : i64} : memref<13x2xf64>
// CHECK: scf.for %[[T:.*]] = 
// CHECK-NOT: ntp.seed
// CHECK-NOT: ntp.affine {{.*}} into
// CHECK: ntp.load_cotangent %[[C]] into %[[OUTBAR]]
// CHECK: ntp.combine_partials %[[OUTBAR]] into %[[RAYSBAR]] weights [0.000000e+00, 1.000000e+00, 0.000000e+00, 0.000000e+00, 0.000000e+00, 0.000000e+00, -5.000000e-01, 0.000000e+00, 1.000000e+00, 0.000000e+00, 0.000000e+00, 0.000000e+00, 0.000000e+00, 0.000000e+00, 0.000000e+00, 5.000000e-01, 0.000000e+00, 0.000000e+00, 0.000000e+00, 0.000000e+00, 0.000000e+00, 0.000000e+00, 0.000000e+00, 0.000000e+00, -5.000000e-01, 0.000000e+00, 1.000000e+00] : memref<3x1x2xf64>, memref<9x1x2xf64>
// Ray 0: its seed's cotangent rows 1..3 of an accumulator, its top
// cotangent rows 0..2 of the ray cotangents, its jets at the start of the
// tile's slice (tile * 162).
// CHECK: %[[SEEDBAR0:.*]] = memref.subview %[[S0:.*]][1, 0, 0] [3, 2, 2]
// CHECK: %[[TOP0:.*]] = memref.subview %[[RAYSBAR]][0, 0, 0] [3, 1, 2]
// CHECK: %[[C162:.*]] = arith.constant 162 : index
// CHECK: %[[SLICE:.*]] = arith.muli %[[T]], %[[C162]]
// CHECK: %[[START0:.*]] = arith.addi %[[SLICE]], %{{.*}}
// CHECK: %[[TOPCAST0:.*]] = memref.cast %[[TOP0]]
// CHECK: %[[SEEDCAST0:.*]] = memref.cast %[[SEEDBAR0]]
// CHECK: func.call @__ntp_p_group0_tile_reverse(%[[X]], %[[P]], %[[TOPCAST0]], %[[SEEDCAST0]], %[[LANES]], %[[WS]], %[[START0]], %[[B]], %[[T]])
// CHECK: %[[ACC1:.*]] = memref.subview %[[S1:.*]][0, 0, 0] [1, 2, 2]
// CHECK: %[[ROW0:.*]] = memref.subview %[[S0]][1, 0, 0] [1, 2, 2]
// CHECK: ntp.combine_partials %[[ROW0]] into %[[ACC1]] weights [1.000000e+00]
// Ray 1 (48 elements further: 3 rows of widths 2 + 3 + 3, 2 samples each)
// accumulates onto the sum so far.
// CHECK: memref.subview %[[RAYSBAR]][3, 0, 0] [3, 1, 2]
// CHECK: arith.constant 48 : index
// CHECK: func.call @__ntp_p_group0_tile_reverse
// CHECK: %[[ACC0:.*]] = memref.subview %[[S0]][0, 0, 0] [1, 2, 2]
// CHECK: %[[BOTH:.*]] = memref.subview %[[S1]][0, 0, 0] [2, 2, 2]
// CHECK: ntp.combine_partials %[[BOTH]] into %[[ACC0]] weights [1.000000e+00, 1.000000e+00]
// CHECK: memref.subview %[[RAYSBAR]][6, 0, 0] [3, 1, 2]
// CHECK: arith.constant 96 : index
// CHECK: func.call @__ntp_p_group0_tile_reverse
// CHECK: ntp.combine_partials {{.*}} weights [1.000000e+00, 1.000000e+00]
// CHECK: %[[XBAR:.*]] = memref.subview %[[S1]][0, 0, 0] [1, 2, 2]
// CHECK: ntp.seed_vjp %[[XBAR]] into %[[XG]]
// CHECK: }
// CHECK: ntp.reduce_lanes %[[LANES]] into %[[G]]
// CHECK: memref.dealloc %[[LANES]]

// One ray's forward below its top: the direction is an argument.
// CHECK-LABEL: func.func private @__ntp_p_group0_tile_forward
// CHECK-SAME: (%[[X:.*]]: memref<?xf64>, %[[P:.*]]: memref<?xf64>, %[[DIR:.*]]: memref<?xf64>, %[[JETS:.*]]: memref<?xf64>, %{{.*}}: index, %[[B:.*]]: index, %[[T:.*]]: index)
// CHECK: %[[J:.*]] = memref.reinterpret_cast %[[JETS]]
// CHECK: %[[A:.*]] = memref.reinterpret_cast %[[JETS]]
// CHECK: %[[H:.*]] = memref.reinterpret_cast %[[JETS]]
// CHECK: ntp.seed %[[X]], %[[DIR]] into %[[J]], %[[B]], %[[T]]
// CHECK: ntp.affine %[[J]], %[[P]][0] into %[[A]] live_orders 2
// CHECK: ntp.activate "tanh" %[[A]] into %[[H]] live_orders 2
// CHECK-NOT: ntp.affine
// CHECK: return

// The forward that saves every ray's jets, the tops stacked at offset
// C * (2 + 3 + 3) * 2 = 144 of the tile's slice, then combines and stores:
// per ray the shared forward with its direction, then its top affine.
// CHECK-LABEL: func.func @p_forward_save_tiles
// CHECK: %[[D0:.*]] = memref.alloca() : memref<2xf64>
// CHECK: %[[D1:.*]] = memref.alloca() : memref<2xf64>
// CHECK: %[[D2:.*]] = memref.alloca() : memref<2xf64>
// CHECK: scf.for
// CHECK: %[[TOPS:.*]] = memref.reinterpret_cast {{.*}} sizes: [9, 1, 2]
// CHECK: %[[TOP0:.*]] = memref.subview %[[TOPS]][0, 0, 0] [3, 1, 2]
// CHECK: %[[DC0:.*]] = memref.cast %[[D0]]
// CHECK: func.call @__ntp_p_group0_tile_forward(%{{.*}}, %{{.*}}, %[[DC0]],
// CHECK: %[[H0:.*]] = memref.reinterpret_cast {{.*}} sizes: [3, 3, 2]
// CHECK: ntp.affine %[[H0]], %{{.*}}[9] into %[[TOP0]] live_orders 3
// CHECK: memref.cast %[[D1]]
// CHECK: func.call @__ntp_p_group0_tile_forward
// CHECK: ntp.affine
// CHECK: memref.cast %[[D2]]
// CHECK: func.call @__ntp_p_group0_tile_forward
// CHECK: ntp.affine
// CHECK: ntp.combine_partials %[[TOPS]] into %{{.*}} weights [0.000000e+00, 0.000000e+00, -5.000000e-01,
// CHECK: ntp.store_jet {{.*}} live_orders 3
// CHECK-NOT: ntp.affine_vjp

// The stateless backward: each ray's forward into one stack buffer laid out
// like a ray's workspace slice (3 * (2 + 3 + 3) * 2 = 48 elements; without
// its top affine, whose output the reverse does not read), then its reverse.
// CHECK-LABEL: func.func @p_backward_tiles
// CHECK: %[[STACK:.*]] = memref.alloca() : memref<48xf64>
// CHECK: %[[JETS:.*]] = memref.cast %[[STACK]]
// CHECK: scf.for
// CHECK: ntp.load_cotangent
// CHECK: ntp.combine_partials
// CHECK: func.call @__ntp_p_group0_tile_forward(%{{.*}}, %{{.*}}, %{{.*}}, %[[JETS]], %[[ZERO:.*]], %{{.*}}, %{{.*}})
// CHECK: func.call @__ntp_p_group0_tile_reverse({{.*}}, %[[JETS]], %[[ZERO]],
// CHECK-COUNT-2: func.call @__ntp_p_group0_tile_forward
// CHECK: ntp.seed_vjp
ntp.mlp @p layers [2, 3, 1] activation "tanh" order 2 partials [[1, 1], [0, 0]] operators [#ntp.laplacian] : f64
