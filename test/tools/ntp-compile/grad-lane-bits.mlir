// RUN: ntp-compile --layers 1,3,2 --order 2 --dtype f64 --target-cpu znver3 --emit=loops | FileCheck %s --check-prefix=AVX2
// RUN: ntp-compile --layers 1,3,2 --order 2 --dtype f64 --target-cpu znver4 --emit=loops | FileCheck %s --check-prefix=AVX512
// RUN: ntp-compile --layers 1,3,2 --order 2 --dtype f64 --target-cpu znver3 --grad-lane-bits 0 --emit=loops | FileCheck %s --check-prefix=TILE
// RUN: not ntp-compile --layers 1,3,2 --order 2 --grad-lane-bits 48 --emit=loops 2>&1 | FileCheck %s --check-prefix=BAD
// RUN: ntp-compile --layers 1,64,64,1 --order 3 --dtype f64 --target-cpu emeraldrapids --emit=loops | FileCheck %s --check-prefix=EMR-LOW
// RUN: ntp-compile --layers 1,64,64,1 --order 9 --dtype f64 --target-cpu emeraldrapids --emit=loops | FileCheck %s --check-prefix=EMR-HIGH
// RUN: ntp-compile --layers 1,3,2 --order 3 --dtype f64 --target-cpu emeraldrapids --emit=loops | FileCheck %s --check-prefix=EMR-SMALL

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

// Emerald Rapids (512 bits, two FMA pipes): 4353 parameters' accumulators
// (272 KiB a register wide) do not stay in L1, so at order 3, where each
// accumulator's load and store serve 4 FMAs, half a register (4 f64
// lanes, one extract and add per tile) is faster by the model
// (ntp::chooseGradLaneBits; measured on 1-128-128-1: training step
// 1.14-1.17x); at order 9 (10 FMAs) the register; 14 parameters fit in L1.
// EMR-LOW-LABEL: func.func @ntp_kernel_backward_saved_tiles
// EMR-LOW: memref.alloc() {alignment = 64 : i64} : memref<4353x4xf64>
// EMR-HIGH-LABEL: func.func @ntp_kernel_backward_saved_tiles
// EMR-HIGH: memref.alloc() {alignment = 64 : i64} : memref<4353x8xf64>
// EMR-SMALL-LABEL: func.func @ntp_kernel_backward_saved_tiles
// EMR-SMALL: memref.alloc() {alignment = 64 : i64} : memref<14x8xf64>

// BAD: the gradient accumulators' bits must be -1 (chosen for the CPU), 0 (one lane per sample) or a multiple of 32 up to 4096, got 48
