// RUN: ntp-opt %s -split-input-file -ntp-decompose-mlp="tile-size=2" -ntp-generate-backward | FileCheck %s

// The reverse mode of a collapsed forward (RaysBackward.cpp): the Laplacian
// of a 2 -> 3 -> 1 tanh network, one block of 4 rows (row 0, two rays of
// order 1, the collapsed row). The save runs the blocks of rays into the
// workspace (4 rows x (2 + 3 + 3) widths + the 4 top rows: 72 elements per
// tile, which #ntp.kernel states, not the per-ray layout's 108); the reverse
// is the combine's transpose, ntp.affine_vjp over all 4 rows, ntp.activate_rays_vjp,
// ntp.affine_vjp into the seed's cotangent, whose row 0 is x's gradient.

// CHECK: ntp.kernel = #ntp.kernel<"lap", {{.*}}backward = true, workspace_per_tile = 72,
// CHECK: partials_reverse_lowering = "collapsed: 1 block of rows 4
// CHECK-LABEL: func.func @lap_forward_tiles
// CHECK-SAME: ntp.workspace_per_tile = 72
// CHECK: ntp.activate_rays "tanh"
// The block's reverse, in its tile function (called by backward-saved and
// the recomputing backward).
// CHECK-LABEL: func.func private @__ntp_lap_group0_tile_reverse
// CHECK: ntp.affine_vjp {{.*}}[9], {{.*}} live_orders 4 : memref<4x3x2xf64
// CHECK: ntp.activate_rays_vjp "tanh" {{.*}} live_orders 2 ray_counts [2] ray_orders [1] collapse_weights [1.000000e+00] collapsed_order 2
// Into the seed only row 0's input cotangent (x's gradient) is computed:
// row 0 alone, then the other rows' weight gradients without one.
// CHECK: ntp.affine_vjp {{.*}}[0], {{.*}} input_cotangent {{.*}} live_orders 1 : memref<1x2x2xf64
// CHECK: ntp.affine_vjp %{{[^ ]*}}, %{{[^ ]*}}[0], %{{[^ ]*}} into %{{[^ ]*}} live_orders 3 skip_bias : memref<3x2x2xf64
// CHECK: return
// CHECK-LABEL: func.func @lap_backward_saved_tiles
// CHECK-NOT: ntp.seed_rays
// CHECK: ntp.load_cotangent
// CHECK: ntp.combine_partials {{.*}} weights [0.000000e+00, 0.000000e+00, 0.000000e+00, 1.000000e+00] : memref<1x1x2xf64>, memref<4x1x2xf64>
// CHECK: func.call @__ntp_lap_group0_tile_reverse
// CHECK: ntp.seed_vjp
// CHECK: ntp.reduce_lanes
// The block's forward below its top, in its tile function.
// CHECK-LABEL: func.func private @__ntp_lap_group0_tile_forward
// CHECK: ntp.seed_rays
// CHECK: ntp.affine_rays
// CHECK: ntp.activate_rays "tanh"
// CHECK: return
// CHECK-LABEL: func.func @lap_forward_save_tiles
// CHECK: func.call @__ntp_lap_group0_tile_forward
// CHECK: ntp.affine_rays
// CHECK: ntp.combine_partials
// CHECK: ntp.store_jet
// CHECK-LABEL: func.func @lap_backward_tiles
// CHECK: func.call @__ntp_lap_group0_tile_forward
// CHECK: func.call @__ntp_lap_group0_tile_reverse
// CHECK: ntp.seed_vjp
// CHECK-NOT: reverse_rays
ntp.mlp @lap layers [2, 3, 1] activation "tanh" order 2
    operators [#ntp.laplacian] : f64 {ntp.partials_lowering = "collapsed"}

// -----

// Multi-direction with typed layers (slopes per neuron, a residual layer):
// the typed layers' VJP ops run on every row of the block.
// CHECK: partials_reverse_lowering = "multi-direction:
// CHECK-LABEL: func.func private @__ntp_typed_group0_tile_reverse
// CHECK: ntp.affine_vjp
// CHECK: ntp.activate_rays_vjp "sin"
// CHECK: ntp.scale_vjp {{.*}} per_neuron
// CHECK: ntp.add_jets
// CHECK: ntp.activate_rays_vjp "sin"
// CHECK: ntp.scale_vjp
// CHECK: return
// CHECK-LABEL: func.func @typed_backward_saved_tiles
// CHECK: func.call @__ntp_typed_group0_tile_reverse
// CHECK: ntp.seed_vjp
ntp.mlp @typed layers [2, 4, 4, 1] activation "sin" slopes "neuron"
    residual [false, true] order 2 partials [[1, 1], [2, 0]] : f64
    {ntp.partials_lowering = "multi-direction"}

// -----

// A multivariate forward is reversed from itself: one block on the layout
// of its 5 monomials' rows, the activations' VJP ntp.activate_poly_vjp, the
// affine layers' ntp.affine_vjp over every row (row 0's block with the
// bias), the tile functions calling ntp.activate_poly; no rays beside it.
// CHECK: partials_lowering = "multivariate: 5 monomials of degree <= 2;
// CHECK-SAME: partials_reverse_lowering = "multivariate: 5 monomials of degree <= 2;
// CHECK-LABEL: func.func @mv_forward_tiles
// CHECK-NOT: ntp.partials_reverse_rays
// CHECK: ntp.activate_poly "tanh"
// CHECK: return
// CHECK-LABEL: func.func private @__ntp_mv_group0_tile_reverse
// CHECK: ntp.affine_vjp
// CHECK: ntp.activate_poly_vjp "tanh" {{.*}} monomials [0, 0, 1, 0, 0, 1, 2, 0, 1, 1] variables 2
// CHECK: ntp.affine_vjp
// CHECK: ntp.activate_poly_vjp "tanh"
// CHECK-NOT: ntp.activate_rays_vjp
// CHECK: return
// CHECK-LABEL: func.func @mv_backward_saved_tiles
// CHECK: func.call @__ntp_mv_group0_tile_reverse
// CHECK: ntp.seed_vjp
// CHECK-LABEL: func.func private @__ntp_mv_group0_tile_forward
// CHECK: ntp.seed_rays
// CHECK: ntp.activate_poly "tanh"
// CHECK-NOT: ntp.activate_rays
// CHECK: return
// CHECK-LABEL: func.func @mv_forward_save_tiles
// CHECK: func.call @__ntp_mv_group0_tile_forward
// CHECK-LABEL: func.func @mv_backward_tiles
// CHECK: func.call @__ntp_mv_group0_tile_forward
// CHECK: func.call @__ntp_mv_group0_tile_reverse
// CHECK-NOT: reverse_rays
ntp.mlp @mv layers [2, 4, 4, 1] activation "tanh" order 2
    partials [[1, 1], [2, 0], [0, 0]] : f64 {ntp.partials_lowering = "multivariate"}

// -----

// A gated multivariate forward is reversed from itself too: the gates'
// VJP ntp.gate_poly_vjp (U's and V's cotangents written by the last
// layer's gate, added to by the first's), the activations'
// ntp.activate_poly_vjp (the hidden layers', then U's and V's).
// CHECK: partials_lowering = "multivariate: 5 monomials of degree <= 2;
// CHECK-SAME: partials_reverse_lowering = "multivariate: 5 monomials of degree <= 2;
// CHECK-LABEL: func.func @mvg_forward_tiles
// CHECK-NOT: ntp.partials_reverse_rays
// CHECK: ntp.gate_poly
// CHECK: return
// CHECK-LABEL: func.func private @__ntp_mvg_group0_tile_reverse
// CHECK: ntp.gate_poly_vjp {{.*}} monomials [0, 0, 1, 0, 0, 1, 2, 0, 1, 1] variables 2 :
// CHECK: ntp.activate_poly_vjp "tanh"
// CHECK: ntp.gate_poly_vjp {{.*}} variables 2 accumulate :
// CHECK-COUNT-3: ntp.activate_poly_vjp "tanh"
// CHECK-NOT: ntp.gate_rays_vjp
// CHECK: return
// CHECK-LABEL: func.func private @__ntp_mvg_group0_tile_forward
// CHECK: ntp.gate_poly
// CHECK-NOT: ntp.gate_rays
// CHECK: return
// CHECK-NOT: reverse_rays
ntp.mlp @mvg layers [2, 4, 4, 1] activation "tanh" gated order 2
    partials [[1, 1], [2, 0], [0, 0]] : f64 {ntp.partials_lowering = "multivariate"}
