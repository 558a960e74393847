// RUN: ntp-opt %s -split-input-file -verify-diagnostics

// ntp.gate_rays_vjp's rules, one message each: the ray layout's (shared with
// the other ray ops), one shape for the seven jets, no cotangent aliasing an
// operand or another cotangent, one element type.

func.func @rows(%a: memref<3x4x8xf64>, %b: memref<3x4x8xf64>, %c: memref<3x4x8xf64>, %d: memref<3x4x8xf64>) {
  // expected-error @below {{the ray layout has 4 rows but a jet buffer has 3}}
  ntp.gate_rays_vjp %a, %a, %a, %a into %b, %c, %d ray_counts [2] ray_orders [1] collapse_weights [1.0] collapsed_order 2
      : memref<3x4x8xf64>, memref<3x4x8xf64>, memref<3x4x8xf64>, memref<3x4x8xf64>, memref<3x4x8xf64>, memref<3x4x8xf64>, memref<3x4x8xf64>
  return
}

// -----

func.func @sizes(%a: memref<3x4x8xf64>, %b: memref<3x4x8xf64>, %c: memref<3x4x8xf64>, %d: memref<3x4x8xf64>) {
  // expected-error @below {{expects one ray count, order and collapse weight per group, got 1, 2 and 1}}
  ntp.gate_rays_vjp %a, %a, %a, %a into %b, %c, %d ray_counts [2] ray_orders [1, 2] collapse_weights [0.0] collapsed_order 0
      : memref<3x4x8xf64>, memref<3x4x8xf64>, memref<3x4x8xf64>, memref<3x4x8xf64>, memref<3x4x8xf64>, memref<3x4x8xf64>, memref<3x4x8xf64>
  return
}

// -----

func.func @nonpositive(%a: memref<3x4x8xf64>, %b: memref<3x4x8xf64>, %c: memref<3x4x8xf64>, %d: memref<3x4x8xf64>) {
  // expected-error @below {{group 0 must have a positive ray count and order, got 2 rays of order 0}}
  ntp.gate_rays_vjp %a, %a, %a, %a into %b, %c, %d ray_counts [2] ray_orders [0] collapse_weights [0.0] collapsed_order 0
      : memref<3x4x8xf64>, memref<3x4x8xf64>, memref<3x4x8xf64>, memref<3x4x8xf64>, memref<3x4x8xf64>, memref<3x4x8xf64>, memref<3x4x8xf64>
  return
}

// -----

func.func @weight_without_row(%a: memref<3x4x8xf64>, %b: memref<3x4x8xf64>, %c: memref<3x4x8xf64>, %d: memref<3x4x8xf64>) {
  // expected-error @below {{group 0 has a collapse weight but there is no collapsed row}}
  ntp.gate_rays_vjp %a, %a, %a, %a into %b, %c, %d ray_counts [2] ray_orders [1] collapse_weights [1.0] collapsed_order 0
      : memref<3x4x8xf64>, memref<3x4x8xf64>, memref<3x4x8xf64>, memref<3x4x8xf64>, memref<3x4x8xf64>, memref<3x4x8xf64>, memref<3x4x8xf64>
  return
}

// -----

func.func @collapsed_one(%a: memref<4x4x8xf64>, %b: memref<4x4x8xf64>, %c: memref<4x4x8xf64>, %d: memref<4x4x8xf64>) {
  // expected-error @below {{collapsed_order must be 0 (none) or at least 2}}
  ntp.gate_rays_vjp %a, %a, %a, %a into %b, %c, %d ray_counts [2] ray_orders [1] collapse_weights [0.0] collapsed_order 1
      : memref<4x4x8xf64>, memref<4x4x8xf64>, memref<4x4x8xf64>, memref<4x4x8xf64>, memref<4x4x8xf64>, memref<4x4x8xf64>, memref<4x4x8xf64>
  return
}

// -----

func.func @unweighted_row(%a: memref<4x4x8xf64>, %b: memref<4x4x8xf64>, %c: memref<4x4x8xf64>, %d: memref<4x4x8xf64>) {
  // expected-error @below {{a collapsed row needs a group with a nonzero collapse weight}}
  ntp.gate_rays_vjp %a, %a, %a, %a into %b, %c, %d ray_counts [2] ray_orders [1] collapse_weights [0.0] collapsed_order 2
      : memref<4x4x8xf64>, memref<4x4x8xf64>, memref<4x4x8xf64>, memref<4x4x8xf64>, memref<4x4x8xf64>, memref<4x4x8xf64>, memref<4x4x8xf64>
  return
}

// -----

func.func @widths(%a: memref<3x4x8xf64>, %b: memref<3x4x8xf64>, %c: memref<3x4x8xf64>, %d: memref<3x5x8xf64>) {
  // expected-error @below {{a gate's jets and cotangents must have one shape, got 'memref<3x4x8xf64>' and z cotangent 'memref<3x5x8xf64>'}}
  ntp.gate_rays_vjp %a, %a, %a, %a into %b, %c, %d ray_counts [2] ray_orders [1] collapse_weights [0.0] collapsed_order 0
      : memref<3x4x8xf64>, memref<3x4x8xf64>, memref<3x4x8xf64>, memref<3x4x8xf64>, memref<3x4x8xf64>, memref<3x4x8xf64>, memref<3x5x8xf64>
  return
}

// -----

func.func @alias_operand(%a: memref<3x4x8xf64>, %b: memref<3x4x8xf64>, %c: memref<3x4x8xf64>, %d: memref<3x4x8xf64>) {
  // expected-error @below {{the u cotangent may not alias the output cotangent}}
  ntp.gate_rays_vjp %a, %a, %a, %b into %b, %c, %d ray_counts [2] ray_orders [1] collapse_weights [0.0] collapsed_order 0
      : memref<3x4x8xf64>, memref<3x4x8xf64>, memref<3x4x8xf64>, memref<3x4x8xf64>, memref<3x4x8xf64>, memref<3x4x8xf64>, memref<3x4x8xf64>
  return
}

// -----

func.func @alias_cotangents(%a: memref<3x4x8xf64>, %b: memref<3x4x8xf64>, %c: memref<3x4x8xf64>) {
  // expected-error @below {{the v cotangent may not alias the z cotangent}}
  ntp.gate_rays_vjp %a, %a, %a, %a into %b, %c, %c ray_counts [2] ray_orders [1] collapse_weights [0.0] collapsed_order 0
      : memref<3x4x8xf64>, memref<3x4x8xf64>, memref<3x4x8xf64>, memref<3x4x8xf64>, memref<3x4x8xf64>, memref<3x4x8xf64>, memref<3x4x8xf64>
  return
}

// -----

func.func @element(%a: memref<3x4x8xf64>, %b: memref<3x4x8xf64>, %c: memref<3x4x8xf64>, %d: memref<3x4x8xf32>) {
  // expected-error @below {{all buffers must have the same element type}}
  ntp.gate_rays_vjp %a, %a, %a, %a into %b, %c, %d ray_counts [2] ray_orders [1] collapse_weights [0.0] collapsed_order 0
      : memref<3x4x8xf64>, memref<3x4x8xf64>, memref<3x4x8xf64>, memref<3x4x8xf64>, memref<3x4x8xf64>, memref<3x4x8xf64>, memref<3x4x8xf32>
  return
}
