// RUN: ntp-opt %s -ntp-decompose-mlp="backward=false partials-lowering=collapsed" -verify-diagnostics

// The collapsed lowering needs an operator whose top order it can sum.

// expected-error @below {{the collapsed lowering needs an operator request (laplacian or biharmonic) whose top-order terms it can sum}}
ntp.mlp @no_operator layers [2, 4, 1] activation "tanh" order 2
    partials [[2, 0], [1, 1]] : f64
