// RUN: ntp-opt %s | ntp-opt | FileCheck %s

// ntp.activate_poly round-trips: f, its gradient and the Hessian diagonal in
// 2 variables (5 monomials, row 0 the constant).

// CHECK-LABEL: func.func @poly
// CHECK: ntp.activate_poly "tanh" %{{.*}} into %{{.*}} monomials [0, 0, 1, 0, 0, 1, 2, 0, 0, 2] variables 2 : memref<5x4x8xf64>, memref<5x4x8xf64>
func.func @poly(%a: memref<5x4x8xf64>, %b: memref<5x4x8xf64>) {
  ntp.activate_poly "tanh" %a into %b monomials [0, 0, 1, 0, 0, 1, 2, 0, 0, 2]
      variables 2 : memref<5x4x8xf64>, memref<5x4x8xf64>
  return
}

// ntp.gate_poly round-trips: the modified MLP's gate on f and its gradient
// in 2 variables (3 monomials).

// CHECK-LABEL: func.func @gate
// CHECK: ntp.gate_poly %{{.*}}, %{{.*}}, %{{.*}} into %{{.*}} monomials [0, 0, 1, 0, 0, 1] variables 2 : memref<3x4x8xf64>, memref<3x4x8xf64>, memref<3x4x8xf64>, memref<3x4x8xf64>
func.func @gate(%u: memref<3x4x8xf64>, %v: memref<3x4x8xf64>,
                %z: memref<3x4x8xf64>, %out: memref<3x4x8xf64>) {
  ntp.gate_poly %u, %v, %z into %out monomials [0, 0, 1, 0, 0, 1] variables 2
      : memref<3x4x8xf64>, memref<3x4x8xf64>, memref<3x4x8xf64>,
        memref<3x4x8xf64>
  return
}

// ntp.activate_poly_vjp round-trips: the cotangents of the same 5 rows.

// CHECK-LABEL: func.func @poly_vjp
// CHECK: ntp.activate_poly_vjp "tanh" %{{.*}}, %{{.*}} into %{{.*}} monomials [0, 0, 1, 0, 0, 1, 2, 0, 0, 2] variables 2 : memref<5x4x8xf64>, memref<5x4x8xf64>, memref<5x4x8xf64>
func.func @poly_vjp(%a: memref<5x4x8xf64>, %bar: memref<5x4x8xf64>,
                    %inbar: memref<5x4x8xf64>) {
  ntp.activate_poly_vjp "tanh" %a, %bar into %inbar
      monomials [0, 0, 1, 0, 0, 1, 2, 0, 0, 2] variables 2
      : memref<5x4x8xf64>, memref<5x4x8xf64>, memref<5x4x8xf64>
  return
}

// ntp.gate_poly_vjp round-trips, with and without accumulate.

// CHECK-LABEL: func.func @gate_vjp
// CHECK: ntp.gate_poly_vjp %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} into %{{.*}}, %{{.*}}, %{{.*}} monomials [0, 0, 1, 0, 0, 1] variables 2 :
// CHECK: ntp.gate_poly_vjp {{.*}} monomials [0, 0, 1, 0, 0, 1] variables 2 accumulate :
func.func @gate_vjp(%u: memref<3x4x8xf64>, %v: memref<3x4x8xf64>,
                    %z: memref<3x4x8xf64>, %bar: memref<3x4x8xf64>,
                    %ub: memref<3x4x8xf64>, %vb: memref<3x4x8xf64>,
                    %zb: memref<3x4x8xf64>) {
  ntp.gate_poly_vjp %u, %v, %z, %bar into %ub, %vb, %zb
      monomials [0, 0, 1, 0, 0, 1] variables 2
      : memref<3x4x8xf64>, memref<3x4x8xf64>, memref<3x4x8xf64>,
        memref<3x4x8xf64>, memref<3x4x8xf64>, memref<3x4x8xf64>,
        memref<3x4x8xf64>
  ntp.gate_poly_vjp %u, %v, %z, %bar into %ub, %vb, %zb
      monomials [0, 0, 1, 0, 0, 1] variables 2 accumulate
      : memref<3x4x8xf64>, memref<3x4x8xf64>, memref<3x4x8xf64>,
        memref<3x4x8xf64>, memref<3x4x8xf64>, memref<3x4x8xf64>,
        memref<3x4x8xf64>
  return
}
