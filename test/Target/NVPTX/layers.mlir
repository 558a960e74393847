// RUN: ntp-compile %s --target=nvptx --chip=sm_90 --emit=ptx | FileCheck %s
// RUN: ntp-compile %s --target=nvptx --chip=sm_90 --gpu-backward --emit=ptx | FileCheck %s --check-prefix=BWD
// RUN: ntp-compile %s --target=nvptx --chip=sm_90 --gpu-mapping=lanes --emit=ptx | FileCheck %s

// Typed layers (Fourier features, adaptive slopes, a residual layer) go
// through the same loops to PTX: the forward and, with --gpu-backward, the
// reverse-mode kernels (their numbers are checked by the GPU emulation in
// test/unit/compiler/LayersTest.cpp).

// CHECK: .visible .entry typed_forward(
// CHECK: ret;

// BWD: .visible .entry typed_forward(
// BWD-DAG: .visible .entry typed_forward_save(
// BWD-DAG: .visible .entry typed_backward_saved(
// BWD-DAG: .visible .entry typed_reduce_params_grad(
ntp.mlp @typed layers [2, 8, 8, 1] activation "tanh" fourier 4 slopes ["neuron", "layer"] residual [false, true] order 3 : f32
