// RUN: ntp-compile %s --target=nvptx --chip=sm_90 --gpu-mapping=lanes --gpu-backward --emit=ptx | FileCheck %s

// A gated partials kernel whose forward is collapsed (ntp.gate_rays, a
// neuron loop spread over the warp's lanes) goes to PTX with its reverse
// mode's kernels, which follow the forward (ntp.gate_rays_vjp; their
// numbers: the *_gated cases of
// test/unit/compiler/GpuPartialsEmulationTest.cpp).

// CHECK: .visible .entry g_forward(
// CHECK-DAG: .visible .entry g_forward_save(
// CHECK-DAG: .visible .entry g_backward_saved(
// CHECK-DAG: .visible .entry g_reduce_params_grad(
ntp.mlp @g layers [3, 8, 8, 1] activation "tanh" fourier 2 gated
    slopes "layer" order 2 partials [[0, 0, 1]] operators [#ntp.laplacian]
    : f32 {ntp.partials_lowering = "collapsed"}
