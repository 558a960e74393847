// RUN: ntp-opt %s -split-input-file -verify-diagnostics

// The ray layout's rules (ntp.seed_rays, ntp.affine_rays, ntp.activate_rays),
// one message each.

func.func @rows(%a: memref<5x4x8xf64>, %b: memref<5x4x8xf64>) {
  // expected-error @below {{the ray layout has 6 rows but a jet buffer has 5}}
  ntp.activate_rays "tanh" %a into %b live_orders 2 ray_counts [2, 1]
      ray_orders [1, 2] collapse_weights [1.0, 0.0] collapsed_order 2
      : memref<5x4x8xf64>, memref<5x4x8xf64>
  return
}

// -----

func.func @sizes(%a: memref<3x4x8xf64>, %b: memref<3x4x8xf64>) {
  // expected-error @below {{expects one ray count, order and collapse weight per group, got 1, 2 and 1}}
  ntp.activate_rays "tanh" %a into %b live_orders 2 ray_counts [2]
      ray_orders [1, 2] collapse_weights [0.0] collapsed_order 0
      : memref<3x4x8xf64>, memref<3x4x8xf64>
  return
}

// -----

func.func @empty_group(%a: memref<1x4x8xf64>, %b: memref<1x4x8xf64>) {
  // expected-error @below {{group 0 must have a positive ray count and order, got 0 rays of order 1}}
  ntp.activate_rays "tanh" %a into %b live_orders 2 ray_counts [0]
      ray_orders [1] collapse_weights [0.0] collapsed_order 0
      : memref<1x4x8xf64>, memref<1x4x8xf64>
  return
}

// -----

func.func @weight_without_row(%a: memref<3x4x8xf64>, %b: memref<3x4x8xf64>) {
  // expected-error @below {{group 0 has a collapse weight but there is no collapsed row}}
  ntp.activate_rays "tanh" %a into %b live_orders 2 ray_counts [2]
      ray_orders [1] collapse_weights [1.0] collapsed_order 0
      : memref<3x4x8xf64>, memref<3x4x8xf64>
  return
}

// -----

func.func @short_rays(%a: memref<4x4x8xf64>, %b: memref<4x4x8xf64>) {
  // expected-error @below {{group 0 has a collapse weight but its rays do not reach order collapsed_order - 1}}
  ntp.activate_rays "tanh" %a into %b live_orders 2 ray_counts [2]
      ray_orders [1] collapse_weights [1.0] collapsed_order 4
      : memref<4x4x8xf64>, memref<4x4x8xf64>
  return
}

// -----

func.func @no_weight(%a: memref<4x4x8xf64>, %b: memref<4x4x8xf64>) {
  // expected-error @below {{a collapsed row needs a group with a nonzero collapse weight}}
  ntp.activate_rays "tanh" %a into %b live_orders 2 ray_counts [2]
      ray_orders [1] collapse_weights [0.0] collapsed_order 2
      : memref<4x4x8xf64>, memref<4x4x8xf64>
  return
}

// -----

func.func @unknown(%a: memref<3x4x8xf64>, %b: memref<3x4x8xf64>) {
  // expected-error @below {{unknown activation 'tanhh'}}
  ntp.activate_rays "tanhh" %a into %b live_orders 2 ray_counts [2]
      ray_orders [1] collapse_weights [0.0] collapsed_order 0
      : memref<3x4x8xf64>, memref<3x4x8xf64>
  return
}

// -----

func.func @directions(%x: memref<?xf64>, %d: memref<5xf64>, %jet: memref<3x3x8xf64>,
                      %batch: index, %tile: index) {
  // expected-error @below {{directions has 5 elements but 2 rays of width 3 need 6}}
  ntp.seed_rays %x, %d into %jet, %batch, %tile ray_counts [2] ray_orders [1]
      collapse_weights [0.0] collapsed_order 0
      : memref<?xf64>, memref<5xf64>, memref<3x3x8xf64>
  return
}

// -----

func.func @tiles(%a: memref<3x4x8xf64>, %p: memref<?xf64>, %b: memref<3x4x4xf64>) {
  // expected-error @below {{input and output must have the same tile}}
  ntp.affine_rays %a, %p[0] into %b live_orders 2 ray_counts [2] ray_orders [1]
      collapse_weights [0.0] collapsed_order 0
      : memref<3x4x8xf64>, memref<?xf64>, memref<3x4x4xf64>
  return
}

// -----

func.func @needed_rows_order(%a: memref<3x4x8xf64>, %p: memref<?xf64>, %b: memref<3x4x8xf64>) {
  // expected-error @below {{'ntp.needed_rows' must list ascending rows of its 3-row layout, got array<i64: 2, 0>}}
  ntp.affine_rays %a, %p[0] into %b live_orders 2 ray_counts [2] ray_orders [1]
      collapse_weights [0.0] collapsed_order 0 {ntp.needed_rows = array<i64: 2, 0>}
      : memref<3x4x8xf64>, memref<?xf64>, memref<3x4x8xf64>
  return
}

// -----

func.func @needed_rows_range(%a: memref<3x4x8xf64>, %b: memref<3x4x8xf64>) {
  // expected-error @below {{'ntp.needed_rows' must list ascending rows of its 3-row layout, got array<i64: 3>}}
  ntp.activate_rays "tanh" %a into %b live_orders 2 ray_counts [2]
      ray_orders [1] collapse_weights [0.0] collapsed_order 0
      {ntp.needed_rows = array<i64: 3>}
      : memref<3x4x8xf64>, memref<3x4x8xf64>
  return
}

// -----

func.func @needed_rows_type(%a: memref<3x4x8xf64>, %b: memref<3x4x8xf64>) {
  // expected-error @below {{'ntp.needed_rows' must be an array<i64>, got 3 : i64}}
  ntp.activate_rays "tanh" %a into %b live_orders 2 ray_counts [2]
      ray_orders [1] collapse_weights [0.0] collapsed_order 0
      {ntp.needed_rows = 3}
      : memref<3x4x8xf64>, memref<3x4x8xf64>
  return
}
