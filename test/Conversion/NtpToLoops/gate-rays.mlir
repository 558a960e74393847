// RUN: ntp-opt %s -convert-ntp-to-loops -canonicalize -cse | FileCheck %s

// ntp.gate_rays as loops (GateRaysToLoops.cpp): one independent loop over
// the neurons; in it order 0 once (d0 = v0 - u0, out0 = u0 + z0 d0), each
// group of rays a runtime loop sharing z0 and d0, and the collapsed row.

// The forward Laplacian's layout: row 0, two rays of order 1 (rows 1, 2,
// weight 1), the collapsed row 3 of order 2:
//   out_1 = u_1 + z0 d_1 + z_1 d0 per ray,
//   S = S_U + z0 (S_V - S_U) + S_Z d0 + C(2, 1) sum_r z_1 d_1.
// CHECK-LABEL: func.func @laplacian
// CHECK-SAME: (%[[U:.*]]: memref<4x4x8xf64>, %[[V:.*]]: memref<4x4x8xf64>, %[[Z:.*]]: memref<4x4x8xf64>, %[[OUT:.*]]: memref<4x4x8xf64>)
// CHECK-DAG: %[[TWO:.*]] = arith.constant dense<2.000000e+00> : vector<8xf64>
// CHECK: scf.for %[[J:.*]] = %{{.*}} to %{{.*}} step
// CHECK-DAG: %[[U0:.*]] = vector.load %[[U]][%c0, %[[J]], %c0]
// CHECK-DAG: %[[Z0:.*]] = vector.load %[[Z]][%c0, %[[J]], %c0]
// CHECK-DAG: %[[V0:.*]] = vector.load %[[V]][%c0, %[[J]], %c0]
// CHECK: %[[D0:.*]] = arith.subf %[[V0]], %[[U0]]
// CHECK: %[[O0:.*]] = math.fma %[[Z0]], %[[D0]], %[[U0]]
// CHECK: vector.store %[[O0]], %[[OUT]][%c0, %[[J]], %c0]
// CHECK-DAG: %[[SU:.*]] = vector.load %[[U]][%c3, %[[J]], %c0]
// CHECK-DAG: %[[SV:.*]] = vector.load %[[V]][%c3, %[[J]], %c0]
// CHECK: %[[SD:.*]] = arith.subf %[[SV]], %[[SU]]
// CHECK: %[[S1:.*]] = math.fma %[[Z0]], %[[SD]], %[[SU]]
// CHECK: %[[SZ:.*]] = vector.load %[[Z]][%c3, %[[J]], %c0]
// CHECK: %[[S2:.*]] = math.fma %[[SZ]], %[[D0]], %[[S1]]
// CHECK: %[[SUM:.*]] = scf.for %[[R:.*]] = %c0 to %c2 step %c1 iter_args(%[[ACC:.*]] = %{{.*}})
// CHECK: %[[ROW:.*]] = arith.addi %[[R]], %c1
// CHECK-DAG: %[[U1:.*]] = vector.load %[[U]][%[[ROW]], %[[J]], %c0]
// CHECK-DAG: %[[Z1:.*]] = vector.load %[[Z]][%[[ROW]], %[[J]], %c0]
// CHECK-DAG: %[[V1:.*]] = vector.load %[[V]][%[[ROW]], %[[J]], %c0]
// CHECK: %[[D1:.*]] = arith.subf %[[V1]], %[[U1]]
// CHECK: %[[A:.*]] = math.fma %[[Z0]], %[[D1]], %[[U1]]
// CHECK: %[[O1:.*]] = math.fma %[[Z1]], %[[D0]], %[[A]]
// CHECK: vector.store %[[O1]], %[[OUT]][%[[ROW]], %[[J]], %c0]
// CHECK: %[[NEXT:.*]] = math.fma %[[Z1]], %[[D1]], %[[ACC]]
// CHECK: scf.yield %[[NEXT]]
// CHECK: %[[S:.*]] = math.fma %[[TWO]], %[[SUM]], %[[S2]]
// CHECK: vector.store %[[S]], %[[OUT]][%c3, %[[J]], %c0]
// CHECK: } {ntp.neuron_loop}
func.func @laplacian(%u: memref<4x4x8xf64>, %v: memref<4x4x8xf64>,
                     %z: memref<4x4x8xf64>, %out: memref<4x4x8xf64>) {
  ntp.gate_rays %u, %v, %z into %out ray_counts [2] ray_orders [1]
      collapse_weights [1.0] collapsed_order 2
      : memref<4x4x8xf64>, memref<4x4x8xf64>, memref<4x4x8xf64>,
        memref<4x4x8xf64>
  return
}

// Multi-direction, three rays of order 2 (rows 1 + 2r, 2 + 2r), no collapsed
// row: out_2 = u_2 + z0 d_2 + 2 z_1 d_1 + z_2 d0, the coefficient on z_1.
// CHECK-LABEL: func.func @multi
// CHECK-SAME: (%[[U:.*]]: memref<7x4x16xf32>, %[[V:.*]]: memref<7x4x16xf32>, %[[Z:.*]]: memref<7x4x16xf32>, %[[OUT:.*]]: memref<7x4x16xf32>)
// CHECK-DAG: %[[TWO:.*]] = arith.constant dense<2.000000e+00> : vector<16xf32>
// CHECK: scf.for %[[J:.*]] = %{{.*}} to %{{.*}} step
// CHECK: vector.store %{{.*}}, %[[OUT]][%c0, %[[J]], %c0]
// CHECK-NOT: iter_args
// CHECK: scf.for %[[R:.*]] = %c0 to %c3 step %c1 {
// CHECK: %[[Z1:.*]] = vector.load %[[Z]]
// CHECK: %[[D1:.*]] = arith.subf
// CHECK: %[[D2:.*]] = arith.subf
// CHECK: math.fma %{{.*}}, %[[D1]]
// CHECK: math.fma %[[Z1]]
// CHECK: vector.store
// CHECK: %[[T:.*]] = arith.mulf %[[Z1]], %[[TWO]]
// CHECK: math.fma %[[T]], %[[D1]]
// CHECK: vector.store
// CHECK-NOT: vector.store
// CHECK: } {ntp.neuron_loop}
func.func @multi(%u: memref<7x4x16xf32>, %v: memref<7x4x16xf32>,
                 %z: memref<7x4x16xf32>, %out: memref<7x4x16xf32>) {
  ntp.gate_rays %u, %v, %z into %out ray_counts [3] ray_orders [2]
      collapse_weights [0.0] collapsed_order 0
      : memref<7x4x16xf32>, memref<7x4x16xf32>, memref<7x4x16xf32>,
        memref<7x4x16xf32>
  return
}
