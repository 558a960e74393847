// RUN: ntp-opt %s -ntp-jet-loops-pipeline="tile-size=1 outline=false backward=true per-sample-grads=true" -ntp-gpu-kernel="mapping=lanes samples-per-block=2" | FileCheck %s

// A partials kernel (d^2/dx0 dx1 and f: rays e0, e1 and (1,1), 3 jet
// coefficients each) in the lanes mapping, with the reverse mode. The rays'
// constant directions stay thread-private (every lane writes its own copy,
// unguarded, no barrier); the jets of two samples are in shared memory
// (ping-pong [3, 40], the stacked ray tops [9, 1], the combined [2, 1]); the
// neuron loops are spread over the lanes, also the top layer's single
// neuron (the per-ray forward, forced: with the reverse mode the count
// would choose multi-direction for the forward). backward_saved keeps each sample's gradient column (161
// parameters) as a jet kernel's; there is no recomputing backward.

ntp.mlp @p layers [2, 40, 1] activation "tanh" order 2 partials [[1, 1], [0, 0]] : f64
    {ntp.partials_lowering = "per-ray"}

// CHECK-LABEL: gpu.func @p_forward(
// CHECK-SAME: workgroup(%{{.*}} : memref<161xf64, #gpu.address_space<workgroup>>, %{{.*}} : memref<2x3x40x1xf64, #gpu.address_space<workgroup>>, %{{.*}} : memref<2x3x40x1xf64, #gpu.address_space<workgroup>>, %{{.*}} : memref<2x9x1x1xf64, #gpu.address_space<workgroup>>, %{{.*}} : memref<2x2x1x1xf64, #gpu.address_space<workgroup>>)
// CHECK-SAME: known_block_size = array<i32: 64, 1, 1>
// CHECK: %[[DIR:.*]] = memref.alloca() : memref<2xf64>
// CHECK: gpu.barrier
// CHECK-NEXT: memref.store %{{.*}}, %[[DIR]][%c0] : memref<2xf64>
// CHECK-NEXT: memref.store %{{.*}}, %[[DIR]][%c1] : memref<2xf64>
// CHECK: scf.for %{{.*}} = %{{.*}} to %c40 step %c32
// CHECK: scf.for %{{.*}} = %{{.*}} to %c1 step %c32
// CHECK: gpu.return

// CHECK-LABEL: gpu.func @p_backward_saved(
// CHECK: memref.reinterpret_cast %{{.*}} sizes: [161], strides: [%{{.*}}]
// CHECK: scf.for %{{.*}} = %{{.*}} to %c161 step %c32
// CHECK: gpu.return
// CHECK-LABEL: gpu.func @p_reduce_params_grad(
// CHECK-LABEL: gpu.func @p_forward_save(
// CHECK-NOT: gpu.func @p_backward(
