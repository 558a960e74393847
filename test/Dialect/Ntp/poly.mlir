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
