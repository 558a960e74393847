// RUN: ntp-opt %s -convert-ntp-to-loops="ray-rows=5 ray-neurons=4" -canonicalize -cse | FileCheck %s

// ntp.affine_rays in register blocks of up to 5 rows x 4 output neurons
// (RaysToLoops.cpp). Layout: row 0, ten rays of order 1 (rows 1..10), the
// collapsed row 11: twelve live rows, one run, in blocks as even as
// possible: three of 4 rows (not 5, 5, 2). The first (rows 0..3, the bias
// in row 0) comes before a loop over the other two. Six output neurons: a
// group of 4, then the remaining 2 as one smaller block.
// CHECK-LABEL: func.func @affine
// CHECK: %[[BIAS:.*]] = vector.broadcast
// CHECK: scf.for {{.*}} iter_args(%{{.*}} = %[[BIAS]], %{{.*}} = %cst, %{{.*}} = %cst, %{{.*}} = %cst,
// CHECK-COUNT-4: vector.load %arg0
// CHECK-NOT: vector.load %arg0
// CHECK-COUNT-4: math.fma
// CHECK: vector.broadcast
// CHECK-COUNT-4: math.fma
// CHECK: vector.broadcast
// CHECK-COUNT-4: math.fma
// CHECK: vector.broadcast
// CHECK-COUNT-4: math.fma
// CHECK-NOT: math.fma
// CHECK: scf.yield
// The remaining two neurons of rows 0..3: 4 x 2 accumulators.
// CHECK: scf.for {{.*}} -> (vector<8xf64>, vector<8xf64>, vector<8xf64>, vector<8xf64>, vector<8xf64>, vector<8xf64>, vector<8xf64>, vector<8xf64>)
// The other two blocks of 4 rows, from row 4, 4 rows apart.
// CHECK: scf.for %[[C:.*]] = %c0 to %c2 step %c1 {
// CHECK: %[[M:.*]] = arith.muli %[[C]], %c4
// CHECK: %[[FIRST:.*]] = arith.addi %[[M]], %c4
// CHECK: scf.for {{.*}} -> (vector<8xf64>, vector<8xf64>, vector<8xf64>, vector<8xf64>, vector<8xf64>, vector<8xf64>, vector<8xf64>, vector<8xf64>, vector<8xf64>, vector<8xf64>, vector<8xf64>, vector<8xf64>, vector<8xf64>, vector<8xf64>, vector<8xf64>, vector<8xf64>)
// CHECK: vector.load %arg0[%[[FIRST]],
func.func @affine(%a: memref<12x8x8xf64>, %p: memref<?xf64>, %b: memref<12x6x8xf64>) {
  ntp.affine_rays %a, %p[0] into %b live_orders 3 ray_counts [10]
      ray_orders [1] collapse_weights [1.0] collapsed_order 2
      : memref<12x8x8xf64>, memref<?xf64>, memref<12x6x8xf64>
  return
}
