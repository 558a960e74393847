// RUN: ntp-opt %s -convert-ntp-to-loops -canonicalize -cse | FileCheck %s

// ntp.activate_rays_vjp as loops (RayVjpToLoops.cpp). Layout: row 0, two
// rays of order 1 (rows 1, 2; collapse weight 1), one ray of order 2 (rows
// 3, 4), the collapsed row 5 of order 2.

// Per neuron: tanh(y0) once; the collapsed row's cotangent s' Zbar; the two
// weighted rays in a runtime loop carrying their order-0 terms; the ray of
// order 2 (one ray: its loop folds away); row 0 last, the sum.
// CHECK-LABEL: func.func @vjp
// CHECK: scf.for %[[I:.*]] = %{{.*}} to %{{.*}} step
// CHECK: %[[Y0:.*]] = vector.load %arg0[%c0, %[[I]], %c0]
// CHECK: %[[ZBAR:.*]] = vector.load %arg1[%c5, %[[I]], %c0]
// CHECK: %[[T:.*]] = math.tanh %[[Y0]]
// CHECK-NOT: math.tanh
// CHECK: %[[S1:.*]] = math.fma
// CHECK: %[[SBAR:.*]] = arith.mulf %[[S1]], %[[ZBAR]]
// CHECK: vector.store %[[SBAR]], %arg2[%c5, %[[I]], %c0]
// CHECK: %[[RAYS:.*]] = scf.for {{.*}} = %c0 to %c2 step %c1 iter_args(%[[ACC:.*]] = %{{.*}})
// CHECK: vector.store %{{.*}}, %arg2[
// CHECK: %[[NEXT:.*]] = arith.addf %[[ACC]]
// CHECK: scf.yield %[[NEXT]]
// CHECK: vector.store %{{.*}}, %arg2[%c3, %[[I]], %c0]
// CHECK: vector.store %{{.*}}, %arg2[%c4, %[[I]], %c0]
// CHECK: vector.store %{{.*}}, %arg2[%c0, %[[I]], %c0]
// CHECK: } {ntp.neuron_loop}
func.func @vjp(%in: memref<6x4x8xf64>, %outbar: memref<6x4x8xf64>,
               %inbar: memref<6x4x8xf64>) {
  ntp.activate_rays_vjp "tanh" %in, %outbar into %inbar live_orders 3
      ray_counts [2, 1] ray_orders [1, 2] collapse_weights [1.0, 0.0]
      collapsed_order 2
      : memref<6x4x8xf64>, memref<6x4x8xf64>, memref<6x4x8xf64>
  return
}

// The first layer (live_orders 2): the collapsed row S is not read and its
// cotangent is 0, as is the cotangent of the order-2 ray's row 4.
// CHECK-LABEL: func.func @first
// CHECK: %[[ZERO:.*]] = arith.constant dense<0.000000e+00>
// CHECK: scf.for
// CHECK-NOT: vector.load %arg0[%c5
// CHECK: vector.store %[[ZERO]], %arg2[%c5,
// CHECK: vector.store %[[ZERO]], %arg2[%c4,
// CHECK: } {ntp.neuron_loop}
func.func @first(%in: memref<6x4x8xf64>, %outbar: memref<6x4x8xf64>,
                 %inbar: memref<6x4x8xf64>) {
  ntp.activate_rays_vjp "sin" %in, %outbar into %inbar live_orders 2
      ray_counts [2, 1] ray_orders [1, 2] collapse_weights [1.0, 0.0]
      collapsed_order 2
      : memref<6x4x8xf64>, memref<6x4x8xf64>, memref<6x4x8xf64>
  return
}
