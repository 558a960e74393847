// RUN: ntp-opt %s -split-input-file -ntp-decompose-mlp="backward=true" -verify-diagnostics

// A partials lowering that does not apply is one sentence.

// expected-error @below {{unknown partials lowering 'fast' (expected auto, per-ray, multi-direction, collapsed or multivariate)}}
ntp.mlp @unknown layers [2, 4, 1] activation "tanh" order 2
    operators [#ntp.laplacian] : f64 {ntp.partials_lowering = "fast"}

// -----

// With the reverse mode as without it: collapsed needs an operator.
// expected-error @below {{the collapsed lowering needs an operator request (laplacian or biharmonic) whose top-order terms it can sum}}
ntp.mlp @backward layers [2, 4, 1] activation "tanh" order 2
    partials [[2, 0], [1, 1]] : f64 {ntp.partials_lowering = "collapsed"}

// -----

// The reverse mode's lowering: auto or per-ray.
// expected-error @below {{unknown partials reverse lowering 'collapsed' (expected auto or per-ray)}}
ntp.mlp @reverse layers [2, 4, 1] activation "tanh" order 2
    operators [#ntp.laplacian] : f64
    {ntp.partials_reverse_lowering = "collapsed"}
