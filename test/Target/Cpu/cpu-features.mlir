// RUN: ntp-compile %s --target-cpu=skylake-avx512 --emit=llvm | FileCheck %s

// The manifest names the CPU and the instruction-set features the code may
// use, so that the runtime refuses (rather than dies of SIGILL on) a host
// without them.

// CHECK: @ntp_kernel_manifest = {{.*}}target_cpu=skylake-avx512\0A{{.*}}cpu_features=sse4.2,avx,avx2,fma,bmi,bmi2,avx512f,avx512dq,avx512cd,avx512bw,avx512vl\0A\00"
// CHECK-LABEL: define void @ntp_kernel_forward_tiles(
ntp.mlp @net layers [1, 4, 1] activation "tanh" order 2 : f32
