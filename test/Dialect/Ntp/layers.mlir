// RUN: ntp-opt %s | ntp-opt | FileCheck %s

// Typed layers (issue 14): adaptive slopes and residual connections on
// ntp.mlp, and the jet ops they decompose into. The plain MLP is unchanged.

// CHECK-LABEL: ntp.mlp @adaptive layers [1, 24, 24, 1] activation "tanh" slopes "neuron" order 4 : f64
ntp.mlp @adaptive layers [1, 24, 24, 1] activation "tanh" slopes "neuron" order 4 : f64
// CHECK-LABEL: ntp.mlp @typed layers [2, 16, 16, 16, 1] activation ["silu", "tanh", "sin"] slopes ["layer", "none", "neuron"] residual [false, true, true] order 3 : f32
ntp.mlp @typed layers [2, 16, 16, 16, 1] activation ["silu", "tanh", "sin"] slopes ["layer", "none", "neuron"] residual [false, true, true] order 3 : f32
// CHECK-LABEL: ntp.mlp @residual layers [1, 8, 8, 1] activation "tanh" residual [false, true] order 2 : f64
ntp.mlp @residual layers [1, 8, 8, 1] activation "tanh" residual [false, true] order 2 : f64
// CHECK-LABEL: ntp.mlp @fourier layers [2, 16, 1] activation "sin" fourier 8 slopes "layer" order 5 : f32
ntp.mlp @fourier layers [2, 16, 1] activation "sin" fourier 8 slopes "layer" order 5 : f32
// Partials kernels take every typed layer (issue 14 item 2).
// CHECK-LABEL: ntp.mlp @partials layers [2, 8, 8, 1] activation "tanh" fourier 4 slopes "layer" residual [false, true] order 2 partials {{\[\[}}2, 0], [1, 1]] : f64
ntp.mlp @partials layers [2, 8, 8, 1] activation "tanh" fourier 4 slopes "layer" residual [false, true] order 2 partials [[2, 0], [1, 1]] : f64
// CHECK-LABEL: ntp.mlp @gated_partials layers [2, 8, 8, 1] activation "tanh" gated order 2 operators [#ntp.laplacian] : f64
ntp.mlp @gated_partials layers [2, 8, 8, 1] activation "tanh" gated order 2 operators [#ntp.laplacian] : f64

// CHECK-LABEL: func.func @layer_ops
func.func @layer_ops(%p: memref<?xf32>, %g: memref<?xf32>) {
  %a = memref.alloca() : memref<4x8x16xf32>
  %b = memref.alloca() : memref<4x8x16xf32>
  %c = memref.alloca() : memref<4x8x16xf32>
  // CHECK: ntp.scale %{{.*}}, %{{.*}}[3] into %{{.*}} live_orders 2 per_neuron : memref<4x8x16xf32>, memref<?xf32>, memref<4x8x16xf32>
  ntp.scale %a, %p[3] into %b live_orders 2 per_neuron : memref<4x8x16xf32>, memref<?xf32>, memref<4x8x16xf32>
  // CHECK: ntp.scale %{{.*}}, %{{.*}}[3] into %{{.*}} live_orders 4 : memref<4x8x16xf32>, memref<?xf32>, memref<4x8x16xf32>
  ntp.scale %a, %p[3] into %b live_orders 4 : memref<4x8x16xf32>, memref<?xf32>, memref<4x8x16xf32>
  // CHECK: ntp.add_jets %{{.*}}, %{{.*}} into %{{.*}} live_orders 4 : memref<4x8x16xf32>, memref<4x8x16xf32>, memref<4x8x16xf32>
  ntp.add_jets %a, %b into %b live_orders 4 : memref<4x8x16xf32>, memref<4x8x16xf32>, memref<4x8x16xf32>
  // CHECK: ntp.scale_vjp %{{.*}}, %{{.*}}[3], %{{.*}} into %{{.*}} input_cotangent %{{.*}} live_orders 4 per_neuron : memref<4x8x16xf32>, memref<?xf32>, memref<4x8x16xf32>, memref<?xf32>, memref<4x8x16xf32>
  ntp.scale_vjp %a, %p[3], %b into %g input_cotangent %c live_orders 4 per_neuron : memref<4x8x16xf32>, memref<?xf32>, memref<4x8x16xf32>, memref<?xf32>, memref<4x8x16xf32>
  %x = memref.alloca() : memref<4x2x16xf32>
  %xb = memref.alloca() : memref<4x2x16xf32>
  // CHECK: ntp.fourier_project %{{.*}}, %{{.*}}[0] into %{{.*}} live_orders 2 : memref<4x2x16xf32>, memref<?xf32>, memref<4x8x16xf32>
  ntp.fourier_project %x, %p[0] into %a live_orders 2 : memref<4x2x16xf32>, memref<?xf32>, memref<4x8x16xf32>
  // CHECK: ntp.fourier_project_vjp %{{.*}}, %{{.*}}[0], %{{.*}} into %{{.*}} input_cotangent %{{.*}} live_orders 2 : memref<4x2x16xf32>, memref<?xf32>, memref<4x8x16xf32>, memref<?xf32>, memref<4x2x16xf32>
  ntp.fourier_project_vjp %x, %p[0], %a into %g input_cotangent %xb live_orders 2 : memref<4x2x16xf32>, memref<?xf32>, memref<4x8x16xf32>, memref<?xf32>, memref<4x2x16xf32>
  return
}
