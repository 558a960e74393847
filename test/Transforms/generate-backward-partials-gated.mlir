// RUN: ntp-opt %s -ntp-decompose-mlp -ntp-generate-backward | FileCheck %s

// The reverse mode of a gated partials kernel (the modified MLP, issue 14
// item 2): each ray is a DAG (X feeds U, V and the first hidden layer; U
// and V every gate), reversed as GatedBackward.cpp reverses a gated jet
// kernel: the last gate reversed writes U's and V's cotangents, the earlier
// one adds to them (`accumulate`), and X's cotangent (the ray's seed) is
// the first hidden layer's VJP plus V's and U's, joined by ntp.add_jets.
// Workspace: 2 coefficients x (2 + 4 * 4 + 3 * 4 * 2 + 1) x 8 = 688.
// Per-ray forced (multi-direction is cheaper here: U, V and the first layer
// map the seed's row 0 alone per tile).

// CHECK: #ntp.kernel<"g", {{.*}}backward = true, workspace_per_tile = 688,{{.*}}gated = 1, partials_lowering = "per-ray; {{.*}}", partials_reverse_lowering = "per-ray; {{.*}}">
// The ray's reverse, in its tile function.
// CHECK-LABEL: func.func private @__ntp_g_group0_tile_reverse
// CHECK: ntp.affine_vjp %{{.*}}, %{{.*}}[56],
// CHECK: ntp.gate_jets_vjp %[[U:[a-z0-9_]+]], %[[V:[a-z0-9_]+]], %{{.*}}, %{{.*}} into %[[UB:[a-z0-9_]+]], %[[VB:[a-z0-9_]+]], %{{.*}} live_orders 2 :
// CHECK: ntp.activate_vjp "tanh"
// CHECK: ntp.affine_vjp %{{.*}}, %{{.*}}[36],
// CHECK: ntp.gate_jets_vjp %[[U]], %[[V]], %{{.*}}, %{{.*}} into %[[UB]], %[[VB]], %{{.*}} live_orders 2 accumulate
// CHECK: ntp.activate_vjp "tanh"
// CHECK: ntp.affine_vjp %{{.*}}, %{{.*}}[24], %{{.*}} into %{{.*}} input_cotangent %[[XB:[a-z0-9_]+]] live_orders 2
// CHECK: ntp.activate_vjp "tanh" %{{.*}}, %[[VB]] into
// CHECK: ntp.affine_vjp %{{.*}}, %{{.*}}[12],
// CHECK: ntp.add_jets %[[XB]], %{{.*}} into %[[XB]] live_orders 2
// CHECK: ntp.activate_vjp "tanh" %{{.*}}, %[[UB]] into
// CHECK: ntp.affine_vjp %{{.*}}, %{{.*}}[0],
// CHECK: ntp.add_jets %[[XB]], %{{.*}} into %[[XB]] live_orders 2
// CHECK: return
// CHECK-LABEL: func.func @g_backward_saved_tiles
// CHECK: func.call @__ntp_g_group0_tile_reverse
// CHECK: ntp.seed_vjp
ntp.mlp @g layers [2, 4, 4, 1] activation "tanh" gated order 1 partials [[1, 0]] : f64
    {ntp.partials_lowering = "per-ray"}
