// RUN: ntp-opt %s -ntp-expand-activation-jets="outline=1 formulation=taylor interleave=2 hoist-primitives=1" | FileCheck %s

// hoist-primitives: before each neuron loop, a loop over all the layer's
// neurons evaluates the primitives of y_0 into one stack buffer per function
// and type (its "orders" are the primitives: sin, cos for sin), and the
// outlined functions (`_p`) take that buffer after the jet's and load them
// instead of evaluating them, so that no primitive's chain heads a neuron's arithmetic.
// The VJP reads them the same way.

// CHECK-LABEL: func.func @sine
// CHECK: %[[P:.*]] = memref.alloca() {ntp.primitive_buffer} : memref<2x5x8xf64>
// CHECK-NOT: memref.alloca
// CHECK: scf.for %[[N:.*]] = %{{.*}} to %{{.*}} step %{{.*}} {
// CHECK:   %[[Y:.*]] = vector.load %{{.*}}[%{{.*}}, %[[N]], %{{.*}}] : memref<4x5x8xf64>, vector<8xf64>
// CHECK:   %[[S:.*]] = math.sin %[[Y]]
// CHECK:   vector.store %[[S]], %[[P]][%{{.*}}, %[[N]], %{{.*}}]
// CHECK:   %[[C:.*]] = math.cos %[[Y]]
// CHECK:   vector.store %[[C]], %[[P]][%{{.*}}, %[[N]], %{{.*}}]
// CHECK: } {ntp.neuron_loop}
// CHECK: %[[PC:.*]] = memref.cast %[[P]]
// CHECK: scf.for
// CHECK:   func.call @__ntp_jet_sin_o3_l4_v8f64_taylor_x2_p(%{{.*}}, %[[PC]], %{{.*}}, %{{.*}})
// CHECK: scf.for
// CHECK:   func.call @__ntp_jet_sin_o3_l4_v8f64_taylor_p(
// The VJP hoists into the same buffer.
// CHECK: scf.for
// CHECK:   math.sin
// CHECK:   vector.store %{{.*}}, %[[P]]
// CHECK:   math.cos
// CHECK:   vector.store %{{.*}}, %[[P]]
// CHECK: scf.for
// CHECK:   func.call @__ntp_jet_vjp_sin_o3_l4_v8f64_taylor_x2_p(
func.func @sine(%a: memref<4x5x8xf64>, %b: memref<4x5x8xf64>) {
  ntp.activate "sin" %a into %b live_orders 4 : memref<4x5x8xf64>, memref<4x5x8xf64>
  ntp.activate_vjp "sin" %a, %b into %b live_orders 4 : memref<4x5x8xf64>, memref<4x5x8xf64>, memref<4x5x8xf64>
  return
}

// tanh has one primitive; its functions evaluate none.
// CHECK-LABEL: func.func @hyperbolic
// CHECK: memref.alloca() {ntp.primitive_buffer} : memref<1x3x8xf64>
// CHECK: math.tanh
// CHECK: func.call @__ntp_jet_tanh_o2_l3_v8f64_taylor_p(
func.func @hyperbolic(%a: memref<3x3x8xf64>, %b: memref<3x3x8xf64>) {
  ntp.activate "tanh" %a into %b live_orders 3 : memref<3x3x8xf64>, memref<3x3x8xf64>
  return
}

// gelu_tanh's VJP at order 0: its primitives worth hoisting (not y or the
// constants c1, c2) are more rows than the jet has orders.
// CHECK-LABEL: func.func @gelu
// CHECK: memref.alloca() {ntp.primitive_buffer} : memref<[[ROWS:[2-9]]]x3x8xf64>
// CHECK: func.call @__ntp_jet_vjp_gelu_tanh_o0_l1_v8f64_taylor_x2_p(
func.func @gelu(%a: memref<1x3x8xf64>, %b: memref<1x3x8xf64>) {
  ntp.activate_vjp "gelu_tanh" %a, %b into %b live_orders 1 : memref<1x3x8xf64>, memref<1x3x8xf64>, memref<1x3x8xf64>
  return
}

// CHECK-LABEL: func.func private @__ntp_jet_sin_o3_l4_v8f64_taylor_x2_p
// CHECK-NOT: math.sin
// CHECK-NOT: math.cos
// CHECK: return
// CHECK-LABEL: func.func private @__ntp_jet_tanh_o2_l3_v8f64_taylor_p
// CHECK-SAME: (%{{[^:]*}}: memref<{{.*}}>, %[[PB:[^:]*]]: memref<{{.*}}>, %{{[^:]*}}: memref<{{.*}}>, %{{[^:]*}}: index)
// CHECK-NOT: math.tanh
// CHECK: %[[T:.*]] = vector.load %[[PB]]
// CHECK-NOT: math.tanh
// CHECK: arith.mulf %[[T]], %[[T]]
