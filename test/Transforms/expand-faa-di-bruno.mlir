// RUN: ntp-opt %s -ntp-expand-activation-jets="formulation=faa-di-bruno" -canonicalize -cse | FileCheck %s
// The former name of the pass is an alias that runs the same pass:
// RUN: ntp-opt %s -ntp-expand-faa-di-bruno="formulation=faa-di-bruno" -canonicalize -cse | FileCheck %s
// RUN: ntp-opt %s -ntp-expand-faa-di-bruno="formulation=taylor outline=1" --dump-pass-pipeline -o /dev/null 2>&1 | FileCheck %s --check-prefix=ALIAS
// ALIAS: ntp-expand-faa-di-bruno{formulation=taylor {{.*}}outline=true}

// tanh at order 3, every input order live. With t = tanh(y0):
//   sigma'   = 1 - t^2
//   sigma''  = -2t + 2t^3
//   sigma''' = -2 + 8t^2 - 6t^4
//   z1 = sigma' y1
//   z2 = sigma' y2 + sigma'' y1^2
//   z3 = sigma' y3 + sigma'' (3 y1 y2) + sigma''' y1^3   (B_{3,2} = 3 y1 y2)

// CHECK-LABEL: func.func @tanh_order3
// CHECK-DAG: %[[M6:.*]] = arith.constant dense<-6.000000e+00> : vector<4xf64>
// CHECK-DAG: %[[P8:.*]] = arith.constant dense<8.000000e+00> : vector<4xf64>
// CHECK-DAG: %[[P2:.*]] = arith.constant dense<2.000000e+00> : vector<4xf64>
// CHECK-DAG: %[[M2:.*]] = arith.constant dense<-2.000000e+00> : vector<4xf64>
// CHECK-DAG: %[[M1:.*]] = arith.constant dense<-1.000000e+00> : vector<4xf64>
// CHECK-DAG: %[[ONE:.*]] = arith.constant dense<1.000000e+00> : vector<4xf64>
// CHECK: scf.for %[[I:.*]] =
// CHECK:   %[[Y0:.*]] = vector.load %{{.*}}[%{{.*}}, %[[I]], %{{.*}}]
// CHECK:   %[[Y1:.*]] = vector.load
// CHECK:   %[[Y2:.*]] = vector.load
// CHECK:   %[[Y3:.*]] = vector.load
// CHECK:   %[[T:.*]] = math.tanh %[[Y0]]
// CHECK:   %[[T2:.*]] = arith.mulf %[[T]], %[[T]]
// CHECK:   %[[D1:.*]] = math.fma %[[T2]], %[[M1]], %[[ONE]]
// CHECK:   %[[MT:.*]] = arith.mulf %[[T]], %[[M2]]
// CHECK:   %[[T3:.*]] = arith.mulf %[[T]], %[[T2]]
// CHECK:   %[[D2:.*]] = math.fma %[[T3]], %[[P2]], %[[MT]]
// CHECK:   %[[D3A:.*]] = math.fma %[[T2]], %[[P8]], %[[M2]]
// CHECK:   %[[T4:.*]] = arith.mulf %[[T2]], %[[T2]]
// CHECK:   %[[D3:.*]] = math.fma %[[T4]], %[[M6]], %[[D3A]]
// CHECK:   %[[Y1SQ:.*]] = arith.mulf %[[Y1]], %[[Y1]]
// CHECK:   %[[TWOY2:.*]] = arith.mulf %[[Y2]], %[[P2]]
// CHECK:   %[[Y1Y2:.*]] = arith.mulf %[[Y1]], %[[Y2]]
// CHECK:   %[[B32:.*]] = math.fma %[[Y1]], %[[TWOY2]], %[[Y1Y2]]
// CHECK:   %[[Y1CU:.*]] = arith.mulf %[[Y1]], %[[Y1SQ]]
// CHECK:   %[[Z1:.*]] = arith.mulf %[[Y1]], %[[D1]]
// CHECK:   %[[Z2A:.*]] = arith.mulf %[[Y2]], %[[D1]]
// CHECK:   %[[Z2:.*]] = math.fma %[[D2]], %[[Y1SQ]], %[[Z2A]]
// CHECK:   %[[Z3A:.*]] = arith.mulf %[[Y3]], %[[D1]]
// CHECK:   %[[Z3B:.*]] = math.fma %[[D2]], %[[B32]], %[[Z3A]]
// CHECK:   %[[Z3:.*]] = math.fma %[[D3]], %[[Y1CU]], %[[Z3B]]
// CHECK:   vector.store %[[T]], %{{.*}}[%{{.*}}, %[[I]], %{{.*}}]
// CHECK:   vector.store %[[Z1]]
// CHECK:   vector.store %[[Z2]]
// CHECK:   vector.store %[[Z3]]
func.func @tanh_order3(%in: memref<4x2x4xf64>, %out: memref<4x2x4xf64>) {
  ntp.activate "tanh" %in into %out live_orders 4 : memref<4x2x4xf64>, memref<4x2x4xf64>
  return
}

// Structural zeros: with only y0 and y1 live (the first layer), every Bell
// polynomial but B_{m,m} = y1^m vanishes, so z_m = sigma^(m) y1^m and only
// two input orders are loaded.
// CHECK-LABEL: func.func @tanh_first_layer
// CHECK: scf.for
// CHECK-COUNT-2: vector.load
// CHECK-NOT: vector.load
// CHECK: math.tanh
// CHECK-COUNT-4: vector.store
func.func @tanh_first_layer(%in: memref<4x2x4xf64>, %out: memref<4x2x4xf64>) {
  ntp.activate "tanh" %in into %out live_orders 2 : memref<4x2x4xf64>, memref<4x2x4xf64>
  return
}

// sin needs sin and cos of y0; its derivatives cycle through them.
// CHECK-LABEL: func.func @sin_order2
// CHECK-DAG: math.sin
// CHECK-DAG: math.cos
// CHECK: vector.store
func.func @sin_order2(%in: memref<3x1x8xf32>, %out: memref<3x1x8xf32>) {
  ntp.activate "sin" %in into %out live_orders 3 : memref<3x1x8xf32>, memref<3x1x8xf32>
  return
}

// The identity activation copies the jet: no arithmetic at all.
// CHECK-LABEL: func.func @identity_order2
// CHECK: %[[Y0:.*]] = vector.load
// CHECK: %[[Y1:.*]] = vector.load
// CHECK: %[[Y2:.*]] = vector.load
// CHECK-NOT: arith.mulf
// CHECK-NOT: math.fma
// CHECK: vector.store %[[Y0]]
// CHECK: vector.store %[[Y1]]
// CHECK: vector.store %[[Y2]]
// CHECK: return
func.func @identity_order2(%in: memref<3x1x8xf32>, %out: memref<3x1x8xf32>) {
  ntp.activate "identity" %in into %out live_orders 3 : memref<3x1x8xf32>, memref<3x1x8xf32>
  return
}
