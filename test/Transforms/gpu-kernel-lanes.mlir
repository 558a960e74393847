// RUN: ntp-opt %s -ntp-jet-loops-pipeline="tile-size=1 backward=false outline=false" -ntp-gpu-kernel="mapping=lanes samples-per-block=2" | FileCheck %s

// ntp-gpu-kernel, mapping=lanes: a warp per sample (thread t: lane t % 32 of
// sample slot t / 32), 2 samples per 64-thread block. The jet buffers become
// workgroup buffers with one slice per slot; each neuron loop runs neuron j
// on lane j % 32 (lower bound = the lane, step 32) for live samples; the
// seed and the output store run on lane 0 of live samples; a barrier
// follows every writing step, outside any condition.

// CHECK: gpu.func @net_forward(%[[X:.*]]: memref<?xf64>, %[[V:.*]]: memref<?xf64>, %[[P:.*]]: memref<?xf64>, %[[OUT:.*]]: memref<?xf64>, %[[BATCH:.*]]: index)
// CHECK-SAME: workgroup(%[[W:.*]] : memref<17xf64, #gpu.address_space<workgroup>>, %[[JA:.*]] : memref<2x3x3x1xf64, #gpu.address_space<workgroup>>, %[[JB:.*]] : memref<2x3x3x1xf64, #gpu.address_space<workgroup>>)
// CHECK-SAME: known_block_size = array<i32: 64, 1, 1>
// CHECK: %[[TID:.*]] = gpu.thread_id x
// CHECK: %[[BID:.*]] = gpu.block_id x
// CHECK: %[[LANE:.*]] = arith.remui %[[TID]], %[[C32:.*]] : index
// CHECK: %[[SLOT:.*]] = arith.divui %[[TID]], %[[C32]] : index
// CHECK: %[[FIRST:.*]] = arith.muli %[[BID]], %{{.*}} : index
// CHECK: %[[SAMPLE:.*]] = arith.addi %[[FIRST]], %[[SLOT]] : index
// CHECK: %[[LIVE:.*]] = arith.cmpi slt, %[[SAMPLE]], %[[BATCH]] : index
// CHECK: %[[CLAMPED:.*]] = arith.minui %[[SAMPLE]]
// CHECK: %[[LANE0:.*]] = arith.cmpi eq, %[[LANE]]
// CHECK: %[[WRITER:.*]] = arith.andi %[[LIVE]], %[[LANE0]] : i1
// CHECK: scf.for %[[I:.*]] = %[[TID]] to %{{.*}} step %{{.*}} {
// CHECK:   memref.store %{{.*}}, %[[W]][%[[I]]]
// CHECK: memref.subview %[[JA]][%[[SLOT]], 0, 0, 0] [1, 3, 3, 1] [1, 1, 1, 1]
// CHECK: memref.subview %[[JB]][%[[SLOT]], 0, 0, 0] [1, 3, 3, 1] [1, 1, 1, 1]
// CHECK-NEXT: gpu.barrier
// The seed: lane 0.
// CHECK: scf.if %[[WRITER]] {
// CHECK: memref.load %[[X]]
// CHECK: gpu.barrier
// The first affine layer: one neuron per lane.
// CHECK: scf.if %[[LIVE]] {
// CHECK-NEXT: scf.for %{{.*}} = %[[LANE]] to %{{.*}} step %[[C32]]
// CHECK: } {ntp.neuron_loop}
// CHECK-NEXT: }
// CHECK-NEXT: gpu.barrier
// The output: lane 0 of a live sample writes it.
// CHECK: scf.if %[[WRITER]] {
// CHECK: memref.store %{{.*}}, %[[OUT]]
// CHECK: gpu.barrier
// CHECK-NEXT: gpu.return
ntp.mlp @net layers [2, 3, 2] activation "sin" order 2 : f64
