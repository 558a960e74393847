// RUN: ntp-opt %s -ntp-decompose-mlp -ntp-generate-backward | FileCheck %s

// The reverse mode of a gated network (a DAG): the last gate's VJP writes
// U's and V's cotangents, every earlier gate adds to them (accumulate); X
// feeds three affine layers, so the first of their VJPs reversed writes its
// cotangent and the other two add theirs (ntp.add_jets). Four cotangent
// buffers (artifact::jetStackElementsPerTile's bound for a gated network).
// 49 parameters: W_u, b_u, W_v, b_v at 0 and 8, W_1 at 16, W_2 at 24, W_3
// at 44. Saved jets: 42 widths x 3 orders x 8 lanes. Each activation's VJP
// is given the activation's saved output (tanh reads tanh(y_0) there).

// CHECK-LABEL: func.func @net_forward_tiles
// CHECK-SAME: ntp.workspace_per_tile = 1008

// The reverse of one tile (a function of its own, called by both
// backwards): the cotangent buffers on its stack, the lane-wise gradient
// accumulators an argument.
// CHECK-LABEL: func.func private @__ntp_net_tile_reverse
// CHECK-SAME: %[[LANES:arg4]]: memref<49x8xf64>
// CHECK-SAME: attributes {passthrough = ["noinline"]}
// CHECK-COUNT-4: memref.alloca() : memref<3x4x8xf64>
// CHECK-NOT: memref.alloca
// CHECK:     ntp.load_cotangent
// CHECK:     ntp.affine_vjp %{{.*}}[44], %{{.*}} into %[[LANES]] input_cotangent %[[H2BAR:.*]] live_orders 3
// CHECK:     ntp.gate_jets_vjp %[[U:.*]], %[[V:.*]], %[[Z2:[^ ,]+]], %[[H2BAR]] into %[[UBAR:.*]], %[[VBAR:.*]], %[[Z2BAR:.*]] live_orders 3 :
// CHECK:     ntp.activate_vjp "tanh" %{{.*}}, %[[Z2BAR]] into %[[Y2BAR:[^ ]+]] live_orders 3 output %[[Z2]]
// CHECK:     ntp.affine_vjp %{{.*}}, %{{.*}}[24], %[[Y2BAR]] into %[[LANES]] input_cotangent %[[H1BAR:.*]] live_orders 3
// CHECK:     ntp.gate_jets_vjp %[[U]], %[[V]], %{{.*}}, %[[H1BAR]] into %[[UBAR]], %[[VBAR]], %[[Z1BAR:.*]] live_orders 3 accumulate
// CHECK:     ntp.activate_vjp "tanh" %{{.*}}, %[[Z1BAR]] into %[[Y1BAR:.*]] live_orders 2
// CHECK:     ntp.affine_vjp %[[X:.*]], %{{.*}}[16], %[[Y1BAR]] into %[[LANES]] input_cotangent %[[XBAR:.*]] live_orders 2
// CHECK:     ntp.activate_vjp "tanh" %{{.*}}, %[[VBAR]] into %[[YVBAR:.*]] live_orders 2
// CHECK:     ntp.affine_vjp %[[X]], %{{.*}}[8], %[[YVBAR]] into %[[LANES]] input_cotangent %[[XV:.*]] live_orders 2
// CHECK:     ntp.add_jets %[[XSUM:.*]], %[[XV2:.*]] into %[[XSUM]] live_orders 2
// CHECK:     ntp.activate_vjp "tanh" %{{.*}}, %[[UBAR]] into %[[YUBAR:.*]] live_orders 2
// CHECK:     ntp.affine_vjp %[[X]], %{{.*}}[0], %[[YUBAR]] into %[[LANES]] input_cotangent %{{.*}} live_orders 2
// CHECK:     ntp.add_jets %[[XSUM2:.*]], %{{.*}} into %[[XSUM2]] live_orders 2
// CHECK:     ntp.seed_vjp
// CHECK-NEXT: return

// The backward from saved jets: per tile, the reverse on the tile's
// workspace slices, then the lanes reduced into the gradient.
// CHECK-LABEL: func.func @net_backward_saved_tiles
// CHECK:     %[[SUMS:.*]] = memref.alloc() {alignment = 64 : i64} : memref<49x8xf64>
// CHECK:     func.call @__ntp_net_tile_reverse(%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %[[SUMS]],
// CHECK:   ntp.reduce_lanes %[[SUMS]]

// The forward of one tile, the DAG's two gates included.
// CHECK-LABEL: func.func private @__ntp_net_tile_forward
// CHECK:     ntp.gate_jets
// CHECK:     ntp.gate_jets
// CHECK:     return

// The recomputing backward: the forward's DAG into one stack buffer laid
// out like a tile's workspace slice (1008 elements; the cotangents' buffers
// are the reverse's), then the same reverse.
// CHECK-LABEL: func.func @net_backward_tiles
// CHECK:     memref.alloca() : memref<1008xf64>
// CHECK-NOT: memref.alloca
// CHECK:     func.call @__ntp_net_tile_forward
// CHECK:     func.call @__ntp_net_tile_reverse
ntp.mlp @net layers [1, 4, 4, 1] activation "tanh" gated order 2 : f64
