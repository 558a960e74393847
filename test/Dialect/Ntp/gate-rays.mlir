// RUN: ntp-opt %s | ntp-opt | FileCheck %s

// ntp.gate_rays (the modified MLP's gate on the ray layout) round-trips: row
// 0, two rays of order 1 (weight 1 into the collapsed row of order 2: the
// forward Laplacian), one ray of order 2, the collapsed row: 6 rows.

// CHECK-LABEL: func.func @gate_rays
// CHECK: ntp.gate_rays %{{.*}}, %{{.*}}, %{{.*}} into %{{.*}} ray_counts [2, 1] ray_orders [1, 2] collapse_weights [1.000000e+00, 0.000000e+00] collapsed_order 2 : memref<6x4x8xf64>, memref<6x4x8xf64>, memref<6x4x8xf64>, memref<6x4x8xf64>
func.func @gate_rays(%u: memref<6x4x8xf64>, %v: memref<6x4x8xf64>,
                     %z: memref<6x4x8xf64>, %out: memref<6x4x8xf64>) {
  ntp.gate_rays %u, %v, %z into %out ray_counts [2, 1] ray_orders [1, 2]
      collapse_weights [1.0, 0.0] collapsed_order 2
      : memref<6x4x8xf64>, memref<6x4x8xf64>, memref<6x4x8xf64>,
        memref<6x4x8xf64>
  return
}

// Without a collapsed row (multi-direction), f32.
// CHECK-LABEL: func.func @gate_rays_multi
// CHECK: ntp.gate_rays %{{.*}}, %{{.*}}, %{{.*}} into %{{.*}} ray_counts [3] ray_orders [2] collapse_weights [0.000000e+00] collapsed_order 0 : memref<7x5x16xf32>, memref<7x5x16xf32>, memref<7x5x16xf32>, memref<7x5x16xf32>
func.func @gate_rays_multi(%u: memref<7x5x16xf32>, %v: memref<7x5x16xf32>,
                           %z: memref<7x5x16xf32>, %out: memref<7x5x16xf32>) {
  ntp.gate_rays %u, %v, %z into %out ray_counts [3] ray_orders [2]
      collapse_weights [0.0] collapsed_order 0
      : memref<7x5x16xf32>, memref<7x5x16xf32>, memref<7x5x16xf32>,
        memref<7x5x16xf32>
  return
}
