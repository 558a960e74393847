// RUN: ntp-compile %s --target-cpu=x86-64-v3 --emit=llvm | FileCheck %s

// Every jet buffer of a CPU kernel starts on a cache line: the stack jets
// (CpuTarget.cpp raises each alloca to 64 bytes; with the element's
// alignment they began 16 bytes into a line and a tile's 64-byte vectors
// straddled two), and the reverse mode's lane-wise gradient accumulators
// (memref.alloc {alignment = 64}: 4353 parameters x 4 lanes x 8 bytes and
// 64 more from malloc, the pointer rounded up).

// CHECK-NOT: alloca {{.*}}, align {{(1|2|4|8|16|32)}}{{$}}
// CHECK-LABEL: define internal fastcc void @__ntp_net_tile_forward
// CHECK: alloca [{{[0-9]+}} x double], align 64
// CHECK-LABEL: define void @ntp_kernel_backward_saved_tiles
// CHECK: call {{.*}}ptr @malloc(i64 139360)
// CHECK: and i64 {{.*}}, -64
// CHECK-NOT: alloca {{.*}}, align {{(1|2|4|8|16|32)}}{{$}}
ntp.mlp @net layers [1, 64, 64, 1] activation "tanh" order 3 : f64
