// RUN: ntp-opt %s -ntp-jet-loops-pipeline="tile-size=1 outline=false" -ntp-gpu-kernel="mapping=lanes samples-per-block=4" -verify-diagnostics

// The lanes mapping keeps each sample's jet buffers in shared memory, of
// which a kernel declares at most 48 KB statically: two ping-pong buffers of
// [13, 64] f64 for 4 samples need 53248 bytes. (The parameters, 25 KB, are
// then read from global memory rather than staged.)

// expected-error @+1 {{the lanes mapping keeps each sample's jet buffers in shared memory: 53248 bytes for 4 samples per block exceed the 49152 bytes a kernel can declare; use fewer samples per block or the sample mapping}}
ntp.mlp @net layers [1, 64, 64, 1] activation "tanh" order 12 : f64
