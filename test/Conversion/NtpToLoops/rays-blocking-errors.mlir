// RUN: not ntp-opt %s -convert-ntp-to-loops="ray-rows=5" 2>&1 | FileCheck %s

// A ray block needs both its rows and its output neurons (or neither).
// CHECK: error: ray-rows and ray-neurons must both be in 1..8, or both 0 (chosen), got 5 and 0
func.func @affine(%a: memref<3x4x8xf64>, %p: memref<?xf64>, %b: memref<3x3x8xf64>) {
  ntp.affine_rays %a, %p[0] into %b live_orders 2 ray_counts [2]
      ray_orders [1] collapse_weights [0.0] collapsed_order 0
      : memref<3x4x8xf64>, memref<?xf64>, memref<3x3x8xf64>
  return
}
