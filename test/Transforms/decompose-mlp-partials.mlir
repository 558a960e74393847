// RUN: ntp-opt %s -ntp-decompose-mlp="partials-lowering=per-ray" | FileCheck %s

// A partials kernel: one univariate jet per ray of the interpolation (here
// e0 for d^2/dx0^2 and f itself, e1 and (1,1) for the mixed partial), each
// up to its own order through the same per-layer ops, the top layer's jets
// stacked in one buffer, combined with the exact weights and stored as
// out [P, batch, q]. d^2/dx0 dx1 = 1/2 D_(1,1) - 1/2 D_e0 - 1/2 D_e1
// (D_r = d^2/dt^2 f(x + t r)), f = D^0 along the first ray.

// CHECK: module attributes {ntp.kernel = #ntp.kernel<"mixed", layers = [2, 4, 1], activation = "tanh", order = 2, element_type = f64, tile = 8, backward = false, entry_points = [@mixed_forward_tiles], partials = [2, 0, 1, 1, 0, 0], partials_lowering = "per-ray; 264 flops + 12 primitives per sample", partials_reverse_lowering = "per-ray; 264 flops + 12 primitives per sample">{{.*}}}
// CHECK-LABEL: func.func @mixed_forward_tiles
// CHECK-SAME: attributes {ntp.kernel, ntp.partials}
// CHECK-DAG: %[[RAYS:.*]] = memref.alloca() : memref<9x1x8xf64>
// CHECK-DAG: %[[OUTJ:.*]] = memref.alloca() : memref<3x1x8xf64>
// CHECK: scf.for
// CHECK: ntp.seed
// CHECK: ntp.affine {{.*}} live_orders 2
// CHECK: ntp.activate "tanh" {{.*}} live_orders 2
// CHECK: %[[TOP0:.*]] = memref.subview %[[RAYS]][0, 0, 0] [3, 1, 8]
// CHECK: ntp.affine {{.*}} into %[[TOP0]] live_orders 3
// CHECK: ntp.seed
// CHECK: memref.subview %[[RAYS]][3, 0, 0] [3, 1, 8]
// CHECK: ntp.seed
// CHECK: memref.subview %[[RAYS]][6, 0, 0] [3, 1, 8]
// CHECK: ntp.combine_partials %[[RAYS]] into %[[OUTJ]] weights [0.000000e+00, 0.000000e+00, 1.000000e+00, 0.000000e+00, 0.000000e+00, 0.000000e+00, 0.000000e+00, 0.000000e+00, 0.000000e+00, 0.000000e+00, 0.000000e+00, -5.000000e-01, 0.000000e+00, 0.000000e+00, -5.000000e-01, 0.000000e+00, 0.000000e+00, 5.000000e-01, 1.000000e+00, 0.000000e+00, 0.000000e+00, 0.000000e+00, 0.000000e+00, 0.000000e+00, 0.000000e+00, 0.000000e+00, 0.000000e+00]
// CHECK: ntp.store_jet %[[OUTJ]] into %{{.*}}, %{{.*}}, %{{.*}} live_orders 3
ntp.mlp @mixed layers [2, 4, 1] activation "tanh" order 2 partials [[2, 0], [1, 1], [0, 0]] : f64
