// RUN: ntp-opt %s -split-input-file -ntp-expand-activation-jets="formulation=faa-di-bruno" -verify-diagnostics -o /dev/null

// Forced, Faà di Bruno refuses the orders where it is not exact.
func.func @fdb_order21(%a: memref<22x3x4xf64>, %b: memref<22x3x4xf64>) {
  // expected-error @below {{derivative order 21 exceeds the maximum 20 of formulation faa-di-bruno for 'tanh' (its coefficients are no longer exact in double); use formulation=taylor or auto}}
  // expected-error @below {{failed to legalize operation 'ntp.activate'}}
  ntp.activate "tanh" %a into %b live_orders 22 : memref<22x3x4xf64>, memref<22x3x4xf64>
  return
}

// -----

func.func @fdb_gelu_tanh_order18(%a: memref<19x3x4xf64>, %b: memref<19x3x4xf64>) {
  // expected-error @below {{derivative order 18 exceeds the maximum 17 of formulation faa-di-bruno for 'gelu_tanh'}}
  // expected-error @below {{failed to legalize operation 'ntp.activate'}}
  ntp.activate "gelu_tanh" %a into %b live_orders 19 : memref<19x3x4xf64>, memref<19x3x4xf64>
  return
}

// -----

// sin's derivatives are +-sin, +-cos at every order: exact up to 32.
func.func @fdb_sin_order32(%a: memref<33x3x4xf64>, %b: memref<33x3x4xf64>) {
  ntp.activate "sin" %a into %b live_orders 33 : memref<33x3x4xf64>, memref<33x3x4xf64>
  return
}
