// RUN: ntp-opt %s -ntp-jet-loops-pipeline="tile-size=1 backward=false outline=false" -ntp-gpu-kernel="mapping=lanes samples-per-block=2" -ntp-gpu-emulate | FileCheck %s

// ntp-gpu-emulate: the kernel becomes a host function with the CPU kernels'
// signature that runs blocks tile_begin..tile_end; workgroup buffers become
// stack buffers at its entry; each barrier-separated phase runs for threads
// 0..63 in turn, and the thread id is the loop's induction variable.

// CHECK-NOT: gpu.module
// CHECK-LABEL: func.func @net_forward_tiles(
// CHECK-SAME: %[[X:.*]]: memref<?xf64>, %[[V:.*]]: memref<?xf64>, %[[P:.*]]: memref<?xf64>, %[[OUT:.*]]: memref<?xf64>, %[[BATCH:.*]]: index, %[[BEGIN:.*]]: index, %[[END:.*]]: index)
// CHECK-DAG: memref.alloca() : memref<2x3x3x1xf64>
// CHECK-DAG: memref.alloca() : memref<17xf64>
// CHECK: scf.for %[[BLOCK:.*]] = %[[BEGIN]] to %[[END]]
// The parameters' staging, thread by thread.
// CHECK: scf.for %[[T0:.*]] = %{{.*}} to %[[C64:.*]] step
// CHECK: scf.for %{{.*}} = %[[T0]] to
// The next phase: the lane and slot of each thread.
// CHECK: scf.for %[[T1:.*]] = %{{.*}} to %[[C64]] step
// CHECK: arith.remui %[[T1]]
// CHECK: arith.divui %[[T1]]
// CHECK-NOT: gpu.
ntp.mlp @net layers [2, 3, 2] activation "sin" order 2 : f64
