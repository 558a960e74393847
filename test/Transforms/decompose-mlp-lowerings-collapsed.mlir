// RUN: ntp-opt %s -split-input-file -ntp-decompose-mlp="backward=false partials-lowering=collapsed" | FileCheck %s

// The lowerings of a partials kernel (ntp/Support/PartialsLowering.h). u,
// u_t and the Laplacian over x, y: rays e_t (order 1), e_x, e_y (order 2).
// Collapsed: row 0 + 1 + 2 + the collapsed row.

// CHECK: ntp.partials_lowering = "collapsed: 1 block of rows 5, request 2 collapsed;
// CHECK: ntp.activate_rays "tanh" {{.*}} collapsed_order 2
// CHECK: ntp.combine_partials {{.*}} weights [1.000000e+00, 0.000000e+00, 0.000000e+00, 0.000000e+00, 0.000000e+00, 0.000000e+00, 1.000000e+00, 0.000000e+00, 0.000000e+00, 0.000000e+00, 0.000000e+00, 0.000000e+00, 0.000000e+00, 0.000000e+00, 1.000000e+00]
ntp.mlp @heat layers [3, 8, 8, 1] activation "tanh" order 2
    partials [[0, 0, 0], [0, 0, 1]] operators [#ntp.laplacian<[0, 1]>] : f64

// -----

// The ntp.mlp's ntp.partials_lowering takes precedence over the option.
// CHECK: ntp.partials_lowering = "per-ray;
ntp.mlp @forced layers [2, 4, 1] activation "tanh" order 2
    operators [#ntp.laplacian] : f64 {ntp.partials_lowering = "per-ray"}
