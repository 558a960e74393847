// RUN: ntp-opt %s -split-input-file -ntp-decompose-mlp | FileCheck %s

// The multivariate Taylor lowering (ntp/Support/Multivariate.h). All 35
// partials of total order <= 4 of a 3-64-64-64-1 tanh network: auto picks
// it (35 rows per neuron against the 61 of 15 rays of order 4). The seed
// and the affine layers are the ray ops on 34 rays of order 1 (every row
// live), the activations ntp.activate_poly over the 35 monomials, the top
// rows combined with beta! (request 0, f: weight 1 on row 0).

// CHECK: partials_lowering = "multivariate: 35 monomials of degree <= 4;
// The reverse mode follows the forward (ntp.activate_poly_vjp,
// RaysBackward.cpp): no rays beside it.
// CHECK-SAME: partials_reverse_lowering = "multivariate: 35 monomials of degree <= 4;
// CHECK-LABEL: func.func @all_forward_tiles
// CHECK-NOT: ntp.partials_reverse_rays
// CHECK: ntp.seed_rays {{.*}} ray_counts [34] ray_orders [1] collapse_weights [0.000000e+00] collapsed_order 0 : memref<?xf64>, memref<?xf64>, memref<35x3x8xf64
// CHECK: ntp.affine_rays {{.*}}[0] into {{.*}} live_orders 2 ray_counts [34] ray_orders [1]
// CHECK: ntp.activate_poly "tanh" {{.*}} monomials [0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 2, 0, 0, {{.*}}] variables 3 : memref<35x64x8xf64
// CHECK: ntp.affine_rays
// CHECK: ntp.activate_poly "tanh"
// CHECK: ntp.affine_rays
// CHECK: ntp.activate_poly "tanh"
// CHECK: ntp.affine_rays {{.*}} : memref<35x64x8xf64, {{.*}}>, memref<?xf64>, memref<35x1x8xf64>
// CHECK-NOT: ntp.activate_poly
// CHECK: ntp.combine_partials %{{.*}} into %{{.*}} weights [1.000000e+00, 0.000000e+00
// CHECK: ntp.store_jet
ntp.mlp @all layers [3, 64, 64, 64, 1] activation "tanh" order 4
    partials [[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1], [2, 0, 0], [1, 1, 0], [1, 0, 1], [0, 2, 0], [0, 1, 1], [0, 0, 2], [3, 0, 0], [2, 1, 0], [2, 0, 1], [1, 2, 0], [1, 1, 1], [1, 0, 2], [0, 3, 0], [0, 2, 1], [0, 1, 2], [0, 0, 3], [4, 0, 0], [3, 1, 0], [3, 0, 1], [2, 2, 0], [2, 1, 1], [2, 0, 2], [1, 3, 0], [1, 2, 1], [1, 1, 2], [1, 0, 3], [0, 4, 0], [0, 3, 1], [0, 2, 2], [0, 1, 3], [0, 0, 4]] : f64

// -----

// Forced on a mixed subset: [1,1,0] needs 4 monomials (0, e0, e1, e0+e1),
// combined with weight 1! 1! = 1 on the last; f32.

// CHECK-LABEL: func.func @mixed_forward_tiles
// CHECK: ntp.seed_rays {{.*}} ray_counts [3] ray_orders [1]
// CHECK: ntp.activate_poly "sin" {{.*}} monomials [0, 0, 0, 1, 0, 0, 0, 1, 0, 1, 1, 0] variables 3
// CHECK: ntp.combine_partials %{{.*}} into %{{.*}} weights [0.000000e+00, 0.000000e+00, 0.000000e+00, 1.000000e+00]
ntp.mlp @mixed layers [3, 8, 1] activation "sin" order 2
    partials [[1, 1, 0]] : f32 {ntp.partials_lowering = "multivariate"}

// -----

// The Laplacian of a Fourier network: monomials 0, e0, e1, 2e0, 2e1; sin
// of the projected polynomial through ntp.activate_poly too; weights 2 on
// 2e0 and 2e1.

// CHECK-LABEL: func.func @fourier_forward_tiles
// CHECK: ntp.seed_rays {{.*}} ray_counts [4] ray_orders [1]
// CHECK: ntp.fourier_project
// CHECK: ntp.activate_poly "sin" {{.*}} monomials [0, 0, 1, 0, 0, 1, 2, 0, 0, 2] variables 2
// CHECK: ntp.affine_rays
// CHECK: ntp.activate_poly "tanh"
// CHECK: ntp.combine_partials %{{.*}} into %{{.*}} weights [0.000000e+00, 0.000000e+00, 0.000000e+00, 2.000000e+00, 2.000000e+00]
ntp.mlp @fourier layers [2, 8, 1] activation "tanh" fourier 3 order 2
    operators [#ntp.laplacian] : f64 {ntp.partials_lowering = "multivariate"}

// -----

// The modified MLP: U and V from X (an affine layer and ntp.activate_poly
// each, into their own buffers), then every hidden layer's activation
// followed by ntp.gate_poly U + Z (V - U) over the monomials 0, e0, e1,
// e0+e1 of [1, 1].

// CHECK-LABEL: func.func @gated_forward_tiles
// CHECK: ntp.seed_rays {{.*}} ray_counts [3] ray_orders [1]
// CHECK: ntp.affine_rays {{.*}}[0] into
// CHECK: ntp.activate_poly "tanh" {{.*}} into %[[U:[^ ]*]] monomials
// CHECK: ntp.affine_rays {{.*}}[12] into
// CHECK: ntp.activate_poly "tanh" {{.*}} into %[[V:[^ ]*]] monomials
// CHECK: ntp.affine_rays {{.*}}[24] into
// CHECK: ntp.activate_poly "tanh" {{.*}} into %[[Z1:[^ ]*]] monomials
// CHECK: ntp.gate_poly %[[U]], %[[V]], %[[Z1]] into %{{.*}} monomials [0, 0, 1, 0, 0, 1, 1, 1] variables 2
// CHECK: ntp.affine_rays {{.*}}[36] into
// CHECK: ntp.activate_poly "tanh" {{.*}} into %[[Z2:[^ ]*]] monomials
// CHECK: ntp.gate_poly %[[U]], %[[V]], %[[Z2]] into
// CHECK: ntp.affine_rays {{.*}}[56] into
// CHECK-NOT: ntp.gate_poly
// CHECK: ntp.combine_partials
ntp.mlp @gated layers [2, 4, 4, 1] activation "tanh" gated order 2
    partials [[1, 1]] : f64 {ntp.partials_lowering = "multivariate"}

// -----

// Wider layers: the multivariate forward's own reverse (35 rows per
// neuron) fits the stack bound (kMaxTileStackBytes) where a block of 82
// multi-direction rows would not; it follows the forward, no rays beside.
// CHECK: partials_lowering = "multivariate: 35 monomials of degree <= 4;
// CHECK-SAME: partials_reverse_lowering = "multivariate: 35 monomials of degree <= 4;
// CHECK-LABEL: func.func @wide_forward_tiles
// CHECK-NOT: ntp.partials_reverse_rays
// CHECK: ntp.activate_poly "tanh"
// CHECK-NOT: reverse_rays_tiles
ntp.mlp @wide layers [3, 256, 256, 1] activation "tanh" order 4
    partials [[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1], [2, 0, 0], [1, 1, 0], [1, 0, 1], [0, 2, 0], [0, 1, 1], [0, 0, 2], [3, 0, 0], [2, 1, 0], [2, 0, 1], [1, 2, 0], [1, 1, 1], [1, 0, 2], [0, 3, 0], [0, 2, 1], [0, 1, 2], [0, 0, 3], [4, 0, 0], [3, 1, 0], [3, 0, 1], [2, 2, 0], [2, 1, 1], [2, 0, 2], [1, 3, 0], [1, 2, 1], [1, 1, 2], [1, 0, 3], [0, 4, 0], [0, 3, 1], [0, 2, 2], [0, 1, 3], [0, 0, 4]] : f64
