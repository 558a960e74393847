// RUN: ntp-opt %s | ntp-opt | FileCheck %s

// CHECK-LABEL: ntp.mlp @pinn layers [1, 24, 24, 24, 1] activation "tanh" order 9 : f32
ntp.mlp @pinn layers [1, 24, 24, 24, 1] activation "tanh" order 9 : f32
// CHECK-LABEL: ntp.mlp @wide layers [3, 64, 2] activation "sin" order 0 : f64
ntp.mlp @wide layers [3, 64, 2] activation "sin" order 0 : f64
// CHECK-LABEL: ntp.mlp @mixed layers [1, 32, 32, 32, 1] activation ["silu", "identity", "gelu_tanh"] order 32 : f64
ntp.mlp @mixed layers [1, 32, 32, 32, 1] activation ["silu", "identity", "gelu_tanh"] order 32 : f64
// CHECK-LABEL: ntp.mlp @linear layers [2, 3] activation [] order 1 : f32
ntp.mlp @linear layers [2, 3] activation [] order 1 : f32

// CHECK-LABEL: func.func @jet_ops
func.func @jet_ops(%x: memref<?xf32>, %v: memref<?xf32>, %p: memref<?xf32>,
                   %out: memref<?xf32>, %batch: index, %tile: index) {
  %in = memref.alloca() : memref<4x1x16xf32>
  %a = memref.alloca() : memref<4x8x16xf32>
  %h = memref.alloca() : memref<4x8x16xf32>
  // CHECK: ntp.seed %{{.*}}, %{{.*}} into %{{.*}}, %{{.*}}, %{{.*}} : memref<?xf32>, memref<?xf32>, memref<4x1x16xf32>
  ntp.seed %x, %v into %in, %batch, %tile : memref<?xf32>, memref<?xf32>, memref<4x1x16xf32>
  // CHECK: ntp.affine %{{.*}}, %{{.*}}[0] into %{{.*}} live_orders 2 : memref<4x1x16xf32>, memref<?xf32>, memref<4x8x16xf32>
  ntp.affine %in, %p[0] into %a live_orders 2 : memref<4x1x16xf32>, memref<?xf32>, memref<4x8x16xf32>
  // CHECK: ntp.activate "sigmoid" %{{.*}} into %{{.*}} live_orders 2 : memref<4x8x16xf32>, memref<4x8x16xf32>
  ntp.activate "sigmoid" %a into %h live_orders 2 : memref<4x8x16xf32>, memref<4x8x16xf32>
  // CHECK: ntp.store_jet %{{.*}} into %{{.*}}, %{{.*}}, %{{.*}} live_orders 4 : memref<4x8x16xf32>, memref<?xf32>
  ntp.store_jet %h into %out, %batch, %tile live_orders 4 : memref<4x8x16xf32>, memref<?xf32>
  return
}

// CHECK-LABEL: func.func @vjp_ops
func.func @vjp_ops(%x: memref<?xf32>, %p: memref<?xf32>, %c: memref<?xf32>, %g: memref<?xf32>,
                   %batch: index, %tile: index) {
  %in = memref.alloca() : memref<4x1x16xf32>
  %a = memref.alloca() : memref<4x8x16xf32>
  %abar = memref.alloca() : memref<4x8x16xf32>
  %hbar = memref.alloca() : memref<4x8x16xf32>
  %inbar = memref.alloca() : memref<4x1x16xf32>
  %lanes = memref.alloca() : memref<25x16xf32>
  // CHECK: ntp.load_cotangent %{{.*}} into %{{.*}}, %{{.*}}, %{{.*}} : memref<?xf32>, memref<4x8x16xf32>
  ntp.load_cotangent %c into %hbar, %batch, %tile : memref<?xf32>, memref<4x8x16xf32>
  // CHECK: ntp.activate_vjp "tanh" %{{.*}}, %{{.*}} into %{{.*}} live_orders 2 : memref<4x8x16xf32>, memref<4x8x16xf32>, memref<4x8x16xf32>
  ntp.activate_vjp "tanh" %a, %hbar into %abar live_orders 2 : memref<4x8x16xf32>, memref<4x8x16xf32>, memref<4x8x16xf32>
  // CHECK: ntp.activate_vjp "tanh" %[[A:.*]], %{{.*}} into %{{.*}} live_orders 2 output %[[A]] : memref<4x8x16xf32>, memref<4x8x16xf32>, memref<4x8x16xf32>, memref<4x8x16xf32>
  ntp.activate_vjp "tanh" %a, %hbar into %abar live_orders 2 output %a : memref<4x8x16xf32>, memref<4x8x16xf32>, memref<4x8x16xf32>, memref<4x8x16xf32>
  // CHECK: ntp.affine_vjp %{{.*}}, %{{.*}}[0], %{{.*}} into %{{.*}} input_cotangent %{{.*}} live_orders 2 : memref<4x1x16xf32>, memref<?xf32>, memref<4x8x16xf32>, memref<25x16xf32>, memref<4x1x16xf32>
  ntp.affine_vjp %in, %p[0], %abar into %lanes input_cotangent %inbar live_orders 2 : memref<4x1x16xf32>, memref<?xf32>, memref<4x8x16xf32>, memref<25x16xf32>, memref<4x1x16xf32>
  // CHECK: ntp.affine_vjp %{{.*}}, %{{.*}}[0], %{{.*}} into %{{.*}} live_orders 1 : memref<4x1x16xf32>, memref<?xf32>, memref<4x8x16xf32>, memref<?xf32>
  ntp.affine_vjp %in, %p[0], %abar into %g live_orders 1 : memref<4x1x16xf32>, memref<?xf32>, memref<4x8x16xf32>, memref<?xf32>
  // CHECK: ntp.reduce_lanes %{{.*}} into %{{.*}} : memref<25x16xf32>, memref<?xf32>
  ntp.reduce_lanes %lanes into %g : memref<25x16xf32>, memref<?xf32>
  // CHECK: ntp.seed_vjp %{{.*}} into %{{.*}}, %{{.*}}, %{{.*}} : memref<4x1x16xf32>, memref<?xf32>
  ntp.seed_vjp %inbar into %x, %batch, %tile : memref<4x1x16xf32>, memref<?xf32>
  return
}
