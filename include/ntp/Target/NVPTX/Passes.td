//===- Passes.td - NVPTX target passes ---------------------*- tablegen -*-===//

#ifndef NTP_TARGET_NVPTX_PASSES_TD
#define NTP_TARGET_NVPTX_PASSES_TD

include "mlir/Pass/PassBase.td"

def NtpGpuKernel : Pass<"ntp-gpu-kernel", "mlir::ModuleOp"> {
  let summary = "Wrap the loop-level forward kernel into one fused GPU kernel";
  let description = [{
    Turns the loop-level `@<name>_forward_tiles` function (built with
    tile-size=1, forward only) into
    `gpu.module @ntp_kernels { gpu.func @<name>_forward(%x, %v, %params,
    %out: memref<?xT>, %batch: index) kernel }`: one thread per sample
    (`sample = blockIdx.x * blockDim.x + threadIdx.x`), the parameters copied
    cooperatively into a workgroup (shared memory) buffer, a barrier, then
    the whole tile body (all layers, all orders) for `tile = sample` under
    `sample < batch`. Math: f32 transcendental functions become polynomials
    (as on the CPU), fma/abs/floor/ceil/sqrt/copysign LLVM intrinsics (native
    PTX instructions); f64 transcendental functions stay math ops and become
    libdevice calls. The jet buffers stay thread-private (registers, or
    local memory where they are indexed dynamically).

    With `mapping=lanes` a warp evaluates a sample instead (block =
    32 x samples-per-block threads, sample = blockIdx.x * samples-per-block +
    threadIdx.x / 32): each jet buffer becomes a workgroup buffer with one
    slice per sample, every `ntp.neuron_loop` loop runs neuron j on lane
    j % 32, other writing steps (seed, output) run on lane 0, and
    `gpu.barrier`s separate the steps. Threads of samples past `batch`
    compute on a clamped sample and write nothing, so that every thread
    reaches every barrier.

    ```mlir
    // Before: func.func @net_forward_tiles(%x, %v, %p, %out: memref<?xf32>,
    //           %batch, %tile_begin, %tile_end: index) {ntp.kernel}
    // After:
    gpu.module @ntp_kernels {
      gpu.func @net_forward(%x: memref<?xf32>, %v: memref<?xf32>,
                            %p: memref<?xf32>, %out: memref<?xf32>,
                            %batch: index)
          workgroup(%w: memref<13xf32, #gpu.address_space<workgroup>>)
          kernel { ... }
    }
    ```
  }];
  let dependentDialects = ["mlir::gpu::GPUDialect", "mlir::scf::SCFDialect",
                           "mlir::arith::ArithDialect",
                           "mlir::memref::MemRefDialect",
                           "mlir::math::MathDialect",
                           "mlir::vector::VectorDialect",
                           "mlir::LLVM::LLVMDialect"];
  let options = [
    Option<"blockSize", "block-size", "int64_t", /*default=*/"128",
           "Threads per block (recorded as the kernel's known block size)">,
    Option<"maxSharedBytes", "max-shared-bytes", "int64_t",
           /*default=*/"49152",
           "Stage the parameters in shared memory when they fit in this "
           "many bytes (else read them from global memory)">,
    Option<"mapping", "mapping", "::ntp::GpuMapping",
           /*default=*/"::ntp::GpuMapping::Sample",
           "Work per thread: 'sample' (one thread per sample, jets in the "
           "thread's registers/local memory) or 'lanes' (one warp per "
           "sample, one neuron per lane, jets in shared memory)",
           [{::ntp::gpuMappingValues()}]>,
    Option<"samplesPerBlock", "samples-per-block", "int64_t",
           /*default=*/"4",
           "mapping=lanes: samples (warps) per block">,
  ];
}

def NtpGpuEmulate : Pass<"ntp-gpu-emulate", "mlir::ModuleOp"> {
  let summary = "Run ntp's GPU kernels on the host, for testing their logic";
  let description = [{
    Turns every kernel that `ntp-gpu-kernel` made (before NVVM conversion)
    into a host function with the CPU kernels' signature,
    `@<name>_forward_tiles(x, v, params, out, batch, tile_begin, tile_end)`,
    that executes blocks `tile_begin..tile_end` of the launch grid one after
    the other: the block's workgroup buffers become stack buffers, and the
    kernel body is cut at its top-level `gpu.barrier`s into phases, each run
    for thread 0, 1, ..., blockDim - 1 in turn (a barrier orders every
    thread's phase before any thread's next one, which running the phases
    thread by thread respects). Thread-private values are recomputed in each
    phase from the thread and block ids (only side-effect-free top-level
    ops may cross a barrier). The CPU lowering then compiles it like a CPU
    kernel with one block per tile, so the GPU kernels' distribution of
    work, barriers and shared buffers run in CI against the reference
    evaluator; what comes after this point (NVVM, PTX, the driver) does not.
  }];
  let dependentDialects = ["mlir::func::FuncDialect", "mlir::scf::SCFDialect",
                           "mlir::arith::ArithDialect",
                           "mlir::memref::MemRefDialect"];
}

def NtpGpuBareKernelArgs : Pass<"ntp-gpu-bare-kernel-args",
                                "mlir::gpu::GPUModuleOp"> {
  let summary = "Give lowered ntp kernels the runtime's bare-pointer ABI";
  let description = [{
    After convert-gpu-to-nvvm, a kernel taking `memref<?xT>` arguments takes
    each as a 5-field descriptor (allocated, aligned, offset, size, stride).
    The upstream bare-pointer convention cannot express dynamic shapes, so
    this pass rewrites every `nvvm.kernel` function whose arguments are
    1-D descriptors and scalars into one taking a bare pointer per memref
    (offset 0, stride 1), marked noalias (and readonly for the inputs):
    `(T *x, T *v, T *params, T *out, i64 batch)`, what the runtime passes to
    cuLaunchKernel.
  }];
  let dependentDialects = ["mlir::LLVM::LLVMDialect"];
}

#endif // NTP_TARGET_NVPTX_PASSES_TD
