// RUN: ntp-opt %s -split-input-file -ntp-decompose-mlp="backward=false partials-lowering=collapsed" | FileCheck %s

// The lowerings of a partials kernel (ntp/Support/PartialsLowering.h). u,
// u_t and the Laplacian over x, y: rays e_t (order 1), e_x, e_y (order 2).
// Collapsed: row 0 + 1 + 2 + the collapsed row.

// The top layer and the activation feeding it write only the rows the
// combine weighs: 0 (u), 1 (u_t) and the collapsed row 4, not e_x's and
// e_y's order 1 (rows 2, 3); the first activation writes every row, and
// reads the first layer's rows past row 0, the same in every tile
// ({ntp.invariant_rays}: its sums of y1^2 once per call).

// CHECK: partials_lowering = "collapsed: 1 block of rows 5, request 2 collapsed;
// CHECK-LABEL: func.func @heat_forward_tiles
// CHECK: ntp.activate_rays "tanh" {{.*}} collapsed_order 2 {ntp.invariant_rays} :
// CHECK: ntp.activate_rays "tanh" {{.*}} collapsed_order 2 {ntp.needed_rows = array<i64: 0, 1, 4>} :
// CHECK: ntp.affine_rays {{.*}} collapsed_order 2 {ntp.needed_rows = array<i64: 0, 1, 4>} :
// CHECK: ntp.combine_partials {{.*}} weights [1.000000e+00, 0.000000e+00, 0.000000e+00, 0.000000e+00, 0.000000e+00, 0.000000e+00, 1.000000e+00, 0.000000e+00, 0.000000e+00, 0.000000e+00, 0.000000e+00, 0.000000e+00, 0.000000e+00, 0.000000e+00, 1.000000e+00]
ntp.mlp @heat layers [3, 8, 8, 1] activation "tanh" order 2
    partials [[0, 0, 0], [0, 0, 1]] operators [#ntp.laplacian<[0, 1]>] : f64

// -----

// The Laplacian alone (rows 0, three rays of order 1, the collapsed row 4):
// the top layer computes the collapsed row only, and so does the last
// activation (its rays' order 1 and tanh(y0) are read by nothing); a
// residual last hidden layer sums every row of its activation, which then
// writes every row.

// CHECK-LABEL: func.func @alone_forward_tiles
// CHECK: ntp.affine_rays {{.*}} collapsed_order 2 {ntp.invariant_rays} :
// CHECK: ntp.activate_rays "tanh" {{.*}} collapsed_order 2 {ntp.invariant_rays} :
// CHECK: ntp.affine_rays {{.*}} collapsed_order 2 :
// CHECK: ntp.activate_rays "tanh" {{.*}} collapsed_order 2 {ntp.needed_rows = array<i64: 4>} :
// CHECK: ntp.affine_rays {{.*}} collapsed_order 2 {ntp.needed_rows = array<i64: 4>} :
// CHECK: ntp.combine_partials
ntp.mlp @alone layers [3, 8, 8, 1] activation "tanh" order 2
    operators [#ntp.laplacian] : f64

// -----

// CHECK-LABEL: func.func @residual_forward_tiles
// CHECK: ntp.activate_rays "tanh" {{.*}} collapsed_order 2 {ntp.invariant_rays} :
// CHECK: ntp.activate_rays "tanh" {{.*}} collapsed_order 2 :
// CHECK: ntp.add_jets
// CHECK: ntp.affine_rays {{.*}} collapsed_order 2 {ntp.needed_rows = array<i64: 4>} :
ntp.mlp @residual layers [3, 8, 8, 1] activation "tanh" residual [false, true]
    order 2 operators [#ntp.laplacian] : f64

// -----

// The ntp.mlp's ntp.partials_lowering takes precedence over the option.
// CHECK: partials_lowering = "per-ray;
ntp.mlp @forced layers [2, 4, 1] activation "tanh" order 2
    operators [#ntp.laplacian] : f64 {ntp.partials_lowering = "per-ray"}
