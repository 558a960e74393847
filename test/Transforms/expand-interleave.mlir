// RUN: ntp-opt %s -ntp-expand-activation-jets="outline=1 formulation=faa-di-bruno interleave=2" | FileCheck %s

// interleave=2: the neuron loop takes two neurons per iteration and calls
// one function of both (`_x2`, which loads and stores both); the fifth neuron goes through a loop of one neuron and the
// one-neuron function. The VJP is interleaved the same way.

// CHECK-LABEL: func.func @layers
// CHECK: %[[C4:.*]] = arith.constant 4 : index
// CHECK: %[[C2:.*]] = arith.constant 2 : index
// CHECK: scf.for %{{.*}} = %{{.*}} to %[[C4]] step %[[C2]] {
// CHECK:   func.call @__ntp_jet_tanh_o3_l4_v8f32_x2(
// CHECK: scf.for %{{.*}} = %[[R4:.*]] to %[[R5:.*]] step %{{.*}} {
// CHECK:   func.call @__ntp_jet_tanh_o3_l4_v8f32(
// CHECK: scf.for
// CHECK:   func.call @__ntp_jet_vjp_tanh_o3_l4_v8f32_x2(
// CHECK: scf.for
// CHECK:   func.call @__ntp_jet_vjp_tanh_o3_l4_v8f32(
func.func @layers(%a: memref<4x5x8xf32>, %b: memref<4x5x8xf32>) {
  ntp.activate "tanh" %a into %b live_orders 4 : memref<4x5x8xf32>, memref<4x5x8xf32>
  ntp.activate_vjp "tanh" %a, %b into %b live_orders 4 : memref<4x5x8xf32>, memref<4x5x8xf32>, memref<4x5x8xf32>
  return
}

// Two neurons' DAGs, node by node: both primitives (tanh) come before the
// first product of either.
// CHECK-LABEL: func.func private @__ntp_jet_tanh_o3_l4_v8f32_x2
// CHECK-SAME: (%[[IN:[^:]*]]: memref<?x?x?xf32, strided<[?, ?, 1], offset: ?>>, %{{[^:]*}}: memref<?x?x?xf32, strided<[?, ?, 1], offset: ?>>, %[[N:[^:]*]]: index)
// CHECK: %[[N1:.*]] = arith.addi %[[N]], %{{.*}} : index
// CHECK: %[[Y0:.*]] = vector.load %[[IN]][%{{.*}}, %[[N]], %{{.*}}]
// CHECK-COUNT-3: vector.load %[[IN]][%{{.*}}, %[[N]], %{{.*}}]
// CHECK: %[[Z0:.*]] = vector.load %[[IN]][%{{.*}}, %[[N1]], %{{.*}}]
// CHECK: math.tanh %[[Y0]]
// CHECK-NEXT: math.tanh %[[Z0]]
