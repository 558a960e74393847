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

// -----

// ntp.activate_poly_vjp's own rules (the monomial rules are
// ntp.activate_poly's).

func.func @vjp_rows(%a: memref<3x4x8xf64>, %bar: memref<3x4x8xf64>,
                    %inbar: memref<3x4x8xf64>) {
  // expected-error @below {{the buffers must have one row per monomial (2), got 3}}
  ntp.activate_poly_vjp "tanh" %a, %bar into %inbar monomials [0, 1]
      variables 1 : memref<3x4x8xf64>, memref<3x4x8xf64>, memref<3x4x8xf64>
  return
}

// -----

func.func @vjp_width(%a: memref<2x4x8xf64>, %bar: memref<2x5x8xf64>,
                     %inbar: memref<2x4x8xf64>) {
  // expected-error @below {{all buffers must have the same width and tile}}
  ntp.activate_poly_vjp "tanh" %a, %bar into %inbar monomials [0, 1]
      variables 1 : memref<2x4x8xf64>, memref<2x5x8xf64>, memref<2x4x8xf64>
  return
}

// -----

func.func @vjp_alias(%a: memref<2x4x8xf64>, %bar: memref<2x4x8xf64>) {
  // expected-error @below {{in_cotangent may not alias the input or out_cotangent}}
  ntp.activate_poly_vjp "tanh" %a, %bar into %bar monomials [0, 1]
      variables 1 : memref<2x4x8xf64>, memref<2x4x8xf64>, memref<2x4x8xf64>
  return
}

// -----

func.func @vjp_activation(%a: memref<2x4x8xf64>, %bar: memref<2x4x8xf64>,
                          %inbar: memref<2x4x8xf64>) {
  // expected-error @below {{unknown activation 'tanhh'}}
  ntp.activate_poly_vjp "tanhh" %a, %bar into %inbar monomials [0, 1]
      variables 1 : memref<2x4x8xf64>, memref<2x4x8xf64>, memref<2x4x8xf64>
  return
}

// -----

// Degree 32 (the forward's maximum) leaves no order for sigma's derivative.
func.func @vjp_degree(%a: memref<33x4x8xf64>, %bar: memref<33x4x8xf64>,
                      %inbar: memref<33x4x8xf64>) {
  // expected-error @below {{total degree 32 leaves no order for the derivative (the reverse mode needs degree + 1 <= 32)}}
  ntp.activate_poly_vjp "tanh" %a, %bar into %inbar monomials [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32]
      variables 1 : memref<33x4x8xf64>, memref<33x4x8xf64>, memref<33x4x8xf64>
  return
}

// -----

// ntp.gate_poly_vjp's own rules.

func.func @gate_vjp_alias(%u: memref<2x4x8xf64>, %v: memref<2x4x8xf64>,
                          %z: memref<2x4x8xf64>, %bar: memref<2x4x8xf64>,
                          %vb: memref<2x4x8xf64>, %zb: memref<2x4x8xf64>) {
  // expected-error @below {{a cotangent may not alias an operand}}
  ntp.gate_poly_vjp %u, %v, %z, %bar into %u, %vb, %zb monomials [0, 1]
      variables 1
      : memref<2x4x8xf64>, memref<2x4x8xf64>, memref<2x4x8xf64>,
        memref<2x4x8xf64>, memref<2x4x8xf64>, memref<2x4x8xf64>,
        memref<2x4x8xf64>
  return
}

// -----

func.func @gate_vjp_same(%u: memref<2x4x8xf64>, %v: memref<2x4x8xf64>,
                         %z: memref<2x4x8xf64>, %bar: memref<2x4x8xf64>,
                         %ub: memref<2x4x8xf64>, %zb: memref<2x4x8xf64>) {
  // expected-error @below {{the cotangents must be three different buffers}}
  ntp.gate_poly_vjp %u, %v, %z, %bar into %ub, %ub, %zb monomials [0, 1]
      variables 1
      : memref<2x4x8xf64>, memref<2x4x8xf64>, memref<2x4x8xf64>,
        memref<2x4x8xf64>, memref<2x4x8xf64>, memref<2x4x8xf64>,
        memref<2x4x8xf64>
  return
}

// -----

func.func @gate_vjp_rows(%u: memref<2x4x8xf64>, %v: memref<2x4x8xf64>,
                         %z: memref<2x4x8xf64>, %bar: memref<3x4x8xf64>,
                         %ub: memref<2x4x8xf64>, %vb: memref<2x4x8xf64>,
                         %zb: memref<2x4x8xf64>) {
  // expected-error @below {{the buffers must have one row per monomial (2), got 3}}
  ntp.gate_poly_vjp %u, %v, %z, %bar into %ub, %vb, %zb monomials [0, 1]
      variables 1
      : memref<2x4x8xf64>, memref<2x4x8xf64>, memref<2x4x8xf64>,
        memref<3x4x8xf64>, memref<2x4x8xf64>, memref<2x4x8xf64>,
        memref<2x4x8xf64>
  return
}
