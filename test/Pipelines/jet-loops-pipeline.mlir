// RUN: ntp-opt %s -ntp-jet-loops-pipeline="tile-size=4" | FileCheck %s

// The loop-level stage: a tile loop whose body is one loop nest per layer.
// The tile size option sets the vector length.

// CHECK-LABEL: func.func @net_forward_tiles
// CHECK: memref.alloca() : memref<3x5x4xf64>
// CHECK: scf.for
// CHECK-NOT: ntp.
// CHECK: math.sin
// CHECK: math.cos
// CHECK: vector.store {{.*}} vector<4xf64>
// CHECK: return
ntp.mlp @net layers [2, 5, 3] activation "sin" order 2 : f64
