// RUN: ntp-opt %s -split-input-file -ntp-decompose-mlp="backward=true" -verify-diagnostics

// A partials lowering that does not apply is one sentence.

// expected-error @below {{unknown partials lowering 'fast' (expected auto, per-ray, multi-direction or collapsed)}}
ntp.mlp @unknown layers [2, 4, 1] activation "tanh" order 2
    operators [#ntp.laplacian] : f64 {ntp.partials_lowering = "fast"}

// -----

// expected-error @below {{the reverse mode of partials kernels supports only the per-ray lowering, not multi-direction}}
ntp.mlp @backward layers [2, 4, 1] activation "tanh" order 2
    operators [#ntp.laplacian] : f64 {ntp.partials_lowering = "multi-direction"}
