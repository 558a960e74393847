// RUN: ntp-opt %s -convert-ntp-to-loops="grad-outputs=2 grad-inputs=2" -canonicalize -cse | FileCheck %s

// The parameter gradient of a 5 -> 3 layer in 2 x 2 register tiles: outputs
// 0 and 1 (the block's one iteration, folded away) against inputs 0..3 in
// steps of 2 and input 4 alone; output 2 alone against the same. Per order,
// a tile loads 2 cotangent and 2 input jets for 4 FMAs, each entry's chain
// running over the orders in order onto its stored lanes.

// CHECK-LABEL: func.func @affine_vjp
// CHECK-SAME: (%[[IN:.*]]: memref<3x5x8xf32>, %{{.*}}: memref<?xf32>, %[[BAR:.*]]: memref<3x3x8xf32>, %[[LANES:.*]]: memref<18x8xf32>)
// CHECK-COUNT-2: arith.addf
// CHECK: scf.for %[[J:.*]] = %{{.*}} to %[[C4:.*]] step %[[C2:.*]] {
// CHECK-COUNT-4: vector.load %[[LANES]]
// CHECK:   %[[B0:.*]] = vector.load %[[BAR]][%[[K0:.*]], %[[K0]], %{{.*}}]
// CHECK:   %[[B1:.*]] = vector.load %[[BAR]][%[[K0]], %[[K1:.*]], %{{.*}}]
// CHECK:   %[[Y0:.*]] = vector.load %[[IN]][%[[K0]], %[[J]], %{{.*}}]
// CHECK:   %[[Y1:.*]] = vector.load %[[IN]][%[[K0]], %{{.*}}, %{{.*}}]
// CHECK:   %[[S00:.*]] = math.fma %[[B0]], %[[Y0]]
// CHECK:   %[[S01:.*]] = math.fma %[[B0]], %[[Y1]]
// CHECK:   %[[S10:.*]] = math.fma %[[B1]], %[[Y0]]
// CHECK:   %[[S11:.*]] = math.fma %[[B1]], %[[Y1]]
// CHECK:   vector.load %[[BAR]][%[[K1]], %[[K0]], %{{.*}}]
// CHECK:   math.fma %{{.*}}, %{{.*}}, %[[S00]]
// CHECK-COUNT-7: math.fma
// CHECK-NOT: math.fma
// CHECK-COUNT-4: vector.store %{{.*}}, %[[LANES]]
// CHECK: }
// The remainder input 4 for outputs 0 and 1: a 2 x 1 tile.
// CHECK: vector.load %[[IN]][%{{.*}}, %[[C4]], %{{.*}}]
// CHECK-COUNT-6: math.fma
// CHECK: scf.for %{{.*}} = %{{.*}} to %[[C4]] step %[[C2]] {
// CHECK-COUNT-6: math.fma
// CHECK: }
// CHECK-COUNT-3: math.fma
// CHECK-NOT: math.fma
// CHECK: return
func.func @affine_vjp(%in: memref<3x5x8xf32>, %p: memref<?xf32>, %outbar: memref<3x3x8xf32>, %lanes: memref<18x8xf32>) {
  ntp.affine_vjp %in, %p[0], %outbar into %lanes live_orders 3 : memref<3x5x8xf32>, memref<?xf32>, memref<3x3x8xf32>, memref<18x8xf32>
  return
}
