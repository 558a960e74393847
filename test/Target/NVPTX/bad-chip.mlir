// ntp-gpu-pipeline checks the chip before the NVVM target is attached: ntp's
// own sentence, not a crash (an empty chip) or MLIR's SM-version message.
// RUN: not ntp-opt %s -ntp-gpu-pipeline=chip= 2>&1 | FileCheck %s --check-prefix=EMPTY
// RUN: not ntp-opt %s -ntp-gpu-pipeline=chip=foo 2>&1 | FileCheck %s --check-prefix=FOO

// EMPTY: error: unknown NVIDIA architecture '' (expected sm_XX, e.g. sm_80 or sm_90)
// FOO: error: unknown NVIDIA architecture 'foo' (expected sm_XX, e.g. sm_80 or sm_90)
// FOO-NOT: Minimum NVVM target SM version
ntp.mlp @net layers [1, 4, 1] activation "tanh" order 2 : f32
