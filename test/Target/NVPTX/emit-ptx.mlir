// RUN: ntp-compile %s --target=nvptx --chip=sm_90 --emit=ptx | FileCheck %s
// RUN: ntp-compile %s --target=nvptx --chip=sm_80 --emit=ptx | FileCheck %s --check-prefix=SM80
// RUN: ntp-compile %s --target=nvptx --emit=mlir | FileCheck %s --check-prefix=MLIR
// RUN: ntp-compile %s --target=nvptx --chip=sm_80 --gpu-format=ptx -o %t.ntp
// RUN: head -n 30 %t.ntp | FileCheck %s --check-prefix=ART
// RUN: not ntp-compile %s --target=nvptx --chip=sm_1234 --emit=ptx 2>&1 | FileCheck %s --check-prefix=CHIP
// RUN: not ntp-compile %s --emit=ptx 2>&1 | FileCheck %s --check-prefix=CPU

// PTX from LLVM's NVPTX backend (no CUDA toolkit involved): one kernel
// entry, the parameters staged through shared memory behind a barrier, and
// no calls (f32 math is inline polynomials).

// CHECK: .target sm_90
// CHECK: .address_size 64
// CHECK: .visible .entry net_forward(
// CHECK-NEXT: .param .u64 .ptr .align 1 net_forward_param_0
// CHECK: .param .u64 net_forward_param_4
// CHECK: .maxntid 128, 1, 1
// CHECK: .shared .align 4 .b8 {{.*}}[388];
// CHECK: mov.u32 %r{{[0-9]+}}, %tid.x;
// CHECK: st.shared.b32
// CHECK: bar.sync 0;
// CHECK: ld.shared.b32
// CHECK: st.global.b32
// CHECK-NOT: call
// CHECK: ret;

// SM80: .target sm_80
// SM80: .visible .entry net_forward(

// MLIR: gpu.module @ntp_kernels [#nvvm.target<O = 3, chip = "sm_90">]
// MLIR: llvm.func @net_forward(

// ART: ntp-cuda-artifact
// ART-NEXT: ntp-kernel-manifest
// ART: device=cuda
// ART: tile=1
// ART: backward=0
// ART: chip=sm_80
// ART-NEXT: format=ptx
// ART-NEXT: entry=net_forward
// ART-NEXT: block_size=128
// ART-NEXT: samples_per_block=128
// ART-NEXT: image_bytes={{[0-9]+}}
// ART-NEXT: end-manifest
// ART-NEXT: //
// ART: .target sm_80

// CHIP: unknown NVIDIA architecture 'sm_1234'
// CPU: --emit=ptx and --emit=cubin need --target=nvptx
ntp.mlp @net layers [1, 8, 8, 1] activation "tanh" order 3 : f32
