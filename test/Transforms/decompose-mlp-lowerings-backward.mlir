// RUN: ntp-opt %s -split-input-file -ntp-decompose-mlp | FileCheck %s

// The lowerings of a partials kernel (ntp/Support/PartialsLowering.h). u,
// u_t and the Laplacian over x, y: rays e_t (order 1), e_x, e_y (order 2).
// With the reverse mode possibly to follow (the pass's default), per-ray.

// CHECK: ntp.partials_lowering = "per-ray;
// CHECK-NOT: _rays
// CHECK: ntp.combine_partials
ntp.mlp @heat layers [3, 8, 8, 1] activation "tanh" order 2
    partials [[0, 0, 0], [0, 0, 1]] operators [#ntp.laplacian<[0, 1]>] : f64

// -----

// The ntp.mlp's ntp.partials_lowering takes precedence over the option.
ntp.mlp @forced layers [2, 4, 1] activation "tanh" order 2
    operators [#ntp.laplacian] : f64 {ntp.partials_lowering = "per-ray"}
