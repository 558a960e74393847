// RUN: ntp-opt %s -ntp-decompose-mlp -ntp-generate-backward | FileCheck %s

// The reverse of typed layers: ntp.scale_vjp for a slope (its gradient
// into the lane-wise accumulators at the slope's offset), and for a
// residual layer the cotangent kept (in a third buffer) from the sum until
// the chain reaches the layer's input, where ntp.add_jets joins them.
// 38 parameters: W1, b1, 4 slopes, W2, b2, 1 slope, W3, b3.

// CHECK-LABEL: func.func @net_forward_tiles
// CHECK-SAME: ntp.workspace_per_tile = 720

// The reverse of one tile, with three cotangent buffers (the third keeps
// the residual's), the lane-wise accumulators an argument.
// CHECK-LABEL: func.func private @__ntp_net_tile_reverse
// CHECK-SAME: %[[LANES:arg4]]: memref<38x8xf64>
// CHECK-COUNT-3: memref.alloca() : memref<3x4x8xf64>
// CHECK-NOT: memref.alloca
// CHECK:     ntp.load_cotangent %{{.*}} into %[[TOP:.*]], %{{.*}}, %{{.*}}
// CHECK:     ntp.affine_vjp %{{.*}}, %{{.*}}[33], %[[TOP]] into %[[LANES]] input_cotangent %[[HBAR:.*]] live_orders 3
// CHECK-NOT: ntp.add_jets
// CHECK:     ntp.activate_vjp "tanh" %{{.*}}, %[[HBAR]] into %[[SBAR:.*]] live_orders 3
// CHECK:     ntp.scale_vjp %{{.*}}, %{{.*}}[32], %[[SBAR]] into %[[LANES]] input_cotangent %[[YBAR:.*]] live_orders 3 :
// CHECK:     ntp.affine_vjp %{{.*}}, %{{.*}}[12], %[[YBAR]] into %[[LANES]] input_cotangent %[[H1BAR:.*]] live_orders 3
// CHECK:     ntp.add_jets %[[H1BAR]], %[[HBAR]] into %[[H1BAR]] live_orders 3
// CHECK:     ntp.activate_vjp "tanh" %{{.*}}, %[[H1BAR]] into %[[S1BAR:.*]] live_orders 2
// CHECK:     ntp.scale_vjp %{{.*}}, %{{.*}}[8], %[[S1BAR]] into %[[LANES]] input_cotangent %{{.*}} live_orders 2 per_neuron
// CHECK:     ntp.affine_vjp %{{.*}}, %{{.*}}[0]
// CHECK:     ntp.seed_vjp
// CHECK-NEXT: return

// CHECK-LABEL: func.func @net_backward_saved_tiles
// CHECK:     %[[SUMS:.*]] = memref.alloc() {alignment = 64 : i64} : memref<38x8xf64>
// CHECK:     func.call @__ntp_net_tile_reverse(%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %[[SUMS]],
// CHECK:   ntp.reduce_lanes %[[SUMS]]
ntp.mlp @net layers [1, 4, 4, 1] activation "tanh" slopes ["neuron", "layer"] residual [false, true] order 2 : f64
