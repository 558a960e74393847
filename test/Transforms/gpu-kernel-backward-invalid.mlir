// RUN: ntp-opt %s -ntp-jet-loops-pipeline="tile-size=1 outline=false" -ntp-gpu-kernel -verify-diagnostics

// The CPU reverse mode (lane accumulators, a recomputing backward) does not
// run on the GPU: ntp-generate-backward must keep per-sample gradients.

// expected-error @+1 {{a backward on the GPU needs per-sample gradient columns (ntp-generate-backward per-sample-grads)}}
ntp.mlp @net layers [1, 3, 1] activation "tanh" order 2 : f32
