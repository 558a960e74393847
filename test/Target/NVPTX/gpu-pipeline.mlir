// RUN: ntp-opt %s -ntp-gpu-pipeline="chip=sm_80" | FileCheck %s

// The NVPTX pipeline: one fused kernel per evaluation in a gpu.module ready
// for the NVPTX backend. The parameters (4*1+4 + 1*4+1 = 13 values) are
// staged in shared memory (address space 3); the kernel takes bare pointers
// (x, v, params, out) and the batch size; f32 math needs no libdevice
// (the __nv_fabsf left by convert-gpu-to-nvvm is defined by llvm.fabs at PTX
// emission).

// The kernel's facts, CUDA ones included, on the module (#ntp.kernel): one
// sample per thread, 128 threads and samples per block (the tile), forward
// only.
// CHECK: module attributes {gpu.container_module, ntp.kernel = #ntp.kernel<"net", layers = [1, 4, 1], activation = "tanh", order = 2, element_type = f32, device = "cuda", tile = 128, backward = false, entry_points = [@net_forward], chip = "sm_80", mapping = "sample", block_size = 128, samples_per_block = 128>}
// CHECK: gpu.module @ntp_kernels [#nvvm.target<O = 3, chip = "sm_80">]
// CHECK: llvm.mlir.global internal @__wg_net_forward_0() {addr_space = 3 : i32} : !llvm.array<13 x f32>
// CHECK-NOT: __nv_tanh
// CHECK: llvm.func @net_forward(%{{.*}}: !llvm.ptr {llvm.noalias, llvm.readonly}, %{{.*}}: !llvm.ptr {llvm.noalias, llvm.readonly}, %{{.*}}: !llvm.ptr {llvm.noalias, llvm.readonly}, %{{.*}}: !llvm.ptr {llvm.noalias}, %{{.*}}: i64)
// CHECK-SAME: gpu.known_block_size = array<i32: 128, 1, 1>
// CHECK-SAME: nvvm.kernel
// CHECK: nvvm.read.ptx.sreg.tid.x
// CHECK: nvvm.read.ptx.sreg.ctaid.x
// CHECK: nvvm.barrier0
// CHECK-NOT: __nv_tanh
ntp.mlp @net layers [1, 4, 1] activation "tanh" order 2 : f32
