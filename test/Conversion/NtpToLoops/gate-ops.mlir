// RUN: ntp-opt %s -convert-ntp-to-loops -canonicalize -cse | FileCheck %s

// The gated layer's ops: one independent loop over the neurons, every
// order of a neuron one vector across the tile's samples, and the Leibniz
// sums over the orders with exact binomial constants (C(2, 1) = 2 here).

// out = u + z w, w = v - u, to order 2:
//   out0 = u0 + z0 w0, out1 = u1 + z0 w1 + z1 w0,
//   out2 = u2 + z0 w2 + 2 z1 w1 + z2 w0.
// CHECK-LABEL: func.func @gate
// CHECK-SAME: (%[[U:.*]]: memref<3x4x8xf32>, %[[V:.*]]: memref<3x4x8xf32>, %[[Z:.*]]: memref<3x4x8xf32>, %[[OUT:.*]]: memref<3x4x8xf32>)
// CHECK-DAG: %[[TWO:.*]] = arith.constant dense<2.000000e+00> : vector<8xf32>
// CHECK: scf.for %[[J:.*]] = %{{.*}} to %{{.*}} step
// CHECK-DAG: %[[U0:.*]] = vector.load %[[U]][%{{.*}}, %[[J]], %{{.*}}]
// CHECK-DAG: %[[V0:.*]] = vector.load %[[V]][%{{.*}}, %[[J]], %{{.*}}]
// CHECK-DAG: %[[Z0:.*]] = vector.load %[[Z]][%{{.*}}, %[[J]], %{{.*}}]
// CHECK-DAG: %[[Z1:.*]] = vector.load %[[Z]][%c1, %[[J]], %{{.*}}]
// CHECK: %[[W0:.*]] = arith.subf %[[V0]], %[[U0]]
// CHECK: %[[W1:.*]] = arith.subf
// CHECK: %[[W2:.*]] = arith.subf
// CHECK: %[[O0:.*]] = math.fma %[[Z0]], %[[W0]], %[[U0]]
// CHECK: math.fma %[[Z0]], %[[W1]]
// CHECK: math.fma %[[Z1]], %[[W0]]
// CHECK: math.fma %[[Z0]], %[[W2]]
// CHECK: %[[TZ1:.*]] = arith.mulf %[[Z1]], %[[TWO]]
// CHECK: math.fma %[[TZ1]], %[[W1]]
// CHECK: math.fma
// CHECK-COUNT-3: vector.store {{.*}}, %[[OUT]][
// CHECK-NOT: vector.store
// CHECK: } {ntp.neuron_loop}
func.func @gate(%u: memref<3x4x8xf32>, %v: memref<3x4x8xf32>, %z: memref<3x4x8xf32>, %out: memref<3x4x8xf32>) {
  ntp.gate_jets %u, %v, %z into %out live_orders 3 : memref<3x4x8xf32>, memref<3x4x8xf32>, memref<3x4x8xf32>, memref<3x4x8xf32>
  return
}

// The VJP to order 1: zbar_i = sum_k C(k, i) w_{k-i} bar_k, wbar likewise
// with z; ubar = bar - wbar and vbar = wbar are written (no load of the old
// cotangents), zbar always.
// CHECK-LABEL: func.func @gate_vjp
// CHECK-SAME: (%{{.*}}: memref<2x4x8xf32>, %{{.*}}: memref<2x4x8xf32>, %{{.*}}: memref<2x4x8xf32>, %[[BAR:.*]]: memref<2x4x8xf32>, %[[UB:.*]]: memref<2x4x8xf32>, %[[VB:.*]]: memref<2x4x8xf32>, %[[ZB:.*]]: memref<2x4x8xf32>)
// CHECK: scf.for
// CHECK-NOT: vector.load %[[UB]]
// CHECK-NOT: vector.load %[[VB]]
// CHECK-COUNT-2: vector.store {{.*}}, %[[UB]][
// CHECK-COUNT-2: vector.store {{.*}}, %[[VB]][
// CHECK-COUNT-2: vector.store {{.*}}, %[[ZB]][
// CHECK: } {ntp.neuron_loop}
func.func @gate_vjp(%u: memref<2x4x8xf32>, %v: memref<2x4x8xf32>, %z: memref<2x4x8xf32>, %bar: memref<2x4x8xf32>, %ub: memref<2x4x8xf32>, %vb: memref<2x4x8xf32>, %zb: memref<2x4x8xf32>) {
  ntp.gate_jets_vjp %u, %v, %z, %bar into %ub, %vb, %zb live_orders 2 : memref<2x4x8xf32>, memref<2x4x8xf32>, memref<2x4x8xf32>, memref<2x4x8xf32>, memref<2x4x8xf32>, memref<2x4x8xf32>, memref<2x4x8xf32>
  return
}

// With accumulate, U's and V's cotangents are read and added to.
// CHECK-LABEL: func.func @gate_vjp_accumulate
// CHECK-SAME: (%{{.*}}: memref<2x4x8xf32>, %{{.*}}: memref<2x4x8xf32>, %{{.*}}: memref<2x4x8xf32>, %[[BAR:.*]]: memref<2x4x8xf32>, %[[UB:.*]]: memref<2x4x8xf32>, %[[VB:.*]]: memref<2x4x8xf32>, %[[ZB:.*]]: memref<2x4x8xf32>)
// CHECK: scf.for
// CHECK: %[[OLD:.*]] = vector.load %[[UB]][
// CHECK: vector.load %[[VB]][
// CHECK: arith.addf %[[OLD]],
// CHECK: } {ntp.neuron_loop}
func.func @gate_vjp_accumulate(%u: memref<2x4x8xf32>, %v: memref<2x4x8xf32>, %z: memref<2x4x8xf32>, %bar: memref<2x4x8xf32>, %ub: memref<2x4x8xf32>, %vb: memref<2x4x8xf32>, %zb: memref<2x4x8xf32>) {
  ntp.gate_jets_vjp %u, %v, %z, %bar into %ub, %vb, %zb live_orders 2 accumulate : memref<2x4x8xf32>, memref<2x4x8xf32>, memref<2x4x8xf32>, memref<2x4x8xf32>, memref<2x4x8xf32>, memref<2x4x8xf32>, memref<2x4x8xf32>
  return
}
