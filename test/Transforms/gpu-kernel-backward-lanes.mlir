// RUN: ntp-opt %s -ntp-jet-loops-pipeline="tile-size=1 outline=false per-sample-grads=true" -ntp-gpu-kernel="mapping=lanes samples-per-block=2" | FileCheck %s

// The lanes mapping's backward-saved: the gradient column's zeroing and
// each affine VJP's loops over neurons are spread over the lanes (start
// lane * step, step * 32), under `sample < batch`; the block's two samples
// are reduced after the last barrier.

ntp.mlp @net layers [1, 40, 1] activation "sin" order 1 : f64

// CHECK-LABEL: gpu.func @net_backward_saved(
// CHECK-SAME: known_block_size = array<i32: 64, 1, 1>
// CHECK: %[[LANE:.*]] = arith.remui %{{.*}}, %c32
// CHECK: %[[COL:.*]] = memref.reinterpret_cast %{{.*}} sizes: [121], strides: [%{{.*}}]
// CHECK: scf.if
// CHECK: scf.for %{{.*}} = %{{.*}} to %c121 step %c32
// CHECK-NEXT: memref.store %{{.*}}, %[[COL]][
// CHECK: gpu.barrier
// CHECK: gpu.block_id x
// CHECK: arith.minsi %{{.*}}, %c2
// CHECK: scf.for %{{.*}} = %{{.*}} to %c121 step %c64
// CHECK: gpu.return
// CHECK-LABEL: gpu.func @net_reduce_params_grad(
