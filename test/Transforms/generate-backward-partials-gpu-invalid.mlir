// RUN: ntp-opt %s -ntp-decompose-mlp="tile-size=2" -ntp-generate-backward="per-sample-grads=1" -verify-diagnostics

// The GPU's reverse mode of a partials kernel keeps one gradient column per
// sample: it needs tile size 1 (one sample per tile), as a jet kernel's.

// expected-error @+1 {{per-sample-grads needs tile size 1, got 2}}
ntp.mlp @p layers [2, 3, 1] activation "tanh" order 2 partials [[1, 1]] : f64
