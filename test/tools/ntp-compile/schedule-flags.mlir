// RUN: ntp-compile --layers 1,5,3,1 --order 2 --target-cpu znver3 --interleave 1 --affine-outputs 1 --grad-outputs 2 --grad-inputs 2 --emit=loops | FileCheck %s
// RUN: ntp-compile --layers 1,5,3,1 --order 2 --target-cpu znver3 --interleave 1 --affine-outputs 1 --grad-outputs 1 --grad-inputs 1 --emit=loops | FileCheck %s --check-prefix=UNTILED
// RUN: not ntp-compile --layers 1,8,1 --grad-outputs 2 --emit=loops 2>&1 | FileCheck %s --check-prefix=HALF
// RUN: not ntp-compile --layers 1,8,1 --grad-outputs 9 --grad-inputs 1 --emit=loops 2>&1 | FileCheck %s --check-prefix=RANGE

// The CPU schedule's flags reach the lowering, and --emit=loops shows the
// loops the kernel runs, scheduled. With one neuron at a time
// (--interleave 1) and unblocked affine layers (--affine-outputs 1), the
// only loops that step by 2 are the gradient's tiles; over the 5-neuron
// layer's inputs 0..3 (to 4), a 2 x 2 tile: per order, two
// cotangents (the 3-neuron layer's) and two input jets (the 5-neuron
// layer's) loaded once feed four FMAs crosswise. Forced to 1 x 1 tiles, no
// loop steps by 2.

// The reverse of one tile (called by backward_saved and backward).
// CHECK-LABEL: func.func private @__ntp_ntp_kernel_tile_reverse
// CHECK: scf.for %{{.*}} = %{{.*}} to %c4{{[_0-9]*}} step %c2{{[_0-9]*}} {
// CHECK: %[[B0:.*]] = vector.load %{{.*}} : memref<3x3x16xf32, {{.*}}>, vector<16xf32>
// CHECK-NEXT: %[[B1:.*]] = vector.load %{{.*}} : memref<3x3x16xf32, {{.*}}>, vector<16xf32>
// CHECK-NEXT: %[[Y0:.*]] = vector.load %{{.*}} : memref<3x5x16xf32{{.*}}>, vector<16xf32>
// CHECK-NEXT: %[[Y1:.*]] = vector.load %{{.*}} : memref<3x5x16xf32{{.*}}>, vector<16xf32>
// CHECK-NEXT: math.fma %[[B0]], %[[Y0]], %{{.*}} : vector<16xf32>
// CHECK-NEXT: math.fma %[[B0]], %[[Y1]], %{{.*}} : vector<16xf32>
// CHECK-NEXT: math.fma %[[B1]], %[[Y0]], %{{.*}} : vector<16xf32>
// CHECK-NEXT: math.fma %[[B1]], %[[Y1]], %{{.*}} : vector<16xf32>
// CHECK-LABEL: func.func @ntp_kernel_forward_save_tiles

// UNTILED-LABEL: func.func private @__ntp_ntp_kernel_tile_reverse
// UNTILED-NOT: step %c2
// UNTILED-LABEL: func.func @ntp_kernel_forward_save_tiles

// HALF: error: the gradient tile's outputs and inputs must both be in 1..8, or both 0 (chosen), got 2 x 0
// RANGE: error: the gradient tile's outputs and inputs must both be in 1..8, or both 0 (chosen), got 9 x 1
