// --help lists ntp-cost's own flags, not LLVM's backend options.
// RUN: ntp-cost --help | FileCheck %s
// RUN: ntp-cost --help | FileCheck %s --check-prefix=NOLLVM

// CHECK: OVERVIEW: ntp-cost
// CHECK-DAG: --activation=<string>
// CHECK-DAG: --max-order=<int>

// NOLLVM-NOT: --amdgpu
// NOLLVM-NOT: --x86-
// NOLLVM-NOT: --regalloc
