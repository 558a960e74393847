// RUN: ntp-opt %s -split-input-file -ntp-decompose-mlp="backward=false partials-lowering=multi-direction" | FileCheck %s

// The lowerings of a partials kernel (ntp/Support/PartialsLowering.h). u,
// u_t and the Laplacian over x, y: rays e_t (order 1), e_x, e_y (order 2).
// Multi-direction: one buffer of row 0 + 1 + 2 * 2 rows.

// CHECK: partials_lowering = "multi-direction: 1 block of rows 6;
// CHECK: ntp.seed_rays {{.*}} ray_counts [1, 2] ray_orders [1, 2] collapse_weights [0.000000e+00, 0.000000e+00] collapsed_order 0 : memref<?xf64>, memref<?xf64>, memref<6x3x8xf64, {{.*}}>
// The first layer reads the seed: its rows past row 0 are computed once per
// call ({ntp.invariant_rays}); the others read activations.
// CHECK: ntp.affine_rays {{.*}} live_orders 2 {{.*}} collapsed_order 0 {ntp.invariant_rays} :
// CHECK: ntp.activate_rays "tanh" {{.*}} live_orders 2
// CHECK: ntp.affine_rays {{.*}} live_orders 3 {{.*}} collapsed_order 0 :
// The top layer (and the activation feeding it) write only the rows the
// combine weighs: u, u_t (row 1), order 2 of e_x and e_y (rows 3, 5).
// CHECK: ntp.activate_rays "tanh" {{.*}} live_orders 3 {{.*}} {ntp.needed_rows = array<i64: 0, 1, 3, 5>} :
// CHECK: ntp.affine_rays {{.*}} live_orders 3 {{.*}} collapsed_order 0 {ntp.needed_rows = array<i64: 0, 1, 3, 5>} : {{.*}} memref<6x1x8xf64>
// Request 2 (the Laplacian) reads order 2 of e_x and e_y: rows 3 and 5.
// CHECK: ntp.combine_partials {{.*}} weights [1.000000e+00, 0.000000e+00, 0.000000e+00, 0.000000e+00, 0.000000e+00, 0.000000e+00, 0.000000e+00, 1.000000e+00, 0.000000e+00, 0.000000e+00, 0.000000e+00, 0.000000e+00, 0.000000e+00, 0.000000e+00, 0.000000e+00, 1.000000e+00, 0.000000e+00, 1.000000e+00]
ntp.mlp @heat layers [3, 8, 8, 1] activation "tanh" order 2
    partials [[0, 0, 0], [0, 0, 1]] operators [#ntp.laplacian<[0, 1]>] : f64

// -----

// The ntp.mlp's ntp.partials_lowering takes precedence over the option.
// CHECK: partials_lowering = "per-ray;
ntp.mlp @forced layers [2, 4, 1] activation "tanh" order 2
    operators [#ntp.laplacian] : f64 {ntp.partials_lowering = "per-ray"}
