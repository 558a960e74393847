// RUN: ntp-opt %s -split-input-file -verify-diagnostics

// ntp.gate_rays's rules, one message each: the ray layout's (shared with
// the other ray ops), one shape for the four jets, no output aliasing an
// operand, one element type.

func.func @rows(%a: memref<5x4x8xf64>, %b: memref<5x4x8xf64>) {
  // expected-error @below {{the ray layout has 4 rows but a jet buffer has 5}}
  ntp.gate_rays %a, %a, %a into %b ray_counts [2] ray_orders [1]
      collapse_weights [1.0] collapsed_order 2
      : memref<5x4x8xf64>, memref<5x4x8xf64>, memref<5x4x8xf64>,
        memref<5x4x8xf64>
  return
}

// -----

func.func @weight_without_row(%a: memref<3x4x8xf64>, %b: memref<3x4x8xf64>) {
  // expected-error @below {{group 0 has a collapse weight but there is no collapsed row}}
  ntp.gate_rays %a, %a, %a into %b ray_counts [2] ray_orders [1]
      collapse_weights [1.0] collapsed_order 0
      : memref<3x4x8xf64>, memref<3x4x8xf64>, memref<3x4x8xf64>,
        memref<3x4x8xf64>
  return
}

// -----

func.func @sizes(%a: memref<3x4x8xf64>, %b: memref<3x4x8xf64>) {
  // expected-error @below {{expects one ray count, order and collapse weight per group, got 1, 2 and 1}}
  ntp.gate_rays %a, %a, %a into %b ray_counts [2] ray_orders [1, 2]
      collapse_weights [0.0] collapsed_order 0
      : memref<3x4x8xf64>, memref<3x4x8xf64>, memref<3x4x8xf64>,
        memref<3x4x8xf64>
  return
}

// -----

func.func @widths(%a: memref<3x4x8xf64>, %z: memref<3x5x8xf64>,
                  %b: memref<3x4x8xf64>) {
  // expected-error @below {{a gate's jets must have one shape (U, V and every gated layer have the same width), got 'memref<3x4x8xf64>' and z 'memref<3x5x8xf64>'}}
  ntp.gate_rays %a, %a, %z into %b ray_counts [2] ray_orders [1]
      collapse_weights [0.0] collapsed_order 0
      : memref<3x4x8xf64>, memref<3x4x8xf64>, memref<3x5x8xf64>,
        memref<3x4x8xf64>
  return
}

// -----

func.func @alias(%a: memref<3x4x8xf64>, %b: memref<3x4x8xf64>) {
  // expected-error @below {{the output may not be an operand}}
  ntp.gate_rays %a, %a, %b into %b ray_counts [2] ray_orders [1]
      collapse_weights [0.0] collapsed_order 0
      : memref<3x4x8xf64>, memref<3x4x8xf64>, memref<3x4x8xf64>,
        memref<3x4x8xf64>
  return
}

// -----

func.func @element(%a: memref<3x4x8xf64>, %b: memref<3x4x8xf32>) {
  // expected-error @below {{all buffers must have the same element type}}
  ntp.gate_rays %a, %a, %a into %b ray_counts [2] ray_orders [1]
      collapse_weights [0.0] collapsed_order 0
      : memref<3x4x8xf64>, memref<3x4x8xf64>, memref<3x4x8xf64>,
        memref<3x4x8xf32>
  return
}
