// RUN: ntp-opt %s -convert-ntp-to-loops="affine-outputs=0 machine-facts=512,32,4,1,2" -canonicalize -cse | FileCheck %s
// RUN: ntp-opt %s -convert-ntp-to-loops="affine-outputs=0" -canonicalize -cse | FileCheck %s --check-prefix=UNKNOWN
// RUN: not ntp-opt %s -convert-ntp-to-loops="affine-outputs=0 machine-facts=512,32" 2>&1 | FileCheck %s --check-prefix=BAD-FACTS
// RUN: not ntp-opt %s -convert-ntp-to-loops="affine-outputs=-1" 2>&1 | FileCheck %s --check-prefix=NEGATIVE

// affine-outputs=0: the block is chosen per layer from the machine's facts.
// A Zen 4 (512-bit vectors, 32 registers, FMA latency 4, one FMA and two
// loads per cycle) with 16-lane f32 jets, 24 outputs and 10 live orders:
// blocks of 2 outputs x all 10 orders (20 accumulators; 4 x 10 would spill,
// 4 x 5 in two chunks is no faster by the model and twice the code), so per
// input neuron 2 broadcasts and 10 loads feed 20 FMAs.

// CHECK-LABEL: func.func @affine
// CHECK: scf.for %{{.*}} = %{{.*}} to %{{.*}} step %[[C2:.*]] {
// CHECK:   scf.for {{.*}} -> (vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>) {
// CHECK-COUNT-20: math.fma
// CHECK: } {ntp.neuron_loop}
// CHECK-NOT: scf.for

// Without facts, no automatic choice: the unblocked loop (one output, every
// live order in one loop).
// UNKNOWN-LABEL: func.func @affine
// UNKNOWN: scf.for %{{.*}} = %{{.*}} to %{{.*}} step %[[C1:.*]] {
// UNKNOWN:   scf.for {{.*}} -> (vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>) {
// UNKNOWN-COUNT-10: math.fma
// UNKNOWN-NOT: math.fma

// BAD-FACTS: machine-facts takes 5 or 6 numbers (vector bits, vector registers, FMA latency, FMA pipes, load ports, optionally L1 data bytes), got 2
// NEGATIVE: affine-outputs and affine-orders must not be negative, got -1 and 0
func.func @affine(%in: memref<10x24x16xf32>, %p: memref<?xf32>, %out: memref<10x24x16xf32>) {
  ntp.affine %in, %p[0] into %out live_orders 10 : memref<10x24x16xf32>, memref<?xf32>, memref<10x24x16xf32>
  return
}
