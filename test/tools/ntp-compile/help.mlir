// --help lists ntp's options (the activations from the activation table, the
// targets from the target registry) and the MLIR pass-manager options, not
// LLVM's backend options, which --help-hidden keeps reachable.
// RUN: ntp-compile --help | FileCheck %s
// RUN: ntp-compile --help | FileCheck %s --check-prefix=NOLLVM
// RUN: ntp-compile --help-hidden | FileCheck %s --check-prefix=HIDDEN

// CHECK: OVERVIEW: ntp-compile
// CHECK-DAG: --activation=<string> {{.*}}- Activation of every hidden layer, or a comma-separated list with one per hidden layer (tanh, sigmoid, sin, identity, exp, softplus, cos, silu, gelu, gelu_tanh)
// CHECK-DAG: --dtype=<value>
// CHECK-DAG: =f64
// CHECK-DAG: --emit=<value>
// CHECK-DAG: --gpu-mapping=<value>
// CHECK-DAG: =lanes
// CHECK-DAG: --gpu-format=<value>
// CHECK-DAG: --target=<value>
// CHECK-DAG: =cpu
// CHECK-DAG: =nvptx
// CHECK-DAG: --chip=<string>
// CHECK-DAG: --target-cpu=<string>
// CHECK-DAG: --grad-outputs=<long>
// CHECK-DAG: --grad-inputs=<long>
// CHECK-DAG: --mlir-print-ir-after-all
// CHECK-DAG: --mlir-timing

// NOLLVM-NOT: --amdgpu
// NOLLVM-NOT: --arm-
// NOLLVM-NOT: --bpf
// NOLLVM-NOT: --x86-
// NOLLVM-NOT: --nvptx-
// NOLLVM-NOT: --aarch64-
// NOLLVM-NOT: --regalloc

// HIDDEN: --x86-asm-syntax
