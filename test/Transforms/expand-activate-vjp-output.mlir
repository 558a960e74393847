// RUN: ntp-opt %s -ntp-expand-activation-jets="outline=0 formulation=taylor interleave=1 hoist-primitives=1" | FileCheck %s

// Given the activation's output jet, a VJP whose only primitive is the
// activation's own value (tanh: z_0 = tanh(y_0); exp) reads it from the
// output's order 0: no tanh, no primitive buffer, one load per neuron.
// CHECK-LABEL: func.func @tanh_from_output
// CHECK-SAME: %[[Z:[a-z0-9]+]]: memref<3x4x8xf64>)
// CHECK-NOT: ntp.primitive_buffer
// CHECK-NOT: math.tanh
// CHECK: scf.for %[[N:.*]] = %{{.*}} to %{{.*}} step
// CHECK: %[[T:.*]] = vector.load %[[Z]][%{{.*}}, %[[N]], %{{.*}}] : memref<3x4x8xf64>, vector<8xf64>
// CHECK-NOT: math.tanh
// CHECK: arith.mulf %[[T]], %[[T]]
// CHECK: } {ntp.neuron_loop}
// CHECK-NEXT: return
func.func @tanh_from_output(%y: memref<3x4x8xf64>, %zbar: memref<3x4x8xf64>, %ybar: memref<3x4x8xf64>, %z: memref<3x4x8xf64>) {
  ntp.activate_vjp "tanh" %y, %zbar into %ybar live_orders 3 output %z : memref<3x4x8xf64>, memref<3x4x8xf64>, memref<3x4x8xf64>, memref<3x4x8xf64>
  return
}

// CHECK-LABEL: func.func @exp_from_output
// CHECK-NOT: math.exp
// CHECK: } {ntp.neuron_loop}
// CHECK-NEXT: return
func.func @exp_from_output(%y: memref<2x4x8xf32>, %zbar: memref<2x4x8xf32>, %ybar: memref<2x4x8xf32>, %z: memref<2x4x8xf32>) {
  ntp.activate_vjp "exp" %y, %zbar into %ybar live_orders 2 output %z : memref<2x4x8xf32>, memref<2x4x8xf32>, memref<2x4x8xf32>, memref<2x4x8xf32>
  return
}

// sigmoid's value is (1 + tanh(y_0 / 2)) / 2, not its primitive, and sin's
// VJP needs cos(y_0) too: both still evaluate (and hoist) their primitives.
// CHECK-LABEL: func.func @sigmoid_with_output
// CHECK: memref.alloca() {ntp.primitive_buffer} : memref<1x4x8xf64>
// CHECK: math.tanh
// CHECK-LABEL: func.func @sin_with_output
// CHECK: memref.alloca() {ntp.primitive_buffer} : memref<2x4x8xf64>
// CHECK: math.sin
// CHECK: math.cos
func.func @sigmoid_with_output(%y: memref<3x4x8xf64>, %zbar: memref<3x4x8xf64>, %ybar: memref<3x4x8xf64>, %z: memref<3x4x8xf64>) {
  ntp.activate_vjp "sigmoid" %y, %zbar into %ybar live_orders 3 output %z : memref<3x4x8xf64>, memref<3x4x8xf64>, memref<3x4x8xf64>, memref<3x4x8xf64>
  return
}
func.func @sin_with_output(%y: memref<3x4x8xf64>, %zbar: memref<3x4x8xf64>, %ybar: memref<3x4x8xf64>, %z: memref<3x4x8xf64>) {
  ntp.activate_vjp "sin" %y, %zbar into %ybar live_orders 3 output %z : memref<3x4x8xf64>, memref<3x4x8xf64>, memref<3x4x8xf64>, memref<3x4x8xf64>
  return
}
