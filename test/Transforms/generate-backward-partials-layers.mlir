// RUN: ntp-opt %s -ntp-decompose-mlp -ntp-generate-backward | FileCheck %s

// The reverse mode of a partials kernel with typed layers (issue 14 item
// 2): each ray runs the jet chain's rules in reverse, the typed layers'
// among them (TypedLayerBackward.cpp): the per-layer and per-neuron slopes'
// ntp.scale_vjp, the residual skip's cotangent joined by ntp.add_jets once
// the chain reaches the jet it read, the sines' and the Fourier projection's
// VJP (B's gradient) into the ray's seed cotangent. The workspace holds each
// ray's typed jets: 2 coefficients x (2 + 6 + 6 + 3 * 4 + 4 * 4 + 1) widths
// x 8 samples = 688. Per-ray forced: u_x alone is cheaper multi-direction
// (its top layer computes e_x's order 1 alone).

// CHECK: #ntp.kernel<"pl", {{.*}}backward = true, workspace_per_tile = 688,{{.*}}slopes = "neuron,layer", residual = "0,1", fourier = 3, partials_lowering = "per-ray; {{.*}}", partials_reverse_lowering = "per-ray; {{.*}}">
// The ray's reverse, in its tile function.
// CHECK-LABEL: func.func private @__ntp_pl_group0_tile_reverse
// CHECK: ntp.affine_vjp %{{.*}}, %{{.*}}[59], %{{.*}} into %{{.*}} input_cotangent %[[TOP:[a-z0-9_]+]] live_orders 2
// CHECK: ntp.activate_vjp "tanh"
// CHECK: ntp.scale_vjp %{{.*}}, %{{.*}}[58], %{{.*}} into %{{.*}} input_cotangent %{{.*}} live_orders 2 :
// CHECK: ntp.affine_vjp %{{.*}}, %{{.*}}[38], %{{.*}} into %{{.*}} input_cotangent %[[CHAIN:[a-z0-9_]+]] live_orders 2
// CHECK: ntp.add_jets %[[CHAIN]], %[[TOP]] into %[[CHAIN]] live_orders 2
// CHECK: ntp.activate_vjp "tanh"
// CHECK: ntp.scale_vjp %{{.*}}, %{{.*}}[34], {{.*}} live_orders 2 per_neuron
// CHECK: ntp.affine_vjp %{{.*}}, %{{.*}}[6],
// CHECK: ntp.activate_vjp "sin"
// CHECK: ntp.fourier_project_vjp %{{.*}}, %{{.*}}[0],
// CHECK: return
// CHECK-LABEL: func.func @pl_backward_saved_tiles
// CHECK: ntp.load_cotangent
// CHECK: ntp.combine_partials
// CHECK: func.call @__ntp_pl_group0_tile_reverse
// CHECK: ntp.seed_vjp
// The ray's forward below its top, in its tile function.
// CHECK-LABEL: func.func private @__ntp_pl_group0_tile_forward
// CHECK: ntp.seed
// CHECK: ntp.fourier_project
// CHECK: ntp.scale
// CHECK: ntp.add_jets
// CHECK: return
// CHECK-LABEL: func.func @pl_forward_save_tiles
// CHECK: func.call @__ntp_pl_group0_tile_forward
// CHECK: ntp.affine
// CHECK: ntp.store_jet
ntp.mlp @pl layers [2, 4, 4, 1] activation "tanh" fourier 3 slopes ["neuron", "layer"] residual [false, true] order 1
    partials [[1, 0]] : f64 {ntp.partials_lowering = "per-ray"}
