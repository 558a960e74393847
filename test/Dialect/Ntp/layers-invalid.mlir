// RUN: ntp-opt %s -split-input-file -verify-diagnostics

// Typed layers: each rule of ntp.mlp's slopes and residual, and of the jet
// ops they decompose into, with the message that names it.

// expected-error @below {{unknown slope kind 'steep'; expected none, layer or neuron}}
ntp.mlp @unknown layers [1, 8, 1] activation "tanh" slopes "steep" order 2 : f64

// -----

// expected-error @below {{expects one slope kind per hidden layer: 2 hidden layers, 1 slopes}}
ntp.mlp @count layers [1, 8, 8, 1] activation "tanh" slopes ["layer"] order 2 : f64

// -----

// expected-error @below {{residual lists 1 entries but the network has 2 hidden layers}}
ntp.mlp @residual_count layers [1, 8, 8, 1] activation "tanh" residual [true] order 2 : f64

// -----

// expected-error @below {{the first hidden layer cannot be residual: its input is the network input, not a hidden layer's output}}
ntp.mlp @residual_first layers [8, 8, 8, 1] activation "tanh" residual [true, false] order 2 : f64

// -----

// expected-error @below {{residual hidden layer 2 maps width 8 to 16; a residual layer H + F(H) needs equal widths}}
ntp.mlp @residual_widths layers [1, 8, 16, 1] activation "tanh" residual [false, true] order 2 : f64

// -----

// expected-error @below {{attribute 'slopes' failed to satisfy constraint}}
ntp.mlp @not_a_name layers [1, 8, 1] activation "tanh" slopes 3 order 2 : f64

// -----

func.func @scale_shape(%p: memref<?xf32>) {
  %a = memref.alloca() : memref<4x8x16xf32>
  %b = memref.alloca() : memref<4x4x16xf32>
  // expected-error @below {{input and output jets must have the same shape}}
  ntp.scale %a, %p[0] into %b live_orders 4 : memref<4x8x16xf32>, memref<?xf32>, memref<4x4x16xf32>
  return
}

// -----

func.func @scale_params(%p: memref<10xf32>) {
  %a = memref.alloca() : memref<4x8x16xf32>
  %b = memref.alloca() : memref<4x8x16xf32>
  // expected-error @below {{slopes need parameters up to index 11 but params has 10 elements}}
  ntp.scale %a, %p[3] into %b live_orders 4 per_neuron : memref<4x8x16xf32>, memref<10xf32>, memref<4x8x16xf32>
  return
}

// -----

func.func @scale_live(%p: memref<?xf32>) {
  %a = memref.alloca() : memref<4x8x16xf32>
  %b = memref.alloca() : memref<4x8x16xf32>
  // expected-error @below {{live_orders (5) exceeds the number of orders (4)}}
  ntp.scale %a, %p[0] into %b live_orders 5 : memref<4x8x16xf32>, memref<?xf32>, memref<4x8x16xf32>
  return
}

// -----

func.func @add_widths() {
  %a = memref.alloca() : memref<4x8x16xf32>
  %b = memref.alloca() : memref<4x4x16xf32>
  // expected-error @below {{both operands and the output must have the same shape (a residual layer needs equal widths)}}
  ntp.add_jets %a, %b into %a live_orders 4 : memref<4x8x16xf32>, memref<4x4x16xf32>, memref<4x8x16xf32>
  return
}

// -----

func.func @add_types() {
  %a = memref.alloca() : memref<4x8x16xf32>
  %b = memref.alloca() : memref<4x8x16xf64>
  // expected-error @below {{all buffers must have the same element type}}
  ntp.add_jets %a, %b into %a live_orders 4 : memref<4x8x16xf32>, memref<4x8x16xf64>, memref<4x8x16xf32>
  return
}

// -----

func.func @scale_vjp_lanes(%p: memref<?xf32>) {
  %a = memref.alloca() : memref<4x8x16xf32>
  %g = memref.alloca() : memref<40x6xf32>
  // expected-error @below {{lane-wise grad must have a number of lanes that divides the tile's samples (16), got 6}}
  ntp.scale_vjp %a, %p[0], %a into %g input_cotangent %a live_orders 4 : memref<4x8x16xf32>, memref<?xf32>, memref<4x8x16xf32>, memref<40x6xf32>, memref<4x8x16xf32>
  return
}

// -----

func.func @scale_vjp_shape(%p: memref<?xf32>, %g: memref<?xf32>) {
  %a = memref.alloca() : memref<4x8x16xf32>
  %b = memref.alloca() : memref<4x4x16xf32>
  // expected-error @below {{input, output cotangent and input cotangent jets must have the same shape}}
  ntp.scale_vjp %a, %p[0], %a into %g input_cotangent %b live_orders 4 : memref<4x8x16xf32>, memref<?xf32>, memref<4x8x16xf32>, memref<?xf32>, memref<4x4x16xf32>
  return
}

// -----

// expected-error @below {{a Fourier embedding needs 1..32768 frequencies (its width 2m at most kMaxWidth), got 0}}
ntp.mlp @fourier_zero layers [1, 8, 1] activation "tanh" fourier 0 order 2 : f64

// -----

// expected-error @below {{a Fourier embedding needs 1..32768 frequencies (its width 2m at most kMaxWidth), got 40000}}
ntp.mlp @fourier_wide layers [1, 8, 1] activation "tanh" fourier 40000 order 2 : f64

// -----

func.func @fourier_odd(%p: memref<?xf32>) {
  %a = memref.alloca() : memref<4x2x16xf32>
  %b = memref.alloca() : memref<4x5x16xf32>
  // expected-error @below {{output width must be even (sines and cosines), got 5}}
  ntp.fourier_project %a, %p[0] into %b live_orders 2 : memref<4x2x16xf32>, memref<?xf32>, memref<4x5x16xf32>
  return
}

// -----

func.func @fourier_params(%p: memref<5xf32>) {
  %a = memref.alloca() : memref<4x2x16xf32>
  %b = memref.alloca() : memref<4x6x16xf32>
  // expected-error @below {{B needs parameters up to index 6 but params has 5 elements}}
  ntp.fourier_project %a, %p[0] into %b live_orders 2 : memref<4x2x16xf32>, memref<5xf32>, memref<4x6x16xf32>
  return
}

// -----

// #ntp.kernel: the typed-layer facts are checked like the others.
// expected-error @below {{slopes must list none, layer or neuron and residual 0 or 1, separated by commas, got "steep" and ""}}
module attributes {ntp.kernel = #ntp.kernel<"k", layers = [1, 4, 1], activation = "tanh", order = 2, element_type = f64, tile = 8, backward = false, entry_points = [@k_forward_tiles], slopes = "steep">} {}

// -----

// The workspace of a typed network includes its extra jets (here the
// scaled one: (1 + 3 * 4 + 1) * 3 orders * 8 = 336, not the plain 240).
// expected-error @below {{workspace_per_tile must be 336, got 240}}
module attributes {ntp.kernel = #ntp.kernel<"k", layers = [1, 4, 1], activation = "tanh", order = 2, element_type = f64, tile = 8, backward = true, workspace_per_tile = 240, entry_points = [@k_forward_tiles, @k_backward_tiles, @k_forward_save_tiles, @k_backward_saved_tiles], slopes = "layer">} {}

// -----

// expected-error @below {{a residual layer H + F(H) needs equal widths}}
module attributes {ntp.kernel = #ntp.kernel<"k", layers = [1, 4, 5, 1], activation = "tanh", order = 2, element_type = f64, tile = 8, backward = false, entry_points = [@k_forward_tiles], residual = "0,1">} {}
