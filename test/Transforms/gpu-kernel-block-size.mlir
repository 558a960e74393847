// RUN: not ntp-opt %s -ntp-jet-loops-pipeline="tile-size=1 backward=false" -ntp-gpu-kernel="block-size=2000" 2>&1 | FileCheck %s

// The bound is reported with the option's value (it once printed the
// Option object's bytes: "got \xd0").
// CHECK: error: block-size must be in 1..1024, got 2000{{$}}
ntp.mlp @net layers [1, 4, 1] activation "tanh" order 1 : f32
