// RUN: ntp-compile %s --target=nvptx --chip=sm_90 --emit=ptx | FileCheck %s
// RUN: ntp-compile %s --target=nvptx --chip=sm_90 --gpu-backward --emit=ptx | FileCheck %s --check-prefix=BWD
// RUN: ntp-compile %s --target=nvptx --chip=sm_90 --gpu-mapping=lanes --gpu-backward --emit=ptx | FileCheck %s --check-prefix=BWD

// A gated network (Fourier features, slopes, the gates) goes through the
// same loops to PTX: the forward and, with --gpu-backward, the DAG reverse
// mode's kernels (their numbers are checked by the GPU emulation in
// test/unit/compiler/GatedTest.cpp).

// CHECK: .visible .entry modified_forward(
// CHECK: ret;

// BWD: .visible .entry modified_forward(
// BWD-DAG: .visible .entry modified_forward_save(
// BWD-DAG: .visible .entry modified_backward_saved(
// BWD-DAG: .visible .entry modified_reduce_params_grad(
ntp.mlp @modified layers [2, 8, 8, 1] activation "tanh" fourier 4 gated slopes ["neuron", "layer"] order 3 : f32
