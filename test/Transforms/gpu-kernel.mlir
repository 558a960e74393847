// RUN: ntp-opt %s -ntp-jet-loops-pipeline="tile-size=1 backward=false" -ntp-gpu-kernel="block-size=256" | FileCheck %s
// RUN: not ntp-opt %s -ntp-gpu-kernel="mapping=warps" 2>&1 | FileCheck %s --check-prefix=BAD

// BAD: for the --mapping option: Cannot find option named 'warps'!

// ntp-gpu-kernel: the loop-level forward function becomes a gpu.func kernel
// in which thread (block, t) evaluates sample block * blockDim + t. The
// parameters (2*3+3 + 3*2+2 = 17 values) are copied cooperatively into
// workgroup memory, then every layer and order runs for that sample.

// CHECK: module attributes {gpu.container_module, ntp.kernel = #ntp.kernel<"net", {{.*}}>}
// CHECK-NOT: func.func @net_forward_tiles
// CHECK: gpu.module @ntp_kernels
// CHECK: gpu.func @net_forward(%[[X:.*]]: memref<?xf64>, %[[V:.*]]: memref<?xf64>, %[[P:.*]]: memref<?xf64>, %[[OUT:.*]]: memref<?xf64>, %[[BATCH:.*]]: index)
// CHECK-SAME: workgroup(%[[W:.*]] : memref<17xf64, #gpu.address_space<workgroup>>)
// CHECK-SAME: kernel
// CHECK-SAME: known_block_size = array<i32: 256, 1, 1>
// CHECK: %[[TID:.*]] = gpu.thread_id x
// CHECK: %[[BID:.*]] = gpu.block_id x
// CHECK: %[[BDIM:.*]] = gpu.block_dim x
// CHECK: scf.for %[[I:.*]] = %[[TID]] to %{{.*}} step %[[BDIM]]
// CHECK:   memref.load %[[P]][%[[I]]]
// CHECK:   memref.store %{{.*}}, %[[W]][%[[I]]]
// CHECK: gpu.barrier
// CHECK: memref.alloca() : memref<3x3x1xf64>
// CHECK: arith.cmpi slt, %{{.*}}, %[[BATCH]]
// CHECK: scf.if
// CHECK: memref.load %[[W]]
// CHECK: gpu.return
ntp.mlp @net layers [2, 3, 2] activation "sin" order 2 : f64
