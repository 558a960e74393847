// RUN: ntp-opt %s | ntp-opt | FileCheck %s

// ntp.gate_rays_vjp (the reverse of ntp.gate_rays) round-trips: row 0, two
// rays of order 1 (weight 1 into the collapsed row of order 2), one ray of
// order 2, the collapsed row: 6 rows; U's and V's cotangents accumulated.

// CHECK-LABEL: func.func @gate_rays_vjp
// CHECK: ntp.gate_rays_vjp %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} into %{{.*}}, %{{.*}}, %{{.*}} ray_counts [2, 1] ray_orders [1, 2] collapse_weights [1.000000e+00, 0.000000e+00] collapsed_order 2 accumulate : memref<6x4x8xf64>, memref<6x4x8xf64>, memref<6x4x8xf64>, memref<6x4x8xf64>, memref<6x4x8xf64>, memref<6x4x8xf64>, memref<6x4x8xf64>
func.func @gate_rays_vjp(%u: memref<6x4x8xf64>, %v: memref<6x4x8xf64>, %z: memref<6x4x8xf64>, %ob: memref<6x4x8xf64>, %ub: memref<6x4x8xf64>, %vb: memref<6x4x8xf64>,
                         %zb: memref<6x4x8xf64>) {
  ntp.gate_rays_vjp %u, %v, %z, %ob into %ub, %vb, %zb ray_counts [2, 1]
      ray_orders [1, 2] collapse_weights [1.0, 0.0] collapsed_order 2
      accumulate : memref<6x4x8xf64>, memref<6x4x8xf64>, memref<6x4x8xf64>, memref<6x4x8xf64>, memref<6x4x8xf64>, memref<6x4x8xf64>, memref<6x4x8xf64>
  return
}

// Without a collapsed row (multi-direction), f32, written (not accumulated).
// CHECK-LABEL: func.func @gate_rays_vjp_multi
// CHECK: ntp.gate_rays_vjp {{.*}} ray_counts [3] ray_orders [2] collapse_weights [0.000000e+00] collapsed_order 0 :
// CHECK-NOT: accumulate
// CHECK: return
func.func @gate_rays_vjp_multi(%u: memref<7x5x16xf32>, %v: memref<7x5x16xf32>,
                               %z: memref<7x5x16xf32>, %ob: memref<7x5x16xf32>,
                               %ub: memref<7x5x16xf32>, %vb: memref<7x5x16xf32>,
                               %zb: memref<7x5x16xf32>) {
  ntp.gate_rays_vjp %u, %v, %z, %ob into %ub, %vb, %zb ray_counts [3]
      ray_orders [2] collapse_weights [0.0] collapsed_order 0
      : memref<7x5x16xf32>, memref<7x5x16xf32>, memref<7x5x16xf32>,
        memref<7x5x16xf32>, memref<7x5x16xf32>, memref<7x5x16xf32>,
        memref<7x5x16xf32>
  return
}
