// RUN: ntp-opt %s -ntp-decompose-mlp | FileCheck %s

// The first affine layer and activation read only orders 0 and 1 of the
// seed (live_orders 2); after the first activation every order is live.

// CHECK-LABEL: func.func @pinn_forward_tiles
// CHECK-SAME: (%[[X:.*]]: memref<?xf32>, %[[V:.*]]: memref<?xf32>, %[[P:.*]]: memref<?xf32>, %[[OUT:.*]]: memref<?xf32>, %[[BATCH:.*]]: index, %[[BEGIN:.*]]: index, %[[END:.*]]: index)
// CHECK-DAG: %[[A:.*]] = memref.alloca() : memref<10x24x16xf32>
// CHECK-DAG: %[[B:.*]] = memref.alloca() : memref<10x24x16xf32>
// CHECK: scf.for %[[TILE:.*]] = %[[BEGIN]] to %[[END]]
// CHECK:   %[[IN:.*]] = memref.subview %[[A]][0, 0, 0] [10, 1, 16] [1, 1, 1]
// CHECK:   ntp.seed %[[X]], %[[V]] into %[[IN]], %[[BATCH]], %[[TILE]]
// CHECK:   ntp.affine %[[IN]], %[[P]][0] into %[[B]] live_orders 2
// CHECK:   ntp.activate "tanh" %[[B]] into %[[A]] live_orders 2
// CHECK:   ntp.affine %[[A]], %[[P]][48] into %[[B]] live_orders 10
// CHECK:   ntp.activate "tanh" %[[B]] into %[[A]] live_orders 10
// CHECK:   ntp.affine %[[A]], %[[P]][648] into %[[B]] live_orders 10
// CHECK:   ntp.activate "tanh" %[[B]] into %[[A]] live_orders 10
// CHECK:   %[[LAST:.*]] = memref.subview %[[B]][0, 0, 0] [10, 1, 16] [1, 1, 1]
// CHECK:   ntp.affine %[[A]], %[[P]][1248] into %[[LAST]] live_orders 10
// CHECK:   ntp.store_jet %[[LAST]] into %[[OUT]], %[[BATCH]], %[[TILE]] live_orders 10
// CHECK-NOT: ntp.mlp
ntp.mlp @pinn layers [1, 24, 24, 24, 1] activation "tanh" order 9 : f32

// A network without activations: derivatives beyond order 1 vanish, and the
// store writes them as zeros (live_orders 2 of 4).
// CHECK-LABEL: func.func @linear_forward_tiles
// CHECK: memref.alloca() : memref<4x3x8xf64>
// CHECK: ntp.affine %{{.*}}, %{{.*}}[0] into %{{.*}} live_orders 2
// CHECK-NOT: ntp.activate
// CHECK: ntp.store_jet %{{.*}} into %{{.*}} live_orders 2
ntp.mlp @linear layers [3, 2] activation "tanh" order 3 : f64
