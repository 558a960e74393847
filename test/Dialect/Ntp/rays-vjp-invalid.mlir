// RUN: ntp-opt %s -split-input-file -verify-diagnostics

// ntp.activate_rays_vjp's rules, one message each.

func.func @rows(%a: memref<5x4x8xf64>, %b: memref<6x4x8xf64>) {
  // expected-error @below {{the ray layout has 6 rows but a jet buffer has 5}}
  ntp.activate_rays_vjp "tanh" %a, %b into %b live_orders 2 ray_counts [2, 1]
      ray_orders [1, 2] collapse_weights [1.0, 0.0] collapsed_order 2
      : memref<5x4x8xf64>, memref<6x4x8xf64>, memref<6x4x8xf64>
  return
}

// -----

func.func @width(%a: memref<3x4x8xf64>, %b: memref<3x5x8xf64>) {
  // expected-error @below {{the cotangents must have the input's width and tile}}
  ntp.activate_rays_vjp "tanh" %a, %b into %b live_orders 2 ray_counts [2]
      ray_orders [1] collapse_weights [0.0] collapsed_order 0
      : memref<3x4x8xf64>, memref<3x5x8xf64>, memref<3x5x8xf64>
  return
}

// -----

func.func @weighted(%a: memref<8x4x8xf64>) {
  // expected-error @below {{group 0 has a collapse weight, so its rays must have order collapsed_order - 1 = 1, got 2}}
  ntp.activate_rays_vjp "tanh" %a, %a into %a live_orders 3 ray_counts [3]
      ray_orders [2] collapse_weights [1.0] collapsed_order 2
      : memref<8x4x8xf64>, memref<8x4x8xf64>, memref<8x4x8xf64>
  return
}

// -----

func.func @activation(%a: memref<3x4x8xf64>) {
  // expected-error @below {{unknown activation 'nope'}}
  ntp.activate_rays_vjp "nope" %a, %a into %a live_orders 2 ray_counts [2]
      ray_orders [1] collapse_weights [0.0] collapsed_order 0
      : memref<3x4x8xf64>, memref<3x4x8xf64>, memref<3x4x8xf64>
  return
}
