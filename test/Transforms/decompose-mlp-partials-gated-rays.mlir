// RUN: ntp-opt %s -split-input-file -ntp-decompose-mlp="backward=false" | FileCheck %s

// The modified MLP's gates in the multi-direction and collapsed lowerings:
// per block, U and V from X on the block's ray layout (W_u at 0, W_v at 12,
// each an affine_rays and an activate_rays into a buffer of its own), then
// per hidden layer affine_rays, activate_rays and ntp.gate_rays of U, V and
// the activation (the product of jets along every ray, and the collapsed
// row), and the output affine_rays. Rays u_x (order 1) and u_yy (order 2):
// rows 0, 1 and 2..3. U, V and the first layer read the seed: their rows
// past row 0 are computed once per call ({ntp.invariant_rays}). The top
// layer computes the rows the combine weighs: u_x's order 1 (row 1) and
// u_yy's order 2 (row 3).

// CHECK: partials_lowering = "multi-direction: 1 block of rows 4;
// CHECK-LABEL: func.func @multi_forward_tiles
// CHECK-COUNT-2: memref.alloca() : memref<4x4x8xf64>
// CHECK-COUNT-2: memref.alloca() : memref<4x4x8xf64>
// CHECK: scf.for
// CHECK:   ntp.seed_rays {{.*}} into %[[X:[a-z0-9_]+]],
// CHECK:   ntp.affine_rays %[[X]], %{{.*}}[0] into %[[YU:[a-z0-9_]+]] live_orders 2 {{.*}} {ntp.invariant_rays} :
// CHECK:   ntp.activate_rays "tanh" %[[YU]] into %[[U:[a-z0-9_]+]] live_orders 2
// CHECK:   ntp.affine_rays %[[X]], %{{.*}}[12] into %[[YV:[a-z0-9_]+]] live_orders 2 {{.*}} {ntp.invariant_rays} :
// CHECK:   ntp.activate_rays "tanh" %[[YV]] into %[[V:[a-z0-9_]+]] live_orders 2
// CHECK:   ntp.affine_rays %[[X]], %{{.*}}[24] into %[[Y1:[a-z0-9_]+]] live_orders 2 {{.*}} {ntp.invariant_rays} :
// CHECK:   ntp.activate_rays "tanh" %[[Y1]] into %[[Z1:[a-z0-9_]+]] live_orders 2
// CHECK:   ntp.gate_rays %[[U]], %[[V]], %[[Z1]] into %[[H1:[a-z0-9_]+]] ray_counts [1, 1] ray_orders [1, 2] collapse_weights [0.000000e+00, 0.000000e+00] collapsed_order 0 :
// CHECK:   ntp.affine_rays %[[H1]], %{{.*}}[36] into %[[Y2:[a-z0-9_]+]] live_orders 3
// CHECK:   ntp.activate_rays "sin" %[[Y2]] into %[[Z2:[a-z0-9_]+]] live_orders 3
// CHECK:   ntp.gate_rays %[[U]], %[[V]], %[[Z2]] into %[[H2:[a-z0-9_]+]]
// CHECK:   ntp.affine_rays %[[H2]], %{{.*}}[56] into {{.*}} {ntp.needed_rows = array<i64: 1, 3>} :
// CHECK:   ntp.combine_partials
// CHECK-NOT: ntp.gate_jets
ntp.mlp @multi layers [2, 4, 4, 1] activation ["tanh", "sin"] gated order 2
    partials [[1, 0], [0, 2]] : f64 {ntp.partials_lowering = "multi-direction"}

// -----

// Collapsed (the forward Laplacian) after a Fourier embedding (B at 0, W_u
// at 4, W_v at 24, W_1 at 44 with its slope at 64): U and V read the
// features (every row live; not the same in every tile, so computed every
// tile), and each gate_rays carries the collapsed row of order 2 with the
// rays' weight 1. Rows: 0, two rays of order 1, the collapsed row 3, the
// only one the top layer computes (the gate before it reads every row of
// the activation).

// CHECK: partials_lowering = "collapsed: 1 block of rows 4, request 0 collapsed;
// CHECK-LABEL: func.func @collapsed_forward_tiles
// CHECK:   ntp.seed_rays
// CHECK:   ntp.activate_rays "sin" %{{.*}} into %[[X:[a-z0-9_]+]] live_orders 2
// CHECK:   ntp.affine_rays %[[X]], %{{.*}}[4] into %[[YU:[a-z0-9_]+]] live_orders 3 {{.*}} collapsed_order 2 :
// CHECK:   ntp.activate_rays "tanh" %[[YU]] into %[[U:[a-z0-9_]+]] live_orders 3
// CHECK:   ntp.affine_rays %[[X]], %{{.*}}[24] into %[[YV:[a-z0-9_]+]] live_orders 3
// CHECK:   ntp.activate_rays "tanh" %[[YV]] into %[[V:[a-z0-9_]+]] live_orders 3
// CHECK:   ntp.affine_rays %[[X]], %{{.*}}[44] into %[[Y1:[a-z0-9_]+]] live_orders 3
// CHECK:   ntp.scale %[[Y1]], %{{.*}}[64] into %[[S1:[a-z0-9_]+]] live_orders 4 :
// CHECK:   ntp.activate_rays "tanh" %[[S1]] into %[[Z1:[a-z0-9_]+]] live_orders 3
// CHECK:   ntp.gate_rays %[[U]], %[[V]], %[[Z1]] into %[[H1:[a-z0-9_]+]] ray_counts [2] ray_orders [1] collapse_weights [1.000000e+00] collapsed_order 2 :
// CHECK:   ntp.affine_rays %[[H1]], {{.*}} collapsed_order 2 {ntp.needed_rows = array<i64: 3>} :
// CHECK:   ntp.combine_partials
ntp.mlp @collapsed layers [2, 4, 1] activation "tanh" fourier 2 gated
    slopes "layer" order 2 operators [#ntp.laplacian] : f64
    {ntp.partials_lowering = "collapsed"}

// -----

// auto counts the gates (and U and V) in every lowering and picks the
// cheapest: for the Laplacian of a gated network in 3 inputs, collapsed.

// CHECK: partials_lowering = "collapsed: 1 block of rows 5, request 0 collapsed;
// CHECK-LABEL: func.func @auto_forward_tiles
// CHECK:   ntp.gate_rays {{.*}} ray_counts [3] ray_orders [1] collapse_weights [1.000000e+00] collapsed_order 2 :
ntp.mlp @auto layers [3, 8, 8, 1] activation "tanh" gated order 2
    operators [#ntp.laplacian] : f64
