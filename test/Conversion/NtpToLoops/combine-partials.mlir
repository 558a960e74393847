// RUN: ntp-opt %s -convert-ntp-to-loops -canonicalize -cse | FileCheck %s

// ntp.combine_partials: unrolled over the requests and their nonzero
// weights, a loop over the outputs, one vector load per (column, output);
// weight 1 is an add, other weights an FMA (the first a multiply), zero
// weights are skipped, a request with no weight stores zeros.

// CHECK-LABEL: func.func @combine
// CHECK-DAG: %[[ZERO:.*]] = arith.constant dense<0.000000e+00> : vector<8xf64>
// CHECK-DAG: %[[HALF:.*]] = arith.constant dense<5.000000e-01> : vector<8xf64>
// CHECK-DAG: %[[QUARTER:.*]] = arith.constant dense<-2.500000e-01> : vector<8xf64>
// CHECK: scf.for %[[J:.*]] = %{{.*}} to %{{.*}} step
// CHECK:   %[[R0:.*]] = vector.load %[[RAYS:.*]][%{{.*}}, %[[J]], %{{.*}}] : memref<3x2x8xf64>, vector<8xf64>
// CHECK:   vector.store %[[R0]], %[[OUT:.*]][%{{.*}}, %[[J]], %{{.*}}]
// CHECK:   %[[R1:.*]] = vector.load %[[RAYS]]
// CHECK:   %[[M:.*]] = arith.mulf %[[R1]], %[[QUARTER]]
// CHECK:   %[[R2:.*]] = vector.load %[[RAYS]]
// CHECK:   %[[F:.*]] = math.fma %[[HALF]], %[[R2]], %[[M]]
// CHECK:   vector.store %[[F]], %[[OUT]]
// CHECK:   vector.store %[[ZERO]], %[[OUT]]
func.func @combine(%rays: memref<3x2x8xf64>, %out: memref<3x2x8xf64>) {
  ntp.combine_partials %rays into %out weights [1.0, 0.0, 0.0, 0.0, -0.25, 0.5, 0.0, 0.0, 0.0] : memref<3x2x8xf64>, memref<3x2x8xf64>
  return
}
