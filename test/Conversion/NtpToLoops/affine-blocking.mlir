// RUN: ntp-opt %s -split-input-file -convert-ntp-to-loops="affine-outputs=2 affine-orders=2" -canonicalize -cse | FileCheck %s

// Register blocking: 5 outputs by blocks of 2 (outputs 0..3) and one
// remainder output, 3 live orders in chunks of 2 and 1; the chunks are the
// outer loop (a chunk's slice of the input jets is reread by every block).
// Per input neuron, a block broadcasts its 2 weights and loads each order
// of the chunk once, for 2 x 2 FMAs whose accumulators are the loop's
// iter_args.

// CHECK-LABEL: func.func @affine
// CHECK-SAME: (%[[IN:.*]]: memref<3x2x8xf32>, %[[P:.*]]: memref<?xf32>, %[[OUT:.*]]: memref<3x5x8xf32>)
// CHECK-DAG: %[[C0:.*]] = arith.constant 0 : index
// CHECK-DAG: %[[C1:.*]] = arith.constant 1 : index
// CHECK-DAG: %[[C2:.*]] = arith.constant 2 : index
// CHECK-DAG: %[[C4:.*]] = arith.constant 4 : index
// Orders 0 and 1: the blocks of 2 outputs, then the remainder output.
// CHECK: scf.for %[[I:.*]] = %{{.*}} to %[[C4]] step %[[C2]]
// CHECK:   %[[I1:.*]] = arith.addi %[[I]], %{{.*}}
// CHECK:   %[[A:.*]]:4 = scf.for %[[J:.*]] = {{.*}} iter_args(
// CHECK:     %[[W0:.*]] = vector.broadcast %{{.*}} : f32 to vector<8xf32>
// CHECK:     %[[W1:.*]] = vector.broadcast %{{.*}} : f32 to vector<8xf32>
// CHECK:     %[[Y0:.*]] = vector.load %[[IN]][%[[C0]], %[[J]], %{{.*}}]
// CHECK:     math.fma %[[W0]], %[[Y0]]
// CHECK:     math.fma %[[W1]], %[[Y0]]
// CHECK:     %[[Y1:.*]] = vector.load %[[IN]][%[[C1]], %[[J]], %{{.*}}]
// CHECK:     math.fma %[[W0]], %[[Y1]]
// CHECK:     math.fma %[[W1]], %[[Y1]]
// CHECK:     scf.yield
// CHECK-COUNT-4: vector.store %[[A]]#
// CHECK: } {ntp.neuron_loop}
// CHECK: scf.for {{.*}} iter_args(%{{.*}} = %{{.*}}, %{{.*}} = %{{.*}}) -> (vector<8xf32>, vector<8xf32>)
// CHECK-COUNT-2: vector.store %{{.*}}, %[[OUT]][%{{.*}}, %[[C4]], %{{.*}}]
// Order 2: the same blocks over the third plane.
// CHECK: scf.for %{{.*}} = %{{.*}} to %[[C4]] step %[[C2]]
// CHECK:   %[[B:.*]]:2 = scf.for %{{.*}} iter_args(
// CHECK:     vector.load %[[IN]][%[[C2]], %{{.*}}, %{{.*}}]
// CHECK-COUNT-2: vector.store %[[B]]#
// CHECK: } {ntp.neuron_loop}
// CHECK: scf.for {{.*}} iter_args(%{{.*}} = %{{.*}}) -> (vector<8xf32>)
// CHECK: vector.store %{{.*}}, %[[OUT]][%[[C2]], %[[C4]], %{{.*}}]
func.func @affine(%in: memref<3x2x8xf32>, %p: memref<?xf32>, %out: memref<3x5x8xf32>) {
  ntp.affine %in, %p[5] into %out live_orders 3 : memref<3x2x8xf32>, memref<?xf32>, memref<3x5x8xf32>
  return
}

// -----

// The VJP: the input cotangent is blocked like the forward (2 input neurons
// of W's columns at a time); the parameter gradient takes 2 input neurons at
// a time, their chains over the orders interleaved.

// CHECK-LABEL: func.func @affine_vjp
// CHECK-SAME: (%[[IN:.*]]: memref<3x5x8xf32>, %{{.*}}: memref<?xf32>, %{{.*}}: memref<3x3x8xf32>, %[[LANES:.*]]: memref<18x8xf32>
// CHECK: scf.for
// CHECK:   scf.for %[[J:.*]] = %{{.*}} to %{{.*}} step %[[C2:.*]] {
// CHECK:     %[[G0:.*]] = vector.load %[[LANES]]
// CHECK:     %[[J1:.*]] = arith.addi %[[J]]
// CHECK:     %[[G1:.*]] = vector.load %[[LANES]]
// CHECK:     %[[Y0:.*]] = vector.load %[[IN]][%{{.*}}, %[[J]], %{{.*}}]
// CHECK:     %[[S0:.*]] = math.fma %{{.*}}, %[[Y0]], %[[G0]]
// CHECK:     %[[Y1:.*]] = vector.load %[[IN]][%{{.*}}, %[[J1]], %{{.*}}]
// CHECK:     %[[S1:.*]] = math.fma %{{.*}}, %[[Y1]], %[[G1]]
// CHECK: scf.for %{{.*}} step %[[C2]]
// CHECK:   scf.for {{.*}} iter_args({{.*}}) -> (vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>)
func.func @affine_vjp(%in: memref<3x5x8xf32>, %p: memref<?xf32>, %outbar: memref<3x3x8xf32>, %lanes: memref<18x8xf32>, %inbar: memref<3x5x8xf32>) {
  ntp.affine_vjp %in, %p[0], %outbar into %lanes input_cotangent %inbar live_orders 3 : memref<3x5x8xf32>, memref<?xf32>, memref<3x3x8xf32>, memref<18x8xf32>, memref<3x5x8xf32>
  return
}
