// RUN: ntp-compile --layers 1,3,2 --order 2 --dtype f64 --target-cpu znver3 --emit=loops | FileCheck %s --check-prefix=AVX2
// RUN: ntp-compile --layers 1,3,2 --order 2 --dtype f64 --target-cpu znver4 --emit=loops | FileCheck %s --check-prefix=AVX512
// RUN: ntp-compile --layers 1,3,2 --order 2 --dtype f64 --target-cpu znver3 --grad-lane-bits 0 --emit=loops | FileCheck %s --check-prefix=TILE
// RUN: not ntp-compile --layers 1,3,2 --order 2 --grad-lane-bits 48 --emit=loops 2>&1 | FileCheck %s --check-prefix=BAD

// The reverse mode's gradient accumulators (14 parameters) are one vector
// register wide: a tile of 8 f64 samples spans two 256-bit registers on
// Zen 3 and folds to 4 lanes; on Zen 4 (512 bits) one register holds the
// tile; --grad-lane-bits 0 keeps one lane per sample.

// AVX2-LABEL: func.func @ntp_kernel_backward_saved_tiles
// AVX2: memref.alloc() {alignment = 64 : i64} : memref<14x4xf64>
// AVX512-LABEL: func.func @ntp_kernel_backward_saved_tiles
// AVX512: memref.alloc() {alignment = 64 : i64} : memref<14x8xf64>
// TILE-LABEL: func.func @ntp_kernel_backward_saved_tiles
// TILE: memref.alloc() {alignment = 64 : i64} : memref<14x8xf64>

// BAD: the gradient accumulators' bits must be -1 (the CPU's vector register), 0 (one lane per sample) or a multiple of 32 up to 4096, got 48
