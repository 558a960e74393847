// RUN: ntp-opt %s -split-input-file -verify-diagnostics

// expected-error @below {{expects at least two layer widths (input and output), got 1}}
ntp.mlp @one layers [4] activation "tanh" order 3 : f32

// -----

// expected-error @below {{layer width at position 1 must be positive, got 0}}
ntp.mlp @zero layers [1, 0, 1] activation "tanh" order 3 : f32

// -----

// The sizes the manifest and memory must hold (ntp/artifact.hpp): the
// parameter count is computed with overflow checks, widths are at most
// kMaxWidth, the parameter count at most kMaxParams.

// expected-error @below {{parameter count of these layer widths overflows a 64-bit integer}}
ntp.mlp @overflow layers [1, 9223372036854775807, 1] activation "tanh" order 3 : f32

// -----

// expected-error @below {{parameter count of these layer widths overflows a 64-bit integer}}
ntp.mlp @overflow_product layers [1, 4294967296, 4294967296, 1] activation "tanh" order 3 : f32

// -----

// expected-error @below {{layer width at position 1 must be at most 65536 (kMaxWidth), got 2147483648}}
ntp.mlp @too_wide layers [1, 2147483648, 1] activation "tanh" order 3 : f32

// -----

// expected-error @below {{layer width at position 0 must be at most 65536 (kMaxWidth), got 65537}}
ntp.mlp @too_wide_input layers [65537, 1] activation "tanh" order 3 : f32

// -----

// The widest layer allowed (327681 parameters).
ntp.mlp @widest layers [3, 65536, 1] activation "tanh" order 3 : f32

// -----

// One parameter more than 2^24: 255 * 65536 + 65537 = 16777217.
// expected-error @below {{has 16777217 parameters, more than the maximum 16777216 (kMaxParams)}}
ntp.mlp @too_many_params layers [254, 65536, 1] activation "tanh" order 3 : f32

// -----

// expected-error @below {{has 16793601 parameters, more than the maximum 16777216 (kMaxParams)}}
ntp.mlp @too_many_params_deep layers [1, 4096, 4096, 1] activation "tanh" order 3 : f32

// -----

// 2^24 parameters exactly (the bound is inclusive): 314 * 53261 + 53262.
ntp.mlp @most_params layers [313, 53261, 1] activation "tanh" order 0 : f32

// -----

// expected-error @below {{derivative order must be in [0, 32], got -1}}
ntp.mlp @negative layers [1, 8, 1] activation "tanh" order -1 : f32

// -----

// expected-error @below {{derivative order must be in [0, 32], got 33}}
ntp.mlp @high layers [1, 8, 1] activation "tanh" order 33 : f32

// -----

// expected-error @below {{unknown activation 'relu'; expected one of tanh, sigmoid, sin, identity, exp, softplus, cos, silu, gelu, gelu_tanh}}
ntp.mlp @relu layers [1, 8, 1] activation "relu" order 2 : f32

// -----

// expected-error @below {{expects one activation per hidden layer: 2 hidden layers, 3 activations}}
ntp.mlp @too_many_activations layers [1, 8, 8, 1] activation ["silu", "tanh", "cos"] order 2 : f32

// -----

// expected-error @below {{expects one activation per hidden layer: 2 hidden layers, 1 activations}}
ntp.mlp @too_few_activations layers [1, 8, 8, 1] activation ["silu"] order 2 : f32

// -----

// expected-error @below {{unknown activation 'relu'; expected one of}}
ntp.mlp @unknown_in_list layers [1, 8, 8, 1] activation ["silu", "relu"] order 2 : f32

// -----

// A comma-separated string is not the dialect's list spelling.
// expected-error @below {{unknown activation 'silu,tanh'}}
ntp.mlp @comma_string layers [1, 8, 8, 1] activation "silu,tanh" order 2 : f32

// -----

// expected-error @below {{attribute 'activation' failed to satisfy constraint}}
ntp.mlp @not_a_name layers [1, 8, 8, 1] activation 3 order 2 : f32

// -----

// expected-error @below {{element type must be f32 or f64, got 'f16'}}
ntp.mlp @half layers [1, 8, 1] activation "tanh" order 2 : f16

// -----

func.func @orders_mismatch(%in: memref<4x1x16xf32>, %p: memref<?xf32>, %out: memref<5x8x16xf32>) {
  // expected-error @below {{input and output jets must have the same number of orders, got 4 and 5}}
  ntp.affine %in, %p[0] into %out live_orders 2 : memref<4x1x16xf32>, memref<?xf32>, memref<5x8x16xf32>
  return
}

// -----

func.func @params_too_small(%in: memref<4x2x16xf32>, %p: memref<10xf32>, %out: memref<4x8x16xf32>) {
  // expected-error @below {{layer needs parameters up to index 24 but params has 10 elements}}
  ntp.affine %in, %p[0] into %out live_orders 2 : memref<4x2x16xf32>, memref<10xf32>, memref<4x8x16xf32>
  return
}

// -----

func.func @live_orders_too_many(%in: memref<4x8x16xf32>, %out: memref<4x8x16xf32>) {
  // expected-error @below {{live_orders (5) exceeds the number of orders (4)}}
  ntp.activate "tanh" %in into %out live_orders 5 : memref<4x8x16xf32>, memref<4x8x16xf32>
  return
}

// -----

func.func @shape_mismatch(%in: memref<4x8x16xf32>, %out: memref<4x9x16xf32>) {
  // expected-error @below {{input and output jets must have the same shape}}
  ntp.activate "tanh" %in into %out live_orders 2 : memref<4x8x16xf32>, memref<4x9x16xf32>
  return
}

// -----

func.func @unknown_activation(%in: memref<4x8x16xf32>, %out: memref<4x8x16xf32>) {
  // expected-error @below {{unknown activation 'relu'}}
  ntp.activate "relu" %in into %out live_orders 2 : memref<4x8x16xf32>, memref<4x8x16xf32>
  return
}

// -----

func.func @mixed_types(%in: memref<4x8x16xf32>, %out: memref<4x8x16xf64>) {
  // expected-error @below {{all buffers must have the same element type}}
  ntp.activate "tanh" %in into %out live_orders 2 : memref<4x8x16xf32>, memref<4x8x16xf64>
  return
}

// -----

func.func @dynamic_jet(%x: memref<?xf32>, %v: memref<?xf32>, %jet: memref<4x1x?xf32>, %b: index, %t: index) {
  // expected-error @below {{seeded jet buffer must have a static shape}}
  ntp.seed %x, %v into %jet, %b, %t : memref<?xf32>, memref<?xf32>, memref<4x1x?xf32>
  return
}

// -----

func.func @direction_width(%x: memref<?xf32>, %v: memref<3xf32>, %jet: memref<4x2x16xf32>, %b: index, %t: index) {
  // expected-error @below {{direction has 3 elements but the jet has width 2}}
  ntp.seed %x, %v into %jet, %b, %t : memref<?xf32>, memref<3xf32>, memref<4x2x16xf32>
  return
}

// -----

func.func @store_live(%jet: memref<4x1x16xf32>, %out: memref<?xf32>, %b: index, %t: index) {
  // expected-error @below {{live_orders (7) exceeds the number of orders (4)}}
  ntp.store_jet %jet into %out, %b, %t live_orders 7 : memref<4x1x16xf32>, memref<?xf32>
  return
}

// -----

// expected-error @+1 {{custom op 'ntp.mlp' expected 'order'}}
ntp.mlp @malformed layers [1, 2] activation "tanh" 3 : f32

// -----

func.func @lanes_mismatch(%in: memref<2x3x4xf32>, %p: memref<?xf32>, %outbar: memref<2x2x4xf32>, %lanes: memref<8x16xf32>) {
  // expected-error @below {{lane-wise grad must have a number of lanes that divides the tile's samples (4), got 16}}
  ntp.affine_vjp %in, %p[0], %outbar into %lanes live_orders 2 : memref<2x3x4xf32>, memref<?xf32>, memref<2x2x4xf32>, memref<8x16xf32>
  return
}

// -----

func.func @reduce_mismatch(%lanes: memref<8x4xf32>, %grad: memref<9xf32>) {
  // expected-error @below {{lanes have 8 parameters but grad has 9}}
  ntp.reduce_lanes %lanes into %grad : memref<8x4xf32>, memref<9xf32>
  return
}

// -----

func.func @vjp_shapes(%in: memref<3x2x8xf32>, %zbar: memref<3x2x8xf32>, %ybar: memref<3x4x8xf32>) {
  // expected-error @below {{input, output cotangent and input cotangent jets must have the same shape}}
  ntp.activate_vjp "tanh" %in, %zbar into %ybar live_orders 3 : memref<3x2x8xf32>, memref<3x2x8xf32>, memref<3x4x8xf32>
  return
}

// -----

func.func @vjp_output_shape(%in: memref<3x2x8xf32>, %zbar: memref<3x2x8xf32>, %ybar: memref<3x2x8xf32>, %z: memref<2x2x8xf32>) {
  // expected-error @below {{the output jet must have the input jet's shape}}
  ntp.activate_vjp "tanh" %in, %zbar into %ybar live_orders 3 output %z : memref<3x2x8xf32>, memref<3x2x8xf32>, memref<3x2x8xf32>, memref<2x2x8xf32>
  return
}

// -----

func.func @vjp_output_type(%in: memref<3x2x8xf32>, %zbar: memref<3x2x8xf32>, %ybar: memref<3x2x8xf32>, %z: memref<3x2x8xf64>) {
  // expected-error @below {{same element type}}
  ntp.activate_vjp "tanh" %in, %zbar into %ybar live_orders 3 output %z : memref<3x2x8xf32>, memref<3x2x8xf32>, memref<3x2x8xf32>, memref<3x2x8xf64>
  return
}
