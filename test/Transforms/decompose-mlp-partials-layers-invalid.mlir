// RUN: ntp-opt %s -split-input-file -ntp-decompose-mlp -verify-diagnostics

// Typed layers in partials kernels: the rule that still refuses, with the
// sentence that names it. The gates of a modified MLP multiply jets, which
// the ray layout (multi-direction, collapsed) has no op for; such a kernel
// runs per ray.

// expected-error @below {{the multi-direction lowering does not take gated layers (the modified MLP's gates multiply jets); use per-ray or auto}}
ntp.mlp @multi layers [2, 4, 4, 1] activation "tanh" gated order 2
    partials [[1, 0], [0, 2]] : f64 {ntp.partials_lowering = "multi-direction"}

// -----

// expected-error @below {{the collapsed lowering does not take gated layers (the modified MLP's gates multiply jets); use per-ray or auto}}
ntp.mlp @collapsed layers [2, 4, 4, 1] activation "tanh" gated order 2
    operators [#ntp.laplacian] : f64 {ntp.partials_lowering = "collapsed"}
