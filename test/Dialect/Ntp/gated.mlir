// RUN: ntp-opt %s | ntp-opt | FileCheck %s

// The modified MLP's gated layer (issue 14): `gated` on ntp.mlp, with and
// without a Fourier embedding and slopes, and ntp.gate_jets and its VJP. The
// plain spelling is unchanged.

// CHECK-LABEL: ntp.mlp @modified layers [2, 16, 16, 16, 1] activation "tanh" gated order 4 : f64
ntp.mlp @modified layers [2, 16, 16, 16, 1] activation "tanh" gated order 4 : f64
// CHECK-LABEL: ntp.mlp @all layers [1, 8, 8, 1] activation ["silu", "tanh"] fourier 4 gated slopes ["neuron", "none"] order 3 : f32
ntp.mlp @all layers [1, 8, 8, 1] activation ["silu", "tanh"] fourier 4 gated slopes ["neuron", "none"] order 3 : f32
// CHECK-LABEL: ntp.mlp @plain layers [1, 8, 8, 1] activation "tanh" order 3 : f32
ntp.mlp @plain layers [1, 8, 8, 1] activation "tanh" order 3 : f32

// CHECK-LABEL: func.func @gate_ops
func.func @gate_ops() {
  %u = memref.alloca() : memref<4x8x16xf32>
  %v = memref.alloca() : memref<4x8x16xf32>
  %z = memref.alloca() : memref<4x8x16xf32>
  %h = memref.alloca() : memref<4x8x16xf32>
  %ub = memref.alloca() : memref<4x8x16xf32>
  %vb = memref.alloca() : memref<4x8x16xf32>
  %zb = memref.alloca() : memref<4x8x16xf32>
  // CHECK: ntp.gate_jets %{{.*}}, %{{.*}}, %{{.*}} into %{{.*}} live_orders 4 : memref<4x8x16xf32>, memref<4x8x16xf32>, memref<4x8x16xf32>, memref<4x8x16xf32>
  ntp.gate_jets %u, %v, %z into %h live_orders 4 : memref<4x8x16xf32>, memref<4x8x16xf32>, memref<4x8x16xf32>, memref<4x8x16xf32>
  // CHECK: ntp.gate_jets_vjp %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} into %{{.*}}, %{{.*}}, %{{.*}} live_orders 4 : memref
  ntp.gate_jets_vjp %u, %v, %z, %h into %ub, %vb, %zb live_orders 4 : memref<4x8x16xf32>, memref<4x8x16xf32>, memref<4x8x16xf32>, memref<4x8x16xf32>, memref<4x8x16xf32>, memref<4x8x16xf32>, memref<4x8x16xf32>
  // CHECK: ntp.gate_jets_vjp {{.*}} live_orders 3 accumulate : memref
  ntp.gate_jets_vjp %u, %v, %z, %h into %ub, %vb, %zb live_orders 3 accumulate : memref<4x8x16xf32>, memref<4x8x16xf32>, memref<4x8x16xf32>, memref<4x8x16xf32>, memref<4x8x16xf32>, memref<4x8x16xf32>, memref<4x8x16xf32>
  return
}
