// RUN: ntp-opt %s -split-input-file -ntp-decompose-mlp="backward=false" | FileCheck %s

// Typed layers in partials kernels (issue 14 item 2). Per ray, each ray is
// a jet kernel's forward: the Fourier projection of the seed (B at 0, the
// ray's direction through 2 pi B) and its sines, per-neuron slopes after
// W_1 (at 6), b_1, a per-layer slope (at 58), and the residual sum with the
// first hidden layer's output kept in a third buffer. Rays u_x (order 1)
// and u_yy (order 2).

// CHECK: partials_lowering = "per-ray;
// CHECK-LABEL: func.func @per_ray_forward_tiles
// CHECK-COUNT-3: memref.alloca() : memref<3x6x8xf64>
// CHECK: scf.for
// CHECK:   ntp.seed %{{.*}} into %[[X:.*]], %{{.*}}, %{{.*}} : memref<?xf64>, memref<2xf64>, memref<2x2x8xf64
// CHECK:   ntp.fourier_project %[[X]], %{{.*}}[0] into %[[Z:.*]] live_orders 2
// CHECK:   ntp.activate "sin" %[[Z]] into %[[E:.*]] live_orders 2
// CHECK:   ntp.affine %[[E]], %{{.*}}[6] into %[[Y:.*]] live_orders 2
// CHECK:   ntp.scale %[[Y]], %{{.*}}[34] into %[[S:.*]] live_orders 2 per_neuron
// CHECK:   ntp.activate "tanh" %[[S]] into %[[H1:.*]] live_orders 2
// CHECK:   ntp.affine %[[H1]], %{{.*}}[38] into %[[Y2:.*]] live_orders 2
// CHECK:   ntp.scale %[[Y2]], %{{.*}}[58] into %[[S2:.*]] live_orders 2 :
// CHECK:   ntp.activate "tanh" %[[S2]] into %[[F:.*]] live_orders 2
// CHECK:   ntp.add_jets %[[H1]], %[[F]] into %[[F]] live_orders 2
// CHECK:   ntp.affine %[[F]], %{{.*}}[59] into
// The second ray, order 2.
// CHECK:   ntp.seed %{{.*}} : memref<?xf64>, memref<2xf64>, memref<3x2x8xf64
// CHECK:   ntp.add_jets {{.*}} live_orders 3
// CHECK:   ntp.combine_partials
ntp.mlp @per_ray layers [2, 4, 4, 1] activation "tanh" fourier 3 slopes ["neuron", "layer"] residual [false, true] order 2
    partials [[1, 0], [0, 2]] : f64 {ntp.partials_lowering = "per-ray"}

// -----

// Multi-direction: the typed layers are linear maps of every row of the ray
// buffer (row 0, each ray's orders, the collapsed row), so the jet ops run
// on the whole [rows, width, tile] buffer (live_orders = its 4 rows); the
// seed's rows past order 1 are zeros (ntp.seed_rays), and the rays' ops
// keep their live orders.

// CHECK: partials_lowering = "multi-direction:
// CHECK-LABEL: func.func @multi_forward_tiles
// CHECK-COUNT-3: memref.alloca() : memref<4x6x8xf64>
// CHECK: scf.for
// CHECK:   ntp.seed_rays {{.*}} into %[[X:[a-z0-9_]+]],
// CHECK:   ntp.fourier_project %[[X]], %{{.*}}[0] into %[[Z:.*]] live_orders 4
// CHECK:   ntp.activate_rays "sin" %[[Z]] into %[[E:[a-z0-9_]+]] live_orders 2
// CHECK:   ntp.affine_rays %[[E]], %{{.*}}[6] into %[[Y:[a-z0-9_]+]] live_orders 3
// CHECK:   ntp.scale %[[Y]], %{{.*}}[34] into %[[S:.*]] live_orders 4 per_neuron
// CHECK:   ntp.activate_rays "tanh" %[[S]] into %[[H1:[a-z0-9_]+]] live_orders 3
// CHECK:   ntp.affine_rays %[[H1]], %{{.*}}[38] into %[[Y2:[a-z0-9_]+]] live_orders 3
// CHECK:   ntp.scale %[[Y2]], %{{.*}}[58] into %[[S2:.*]] live_orders 4 :
// CHECK:   ntp.activate_rays "tanh" %[[S2]] into %[[F:[a-z0-9_]+]] live_orders 3
// CHECK:   ntp.add_jets %[[H1]], %[[F]] into %[[F]] live_orders 4
// CHECK:   ntp.affine_rays %[[F]], %{{.*}}[59] into
ntp.mlp @multi layers [2, 4, 4, 1] activation "tanh" fourier 3 slopes ["neuron", "layer"] residual [false, true] order 2
    partials [[1, 0], [0, 2]] : f64 {ntp.partials_lowering = "multi-direction"}

// -----

// Without the Fourier embedding, a slope on the first hidden layer makes its
// affine compute every row (live_orders 3, the block's orders 0..2) from
// the seed's zero rows, so that the scale reads no unwritten row.

// CHECK-LABEL: func.func @first_slope_forward_tiles
// CHECK:   ntp.seed_rays
// CHECK:   ntp.affine_rays {{.*}}[0] into %[[Y:[a-z0-9_]+]] live_orders 3
// CHECK:   ntp.scale %[[Y]], %{{.*}}[12] into {{.*}} live_orders 4 :
// CHECK:   ntp.activate_rays "tanh" {{.*}} live_orders 3
ntp.mlp @first_slope layers [2, 4, 1] activation "tanh" slopes "layer" order 2
    partials [[1, 0], [0, 2]] : f64 {ntp.partials_lowering = "multi-direction"}

// -----

// The modified MLP's gates, per ray: U and V (W_u at 0, W_v at 12) from the
// seed, then per hidden layer affine, activate and ntp.gate_jets (the
// multi-direction and collapsed lowerings of gated networks:
// decompose-mlp-partials-gated-rays.mlir).

// CHECK: partials_lowering = "per-ray;
// CHECK-LABEL: func.func @gated_forward_tiles
// CHECK:   ntp.seed
// CHECK:   ntp.affine %{{.*}}, %{{.*}}[0] into
// CHECK:   ntp.activate "tanh" %{{.*}} into %[[U:[a-z0-9_]+]] live_orders 2
// CHECK:   ntp.affine %{{.*}}, %{{.*}}[12] into
// CHECK:   ntp.activate "tanh" %{{.*}} into %[[V:[a-z0-9_]+]] live_orders 2
// CHECK:   ntp.affine %{{.*}}, %{{.*}}[24] into
// CHECK:   ntp.activate "tanh" %{{.*}} into %[[Z:[a-z0-9_]+]] live_orders 2
// CHECK:   ntp.gate_jets %[[U]], %[[V]], %[[Z]] into
ntp.mlp @gated layers [2, 4, 4, 1] activation "tanh" gated order 2
    partials [[1, 0], [0, 2]] : f64 {ntp.partials_lowering = "per-ray"}
