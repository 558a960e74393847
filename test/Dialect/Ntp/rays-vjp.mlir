// RUN: ntp-opt %s | ntp-opt | FileCheck %s

// ntp.activate_rays_vjp round-trips with the ray layout of its forward: two
// rays of order 1 weighted into the collapsed row of order 2 (the forward
// Laplacian), one ray of order 2: 1 + 2 + 2 + 1 = 6 rows.

// CHECK-LABEL: func.func @vjp
// CHECK: ntp.activate_rays_vjp "tanh" %{{.*}}, %{{.*}} into %{{.*}} live_orders 3 ray_counts [2, 1] ray_orders [1, 2] collapse_weights [1.000000e+00, 0.000000e+00] collapsed_order 2 : memref<6x4x8xf64>, memref<6x4x8xf64>, memref<6x4x8xf64>
func.func @vjp(%in: memref<6x4x8xf64>, %outbar: memref<6x4x8xf64>,
               %inbar: memref<6x4x8xf64>) {
  ntp.activate_rays_vjp "tanh" %in, %outbar into %inbar live_orders 3
      ray_counts [2, 1] ray_orders [1, 2] collapse_weights [1.0, 0.0]
      collapsed_order 2
      : memref<6x4x8xf64>, memref<6x4x8xf64>, memref<6x4x8xf64>
  return
}
