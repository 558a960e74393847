// Bad target options and outputs: ntp's own sentence and a nonzero status,
// never a crash, and no output left behind.
// RUN: not ntp-compile %s --target=nvptx --chip= --emit=ptx 2>&1 | FileCheck %s --check-prefix=EMPTYCHIP
// RUN: not ntp-compile %s --target=nvptx --chip=foo --emit=ptx 2>&1 | FileCheck %s --check-prefix=FOOCHIP
// RUN: not ntp-compile %s --target=nvptx --chip=foo --emit=mlir 2>&1 | FileCheck %s --check-prefix=FOOCHIP
// RUN: not ntp-compile %s --target=nvptx --block-size=2000 --emit=ptx 2>&1 | FileCheck %s --check-prefix=BLOCK
// RUN: rm -f %t.o
// RUN: not ntp-compile %s --emit=obj -o %t.o --header=%t.missing-dir/k.h 2>&1 | FileCheck %s --check-prefix=HEADER
// RUN: not test -e %t.o
// RUN: not ntp-compile %s -o /dev/full 2>&1 | FileCheck %s --check-prefix=FULL
// RUN: not ntp-compile %s --emit=mlir -o /dev/full 2>&1 | FileCheck %s --check-prefix=FULL

// EMPTYCHIP: ntp-compile: error: unknown NVIDIA architecture '' (expected sm_XX, e.g. sm_80 or sm_90)
// FOOCHIP: ntp-compile: error: unknown NVIDIA architecture 'foo' (expected sm_XX, e.g. sm_80 or sm_90)
// FOOCHIP-NOT: Minimum NVVM target SM version
// BLOCK: ntp-compile: error: --block-size must be in 1..1024, got 2000{{$}}
// HEADER: ntp-compile: error: cannot write '{{.*}}missing-dir/k.h'
// FULL: ntp-compile: error: cannot write '/dev/full': No space left on device
// FULL-NOT: LLVM ERROR
ntp.mlp @net layers [1, 4, 1] activation "tanh" order 2 : f32
