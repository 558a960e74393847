// RUN: ntp-opt %s -ntp-expand-activation-jets -canonicalize -cse | FileCheck %s

// The VJP of tanh at order 1, by reverse-mode differentiation of the
// expansion z0 = t, z1 = (1 - t^2) y1 with t = tanh(y0):
//   ybar1 = (1 - t^2) zbar1
//   ybar0 = (1 - t^2) (zbar0 - 2 t y1 zbar1)
// The forward's 1 - t^2 is shared by both and by dt/dy0.

// CHECK-LABEL: func.func @tanh_vjp_order1
// CHECK-DAG: %[[M1:.*]] = arith.constant dense<-1.000000e+00> : vector<4xf64>
// CHECK-DAG: %[[ONE:.*]] = arith.constant dense<1.000000e+00> : vector<4xf64>
// CHECK: %[[Y0:.*]] = vector.load %arg0
// CHECK: %[[Y1:.*]] = vector.load %arg0
// CHECK: %[[ZB0:.*]] = vector.load %arg1
// CHECK: %[[ZB1:.*]] = vector.load %arg1
// CHECK: %[[T:.*]] = math.tanh %[[Y0]]
// CHECK: %[[T2:.*]] = arith.mulf %[[T]], %[[T]]
// CHECK: %[[D1:.*]] = math.fma %[[T2]], %[[M1]], %[[ONE]]
// CHECK: %[[YB1:.*]] = arith.mulf %[[D1]], %[[ZB1]]
// CHECK: %[[P:.*]] = arith.mulf %[[Y1]], %[[ZB1]]
// CHECK: %[[NP:.*]] = arith.mulf %[[P]], %[[M1]]
// CHECK: %[[A:.*]] = math.fma %[[T]], %[[NP]], %[[ZB0]]
// CHECK: %[[B:.*]] = math.fma %[[T]], %[[NP]], %[[A]]
// CHECK: %[[YB0:.*]] = arith.mulf %[[D1]], %[[B]]
// CHECK: vector.store %[[YB0]], %arg2
// CHECK: vector.store %[[YB1]], %arg2
func.func @tanh_vjp_order1(%in: memref<2x1x4xf64>, %zbar: memref<2x1x4xf64>, %ybar: memref<2x1x4xf64>) {
  ntp.activate_vjp "tanh" %in, %zbar into %ybar live_orders 2 : memref<2x1x4xf64>, memref<2x1x4xf64>, memref<2x1x4xf64>
  return
}

// Structural zeros carry over: with only y0 live (y1 = y2 = 0), z1 = z2 = 0
// and ybar0 = cos(y0) zbar0; sin(y0) itself is dead code and not emitted.
// CHECK-LABEL: func.func @sin_vjp_first_layer
// CHECK: %[[Y0:.*]] = vector.load %arg0
// CHECK: %[[ZB0:.*]] = vector.load %arg1
// CHECK-NOT: math.sin
// CHECK: %[[C:.*]] = math.cos %[[Y0]]
// CHECK: %[[YB0:.*]] = arith.mulf %[[C]], %[[ZB0]]
// CHECK: vector.store %[[YB0]], %arg2
// CHECK-NOT: vector.store
func.func @sin_vjp_first_layer(%in: memref<3x2x8xf32>, %zbar: memref<3x2x8xf32>, %ybar: memref<3x2x8xf32>) {
  ntp.activate_vjp "sin" %in, %zbar into %ybar live_orders 1 : memref<3x2x8xf32>, memref<3x2x8xf32>, memref<3x2x8xf32>
  return
}
