// RUN: ntp-opt %s -split-input-file -ntp-decompose-mlp -verify-diagnostics

// Typed layers in partials kernels take every lowering (a gated network's
// forced multi-direction and collapsed lowerings are accepted:
// decompose-mlp-partials-gated-rays.mlir); what still refuses is the rule
// of the lowering itself, with the sentence that names it: collapsed needs
// an operator request whose top order it can sum.

// expected-error @below {{the collapsed lowering needs an operator request (laplacian or biharmonic) whose top-order terms it can sum}}
ntp.mlp @collapsed layers [2, 4, 4, 1] activation "tanh" gated order 2
    partials [[1, 0], [0, 2]] : f64 {ntp.partials_lowering = "collapsed"}
