// RUN: ntp-opt %s -convert-ntp-to-loops -canonicalize -cse | FileCheck %s

// Lane-wise accumulators narrower than the tile (4 lanes for a tile of 8):
// each entry's chain over the orders starts from zero, then the tile's two
// halves are added and the sum is added to the stored lanes.

// CHECK-LABEL: func.func @affine_vjp_folded
// CHECK-SAME: %[[LANES:[^:]*]]: memref<5x4xf32>
// Bias: order 0 of the output cotangent, folded.
// CHECK:   %[[BAR:.*]] = vector.load %{{.*}}[%[[C0:.*]], %[[C0]], %[[C0]]] : memref<2x1x8xf32>, vector<8xf32>
// CHECK:   %[[LO:.*]] = vector.extract_strided_slice %[[BAR]] {offsets = [0], sizes = [4], strides = [1]} : vector<8xf32> to vector<4xf32>
// CHECK:   %[[HI:.*]] = vector.extract_strided_slice %[[BAR]] {offsets = [4], sizes = [4], strides = [1]} : vector<8xf32> to vector<4xf32>
// CHECK:   %[[SUM:.*]] = arith.addf %[[LO]], %[[HI]] : vector<4xf32>
// CHECK:   %[[OLD:.*]] = vector.load %[[LANES]][%{{.*}}, %{{.*}}] : memref<5x4xf32>, vector<4xf32>
// CHECK:   %[[NEW:.*]] = arith.addf %[[OLD]], %[[SUM]] : vector<4xf32>
// CHECK:   vector.store %[[NEW]], %[[LANES]]
// Weights: the chain over both orders from zero, then folded and added.
// CHECK:   scf.for
// CHECK-NOT: vector.load %[[LANES]]
// CHECK:     math.fma
// CHECK:     math.fma
// CHECK:     vector.extract_strided_slice {{.*}} {offsets = [0], sizes = [4], strides = [1]}
// CHECK:     vector.extract_strided_slice {{.*}} {offsets = [4], sizes = [4], strides = [1]}
// CHECK:     arith.addf
// CHECK:     vector.load %[[LANES]]
// CHECK:     arith.addf
// CHECK:     vector.store %{{.*}}, %[[LANES]]
// CHECK: return
func.func @affine_vjp_folded(%in: memref<2x4x8xf32>, %p: memref<?xf32>, %outbar: memref<2x1x8xf32>, %lanes: memref<5x4xf32>) {
  ntp.affine_vjp %in, %p[0], %outbar into %lanes live_orders 2 : memref<2x4x8xf32>, memref<?xf32>, memref<2x1x8xf32>, memref<5x4xf32>
  return
}
