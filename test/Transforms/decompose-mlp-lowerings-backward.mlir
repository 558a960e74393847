// RUN: ntp-opt %s -split-input-file -ntp-decompose-mlp | FileCheck %s

// The lowerings of a partials kernel (ntp/Support/PartialsLowering.h). u,
// u_t and the Laplacian over x, y: rays e_t (order 1), e_x, e_y (order 2).
// With the reverse mode possibly to follow (the pass's default), the
// forward keeps the automatic choice and the reverse mode follows it
// (ntp-generate-backward reverses the blocks of rays themselves,
// RaysBackward.cpp): no per-ray rays beside it. The choices are on the
// module.

// CHECK: module attributes {{{.*}}partials_lowering = "collapsed: 1 block of rows 5, request 2 collapsed; {{[0-9]+}} flops + {{[0-9]+}} primitives per sample", partials_reverse_lowering = "collapsed: 1 block of rows 5, request 2 collapsed; {{[0-9]+}} flops + {{[0-9]+}} primitives per sample">}
// CHECK-LABEL: func.func @heat_forward_tiles
// CHECK-SAME: attributes {ntp.kernel, ntp.partials}
// CHECK: ntp.seed_rays
// CHECK: ntp.activate_rays "tanh" {{.*}} collapsed_order 2
// CHECK: ntp.combine_partials
// CHECK-NOT: reverse_rays
ntp.mlp @heat layers [3, 8, 8, 1] activation "tanh" order 2
    partials [[0, 0, 0], [0, 0, 1]] operators [#ntp.laplacian<[0, 1]>] : f64

// -----

// The ntp.mlp's ntp.partials_lowering takes precedence over the option. A
// per-ray forward is the reverse mode's rays itself.
// CHECK: partials_lowering = "per-ray;
// CHECK-SAME: partials_reverse_lowering = "per-ray;
// CHECK-NOT: reverse_rays
ntp.mlp @forced layers [2, 4, 1] activation "tanh" order 2
    operators [#ntp.laplacian] : f64 {ntp.partials_lowering = "per-ray"}

// -----

// ntp.partials_reverse_lowering = "per-ray" keeps the fast forward and
// builds the per-ray rays the reverse mode is then generated from, as a
// private function the forward names.
// CHECK: partials_lowering = "collapsed: 1 block of rows 5, request 2 collapsed;
// CHECK-SAME: partials_reverse_lowering = "per-ray;
// CHECK-LABEL: func.func @slow_forward_tiles
// CHECK-SAME: attributes {ntp.kernel, ntp.partials, ntp.partials_reverse_rays = @slow_reverse_rays_tiles}
// CHECK: ntp.seed_rays
// CHECK-LABEL: func.func private @slow_reverse_rays_tiles
// CHECK-SAME: attributes {ntp.partials}
// CHECK-NOT: _rays
// CHECK: ntp.seed
// CHECK-NOT: _rays
// CHECK: ntp.combine_partials
ntp.mlp @slow layers [3, 8, 8, 1] activation "tanh" order 2
    partials [[0, 0, 0], [0, 0, 1]] operators [#ntp.laplacian<[0, 1]>] : f64
    {ntp.partials_reverse_lowering = "per-ray"}


// -----

// A forward whose block is too large for the recomputing reverse's stack
// bound (the Laplacian in 32 inputs, 256 wide: one collapsed block of 34
// rows) keeps it; the reverse mode comes from blocks of rays beside it,
// planned under halved stack budgets until their reverse fits (three
// collapsed blocks), which the forward names.
// CHECK: partials_lowering = "collapsed: 1 block of rows 34, request 0 collapsed;
// CHECK-SAME: partials_reverse_lowering = "collapsed: 3 blocks of rows 15,15,8, request 0 collapsed;
// CHECK-LABEL: func.func @wide_forward_tiles
// CHECK-SAME: ntp.partials_reverse_rays = @wide_reverse_rays_tiles
// CHECK-COUNT-1: ntp.seed_rays
// CHECK-LABEL: func.func private @wide_reverse_rays_tiles
// CHECK-COUNT-3: ntp.seed_rays
ntp.mlp @wide layers [32, 256, 256, 256, 1] activation "tanh" order 2
    operators [#ntp.laplacian] : f64
