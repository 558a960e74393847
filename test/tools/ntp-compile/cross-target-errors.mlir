// Cross-compilation mistakes: one sentence and a nonzero status each.
// RUN: not ntp-compile %s --target-triple=aarch64-linux-gnu --emit=asm 2>&1 | FileCheck %s --check-prefix=DEFAULTCPU
// RUN: not ntp-compile %s --target-triple=aarch64-linux-gnu --target-cpu=native --emit=asm 2>&1 | FileCheck %s --check-prefix=NATIVE
// RUN: not ntp-compile %s --target-triple=nonsense-arch --emit=asm 2>&1 | FileCheck %s --check-prefix=TRIPLE
// RUN: not ntp-compile %s --target-triple=riscv64-linux-gnu --target-cpu=generic --emit=asm 2>&1 | FileCheck %s --check-prefix=ARCH
// RUN: not ntp-compile %s --sve-vector-bits=512 --emit=asm 2>&1 | FileCheck %s --check-prefix=SVE
// RUN: not ntp-compile %s --target-triple=aarch64-linux-gnu --target-cpu=neoverse-v2 --sve-vector-bits=300 --emit=asm 2>&1 | FileCheck %s --check-prefix=SVE
// RUN: not ntp-compile %s --target-triple=aarch64-linux-gnu --target-cpu=neoverse-v2 -o %t.so 2>&1 | FileCheck %s --check-prefix=SO

// DEFAULTCPU: ntp-compile: error: unknown target CPU 'x86-64-v3' for aarch64-unknown-linux-gnu (the default CPU is x86's; name one of that architecture, e.g. generic)
// DEFAULTCPU-NOT: not a recognized processor
// NATIVE: ntp-compile: error: --target-cpu=native names this machine's CPU, which cannot run aarch64-unknown-linux-gnu code; name a CPU of that architecture
// TRIPLE: ntp-compile: error: unknown target triple 'nonsense-arch': this LLVM has no target for it
// ARCH: ntp-compile: error: the CPU target emits x86-64 and AArch64 code, not 'riscv64-unknown-linux-gnu'
// SVE: ntp-compile: error: the SVE vector length is for AArch64 and must be a multiple of 128 in 256..2048, got {{512|300}}
// SO: ntp-compile: error: a kernel artifact for aarch64-unknown-linux-gnu cannot be linked or loaded on this machine; use --emit=obj, asm or llvm and that architecture's toolchain
ntp.mlp @net layers [1, 4, 1] activation "tanh" order 2 : f32
