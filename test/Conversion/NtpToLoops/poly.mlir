// RUN: ntp-opt %s -convert-ntp-to-loops | FileCheck %s

// ntp.activate_poly as loops (PolyToLoops.cpp): one neuron loop; per
// neuron every row loaded once, tanh(y0) once (sigma' and sigma'' are
// polynomials in it), c_2 = sigma''/2, the products of u^2 (u0^2, the
// doubled pair u0 u1 as an add, u1^2) and each row's sum of c_k p_k, every
// row stored. Monomials: 0, e0, e1, 2e0, e0+e1, 2e1 (the 2-d Hessian).

// CHECK-LABEL: func.func @hessian
// CHECK: scf.for %[[I:.*]] = %{{.*}} to %{{.*}} step
// CHECK: %[[Y0:.*]] = vector.load %{{.*}}[%{{.*}}, %[[I]], %{{.*}}]
// CHECK: %[[U0:.*]] = vector.load
// CHECK: %[[U1:.*]] = vector.load
// CHECK-COUNT-3: vector.load
// CHECK: math.tanh %[[Y0]]
// CHECK-NOT: math.tanh
// CHECK: %[[SQ0:.*]] = arith.mulf %[[U0]], %[[U0]]
// CHECK: %[[PAIR:.*]] = arith.mulf %[[U0]], %[[U1]]
// CHECK: arith.addf %[[PAIR]], %[[PAIR]]
// CHECK: %[[SQ1:.*]] = arith.mulf %[[U1]], %[[U1]]
// CHECK-COUNT-6: vector.store
// CHECK: } {ntp.neuron_loop}
func.func @hessian(%a: memref<6x4x8xf64>, %b: memref<6x4x8xf64>) {
  ntp.activate_poly "tanh" %a into %b
      monomials [0, 0, 1, 0, 0, 1, 2, 0, 1, 1, 0, 2] variables 2
      : memref<6x4x8xf64>, memref<6x4x8xf64>
  return
}

// Degree 3 in one variable: p_3 = u p_2, one product per power; the sums
// of rows 1, 2, 3 take 1, 2, 3 terms.
// CHECK-LABEL: func.func @cubic
// CHECK: scf.for
// CHECK: math.sin
// CHECK: math.fma
// CHECK: } {ntp.neuron_loop}
func.func @cubic(%a: memref<4x4x8xf32>, %b: memref<4x4x8xf32>) {
  ntp.activate_poly "sin" %a into %b monomials [0, 1, 2, 3] variables 1
      : memref<4x4x8xf32>, memref<4x4x8xf32>
  return
}

// ntp.gate_poly as loops: one neuron loop; per neuron the rows of U, V and
// Z loaded once, D = V - U per row, and each row's chain from U's row over
// the pairs (gamma, beta - gamma): row 0 one FMA (Z0 D0), a first-degree
// row two (Z0 D_e + Z_e D0). Monomials: 0, e0 in one variable.
// CHECK-LABEL: func.func @gate
// CHECK: scf.for %[[I:.*]] = %{{.*}} to %{{.*}} step
// CHECK: %[[U0:.*]] = vector.load %{{.*}}[%{{.*}}, %[[I]], %{{.*}}]
// CHECK: %[[U1:.*]] = vector.load
// CHECK: %[[V0:.*]] = vector.load
// CHECK: %[[V1:.*]] = vector.load
// CHECK: %[[Z0:.*]] = vector.load
// CHECK: %[[Z1:.*]] = vector.load
// CHECK: %[[D0:.*]] = arith.subf %[[V0]], %[[U0]]
// CHECK: %[[D1:.*]] = arith.subf %[[V1]], %[[U1]]
// CHECK: %[[O0:.*]] = math.fma %[[Z0]], %[[D0]], %[[U0]]
// CHECK: vector.store %[[O0]]
// CHECK: %[[A:.*]] = math.fma %[[Z0]], %[[D1]], %[[U1]]
// CHECK: %[[O1:.*]] = math.fma %[[Z1]], %[[D0]], %[[A]]
// CHECK: vector.store %[[O1]]
// CHECK: } {ntp.neuron_loop}
func.func @gate(%u: memref<2x4x8xf64>, %v: memref<2x4x8xf64>,
                %z: memref<2x4x8xf64>, %out: memref<2x4x8xf64>) {
  ntp.gate_poly %u, %v, %z into %out monomials [0, 1] variables 1
      : memref<2x4x8xf64>, memref<2x4x8xf64>, memref<2x4x8xf64>,
        memref<2x4x8xf64>
  return
}

// ntp.activate_poly_vjp as loops: one neuron loop; per neuron the input
// rows, sin's jet one order past the degree (q_0 = cos y0, q_1 =
// -sin(y0) u1), the cotangent rows, and each input row's chain over the
// transposed product table: inbar_0 = bar_0 q_0 + bar_1 q_1, inbar_1 =
// bar_1 q_0. Monomials: 0, e0 in one variable.
// CHECK-LABEL: func.func @poly_vjp
// CHECK: scf.for %[[I:.*]] = %{{.*}} to %{{.*}} step
// CHECK: %[[Y0:.*]] = vector.load %[[IN:[a-z0-9_]+]][%{{.*}}, %[[I]], %{{.*}}]
// CHECK: %[[U1:.*]] = vector.load %[[IN]]
// CHECK: %[[SIN:.*]] = math.sin %[[Y0]]
// CHECK: %[[COS:.*]] = math.cos %[[Y0]]
// CHECK: %[[NEG:.*]] = arith.mulf %[[SIN]], %{{.*}}
// CHECK: %[[Q0:.*]] = arith.mulf %{{.*}}, %[[COS]]
// CHECK: %[[S2:.*]] = arith.mulf %[[NEG]], %{{.*}}
// CHECK: %[[Q1:.*]] = arith.mulf %[[S2]], %[[U1]]
// CHECK: %[[B0:.*]] = vector.load %[[BAR:[a-z0-9_]+]][
// CHECK: %[[B1:.*]] = vector.load %[[BAR]][
// CHECK: %[[T:.*]] = arith.mulf %[[B0]], %[[Q0]]
// CHECK: %[[IB0:.*]] = math.fma %[[B1]], %[[Q1]], %[[T]]
// CHECK: vector.store %[[IB0]]
// CHECK: %[[IB1:.*]] = arith.mulf %[[B1]], %[[Q0]]
// CHECK: vector.store %[[IB1]]
// CHECK: } {ntp.neuron_loop}
func.func @poly_vjp(%a: memref<2x4x8xf64>, %bar: memref<2x4x8xf64>,
                    %inbar: memref<2x4x8xf64>) {
  ntp.activate_poly_vjp "sin" %a, %bar into %inbar monomials [0, 1]
      variables 1 : memref<2x4x8xf64>, memref<2x4x8xf64>, memref<2x4x8xf64>
  return
}

// ntp.gate_poly_vjp as loops, accumulating: per neuron U, V, Z and the
// cotangent loaded once, D = V - U, the old U and V cotangents, and per row
// gamma Dbar and Zbar over the transposed table (row 0: Dbar_0 = O0 Z0 +
// O1 Z1, Zbar_0 = O0 D0 + O1 D1), Ubar += O - Dbar, Vbar += Dbar.
// Monomials: 0, e0 in one variable.
// CHECK-LABEL: func.func @gate_vjp
// CHECK: scf.for %[[I:.*]] = %{{.*}} to %{{.*}} step
// CHECK-COUNT-2: vector.load %arg0
// CHECK-COUNT-2: vector.load %arg1
// CHECK: %[[Z0:.*]] = vector.load %arg2
// CHECK: %[[Z1:.*]] = vector.load %arg2
// CHECK: %[[O0:.*]] = vector.load %arg3
// CHECK: %[[O1:.*]] = vector.load %arg3
// CHECK: %[[D0:.*]] = arith.subf
// CHECK: %[[D1:.*]] = arith.subf
// CHECK: %[[UB0:.*]] = vector.load %arg4
// CHECK: vector.load %arg4
// CHECK: %[[VB0:.*]] = vector.load %arg5
// CHECK: vector.load %arg5
// CHECK: %[[T:.*]] = arith.mulf %[[O0]], %[[Z0]]
// CHECK: %[[DB0:.*]] = math.fma %[[O1]], %[[Z1]], %[[T]]
// CHECK: %[[S:.*]] = arith.mulf %[[O0]], %[[D0]]
// CHECK: %[[ZB0:.*]] = math.fma %[[O1]], %[[D1]], %[[S]]
// CHECK: vector.store %[[ZB0]], %arg6
// CHECK: %[[R:.*]] = arith.subf %[[O0]], %[[DB0]]
// CHECK: %[[NU:.*]] = arith.addf %[[UB0]], %[[R]]
// CHECK: %[[NV:.*]] = arith.addf %[[VB0]], %[[DB0]]
// CHECK: vector.store %[[NU]], %arg4
// CHECK: vector.store %[[NV]], %arg5
// CHECK: } {ntp.neuron_loop}
func.func @gate_vjp(%u: memref<2x4x8xf64>, %v: memref<2x4x8xf64>,
                    %z: memref<2x4x8xf64>, %bar: memref<2x4x8xf64>,
                    %ub: memref<2x4x8xf64>, %vb: memref<2x4x8xf64>,
                    %zb: memref<2x4x8xf64>) {
  ntp.gate_poly_vjp %u, %v, %z, %bar into %ub, %vb, %zb monomials [0, 1]
      variables 1 accumulate
      : memref<2x4x8xf64>, memref<2x4x8xf64>, memref<2x4x8xf64>,
        memref<2x4x8xf64>, memref<2x4x8xf64>, memref<2x4x8xf64>,
        memref<2x4x8xf64>
  return
}
