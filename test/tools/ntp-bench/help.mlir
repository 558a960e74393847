// --help lists ntp-bench's own flags, not the hundreds of LLVM backend
// options that come in with the JIT.
// RUN: ntp-bench --help | FileCheck %s
// RUN: ntp-bench --help | FileCheck %s --check-prefix=NOLLVM

// CHECK: OVERVIEW: ntp-bench
// CHECK-DAG: --max-order=<int>
// CHECK-DAG: --schedules=<string>
// CHECK-DAG: --torch=<string>

// NOLLVM-NOT: --amdgpu
// NOLLVM-NOT: --x86-
// NOLLVM-NOT: --regalloc
// NOLLVM-NOT: --mlir-
