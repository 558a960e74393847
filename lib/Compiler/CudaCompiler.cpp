//===- CudaCompiler.cpp - From a network to a CUDA artifact ---------------===//
//
// The NVPTX path shared by ntp-compile --target=nvptx and the JIT's CUDA
// device: ntp-gpu-pipeline, LLVM's NVPTX backend, then (optionally) ptxas.
//
//===----------------------------------------------------------------------===//

#include "ntp/Compiler/Compiler.h"
#include "ntp/Pipelines/Pipelines.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Target/LLVMIR/Dialect/GPU/GPUToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/NVVM/NVVMToLLVMIRTranslation.h"

using namespace mlir;
using namespace ntp;

void ntp::registerNtpGpuCompilerDialects(DialectRegistry &registry) {
  registerNtpCompilerDialects(registry);
  registry.insert<gpu::GPUDialect, NVVM::NVVMDialect>();
  // The GPU-to-NVVM conversion finds the patterns of arith, math, memref, ...
  // through their ConvertToLLVM interfaces.
  registerAllExtensions(registry);
  registerGPUDialectTranslation(registry);
  registerNVVMDialectTranslation(registry);
}

FailureOr<KernelSpec> ntp::lowerToNVVM(ModuleOp module, PassManager &pm,
                                       const NvptxTargetOptions &target) {
  // The GPU kernel runs one sample per thread (tile size 1).
  FailureOr<KernelSpec> spec = getKernelSpec(module, /*tileSize=*/1);
  if (failed(spec))
    return failure();
  spec->tile = 1;
  spec->hasBackward = false;
  GpuPipelineOptions pipeline;
  pipeline.chip = target.chip;
  pipeline.features = target.features;
  pipeline.blockSize = target.blockSize;
  std::optional<GpuMapping> mapping = parseGpuMapping(target.mapping);
  if (!mapping)
    return module.emitError("unknown GPU mapping '") << target.mapping << "'";
  pipeline.mapping = *mapping;
  pipeline.samplesPerBlock = target.samplesPerBlock;
  buildGpuPipeline(pm, pipeline);
  if (failed(pm.run(module)))
    return failure();
  return spec;
}

bool ntp::buildCudaArtifact(const std::string &ptx, const KernelSpec &spec,
                            const NvptxTargetOptions &target,
                            CudaImageFormat format, std::string &artifact,
                            std::string &error, std::string *ptxasReport) {
  bool cubin = format == CudaImageFormat::Cubin ||
               (format == CudaImageFormat::Auto && !findPtxas(target).empty());
  std::string image = ptx;
  if (cubin || ptxasReport) {
    std::string binary, report;
    if (!assembleCubin(ptx, target, binary, error, &report))
      return false;
    if (ptxasReport)
      *ptxasReport = report;
    if (cubin)
      image = std::move(binary);
  }
  artifact =
      cudaArtifactBytes(cudaManifest(spec, target, cubin, image.size()), image);
  return true;
}
