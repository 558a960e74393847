// RUN: ntp-opt %s -convert-ntp-to-loops -canonicalize -cse | FileCheck %s

// The multi-direction jet ops as loops (RaysToLoops.cpp). Layout: row 0, two
// rays of order 1 (rows 1, 2; collapse weight 1), one ray of order 2 (rows
// 3, 4), the collapsed row 5 of order 2.

// activate_rays: per neuron, tanh(y0) and the polynomials in it once; the
// two order-1 rays in a runtime loop accumulating their R_2 = s'' y1^2; the
// collapsed row s' S + that sum.
// CHECK-LABEL: func.func @activate
// CHECK: scf.for %[[I:.*]] = %{{.*}} to %{{.*}} step
// CHECK: %[[Y0:.*]] = vector.load %{{.*}}[%{{.*}}, %[[I]], %{{.*}}]
// CHECK: %[[T:.*]] = math.tanh %[[Y0]]
// CHECK-NOT: math.tanh
// CHECK: %[[SUM:.*]] = scf.for {{.*}} iter_args(%[[ACC:.*]] = %{{.*}})
// CHECK: math.fma %{{.*}}, %{{.*}}, %[[ACC]]
// CHECK: scf.yield
// CHECK: %[[S:.*]] = vector.load %{{.*}}[%c5, %[[I]], %{{.*}}]
// CHECK: %[[LIN:.*]] = arith.mulf %[[S]]
// CHECK: %[[Z:.*]] = arith.addf %[[SUM]], %[[LIN]]
// CHECK: vector.store %[[Z]], %{{.*}}[%c5, %[[I]], %{{.*}}]
// CHECK: } {ntp.neuron_loop}
func.func @activate(%a: memref<6x4x8xf64>, %b: memref<6x4x8xf64>) {
  ntp.activate_rays "tanh" %a into %b live_orders 3 ray_counts [2, 1]
      ray_orders [1, 2] collapse_weights [1.0, 0.0] collapsed_order 2
      : memref<6x4x8xf64>, memref<6x4x8xf64>
  return
}

// affine_rays (no machine facts: blocks of 2 rows x 2 neurons): the live
// rows 0..5 (row 0, the rays' rows 1..4, the collapsed row 5) are one run;
// its first block, rows 0 and 1, starts from the bias (row 0 only) and is
// emitted before a loop over the other two blocks, each in register blocks
// of 2 rows x 2 output neurons: one weight broadcast feeds both rows, one
// input load both neurons.
// CHECK-LABEL: func.func @affine
// CHECK: %[[BIAS:.*]] = vector.broadcast
// CHECK: scf.for {{.*}} iter_args(%{{.*}} = %[[BIAS]], %{{.*}} = %cst,
// CHECK: %[[B:.*]] = vector.load %arg0[%c0,
// CHECK: %[[C:.*]] = vector.load %arg0[%c1,
// CHECK: math.fma %{{.*}}, %[[B]]
// CHECK: math.fma %{{.*}}, %[[C]]
// CHECK: scf.for %{{.*}} = %c0 to %c2 step %c1 {
// CHECK: scf.for {{.*}} iter_args
// CHECK: %[[R1:.*]] = vector.load %arg0[%{{.*}}, %{{.*}}, %c0]
// CHECK: %[[R2:.*]] = vector.load %arg0[%{{.*}}, %{{.*}}, %c0]
// CHECK: %[[W:.*]] = vector.broadcast
// CHECK: math.fma %[[W]], %[[R1]]
// CHECK: math.fma %[[W]], %[[R2]]
// CHECK: %[[V:.*]] = vector.broadcast
// CHECK: math.fma %[[V]], %[[R1]]
// CHECK: math.fma %[[V]], %[[R2]]
// CHECK: scf.yield
func.func @affine(%a: memref<6x4x8xf64>, %p: memref<?xf64>, %b: memref<6x3x8xf64>) {
  ntp.affine_rays %a, %p[0] into %b live_orders 3 ray_counts [2, 1]
      ray_orders [1, 2] collapse_weights [1.0, 0.0] collapsed_order 2
      : memref<6x4x8xf64>, memref<?xf64>, memref<6x3x8xf64>
  return
}

// seed_rays: row 0 gathered lane by lane, each ray's order-1 row broadcast
// from its direction, in a loop per group.
// CHECK-LABEL: func.func @seed
// CHECK: memref.load %arg0
// CHECK: memref.store
// CHECK: memref.load %arg1
// CHECK: vector.broadcast
// CHECK: vector.store
func.func @seed(%x: memref<?xf64>, %d: memref<?xf64>, %jet: memref<6x3x8xf64>,
                %batch: index, %tile: index) {
  ntp.seed_rays %x, %d into %jet, %batch, %tile ray_counts [2, 1]
      ray_orders [1, 2] collapse_weights [1.0, 0.0] collapsed_order 2
      : memref<?xf64>, memref<?xf64>, memref<6x3x8xf64>
  return
}
