// RUN: ntp-opt %s -split-input-file -ntp-decompose-mlp="backward=false" | FileCheck %s

// The lowerings of a partials kernel (ntp/Support/PartialsLowering.h). u,
// u_t and the Laplacian over x, y: rays e_t (order 1), e_x, e_y (order 2).
// Automatic: the fewest operations, here collapsed (e_x, e_y carry order 1
// and the one collapsed row their order-2 sum). The choice is on the module
// and the function.

// CHECK: module attributes {{{.*}}partials_lowering = "collapsed: 1 block of rows 5, request 2 collapsed; {{[0-9]+}} flops + {{[0-9]+}} primitives per sample">}
// CHECK: ntp.seed_rays {{.*}} ray_counts [1, 2] ray_orders [1, 1] collapse_weights [0.000000e+00, 1.000000e+00] collapsed_order 2
ntp.mlp @heat layers [3, 8, 8, 1] activation "tanh" order 2
    partials [[0, 0, 0], [0, 0, 1]] operators [#ntp.laplacian<[0, 1]>] : f64

// -----

// The ntp.mlp's ntp.partials_lowering takes precedence over the option.
// CHECK: partials_lowering = "per-ray;
ntp.mlp @forced layers [2, 4, 1] activation "tanh" order 2
    operators [#ntp.laplacian] : f64 {ntp.partials_lowering = "per-ray"}
