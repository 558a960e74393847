// ntp-opt --help lists the MLIR options and passes (ntp's among them), not
// LLVM's backend options, which --help-hidden keeps reachable.
// RUN: ntp-opt --help | FileCheck %s
// RUN: ntp-opt --help | FileCheck %s --check-prefix=NOLLVM --strict-whitespace
// RUN: ntp-opt --help-hidden | FileCheck %s --check-prefix=HIDDEN

// CHECK-DAG: --split-input-file
// CHECK-DAG: --mlir-print-ir-after-all
// CHECK-DAG: --ntp-decompose-mlp
// CHECK-DAG: --ntp-cpu-pipeline
// CHECK-DAG: --ntp-gpu-pipeline

// NOLLVM-NOT: {{^  --amdgpu}}
// NOLLVM-NOT: {{^  --arm-}}
// NOLLVM-NOT: {{^  --bpf}}
// NOLLVM-NOT: {{^  --x86-}}
// NOLLVM-NOT: {{^  --nvptx-}}
// NOLLVM-NOT: {{^  --aarch64-}}
// NOLLVM-NOT: {{^  --regalloc}}

// HIDDEN: --x86-asm-syntax
