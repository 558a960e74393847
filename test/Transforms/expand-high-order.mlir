// RUN: ntp-opt %s -split-input-file -ntp-expand-activation-jets="formulation=auto outline=1" | FileCheck %s

// Orders past 16 (up to kMaxOrder = 32): auto keeps the Taylor recurrence
// where Faà di Bruno's coefficients are no longer exact in double (tanh past
// order 20) and may still choose Faà di Bruno where they are (sin: +-1).

// CHECK-LABEL: func.func @order20
// CHECK: func.call @__ntp_jet_tanh_o20_l21_v4f64_taylor(
// CHECK: func.call @__ntp_jet_vjp_gelu_tanh_o20_l21_v4f64_taylor(
// CHECK: func.call @__ntp_jet_sin_o20_l2_v4f64(
func.func @order20(%a: memref<21x3x4xf64>, %b: memref<21x3x4xf64>) {
  ntp.activate "tanh" %a into %b live_orders 21 : memref<21x3x4xf64>, memref<21x3x4xf64>
  ntp.activate_vjp "gelu_tanh" %a, %b into %b live_orders 21 : memref<21x3x4xf64>, memref<21x3x4xf64>, memref<21x3x4xf64>
  ntp.activate "sin" %b into %a live_orders 2 : memref<21x3x4xf64>, memref<21x3x4xf64>
  return
}

// -----

// CHECK-LABEL: func.func @order32
// CHECK: func.call @__ntp_jet_silu_o32_l33_v4f64_taylor(
func.func @order32(%a: memref<33x3x4xf64>, %b: memref<33x3x4xf64>) {
  ntp.activate "silu" %a into %b live_orders 33 : memref<33x3x4xf64>, memref<33x3x4xf64>
  return
}
