// RUN: ntp-opt %s -convert-ntp-to-loops -canonicalize -cse | FileCheck %s

// The multi-direction jet ops as loops (RaysToLoops.cpp). Layout: row 0, two
// rays of order 1 (rows 1, 2; collapse weight 1), one ray of order 2 (rows
// 3, 4), the collapsed row 5 of order 2.

// activate_rays: per neuron, tanh(y0) and the polynomials in it once; the
// two order-1 rays in a runtime loop accumulating y1^2 (one FMA per ray),
// scaled once by the shared s''/2 into their R_2 sum; the collapsed row
// s' S + that sum.
// CHECK-LABEL: func.func @activate
// CHECK: scf.for %[[I:.*]] = %{{.*}} to %{{.*}} step
// CHECK: %[[Y0:.*]] = vector.load %{{.*}}[%{{.*}}, %[[I]], %{{.*}}]
// CHECK: %[[T:.*]] = math.tanh %[[Y0]]
// CHECK-NOT: math.tanh
// CHECK: %[[SUM:.*]] = scf.for {{.*}} iter_args(%[[ACC:.*]] = %{{.*}})
// CHECK: %[[Y1:.*]] = vector.load
// CHECK: math.fma %[[Y1]], %[[Y1]], %[[ACC]]
// CHECK: scf.yield
// CHECK: %[[RAYS:.*]] = arith.mulf %{{.*}}, %[[SUM]]
// CHECK: %[[S:.*]] = vector.load %{{.*}}[%c5, %[[I]], %{{.*}}]
// CHECK: %[[LIN:.*]] = arith.mulf %[[S]]
// CHECK: %[[Z:.*]] = arith.addf %[[RAYS]], %[[LIN]]
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

// affine_rays reading a seed ({ntp.invariant_rays}): row 0 every tile, from
// the bias; the other live rows (1..3 at live_orders 2: the order-1 rows)
// only while the flag allocated at the function's entry is false, keeping
// lane 0 of each in a [3 rows x 3 neurons] buffer; then, every tile, those
// scalars broadcast into the rows.
// CHECK-LABEL: func.func @affine_invariant
// CHECK-DAG: %[[SAVED:.*]] = memref.alloca() : memref<3x3xf64>
// CHECK-DAG: %[[DONE:.*]] = memref.alloca() : memref<i1>
// CHECK: memref.store %false, %[[DONE]][]
// CHECK: %[[BIAS:.*]] = vector.broadcast
// CHECK: scf.for {{.*}} iter_args(%{{.*}} = %[[BIAS]], %{{.*}} = %[[BIAS2:.*]])
// CHECK: %[[FLAG:.*]] = memref.load %[[DONE]][]
// CHECK: %[[TODO:.*]] = arith.xori %[[FLAG]], %true
// CHECK: scf.if %[[TODO]] {
// CHECK: math.fma
// CHECK: %[[LANE0:.*]] = memref.load %arg2[
// CHECK: memref.store %[[LANE0]], %[[SAVED]][
// CHECK: memref.store %true, %[[DONE]][]
// CHECK-NEXT: }
// CHECK: %[[S:.*]] = memref.load %[[SAVED]][
// CHECK: %[[SV:.*]] = vector.broadcast %[[S]]
// CHECK: vector.store %[[SV]], %arg2[
func.func @affine_invariant(%a: memref<6x4x8xf64>, %p: memref<?xf64>, %b: memref<6x3x8xf64>) {
  ntp.affine_rays %a, %p[0] into %b live_orders 2 ray_counts [2, 1]
      ray_orders [1, 2] collapse_weights [1.0, 0.0] collapsed_order 2
      {ntp.invariant_rays} : memref<6x4x8xf64>, memref<?xf64>, memref<6x3x8xf64>
  return
}

// affine_rays writing only the rows something reads ({ntp.needed_rows}: a
// Laplacian's top layer, the collapsed row 5): no bias (row 0 is not
// written), one block of that row, no other row stored.
// CHECK-LABEL: func.func @affine_needed
// CHECK-NOT: vector.store
// CHECK: scf.for {{.*}} iter_args(%{{.*}} = %cst, %{{.*}} = %cst)
// CHECK: vector.load %arg0[%c5,
// CHECK-NOT: vector.load
// CHECK: scf.yield
// CHECK: vector.store %{{.*}}, %arg2[%c5,
// CHECK: vector.store %{{.*}}, %arg2[%c5,
// CHECK-NOT: vector.store
// CHECK: return
func.func @affine_needed(%a: memref<6x4x8xf64>, %p: memref<?xf64>, %b: memref<6x2x8xf64>) {
  ntp.affine_rays %a, %p[0] into %b live_orders 3 ray_counts [2, 1]
      ray_orders [1, 2] collapse_weights [1.0, 0.0] collapsed_order 2
      {ntp.needed_rows = array<i64: 5>}
      : memref<6x4x8xf64>, memref<?xf64>, memref<6x2x8xf64>
  return
}

// affine_rays with rows 0, 2 and 5 needed: row 0 from the bias, rows 2
// and 5 (not consecutive) one block each, rows 1, 3, 4 not written.
// CHECK-LABEL: func.func @affine_needed_rows
// CHECK: %[[BIAS:.*]] = vector.broadcast
// CHECK: scf.for {{.*}} iter_args(%{{.*}} = %[[BIAS]], %{{.*}} = %[[BIAS2:.*]])
// CHECK: vector.load %arg0[%c0,
// CHECK: vector.store %{{.*}}, %arg2[%c0,
// CHECK: vector.load %arg0[%c2,
// CHECK: vector.store %{{.*}}, %arg2[%c2,
// CHECK: vector.load %arg0[%c5,
// CHECK: vector.store %{{.*}}, %arg2[%c5,
// CHECK-NOT: vector.store %{{.*}}, %arg2[%c1,
// CHECK-NOT: vector.store %{{.*}}, %arg2[%c3,
// CHECK-NOT: vector.store %{{.*}}, %arg2[%c4,
// CHECK: return
func.func @affine_needed_rows(%a: memref<6x4x8xf64>, %p: memref<?xf64>, %b: memref<6x2x8xf64>) {
  ntp.affine_rays %a, %p[0] into %b live_orders 3 ray_counts [2, 1]
      ray_orders [1, 2] collapse_weights [1.0, 0.0] collapsed_order 2
      {ntp.needed_rows = array<i64: 0, 2, 5>}
      : memref<6x4x8xf64>, memref<?xf64>, memref<6x2x8xf64>
  return
}

// activate_rays writing the collapsed row 5 alone ({ntp.needed_rows}, the
// activation feeding a Laplacian's top layer): the order-1 rays' loop only
// sums y1^2 (no tanh' y1, no store), the order-2 ray (weight 0, not
// collapsed) is skipped, tanh(y0) is not stored.
// CHECK-LABEL: func.func @activate_needed
// CHECK: scf.for %[[I:.*]] = %{{.*}} to %{{.*}} step
// CHECK: %[[Y0:.*]] = vector.load %{{.*}}[%c0, %[[I]], %{{.*}}]
// CHECK: math.tanh %[[Y0]]
// CHECK-NOT: vector.store
// CHECK: %[[SUM:.*]] = scf.for {{.*}} iter_args(%[[ACC:.*]] = %{{.*}})
// CHECK: %[[Y1:.*]] = vector.load
// CHECK-NEXT: %[[SQ:.*]] = math.fma %[[Y1]], %[[Y1]], %[[ACC]]
// CHECK-NEXT: scf.yield %[[SQ]]
// CHECK-NOT: vector.store
// CHECK: vector.store %{{.*}}, %{{.*}}[%c5, %[[I]], %{{.*}}]
// CHECK-NOT: vector.store
// CHECK: } {ntp.neuron_loop}
func.func @activate_needed(%a: memref<6x4x8xf64>, %b: memref<6x4x8xf64>) {
  ntp.activate_rays "tanh" %a into %b live_orders 3 ray_counts [2, 1]
      ray_orders [1, 2] collapse_weights [1.0, 0.0] collapsed_order 2
      {ntp.needed_rows = array<i64: 5>}
      : memref<6x4x8xf64>, memref<6x4x8xf64>
  return
}

// activate_rays reading rows that are the same in every tile and lane past
// row 0 ({ntp.invariant_rays}: the first layer's W v): the order-1 rays'
// sums of y1^2 on the call's first tile only (lane 0, kept per neuron);
// then per neuron the kept sum, broadcast, times the shared f''(y0), and
// the rays' loop computes tanh' y1 alone.
// CHECK-LABEL: func.func @activate_invariant
// CHECK-DAG: %[[SUMS:.*]] = memref.alloca() : memref<1x4xf64>
// CHECK-DAG: %[[DONE:.*]] = memref.alloca() : memref<i1>
// CHECK: memref.store %false, %[[DONE]][]
// CHECK: %[[FLAG:.*]] = memref.load %[[DONE]][]
// CHECK: %[[TODO:.*]] = arith.xori %[[FLAG]], %true
// CHECK: scf.if %[[TODO]] {
// CHECK: %[[Y:.*]] = memref.load %arg0[
// CHECK: math.fma %[[Y]], %[[Y]], %{{.*}} : f64
// CHECK: memref.store %{{.*}}, %[[SUMS]][%c0,
// CHECK: memref.store %true, %[[DONE]][]
// CHECK-NEXT: }
// CHECK: scf.for %[[I:.*]] = %{{.*}} to %{{.*}} step
// CHECK: math.tanh
// CHECK: %[[KEPT:.*]] = memref.load %[[SUMS]][%c0, %[[I]]]
// CHECK: %[[SUM:.*]] = vector.broadcast %[[KEPT]]
// CHECK: scf.for
// CHECK-NOT: math.fma
// CHECK: arith.mulf %{{.*}}, %[[SUM]]
// CHECK: } {ntp.neuron_loop}
func.func @activate_invariant(%a: memref<4x4x8xf64>, %b: memref<4x4x8xf64>) {
  ntp.activate_rays "tanh" %a into %b live_orders 2 ray_counts [2]
      ray_orders [1] collapse_weights [1.0] collapsed_order 2
      {ntp.invariant_rays} : memref<4x4x8xf64>, memref<4x4x8xf64>
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
