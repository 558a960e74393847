// RUN: ntp-opt %s -ntp-expand-activation-jets="outline=1 formulation=faa-di-bruno" | FileCheck %s

// With outline, each neuron's arithmetic is one private, non-inlined
// function per (activation, order, live orders, vector type): the two
// full-order layers below share one, the first layer (live_orders 2) and the
// VJP get their own.

// CHECK-LABEL: func.func @layers
// CHECK: scf.for
// CHECK:   func.call @__ntp_jet_tanh_o3_l2_v8f32(
// CHECK: scf.for
// CHECK:   func.call @__ntp_jet_tanh_o3_l4_v8f32(
// CHECK: scf.for
// CHECK:   func.call @__ntp_jet_tanh_o3_l4_v8f32(
// CHECK: scf.for
// CHECK:   func.call @__ntp_jet_vjp_tanh_o3_l4_v8f32(
func.func @layers(%a: memref<4x5x8xf32>, %b: memref<4x5x8xf32>) {
  ntp.activate "tanh" %a into %b live_orders 2 : memref<4x5x8xf32>, memref<4x5x8xf32>
  ntp.activate "tanh" %b into %a live_orders 4 : memref<4x5x8xf32>, memref<4x5x8xf32>
  ntp.activate "tanh" %a into %b live_orders 4 : memref<4x5x8xf32>, memref<4x5x8xf32>
  ntp.activate_vjp "tanh" %a, %b into %b live_orders 4 : memref<4x5x8xf32>, memref<4x5x8xf32>, memref<4x5x8xf32>
  return
}

// CHECK-DAG: func.func private @__ntp_jet_tanh_o3_l2_v8f32(%{{.*}}: vector<8xf32>, %{{.*}}: vector<8xf32>) -> (vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>) attributes {passthrough = ["noinline"]}
// CHECK-DAG: func.func private @__ntp_jet_tanh_o3_l4_v8f32({{.*}}) -> (vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>) attributes {passthrough = ["noinline"]}
// CHECK-DAG: func.func private @__ntp_jet_vjp_tanh_o3_l4_v8f32({{.*}}) -> (vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>) attributes {passthrough = ["noinline"]}
