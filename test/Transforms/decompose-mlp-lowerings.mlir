// RUN: ntp-opt %s -split-input-file -ntp-decompose-mlp="backward=false" | FileCheck %s
// RUN: ntp-opt %s -split-input-file -ntp-decompose-mlp="backward=false partials-lowering=multi-direction" | FileCheck %s --check-prefix=MULTI
// RUN: ntp-opt %s -split-input-file -ntp-decompose-mlp="backward=false partials-lowering=collapsed" | FileCheck %s --check-prefix=COLLAPSED
// RUN: ntp-opt %s -split-input-file -ntp-decompose-mlp | FileCheck %s --check-prefix=BACKWARD

// The lowerings of a partials kernel (ntp/Support/PartialsLowering.h). u,
// u_t and the Laplacian over x, y: rays e_t (order 1), e_x, e_y (order 2).
// Automatic: the fewest operations, here collapsed (e_x, e_y carry order 1
// and the one collapsed row their order-2 sum). Multi-direction: one buffer
// of row 0 + 1 + 2 * 2 rows. Collapsed: row 0 + 1 + 2 + the collapsed row.
// With the reverse mode possibly to follow (the pass's default), the
// forward keeps the automatic choice and the per-ray rays the reverse mode is
// generated from come beside it, as a private function the forward names.
// The choices are on the module.

// CHECK: module attributes {{{.*}}ntp.partials_lowering = "collapsed: 1 block of rows 5, request 2 collapsed; {{[0-9]+}} flops + {{[0-9]+}} primitives per sample"}
// CHECK: ntp.seed_rays {{.*}} ray_counts [1, 2] ray_orders [1, 1] collapse_weights [0.000000e+00, 1.000000e+00] collapsed_order 2

// MULTI: ntp.partials_lowering = "multi-direction: 1 block of rows 6;
// MULTI: ntp.seed_rays {{.*}} ray_counts [1, 2] ray_orders [1, 2] collapse_weights [0.000000e+00, 0.000000e+00] collapsed_order 0 : memref<?xf64>, memref<?xf64>, memref<6x3x8xf64, {{.*}}>
// MULTI: ntp.affine_rays {{.*}} live_orders 2
// MULTI: ntp.activate_rays "tanh" {{.*}} live_orders 2
// MULTI: ntp.affine_rays {{.*}} live_orders 3
// MULTI: ntp.activate_rays "tanh" {{.*}} live_orders 3
// MULTI: ntp.affine_rays {{.*}} live_orders 3 {{.*}} memref<6x1x8xf64>
// Request 2 (the Laplacian) reads order 2 of e_x and e_y: rows 3 and 5.
// MULTI: ntp.combine_partials {{.*}} weights [1.000000e+00, 0.000000e+00, 0.000000e+00, 0.000000e+00, 0.000000e+00, 0.000000e+00, 0.000000e+00, 1.000000e+00, 0.000000e+00, 0.000000e+00, 0.000000e+00, 0.000000e+00, 0.000000e+00, 0.000000e+00, 0.000000e+00, 1.000000e+00, 0.000000e+00, 1.000000e+00]

// COLLAPSED: ntp.partials_lowering = "collapsed: 1 block of rows 5, request 2 collapsed;
// COLLAPSED: ntp.activate_rays "tanh" {{.*}} collapsed_order 2
// COLLAPSED: ntp.combine_partials {{.*}} weights [1.000000e+00, 0.000000e+00, 0.000000e+00, 0.000000e+00, 0.000000e+00, 0.000000e+00, 1.000000e+00, 0.000000e+00, 0.000000e+00, 0.000000e+00, 0.000000e+00, 0.000000e+00, 0.000000e+00, 0.000000e+00, 1.000000e+00]

// BACKWARD: module attributes {{{.*}}ntp.partials_lowering = "collapsed: 1 block of rows 5, request 2 collapsed; {{[0-9]+}} flops + {{[0-9]+}} primitives per sample", ntp.partials_reverse_lowering = "per-ray; {{[0-9]+}} flops + {{[0-9]+}} primitives per sample"}
// BACKWARD-LABEL: func.func @heat_forward_tiles
// BACKWARD-SAME: attributes {ntp.kernel, ntp.partials, ntp.partials_reverse_rays = @heat_reverse_rays_tiles}
// BACKWARD: ntp.seed_rays
// BACKWARD: ntp.activate_rays "tanh" {{.*}} collapsed_order 2
// BACKWARD: ntp.combine_partials
// BACKWARD-LABEL: func.func private @heat_reverse_rays_tiles
// BACKWARD-SAME: attributes {ntp.partials}
// BACKWARD-NOT: _rays
// BACKWARD: ntp.seed
// BACKWARD-NOT: _rays
// BACKWARD: ntp.combine_partials
ntp.mlp @heat layers [3, 8, 8, 1] activation "tanh" order 2
    partials [[0, 0, 0], [0, 0, 1]] operators [#ntp.laplacian<[0, 1]>] : f64

// -----

// The ntp.mlp's ntp.partials_lowering takes precedence over the option.
// CHECK: ntp.partials_lowering = "per-ray;
// MULTI: ntp.partials_lowering = "per-ray;
// COLLAPSED: ntp.partials_lowering = "per-ray;
// A per-ray forward is the reverse mode's rays itself.
// BACKWARD: ntp.partials_lowering = "per-ray;
// BACKWARD-SAME: ntp.partials_reverse_lowering = "per-ray;
// BACKWARD-NOT: reverse_rays
ntp.mlp @forced layers [2, 4, 1] activation "tanh" order 2
    operators [#ntp.laplacian] : f64 {ntp.partials_lowering = "per-ray"}
