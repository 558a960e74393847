// RUN: ntp-opt %s -ntp-decompose-mlp -ntp-generate-backward="per-sample-grads=1" -verify-diagnostics

// A partials kernel has no per-sample-grads (GPU) reverse mode: partials
// kernels are compiled for the CPU only.

// expected-error @+1 {{partials kernels have no per-sample-grads (GPU) reverse mode}}
ntp.mlp @p layers [2, 3, 1] activation "tanh" order 2 partials [[1, 1]] : f64
