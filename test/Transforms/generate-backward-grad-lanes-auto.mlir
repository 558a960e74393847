// RUN: ntp-opt %s -split-input-file -ntp-decompose-mlp -ntp-generate-backward="grad-lane-bits=-1 machine-facts=512,32,4,2,3,32768" -verify-diagnostics | FileCheck %s
// RUN: ntp-opt %s -split-input-file -ntp-decompose-mlp -ntp-generate-backward="grad-lane-bits=-1" | FileCheck %s --check-prefix=UNKNOWN
// RUN: not ntp-opt %s -split-input-file -ntp-decompose-mlp -ntp-generate-backward="grad-lane-bits=-2" 2>&1 | FileCheck %s --check-prefix=BAD-BITS
// RUN: not ntp-opt %s -split-input-file -ntp-decompose-mlp -ntp-generate-backward="grad-lane-bits=-1 machine-facts=512,32" 2>&1 | FileCheck %s --check-prefix=BAD-FACTS

// grad-lane-bits=-1: chosen per kernel (ntp::chooseGradLaneBits) from an
// AVX-512 core with two FMA pipes and a 32 KiB L1d. 4353 parameters at
// order 3: each accumulator's load and store serve 4 FMAs per tile and the
// accumulators (272 KiB a register wide) are in L2, so half a register, 4
// f64 lanes; at order 9, 10 FMAs: the register, 8 lanes. Without facts,
// one lane per sample (8).

// CHECK-LABEL: func.func @low_backward_saved_tiles
// CHECK: memref.alloc() {alignment = 64 : i64} : memref<4353x4xf64>
// UNKNOWN-LABEL: func.func @low_backward_saved_tiles
// UNKNOWN: memref.alloc() {alignment = 64 : i64} : memref<4353x8xf64>
ntp.mlp @low layers [1, 64, 64, 1] activation "tanh" order 3 : f64

// -----

// CHECK-LABEL: func.func @high_backward_saved_tiles
// CHECK: memref.alloc() {alignment = 64 : i64} : memref<4353x8xf64>
ntp.mlp @high layers [1, 64, 64, 1] activation "tanh" order 9 : f64

// BAD-BITS: grad-lane-bits must be -1 (chosen), 0 or a width in bits, got -2
// BAD-FACTS: machine-facts takes 5 or 6 numbers (vector bits, vector registers, FMA latency, FMA pipes, load ports, optionally L1 data bytes), got 2
