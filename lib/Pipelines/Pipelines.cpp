//===- Pipelines.cpp - Named ntp pipelines --------------------------------===//

#include "ntp/Pipelines/Pipelines.h"
#include "ntp/Conversion/Passes.h"
#include "ntp/Target/NVPTX/NVPTXTarget.h"
#include "ntp/Target/StampKernel.h"
#include "ntp/Transforms/Passes.h"

#include "mlir/Conversion/Passes.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/GPU/Transforms/Passes.h"
#include "mlir/Dialect/MemRef/Transforms/Passes.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/Passes.h"

using namespace mlir;
using namespace ntp;

void ntp::buildJetLoopsPipeline(OpPassManager &pm,
                                const CpuPipelineOptions &options) {
  NtpDecomposeMlpOptions decompose;
  decompose.tileSize = options.tileSize;
  decompose.backward = options.backward;
  decompose.partialsStackBytes = options.partialsStackBytes;
  pm.addPass(createNtpDecomposeMlp(decompose));
  if (options.backward) {
    NtpGenerateBackwardOptions backward;
    backward.perSampleGrads = options.perSampleGrads;
    backward.gradLaneBits = options.gradLaneBits;
    backward.machineFacts.assign(options.machineFacts.begin(),
                                 options.machineFacts.end());
    pm.addPass(createNtpGenerateBackward(backward));
  }
  NtpExpandActivationJetsOptions expand;
  expand.outline = options.outline;
  expand.formulation = options.formulation;
  expand.interleave = options.interleave;
  expand.hoistPrimitives = options.hoistPrimitives;
  expand.machineFacts.assign(options.machineFacts.begin(),
                             options.machineFacts.end());
  pm.addPass(createNtpExpandActivationJets(expand));
  ConvertNtpToLoopsOptions loops;
  loops.affineOutputs = options.affineOutputs;
  loops.affineOrders = options.affineOrders;
  loops.gradOutputs = options.gradOutputs;
  loops.gradInputs = options.gradInputs;
  loops.machineFacts.assign(options.machineFacts.begin(),
                            options.machineFacts.end());
  loops.rayRows = options.rayRows;
  loops.rayNeurons = options.rayNeurons;
  pm.nest<func::FuncOp>().addPass(createConvertNtpToLoops(loops));
}

/// From loops of scf/vector/memref/math to the LLVM dialect, on the host.
static void addHostLoweringPasses(OpPassManager &pm) {
  OpPassManager &func = pm.nest<func::FuncOp>();
  func.addPass(createNtpApproximateMath());
  func.addPass(createCanonicalizerPass());
  func.addPass(createCSEPass());
  func.addPass(createLoopInvariantCodeMotionPass());
  // fma/abs/... become LLVM intrinsics; what has none (f64 tanh, ...) becomes
  // a libm call.
  pm.addPass(createConvertMathToLLVMPass());
  pm.addPass(createConvertMathToLibmPass());
  // Subviews of the ping-pong buffers become plain offset arithmetic.
  pm.addPass(memref::createExpandStridedMetadataPass());
  pm.addPass(createLowerAffinePass());
  pm.addPass(createSCFToControlFlowPass());
  pm.addPass(createConvertVectorToLLVMPass());
  pm.addPass(createFinalizeMemRefToLLVMConversionPass());
  pm.addPass(createArithToLLVMConversionPass());
  pm.addPass(createConvertControlFlowToLLVMPass());
  pm.addPass(createConvertFuncToLLVMPass());
  pm.addPass(createReconcileUnrealizedCastsPass());
}

void ntp::buildCpuPipeline(OpPassManager &pm,
                           const CpuPipelineOptions &options) {
  buildJetLoopsPipeline(pm, options);
  addHostLoweringPasses(pm);
}

/// ntp.mlp -> the gpu.func kernel of ntp-gpu-kernel (before NVVM).
static void addGpuKernelPasses(OpPassManager &pm,
                               const GpuPipelineOptions &options,
                               bool emulation = false) {
  // One thread per sample: tile size 1, so the jet buffers are
  // [order + 1, width, 1] and every vector has one lane. The reverse mode
  // keeps one gradient per sample, which ntp-gpu-kernel reduces.
  CpuPipelineOptions loops;
  loops.tileSize = 1;
  loops.backward = options.backward;
  loops.perSampleGrads = true;
  // The lanes mapping keeps a block's ray buffers in shared memory (48 KB
  // a kernel can declare): a partials kernel packs its rays into blocks
  // that fit each sample's share.
  if (options.mapping == GpuMapping::Lanes && options.samplesPerBlock > 0)
    loops.partialsStackBytes = (48 * 1024) / options.samplesPerBlock;
  // The kernel wrapper moves one function into the gpu.module: keep each
  // neuron's arithmetic inline rather than in shared host-module functions.
  loops.outline = false;
  buildJetLoopsPipeline(pm, loops);
  OpPassManager &func = pm.nest<func::FuncOp>();
  // f32 transcendental functions become the same polynomials as on the CPU;
  // f64 ones stay math ops and become libdevice calls (__nv_tanh, ...).
  func.addPass(createNtpApproximateMath());
  // The lanes mapping needs the layer structure as the lowering emitted it
  // (one neuron loop per layer, even of width 1): clean up afterwards.
  bool lanes = options.mapping == GpuMapping::Lanes;
  if (!lanes) {
    func.addPass(createCanonicalizerPass());
    func.addPass(createCSEPass());
    func.addPass(createLoopInvariantCodeMotionPass());
  }
  NtpGpuKernelOptions kernel;
  kernel.blockSize = options.blockSize;
  kernel.mapping = options.mapping;
  kernel.samplesPerBlock = options.samplesPerBlock;
  // The host emulation runs kernels of any shared-memory size.
  if (emulation)
    kernel.maxStaticSharedBytes = 0;
  pm.addPass(createNtpGpuKernel(kernel));
}

void ntp::buildGpuPipeline(OpPassManager &pm,
                           const GpuPipelineOptions &options) {
  addGpuKernelPasses(pm, options);
  // The CUDA facts on the module's #ntp.kernel; an unknown chip stops here
  // with ntp's own message, before the NVVM target is attached.
  pm.addPass(createStampKernelTargetPass(
      stampCudaTarget(options.chip, options.mapping, options.blockSize,
                      options.samplesPerBlock)));
  bool lanes = options.mapping == GpuMapping::Lanes;
  OpPassManager &gpu = pm.nest<gpu::GPUModuleOp>();
  gpu.addPass(createCanonicalizerPass());
  gpu.addPass(createCSEPass());
  if (lanes)
    gpu.addPass(createLoopInvariantCodeMotionPass());
  gpu.addPass(memref::createExpandStridedMetadataPass());
  gpu.addPass(createLowerAffinePass());
  gpu.addPass(createSCFToControlFlowPass());
  GpuNVVMAttachTargetOptions target;
  target.chip = options.chip;
  target.features = options.features;
  target.optLevel = 3;
  pm.addPass(createGpuNVVMAttachTarget(target));
  ConvertGpuOpsToNVVMOpsOptions nvvm;
  nvvm.indexBitwidth = 64;
  pm.nest<gpu::GPUModuleOp>().addPass(createConvertGpuOpsToNVVMOps(nvvm));
  pm.addPass(createReconcileUnrealizedCastsPass());
  // Kernel arguments become bare pointers: (T *x, T *v, T *params, T *out,
  // i64 batch), what the runtime passes to cuLaunchKernel.
  pm.nest<gpu::GPUModuleOp>().addPass(createNtpGpuBareKernelArgs());
}

void ntp::buildGpuEmulationPipeline(OpPassManager &pm,
                                    const GpuPipelineOptions &options) {
  addGpuKernelPasses(pm, options, /*emulation=*/true);
  pm.addPass(createNtpGpuEmulate());
  addHostLoweringPasses(pm);
}

void ntp::registerNtpPipelines() {
  PassPipelineRegistration<CpuPipelineOptions>(
      "ntp-jet-loops-pipeline",
      "Lower ntp.mlp to vectorized loops of Faà di Bruno arithmetic",
      buildJetLoopsPipeline);
  PassPipelineRegistration<CpuPipelineOptions>(
      "ntp-cpu-pipeline", "Lower ntp.mlp to the LLVM dialect for the host CPU",
      buildCpuPipeline);
  PassPipelineRegistration<GpuPipelineOptions>(
      "ntp-gpu-pipeline",
      "Lower ntp.mlp to one fused NVVM kernel per evaluation (NVPTX)",
      buildGpuPipeline);
  PassPipelineRegistration<GpuPipelineOptions>(
      "ntp-gpu-emulation-pipeline",
      "Lower ntp.mlp to the GPU kernel, then run it on the host thread by "
      "thread (ntp-gpu-emulate): for testing the kernel's logic",
      buildGpuEmulationPipeline);
}
