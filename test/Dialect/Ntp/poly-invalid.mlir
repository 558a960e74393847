// RUN: ntp-opt %s -split-input-file -verify-diagnostics

// ntp.activate_poly's rules, one message each.

func.func @row0(%a: memref<2x4x8xf64>, %b: memref<2x4x8xf64>) {
  // expected-error @below {{row 0 must be the zero monomial (the constant term)}}
  ntp.activate_poly "tanh" %a into %b monomials [1, 0, 0, 0] variables 2
      : memref<2x4x8xf64>, memref<2x4x8xf64>
  return
}

// -----

func.func @closed(%a: memref<2x4x8xf64>, %b: memref<2x4x8xf64>) {
  // expected-error @below {{the monomial set must be down-closed (every monomial below one in the set is in it)}}
  ntp.activate_poly "tanh" %a into %b monomials [0, 0, 1, 1] variables 2
      : memref<2x4x8xf64>, memref<2x4x8xf64>
  return
}

// -----

func.func @twice(%a: memref<3x4x8xf64>, %b: memref<3x4x8xf64>) {
  // expected-error @below {{a monomial appears twice}}
  ntp.activate_poly "tanh" %a into %b monomials [0, 0, 1, 0, 1, 0]
      variables 2 : memref<3x4x8xf64>, memref<3x4x8xf64>
  return
}

// -----

func.func @negative(%a: memref<2x4x8xf64>, %b: memref<2x4x8xf64>) {
  // expected-error @below {{monomial exponents must be nonnegative}}
  ntp.activate_poly "tanh" %a into %b monomials [0, 0, -1, 0] variables 2
      : memref<2x4x8xf64>, memref<2x4x8xf64>
  return
}

// -----

func.func @length(%a: memref<2x4x8xf64>, %b: memref<2x4x8xf64>) {
  // expected-error @below {{expects 2 exponents per monomial, got 3 exponents}}
  ntp.activate_poly "tanh" %a into %b monomials [0, 0, 1] variables 2
      : memref<2x4x8xf64>, memref<2x4x8xf64>
  return
}

// -----

func.func @rows(%a: memref<3x4x8xf64>, %b: memref<3x4x8xf64>) {
  // expected-error @below {{the buffers must have one row per monomial (2), got 3}}
  ntp.activate_poly "tanh" %a into %b monomials [0, 0, 1, 0] variables 2
      : memref<3x4x8xf64>, memref<3x4x8xf64>
  return
}

// -----

func.func @width(%a: memref<2x4x8xf64>, %b: memref<2x5x8xf64>) {
  // expected-error @below {{input and output must have the same width and tile}}
  ntp.activate_poly "tanh" %a into %b monomials [0, 0, 1, 0] variables 2
      : memref<2x4x8xf64>, memref<2x5x8xf64>
  return
}

// -----

func.func @activation(%a: memref<2x4x8xf64>, %b: memref<2x4x8xf64>) {
  // expected-error @below {{unknown activation}}
  ntp.activate_poly "relu6" %a into %b monomials [0, 0, 1, 0] variables 2
      : memref<2x4x8xf64>, memref<2x4x8xf64>
  return
}

// -----

// ntp.gate_poly: the monomial rules are activate_poly's (one shown), then
// its own.

func.func @gate_closed(%u: memref<2x4x8xf64>, %v: memref<2x4x8xf64>,
                       %z: memref<2x4x8xf64>, %out: memref<2x4x8xf64>) {
  // expected-error @below {{the monomial set must be down-closed (every monomial below one in the set is in it)}}
  ntp.gate_poly %u, %v, %z into %out monomials [0, 0, 1, 1] variables 2
      : memref<2x4x8xf64>, memref<2x4x8xf64>, memref<2x4x8xf64>,
        memref<2x4x8xf64>
  return
}

// -----

func.func @gate_rows(%u: memref<2x4x8xf64>, %v: memref<3x4x8xf64>,
                     %z: memref<2x4x8xf64>, %out: memref<2x4x8xf64>) {
  // expected-error @below {{the buffers must have one row per monomial (2), got 3}}
  ntp.gate_poly %u, %v, %z into %out monomials [0, 0, 1, 0] variables 2
      : memref<2x4x8xf64>, memref<3x4x8xf64>, memref<2x4x8xf64>,
        memref<2x4x8xf64>
  return
}

// -----

func.func @gate_width(%u: memref<2x4x8xf64>, %v: memref<2x4x8xf64>,
                      %z: memref<2x5x8xf64>, %out: memref<2x4x8xf64>) {
  // expected-error @below {{all buffers must have the same width and tile}}
  ntp.gate_poly %u, %v, %z into %out monomials [0, 0, 1, 0] variables 2
      : memref<2x4x8xf64>, memref<2x4x8xf64>, memref<2x5x8xf64>,
        memref<2x4x8xf64>
  return
}

// -----

func.func @gate_alias(%u: memref<2x4x8xf64>, %v: memref<2x4x8xf64>,
                      %z: memref<2x4x8xf64>) {
  // expected-error @below {{the output may not be an operand}}
  ntp.gate_poly %u, %v, %z into %z monomials [0, 0, 1, 0] variables 2
      : memref<2x4x8xf64>, memref<2x4x8xf64>, memref<2x4x8xf64>,
        memref<2x4x8xf64>
  return
}

// -----

func.func @gate_type(%u: memref<2x4x8xf64>, %v: memref<2x4x8xf64>,
                     %z: memref<2x4x8xf32>, %out: memref<2x4x8xf64>) {
  // expected-error @below {{all buffers must have the same element type}}
  ntp.gate_poly %u, %v, %z into %out monomials [0, 0, 1, 0] variables 2
      : memref<2x4x8xf64>, memref<2x4x8xf64>, memref<2x4x8xf32>,
        memref<2x4x8xf64>
  return
}
