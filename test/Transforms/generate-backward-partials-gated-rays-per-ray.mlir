// RUN: ntp-opt %s -ntp-decompose-mlp -ntp-generate-backward | FileCheck %s

// A gated partials kernel with a fast forward (collapsed, ntp.gate_rays) and
// the reverse mode forced per ray (ntp.partials_reverse_lowering): the
// forward entry stays collapsed, and the reverse mode (forward-save,
// backward-saved, backward) is generated from the per-ray rays beside it
// (ntp.gate_jets forward, ntp.gate_jets_vjp backward), which
// ntp-generate-backward then erases. (Without the attribute the reverse
// mode follows the forward: generate-backward-partials-gated-rays.mlir.)

// CHECK: partials_lowering = "collapsed: 1 block of rows 4, request 0 collapsed;
// CHECK-SAME: partials_reverse_lowering = "per-ray;
// CHECK-LABEL: func.func @g_forward_tiles
// CHECK-NOT: ntp.partials_reverse_rays
// CHECK: ntp.gate_rays {{.*}} collapse_weights [1.000000e+00] collapsed_order 2
// CHECK-NOT: ntp.gate_jets
// CHECK: return
// The rays' reverse and forward are tile functions (the two rays run the
// same layers), called by the three entry points.
// CHECK-LABEL: func.func private @__ntp_g_group0_tile_reverse
// CHECK: ntp.gate_jets_vjp
// CHECK: ntp.gate_jets_vjp {{.*}} accumulate
// CHECK: return
// CHECK-LABEL: func.func @g_backward_saved_tiles
// CHECK-COUNT-2: func.call @__ntp_g_group0_tile_reverse
// CHECK: ntp.seed_vjp
// CHECK-LABEL: func.func private @__ntp_g_group0_tile_forward
// CHECK-NOT: ntp.gate_rays
// CHECK: ntp.gate_jets
// CHECK: return
// CHECK-LABEL: func.func @g_forward_save_tiles
// CHECK-NOT: ntp.gate_rays
// CHECK: func.call @__ntp_g_group0_tile_forward
// CHECK-LABEL: func.func @g_backward_tiles
// CHECK-NOT: ntp.gate_rays
// CHECK: func.call @__ntp_g_group0_tile_forward
// CHECK: func.call @__ntp_g_group0_tile_reverse
// CHECK-NOT: reverse_rays_tiles
ntp.mlp @g layers [2, 4, 4, 1] activation "tanh" gated order 2
    operators [#ntp.laplacian] : f64 {ntp.partials_lowering = "collapsed",
    ntp.partials_reverse_lowering = "per-ray"}
