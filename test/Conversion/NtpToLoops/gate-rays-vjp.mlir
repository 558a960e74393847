// RUN: ntp-opt %s -convert-ntp-to-loops -canonicalize -cse | FileCheck %s

// ntp.gate_rays_vjp as loops (GateRaysVjpToLoops.cpp). Layout: row 0, two
// rays of order 1 (rows 1, 2; collapse weight 1), one ray of order 2 (rows
// 3, 4), the collapsed row 5 of order 2; U's and V's cotangents added to.

// Per neuron: D0 = V0 - U0, row 0's terms of order 0 (D0 Obar_0, Z0 Obar_0)
// and of the collapsed row (S_D Sbar, S_Z Sbar); the weighted group's
// w C(2, 1) Sbar once; the two weighted rays in a runtime loop carrying row
// 0's sums, each ray's Zbar_1 = D0 Obar_1 + D_1 (2 Sbar), Ubar_1 and Vbar_1
// added to; the ray of order 2 (one ray: its loop folds away), Zbar_1 with
// C(2, 1) Obar_2; row 0 and the collapsed row last.
// CHECK-LABEL: func.func @vjp
// CHECK: %[[TWO:.*]] = arith.constant dense<2.000000e+00> : vector<8xf64>
// CHECK: scf.for %[[I:.*]] = %{{.*}} to %{{.*}} step
// CHECK: %[[U0:.*]] = vector.load %arg0[%c0, %[[I]], %c0]
// CHECK: %[[Z0:.*]] = vector.load %arg2[%c0, %[[I]], %c0]
// CHECK: %[[OB0:.*]] = vector.load %arg3[%c0, %[[I]], %c0]
// CHECK: %[[V0:.*]] = vector.load %arg1[%c0, %[[I]], %c0]
// CHECK: %[[D0:.*]] = arith.subf %[[V0]], %[[U0]]
// CHECK: %[[ZB0:.*]] = arith.mulf %[[D0]], %[[OB0]]
// CHECK: %[[DB0:.*]] = arith.mulf %[[Z0]], %[[OB0]]
// CHECK: %[[SBAR:.*]] = vector.load %arg3[%c5, %[[I]], %c0]
// CHECK: %[[ZBS:.*]] = math.fma %{{.*}}, %[[SBAR]], %[[ZB0]]
// CHECK: %[[DBS:.*]] = math.fma %{{.*}}, %[[SBAR]], %[[DB0]]
// CHECK: %[[W:.*]] = arith.mulf %[[SBAR]], %[[TWO]]
// CHECK: %[[RAYS:.*]]:2 = scf.for {{.*}} = %c0 to %c2 step %c1 iter_args(%[[ZACC:.*]] = %[[ZBS]], %[[DACC:.*]] = %[[DBS]])
// CHECK: %[[DK:.*]] = arith.subf
// CHECK: %[[OBK:.*]] = vector.load %arg3[
// CHECK: math.fma %[[DK]], %[[OBK]], %[[ZACC]]
// CHECK: %[[ZK:.*]] = arith.mulf %[[D0]], %[[OBK]]
// CHECK: %[[ZB1:.*]] = math.fma %[[DK]], %[[W]], %[[ZK]]
// CHECK: vector.store %[[ZB1]], %arg6[
// CHECK: vector.store %{{.*}}, %arg4[
// CHECK: vector.store %{{.*}}, %arg5[
// CHECK: scf.yield
// CHECK: %[[OB4:.*]] = vector.load %arg3[%c4, %[[I]], %c0]
// CHECK: arith.mulf %[[OB4]], %[[TWO]]
// CHECK: vector.store %{{.*}}, %arg6[%c3, %[[I]], %c0]
// CHECK: vector.store %{{.*}}, %arg6[%c4, %[[I]], %c0]
// CHECK: vector.store %{{.*}}, %arg6[%c0, %[[I]], %c0]
// CHECK: %[[ZBSROW:.*]] = arith.mulf %[[D0]], %[[SBAR]]
// CHECK: vector.store %[[ZBSROW]], %arg6[%c5, %[[I]], %c0]
// CHECK: } {ntp.neuron_loop}
func.func @vjp(%u: memref<6x4x8xf64>, %v: memref<6x4x8xf64>, %z: memref<6x4x8xf64>, %ob: memref<6x4x8xf64>, %ub: memref<6x4x8xf64>, %vb: memref<6x4x8xf64>, %zb: memref<6x4x8xf64>) {
  ntp.gate_rays_vjp %u, %v, %z, %ob into %ub, %vb, %zb ray_counts [2, 1]
      ray_orders [1, 2] collapse_weights [1.0, 0.0] collapsed_order 2
      accumulate : memref<6x4x8xf64>, memref<6x4x8xf64>, memref<6x4x8xf64>, memref<6x4x8xf64>, memref<6x4x8xf64>, memref<6x4x8xf64>, memref<6x4x8xf64>
  return
}

// Written, not accumulated: U's and V's cotangents are not read.
// CHECK-LABEL: func.func @written
// CHECK-NOT: vector.load %arg4
// CHECK-NOT: vector.load %arg5
// CHECK: return
func.func @written(%u: memref<3x4x8xf32>, %v: memref<3x4x8xf32>,
                   %z: memref<3x4x8xf32>, %ob: memref<3x4x8xf32>,
                   %ub: memref<3x4x8xf32>, %vb: memref<3x4x8xf32>,
                   %zb: memref<3x4x8xf32>) {
  ntp.gate_rays_vjp %u, %v, %z, %ob into %ub, %vb, %zb ray_counts [1]
      ray_orders [2] collapse_weights [0.0] collapsed_order 0
      : memref<3x4x8xf32>, memref<3x4x8xf32>, memref<3x4x8xf32>,
        memref<3x4x8xf32>, memref<3x4x8xf32>, memref<3x4x8xf32>,
        memref<3x4x8xf32>
  return
}
