// RUN: ntp-opt %s | ntp-opt | FileCheck %s

// The multi-direction jet ops round-trip: row 0, a group of 2 rays of order
// 1 (weight 1 into the collapsed row of order 2: the forward Laplacian), a
// group of 1 ray of order 2, the collapsed row: 1 + 2 + 2 + 1 = 6 rows.

// CHECK-LABEL: func.func @rays
// CHECK: ntp.seed_rays %{{.*}}, %{{.*}} into %{{.*}}, %{{.*}}, %{{.*}} ray_counts [2, 1] ray_orders [1, 2] collapse_weights [1.000000e+00, 0.000000e+00] collapsed_order 2 : memref<?xf64>, memref<?xf64>, memref<6x2x8xf64>
// CHECK: ntp.affine_rays %{{.*}}, %{{.*}}[0] into %{{.*}} live_orders 2 ray_counts [2, 1] ray_orders [1, 2] collapse_weights [1.000000e+00, 0.000000e+00] collapsed_order 2 : memref<6x2x8xf64>, memref<?xf64>, memref<6x4x8xf64>
// CHECK: ntp.activate_rays "tanh" %{{.*}} into %{{.*}} live_orders 2 ray_counts [2, 1] ray_orders [1, 2] collapse_weights [1.000000e+00, 0.000000e+00] collapsed_order 2 : memref<6x4x8xf64>, memref<6x4x8xf64>
func.func @rays(%x: memref<?xf64>, %dirs: memref<?xf64>, %params: memref<?xf64>,
                %batch: index, %tile: index) {
  %seed = memref.alloca() : memref<6x2x8xf64>
  %a = memref.alloca() : memref<6x4x8xf64>
  %b = memref.alloca() : memref<6x4x8xf64>
  ntp.seed_rays %x, %dirs into %seed, %batch, %tile ray_counts [2, 1]
      ray_orders [1, 2] collapse_weights [1.0, 0.0] collapsed_order 2
      : memref<?xf64>, memref<?xf64>, memref<6x2x8xf64>
  ntp.affine_rays %seed, %params[0] into %a live_orders 2 ray_counts [2, 1]
      ray_orders [1, 2] collapse_weights [1.0, 0.0] collapsed_order 2
      : memref<6x2x8xf64>, memref<?xf64>, memref<6x4x8xf64>
  ntp.activate_rays "tanh" %a into %b live_orders 2 ray_counts [2, 1]
      ray_orders [1, 2] collapse_weights [1.0, 0.0] collapsed_order 2
      : memref<6x4x8xf64>, memref<6x4x8xf64>
  return
}
