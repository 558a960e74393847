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
