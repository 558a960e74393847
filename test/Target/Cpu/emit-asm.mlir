// RUN: ntp-compile %s --emit=asm --target-cpu=skylake-avx512 | FileCheck %s --check-prefix=AVX512
// RUN: ntp-compile %s --emit=asm --target-cpu=x86-64-v3 | FileCheck %s --check-prefix=AVX2

// Vectorized across the samples of a tile: packed FMAs on full registers.

// AVX512-LABEL: ntp_kernel_forward_tiles:
// AVX512: vfmadd{{[0-9]+}}ps {{.*}}%zmm
// AVX2-LABEL: ntp_kernel_forward_tiles:
// AVX2: vfmadd{{[0-9]+}}ps {{.*}}%ymm
ntp.mlp @pinn layers [1, 24, 24, 24, 1] activation "tanh" order 9 : f32
