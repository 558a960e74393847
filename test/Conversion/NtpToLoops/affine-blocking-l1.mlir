// RUN: ntp-opt %s -convert-ntp-to-loops="affine-outputs=0 machine-facts=512,32,4,2,3,32768" -canonicalize -cse | FileCheck %s
// RUN: ntp-opt %s -convert-ntp-to-loops="affine-outputs=0 machine-facts=512,32,4,2,3" -canonicalize -cse | FileCheck %s --check-prefix=NO-L1

// A 128 x 128 layer of 8-lane f64 jets with 10 live orders (order 9) on an
// AVX-512 core with two FMA pipes and a 32 KiB L1d: the whole input jet
// (80 KiB) does not stay in L1, so 2 outputs x 10 orders would stream it
// from L2 once per block of 2 outputs (10 jet loads per 20 FMAs); the
// model takes 4 outputs x 5 orders, each chunk's slice (40 KiB) reread by
// 32 blocks, 5 loads per 20 FMAs (on an Emerald Rapids 1.3x faster).

// CHECK-LABEL: func.func @wide
// CHECK-DAG: %[[C4:.*]] = arith.constant 4 : index
// CHECK: scf.for %{{.*}} = %{{.*}} to %{{.*}} step %[[C4]] {
// CHECK:   scf.for {{.*}} -> (vector<8xf64>, vector<8xf64>, vector<8xf64>, vector<8xf64>, vector<8xf64>, vector<8xf64>, vector<8xf64>, vector<8xf64>, vector<8xf64>, vector<8xf64>, vector<8xf64>, vector<8xf64>, vector<8xf64>, vector<8xf64>, vector<8xf64>, vector<8xf64>, vector<8xf64>, vector<8xf64>, vector<8xf64>, vector<8xf64>) {
// CHECK-COUNT-5: vector.load %arg0
// CHECK-NOT: vector.load %arg0
// CHECK: } {ntp.neuron_loop}
// CHECK: scf.for %{{.*}} = %{{.*}} to %{{.*}} step %[[C4]] {
// CHECK-COUNT-5: vector.load %arg0
// CHECK: } {ntp.neuron_loop}
// CHECK-NOT: scf.for

// Without the cache's size, the model sees no L2 traffic: 2 x all 10.
// NO-L1-LABEL: func.func @wide
// NO-L1-DAG: %[[C2:.*]] = arith.constant 2 : index
// NO-L1: scf.for %{{.*}} = %{{.*}} to %{{.*}} step %[[C2]] {
// NO-L1:   scf.for {{.*}} -> (vector<8xf64>, vector<8xf64>, vector<8xf64>, vector<8xf64>, vector<8xf64>, vector<8xf64>, vector<8xf64>, vector<8xf64>, vector<8xf64>, vector<8xf64>, vector<8xf64>, vector<8xf64>, vector<8xf64>, vector<8xf64>, vector<8xf64>, vector<8xf64>, vector<8xf64>, vector<8xf64>, vector<8xf64>, vector<8xf64>) {
// NO-L1-COUNT-10: vector.load %arg0
// NO-L1: } {ntp.neuron_loop}
// NO-L1-NOT: scf.for
func.func @wide(%in: memref<10x128x8xf64>, %p: memref<?xf64>, %out: memref<10x128x8xf64>) {
  ntp.affine %in, %p[0] into %out live_orders 10 : memref<10x128x8xf64>, memref<?xf64>, memref<10x128x8xf64>
  return
}
