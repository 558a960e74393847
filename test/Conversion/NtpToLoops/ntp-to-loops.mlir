// RUN: ntp-opt %s -split-input-file -convert-ntp-to-loops -canonicalize -cse -verify-diagnostics | FileCheck %s

// The affine layer keeps one accumulator per live order in the iter_args of
// the reduction over input neurons: each weight is loaded and broadcast once
// and multiplies every order. The bias (params[5 + 4*2 + i]) seeds order 0.

// CHECK-LABEL: func.func @affine
// CHECK-SAME: (%[[IN:.*]]: memref<3x2x8xf32>, %[[P:.*]]: memref<?xf32>, %[[OUT:.*]]: memref<3x4x8xf32>)
// CHECK-DAG: %[[C5:.*]] = arith.constant 5 : index
// CHECK-DAG: %[[C13:.*]] = arith.constant 13 : index
// CHECK-DAG: %[[ZERO:.*]] = arith.constant dense<0.000000e+00> : vector<8xf32>
// CHECK: scf.for %[[I:.*]] = %{{.*}} to %{{.*}} step
// CHECK:   %[[BI:.*]] = arith.addi %[[I]], %[[C13]]
// CHECK:   %[[B:.*]] = memref.load %[[P]][%[[BI]]]
// CHECK:   %[[BV:.*]] = vector.broadcast %[[B]] : f32 to vector<8xf32>
// CHECK:   %[[ACC:.*]]:2 = scf.for %[[J:.*]] = {{.*}} iter_args(%[[A0:.*]] = %[[BV]], %[[A1:.*]] = %[[ZERO]])
// CHECK:     %[[W:.*]] = memref.load %[[P]]
// CHECK:     %[[WV:.*]] = vector.broadcast %[[W]] : f32 to vector<8xf32>
// CHECK:     %[[Y0:.*]] = vector.load %[[IN]][%{{.*}}, %[[J]], %{{.*}}]
// CHECK:     %[[N0:.*]] = math.fma %[[WV]], %[[Y0]], %[[A0]] : vector<8xf32>
// CHECK:     %[[Y1:.*]] = vector.load %[[IN]][%{{.*}}, %[[J]], %{{.*}}]
// CHECK:     %[[N1:.*]] = math.fma %[[WV]], %[[Y1]], %[[A1]] : vector<8xf32>
// CHECK:     scf.yield %[[N0]], %[[N1]]
// CHECK:   vector.store %[[ACC]]#0, %[[OUT]][%{{.*}}, %[[I]], %{{.*}}]
// CHECK:   vector.store %[[ACC]]#1, %[[OUT]][%{{.*}}, %[[I]], %{{.*}}]
// CHECK-NOT: vector.store
func.func @affine(%in: memref<3x2x8xf32>, %p: memref<?xf32>, %out: memref<3x4x8xf32>) {
  ntp.affine %in, %p[5] into %out live_orders 2 : memref<3x2x8xf32>, memref<?xf32>, memref<3x4x8xf32>
  return
}

// -----

// Seed: order 0 gathers x lane by lane, clamping lanes past the batch to the
// last sample; order 1 broadcasts the direction. Store: only the samples of
// the tile below batch; orders >= live_orders are written as zeros.

// CHECK-LABEL: func.func @seed_store
// CHECK-SAME: (%[[X:.*]]: memref<?xf64>, %[[V:.*]]: memref<?xf64>, %[[JET:.*]]: memref<3x2x4xf64>, %[[OUT:.*]]: memref<?xf64>, %[[BATCH:.*]]: index, %[[TILE:.*]]: index)
// CHECK-DAG: %[[FZERO:.*]] = arith.constant 0.000000e+00 : f64
// CHECK-DAG: %[[C4:.*]] = arith.constant 4 : index
// CHECK: %[[BASE:.*]] = arith.muli %[[TILE]], %[[C4]]
// CHECK: %[[LAST:.*]] = arith.subi %[[BATCH]]
// CHECK: scf.for %[[S:.*]] =
// CHECK:   %[[SAMPLE:.*]] = arith.minsi %{{.*}}, %[[LAST]]
// CHECK:   scf.for
// CHECK:     memref.load %[[X]]
// CHECK:     memref.store %{{.*}}, %[[JET]][%{{.*}}, %{{.*}}, %[[S]]]
// CHECK: scf.for
// CHECK:   memref.load %[[V]]
// CHECK:   vector.broadcast %{{.*}} : f64 to vector<4xf64>
// CHECK:   vector.store
// CHECK: %[[REST:.*]] = arith.subi %[[BATCH]], %[[BASE]]
// CHECK: %[[COUNT:.*]] = arith.minsi %[[REST]], %[[C4]]
// CHECK: scf.for %{{.*}} = %{{.*}} to %[[COUNT]]
// CHECK-COUNT-2: memref.load %[[JET]]
// CHECK: memref.store %[[FZERO]], %[[OUT]]
func.func @seed_store(%x: memref<?xf64>, %v: memref<?xf64>, %jet: memref<3x2x4xf64>, %out: memref<?xf64>, %batch: index, %tile: index) {
  ntp.seed %x, %v into %jet, %batch, %tile : memref<?xf64>, memref<?xf64>, memref<3x2x4xf64>
  ntp.store_jet %jet into %out, %batch, %tile live_orders 2 : memref<3x2x4xf64>, memref<?xf64>
  return
}

// -----

// An activation must be expanded first: the lowering leaves no ntp op behind.
func.func @unexpanded(%in: memref<3x2x8xf32>, %out: memref<3x2x8xf32>) {
  // expected-error @below {{failed to legalize operation 'ntp.activate' that was explicitly marked illegal}}
  ntp.activate "tanh" %in into %out live_orders 3 : memref<3x2x8xf32>, memref<3x2x8xf32>
  return
}

// -----

// Reverse mode of an affine layer with lane-wise gradient accumulators: each
// weight's lanes accumulate sum_k outbar_k[i] * in_k[j] with vector FMAs (no
// horizontal reduction per tile); the bias lanes add outbar_0[i]. The input
// cotangent is W^T outbar per live order. reduce_lanes then sums each
// parameter's lanes once into the flat gradient.

// CHECK-LABEL: func.func @affine_vjp
// CHECK-SAME: (%[[IN:.*]]: memref<2x3x4xf32>, %[[P:.*]]: memref<?xf32>, %[[OB:.*]]: memref<2x2x4xf32>, %[[L:.*]]: memref<8x4xf32>, %[[IB:.*]]: memref<2x3x4xf32>, %[[G:.*]]: memref<?xf32>)
// CHECK: scf.for %[[I:.*]] =
// CHECK:   %[[B0:.*]] = vector.load %[[OB]][%{{.*}}, %[[I]], %{{.*}}]
// CHECK:   %[[B1:.*]] = vector.load %[[OB]][%{{.*}}, %[[I]], %{{.*}}]
// CHECK:   %[[BL:.*]] = vector.load %[[L]]
// CHECK:   %[[BS:.*]] = arith.addf %[[BL]], %[[B0]]
// CHECK:   vector.store %[[BS]], %[[L]]
// CHECK:   scf.for %[[J:.*]] =
// CHECK:     %[[OLD:.*]] = vector.load %[[L]]
// CHECK:     %[[Y0:.*]] = vector.load %[[IN]][%{{.*}}, %[[J]], %{{.*}}]
// CHECK:     %[[A0:.*]] = math.fma %[[B0]], %[[Y0]], %[[OLD]]
// CHECK:     %[[Y1:.*]] = vector.load %[[IN]][%{{.*}}, %[[J]], %{{.*}}]
// CHECK:     %[[A1:.*]] = math.fma %[[B1]], %[[Y1]], %[[A0]]
// CHECK:     vector.store %[[A1]], %[[L]]
// CHECK-NOT: vector.reduction
// CHECK: scf.for
// CHECK:   scf.for {{.*}} iter_args
// CHECK:     memref.load %[[P]]
// CHECK:     math.fma
// CHECK:     math.fma
// CHECK:   vector.store {{.*}}, %[[IB]]
// CHECK:   vector.store {{.*}}, %[[IB]]
// CHECK: scf.for %[[K:.*]] =
// CHECK:   %[[LANES:.*]] = vector.load %[[L]][%[[K]], %{{.*}}]
// CHECK:   %[[SUM:.*]] = vector.reduction <add>, %[[LANES]] : vector<4xf32> into f32
// CHECK:   %[[OLDG:.*]] = memref.load %[[G]][%[[K]]]
// CHECK:   %[[NEW:.*]] = arith.addf %[[OLDG]], %[[SUM]]
// CHECK:   memref.store %[[NEW]], %[[G]][%[[K]]]
func.func @affine_vjp(%in: memref<2x3x4xf32>, %p: memref<?xf32>, %outbar: memref<2x2x4xf32>, %lanes: memref<8x4xf32>, %inbar: memref<2x3x4xf32>, %grad: memref<?xf32>) {
  ntp.affine_vjp %in, %p[0], %outbar into %lanes input_cotangent %inbar live_orders 2 : memref<2x3x4xf32>, memref<?xf32>, memref<2x2x4xf32>, memref<8x4xf32>, memref<2x3x4xf32>
  ntp.reduce_lanes %lanes into %grad : memref<8x4xf32>, memref<?xf32>
  return
}

// -----

// Cotangent load: padding lanes past the batch get zero; seed_vjp writes the
// x gradient of the tile's valid samples.

// CHECK-LABEL: func.func @cotangent_and_seed_vjp
// CHECK: arith.cmpi slt
// CHECK: memref.load %arg0
// CHECK: arith.select
// CHECK: memref.store {{.*}}, %arg1
// CHECK: arith.minsi
// CHECK: memref.load %arg1
// CHECK: memref.store {{.*}}, %arg2
func.func @cotangent_and_seed_vjp(%c: memref<?xf64>, %jet: memref<3x1x8xf64>, %xgrad: memref<?xf64>, %batch: index, %tile: index) {
  ntp.load_cotangent %c into %jet, %batch, %tile : memref<?xf64>, memref<3x1x8xf64>
  ntp.seed_vjp %jet into %xgrad, %batch, %tile : memref<3x1x8xf64>, memref<?xf64>
  return
}
