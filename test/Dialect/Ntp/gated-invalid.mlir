// RUN: ntp-opt %s -split-input-file -verify-diagnostics

// The gated layer's rules on ntp.mlp, #ntp.kernel and the gate ops, each
// with the message that names it.

// expected-error @below {{a gated layer's branches differ in width: U and V have the first hidden width 8 but hidden layer 2 has width 16; every hidden layer of a gated network has the width of U and V}}
ntp.mlp @widths layers [1, 8, 16, 1] activation "tanh" gated order 2 : f64

// -----

// expected-error @below {{a gated network needs at least one hidden layer (U and V gate the hidden layers)}}
ntp.mlp @linear layers [2, 1] activation "tanh" gated order 2 : f64

// -----

// expected-error @below {{a gated network has no residual layers: each hidden layer's output is already the gate U + Z (V - U)}}
ntp.mlp @residual layers [1, 8, 8, 1] activation "tanh" gated residual [false, true] order 2 : f64

// -----

// expected-error @below {{gated must be 0 or 1, got 2}}
module attributes {ntp.kernel = #ntp.kernel<"k", layers = [1, 4, 4, 1], activation = "tanh", order = 2, element_type = f64, tile = 8, backward = true, workspace_per_tile = 1008, entry_points = [@k_forward_tiles, @k_backward_tiles, @k_forward_save_tiles, @k_backward_saved_tiles], gated = 2>} {
}

// -----

// A gated kernel saves U, V (and their affine jets) and each gate: 42
// widths, not the plain network's 18.
// expected-error @below {{workspace_per_tile must be 1008, got 432}}
module attributes {ntp.kernel = #ntp.kernel<"k", layers = [1, 4, 4, 1], activation = "tanh", order = 2, element_type = f64, tile = 8, backward = true, workspace_per_tile = 432, entry_points = [@k_forward_tiles, @k_backward_tiles, @k_forward_save_tiles, @k_backward_saved_tiles], gated = 1>} {
}

// -----

func.func @shapes(%u: memref<4x8x16xf32>, %v: memref<4x6x16xf32>, %z: memref<4x8x16xf32>, %h: memref<4x8x16xf32>) {
  // expected-error @below {{a gate's jets must have one shape}}
  ntp.gate_jets %u, %v, %z into %h live_orders 4 : memref<4x8x16xf32>, memref<4x6x16xf32>, memref<4x8x16xf32>, memref<4x8x16xf32>
  return
}

// -----

func.func @live(%u: memref<4x8x16xf32>, %h: memref<4x8x16xf32>) {
  // expected-error @below {{live_orders (5) exceeds the number of orders (4)}}
  ntp.gate_jets %u, %u, %u into %h live_orders 5 : memref<4x8x16xf32>, memref<4x8x16xf32>, memref<4x8x16xf32>, memref<4x8x16xf32>
  return
}

// -----

func.func @alias(%u: memref<4x8x16xf32>, %v: memref<4x8x16xf32>, %z: memref<4x8x16xf32>) {
  // expected-error @below {{the output may not be an operand}}
  ntp.gate_jets %u, %v, %z into %z live_orders 4 : memref<4x8x16xf32>, memref<4x8x16xf32>, memref<4x8x16xf32>, memref<4x8x16xf32>
  return
}

// -----

func.func @element(%u: memref<4x8x16xf32>, %v: memref<4x8x16xf64>, %h: memref<4x8x16xf32>) {
  // expected-error @below {{all buffers must have the same element type}}
  ntp.gate_jets %u, %v, %u into %h live_orders 4 : memref<4x8x16xf32>, memref<4x8x16xf64>, memref<4x8x16xf32>, memref<4x8x16xf32>
  return
}

// -----

func.func @vjp_distinct(%a: memref<4x8x16xf32>, %b: memref<4x8x16xf32>, %c: memref<4x8x16xf32>) {
  // expected-error @below {{the u, v and z cotangents must be distinct buffers}}
  ntp.gate_jets_vjp %a, %a, %a, %a into %b, %b, %c live_orders 4 : memref<4x8x16xf32>, memref<4x8x16xf32>, memref<4x8x16xf32>, memref<4x8x16xf32>, memref<4x8x16xf32>, memref<4x8x16xf32>, memref<4x8x16xf32>
  return
}

// -----

func.func @vjp_outbar(%a: memref<4x8x16xf32>, %b: memref<4x8x16xf32>, %c: memref<4x8x16xf32>) {
  // expected-error @below {{the cotangents written may not be the output cotangent}}
  ntp.gate_jets_vjp %a, %a, %a, %a into %a, %b, %c live_orders 4 : memref<4x8x16xf32>, memref<4x8x16xf32>, memref<4x8x16xf32>, memref<4x8x16xf32>, memref<4x8x16xf32>, memref<4x8x16xf32>, memref<4x8x16xf32>
  return
}
