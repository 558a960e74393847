// RUN: ntp-opt %s -ntp-decompose-mlp -ntp-generate-backward | FileCheck %s

// A gated partials kernel with a fast forward (collapsed, ntp.gate_rays) and
// the reverse mode: the reverse mode follows the forward (RaysBackward.cpp's
// gated blocks). forward-save runs the blocks (U, V from X, a gate after
// each hidden activation) into the workspace; backward-saved reverses them
// as a DAG: the top affine's VJP, then per hidden layer ntp.gate_rays_vjp
// (the first gate met writes U's and V's cotangents, the second adds:
// `accumulate`) and ntp.activate_rays_vjp, and X's (the seed's) cotangent
// summed over its three consumers (the first hidden layer, V, U) with
// ntp.add_jets over every row. No per-ray rays and no ntp.gate_jets. The
// forced per-ray reverse: generate-backward-partials-gated-rays-per-ray.mlir.

// CHECK: partials_lowering = "collapsed: 1 block of rows 4, request 0 collapsed;
// CHECK-SAME: partials_reverse_lowering = "collapsed: 1 block of rows 4, request 0 collapsed;
// CHECK-LABEL: func.func @g_forward_tiles
// CHECK-NOT: ntp.partials_reverse_rays
// CHECK: ntp.gate_rays {{.*}} collapse_weights [1.000000e+00] collapsed_order 2
// CHECK-NOT: ntp.gate_jets
// CHECK: return
// The block's reverse, in its tile function.
// CHECK-LABEL: func.func private @__ntp_g_group0_tile_reverse
// CHECK-NOT: ntp.gate_jets
// CHECK: ntp.affine_vjp
// CHECK: ntp.gate_rays_vjp {{.*}} ray_counts [2] ray_orders [1] collapse_weights [1.000000e+00] collapsed_order 2 :
// CHECK: ntp.activate_rays_vjp "tanh"
// CHECK: ntp.affine_vjp
// CHECK: ntp.gate_rays_vjp {{.*}} collapsed_order 2 accumulate :
// CHECK: ntp.activate_rays_vjp "tanh"
// CHECK: ntp.affine_vjp
// CHECK: ntp.activate_rays_vjp "tanh"
// CHECK: ntp.affine_vjp
// CHECK: ntp.add_jets {{.*}} live_orders 4
// CHECK: ntp.activate_rays_vjp "tanh"
// CHECK: ntp.affine_vjp
// CHECK: ntp.add_jets {{.*}} live_orders 4
// CHECK: return
// CHECK-LABEL: func.func @g_backward_saved_tiles
// CHECK: func.call @__ntp_g_group0_tile_reverse
// CHECK: ntp.seed_vjp
// The block's forward below its top, in its tile function.
// CHECK-LABEL: func.func private @__ntp_g_group0_tile_forward
// CHECK: ntp.seed_rays
// CHECK: ntp.gate_rays
// CHECK: ntp.gate_rays
// CHECK: return
// CHECK-LABEL: func.func @g_forward_save_tiles
// CHECK: func.call @__ntp_g_group0_tile_forward
// CHECK: ntp.affine_rays
// CHECK: ntp.combine_partials
// CHECK-LABEL: func.func @g_backward_tiles
// CHECK: func.call @__ntp_g_group0_tile_forward
// CHECK: func.call @__ntp_g_group0_tile_reverse
// CHECK: ntp.seed_vjp
// CHECK-NOT: ntp.gate_jets
// CHECK-NOT: reverse_rays_tiles
ntp.mlp @g layers [2, 4, 4, 1] activation "tanh" gated order 2
    operators [#ntp.laplacian] : f64 {ntp.partials_lowering = "collapsed"}
