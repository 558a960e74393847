// RUN: ntp-opt %s -ntp-jet-loops-pipeline="tile-size=4" | FileCheck %s
// RUN: ntp-opt %s -ntp-jet-loops-pipeline="tile-size=4 outline=0 backward=0" | FileCheck %s --check-prefix=INLINE

// The loop-level stage: a tile loop whose body is one loop nest per layer;
// the tile size option sets the vector length. By default each neuron's
// Faà di Bruno arithmetic is a shared, non-inlined function.

// CHECK-LABEL: func.func @net_forward_tiles
// CHECK: memref.alloca() : memref<3x5x4xf64>
// CHECK: scf.for
// CHECK-NOT: {{^ *(%[^ ]* = )?}}ntp.
// CHECK: func.call @__ntp_jet_sin_o2_l2_v4f64
// CHECK: return
// The reverse of one tile and the forward of one tile are functions of
// their own, called by the reverse-mode entry points (the recomputing
// backward calls both).
// CHECK-LABEL: func.func private @__ntp_net_tile_reverse
// CHECK: func.call @__ntp_jet_vjp_sin_o2_l2_v4f64
// CHECK-LABEL: func.func private @__ntp_net_tile_forward
// CHECK: func.call @__ntp_jet_sin_o2_l2_v4f64
// CHECK-LABEL: func.func @net_backward_tiles
// CHECK: func.call @__ntp_net_tile_forward
// CHECK: func.call @__ntp_net_tile_reverse
// CHECK-LABEL: func.func private @__ntp_jet_sin_o2_l2_v4f64
// CHECK-DAG: math.sin
// CHECK-DAG: math.cos

// INLINE-LABEL: func.func @net_forward_tiles
// INLINE: scf.for
// INLINE: math.sin
// INLINE: math.cos
// INLINE: vector.store {{.*}} vector<4xf64>
// INLINE-NOT: func.call
// INLINE-NOT: func.func @net_backward_tiles
ntp.mlp @net layers [2, 5, 3] activation "sin" order 2 : f64
