// RUN: ntp-opt %s -split-input-file -verify-diagnostics

// Every rule of a partials request (issue 12 item 9), one message each.

// expected-error @below {{request 0 [1,1] has 2 entries but the network has 3 inputs (one entry per input coordinate)}}
ntp.mlp @wrong_length layers [3, 8, 1] activation "tanh" order 2 partials [[1, 1]] : f64

// -----

// expected-error @below {{request 1 [0,-1,0] has a negative entry: a multi-index has entries >= 0, and an operator row holds only -2 (laplacian) or -4 (biharmonic) and 0}}
ntp.mlp @negative layers [3, 8, 1] activation "tanh" order 2 partials [[1, 0, 0], [0, -1, 0]] : f64

// -----

// expected-error @below {{request 0 [-3,0,0] has a negative entry}}
ntp.mlp @mark_in_index layers [3, 8, 1] activation "tanh" order 2 partials [[-3, 0, 0]] : f64

// -----

// expected-error @below {{request 0 [2,2,1] has total order 5, above the maximum 4}}
ntp.mlp @too_high layers [3, 8, 1] activation "tanh" order 4 partials [[2, 2, 1]] : f64

// -----

// expected-error @below {{request 1 [-4,-4] has total order 4, above the maximum 3}}
ntp.mlp @biharmonic_too_high layers [2, 8, 1] activation "tanh" order 3 partials [[3, 0]] operators [#ntp.biharmonic] : f64

// -----

// expected-error @below {{request 2 [1,1,0] repeats request 0 (each partial or operator is asked for once)}}
ntp.mlp @duplicate layers [3, 8, 1] activation "tanh" order 2 partials [[1, 1, 0], [2, 0, 0], [1, 1, 0]] : f64

// -----

// expected-error @below {{request 1 [-2,-2] repeats request 0}}
ntp.mlp @duplicate_operator layers [2, 8, 1] activation "tanh" order 2 operators [#ntp.laplacian, #ntp.laplacian<[0, 1]>] : f64

// -----

// expected-error @below {{the laplacian's coordinate 3 does not exist: the network has 3 inputs (coordinates 0..2)}}
ntp.mlp @subset layers [3, 8, 1] activation "tanh" order 2 operators [#ntp.laplacian<[0, 3]>] : f64

// -----

// expected-error @below {{the biharmonic names coordinate 1 twice}}
ntp.mlp @subset_twice layers [3, 8, 1] activation "tanh" order 4 operators [#ntp.biharmonic<[1, 1]>] : f64

// -----

// expected-error @below {{the request is empty: ask for at least one multi-index or operator}}
ntp.mlp @empty layers [3, 8, 1] activation "tanh" order 2 partials [] : f64

// -----

// expected-error @below {{the request is empty}}
ntp.mlp @empty_operators layers [3, 8, 1] activation "tanh" order 2 partials [] operators [] : f64

// -----

// expected-error @below {{partials must be a list of multi-indices, lists of integers such as [[2, 0], [1, 1]]; entry 0 is not}}
ntp.mlp @not_a_list layers [2, 8, 1] activation "tanh" order 2 partials [2, 0] : f64

// -----

// expected-error @below {{operators must be #ntp.laplacian or #ntp.biharmonic; entry 0 is not}}
ntp.mlp @not_an_operator layers [2, 8, 1] activation "tanh" order 2 operators ["laplacian"] : f64

// -----

func.func @combine_weights(%rays: memref<3x1x8xf64>, %out: memref<2x1x8xf64>) {
  // expected-error @below {{expects 2 x 3 weights (requests x ray coefficients), got 2}}
  ntp.combine_partials %rays into %out weights [1.0, 0.5] : memref<3x1x8xf64>, memref<2x1x8xf64>
  return
}

// -----

func.func @combine_width(%rays: memref<3x2x8xf64>, %out: memref<2x1x8xf64>) {
  // expected-error @below {{rays and output must have the same width and tile}}
  ntp.combine_partials %rays into %out weights [1.0, 0.0, 0.0, 0.0, 0.0, 1.0] : memref<3x2x8xf64>, memref<2x1x8xf64>
  return
}

// -----

// An operator over more coordinates than kMaxDirections rays can serve.
// expected-error @below {{the laplacian over 600 coordinates needs at least 600 directions, more than 512 (kMaxDirections)}}
ntp.mlp @too_many_directions layers [600, 4, 1] activation "tanh" order 2
    operators [#ntp.laplacian] : f64
