// RUN: ntp-opt %s -ntp-jet-loops-pipeline="tile-size=1 outline=false per-sample-grads=true" -ntp-gpu-kernel | FileCheck %s

// The reverse mode on the GPU (mapping=sample): forward-save and
// backward-saved become kernels of the forward's shape; backward-saved
// zeroes and fills its sample's gradient column (grad[p * batch + sample]),
// then after a barrier each thread sums parameter p over the block's
// samples in order into row blockIdx of the partials (its 8th argument);
// a third kernel sums the rows into the gradient, a thread per parameter.

ntp.mlp @net layers [1, 3, 1] activation "tanh" order 2 : f32

// CHECK-LABEL: gpu.func @net_forward(
// CHECK-LABEL: gpu.func @net_backward_saved(
// CHECK-SAME: %[[X:[^:]*]]: memref<?xf32>, %{{[^:]*}}: memref<?xf32>, %{{[^:]*}}: memref<?xf32>, %{{[^:]*}}: memref<?xf32>, %[[COLS:[^:]*]]: memref<?xf32>, %[[XG:[^:]*]]: memref<?xf32>, %[[WS:[^:]*]]: memref<?xf32>, %[[PARTIALS:[^:]*]]: memref<?xf32>, %[[BATCH:[^:]*]]: index)
// CHECK-SAME: workgroup(
// CHECK-SAME: known_block_size = array<i32: 128, 1, 1>
// CHECK: %[[COL:.*]] = memref.reinterpret_cast %[[COLS]] to offset: [%{{.*}}], sizes: [10], strides: [%[[BATCH]]]
// CHECK: memref.store %{{.*}}, %[[COL]][
// CHECK: memref.store %{{.*}}, %[[XG]][
// CHECK: gpu.barrier
// CHECK: %[[BID:.*]] = gpu.block_id x
// CHECK: %[[FIRST:.*]] = arith.muli %[[BID]], %c128
// CHECK: %[[LEFT:.*]] = arith.subi %[[BATCH]], %[[FIRST]]
// CHECK: %[[COUNT:.*]] = arith.minsi %[[LEFT]], %c128
// CHECK: scf.for %[[P:.*]] = %{{.*}} to %c10 step %c128
// CHECK: scf.for %{{.*}} = %c0 to %[[COUNT]] step %c1 iter_args(
// CHECK: memref.load %[[COLS]][
// CHECK: memref.store %{{.*}}, %[[PARTIALS]][
// CHECK: gpu.return

// CHECK-LABEL: gpu.func @net_reduce_params_grad(
// CHECK-SAME: %[[IN:[^:]*]]: memref<?xf32>, %[[GRAD:[^:]*]]: memref<?xf32>, %[[ROWS:[^:]*]]: index) kernel
// CHECK: scf.if
// CHECK: scf.for %{{.*}} = %c0 to %[[ROWS]] step %c1 iter_args(
// CHECK: memref.load %[[IN]][
// CHECK: memref.store %{{.*}}, %[[GRAD]][

// CHECK-LABEL: gpu.func @net_forward_save(
// CHECK-SAME: index) workgroup(
// CHECK-NOT: gpu.func @net_backward(
