// RUN: ntp-opt %s -ntp-expand-activation-jets="outline=1 formulation=faa-di-bruno" | FileCheck %s

// With outline, each neuron's loads, arithmetic and stores are one private,
// non-inlined function per (activation, order, live orders, vector type): the
// two full-order layers below share one, the first layer (live_orders 2) and
// the VJP get their own. The functions take the buffers (any sizes and
// strides, so that every layer's fit) and the neuron, not the jet's vectors,
// which would be copied through the stack on every call.

// CHECK-LABEL: func.func @layers
// CHECK: %[[IN:.*]] = memref.cast %{{.*}} : memref<4x5x8xf32> to memref<?x?x?xf32, strided<[?, ?, 1], offset: ?>>
// CHECK: %[[OUT:.*]] = memref.cast
// CHECK: scf.for %[[N:.*]] = 
// CHECK:   func.call @__ntp_jet_tanh_o3_l2_v8f32(%[[IN]], %[[OUT]], %[[N]])
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

// CHECK-DAG: func.func private @__ntp_jet_tanh_o3_l2_v8f32(%{{.*}}: memref<?x?x?xf32, strided<[?, ?, 1], offset: ?>>, %{{.*}}: memref<?x?x?xf32, strided<[?, ?, 1], offset: ?>>, %{{.*}}: index) attributes {passthrough = ["noinline"]}
// CHECK-DAG: func.func private @__ntp_jet_tanh_o3_l4_v8f32(%{{.*}}: memref<{{.*}}>, %{{.*}}: memref<{{.*}}>, %{{.*}}: index) attributes {passthrough = ["noinline"]}
// CHECK-DAG: func.func private @__ntp_jet_vjp_tanh_o3_l4_v8f32(%{{.*}}: memref<{{.*}}>, %{{.*}}: memref<{{.*}}>, %{{.*}}: memref<{{.*}}>, %{{.*}}: index) attributes {passthrough = ["noinline"]}
