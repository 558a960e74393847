//===- NVPTXBackend.cpp - The NVPTX target --------------------------------===//
//
// ntp-gpu-pipeline, LLVM's NVPTX backend (PTX), optionally ptxas (cubin),
// and the CUDA artifact (docs/NVPTX.md).
//
//===----------------------------------------------------------------------===//

#include "ntp/Pipelines/Pipelines.h"
#include "ntp/Target/Cpu/CpuTarget.h"
#include "ntp/Target/NVPTX/NVPTXTarget.h"
#include "ntp/Target/TargetBackend.h"
#include "ntp/Transforms/Passes.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Target/LLVMIR/Dialect/GPU/GPUToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/NVVM/NVVMToLLVMIRTranslation.h"

using namespace mlir;
using namespace ntp;

void ntp::registerNvptxTargetDialects(DialectRegistry &registry) {
  registerCpuTargetDialects(registry);
  registry.insert<gpu::GPUDialect, NVVM::NVVMDialect>();
  // The GPU-to-NVVM conversion finds the patterns of arith, math, memref, ...
  // through their ConvertToLLVM interfaces.
  registerAllExtensions(registry);
  registerGPUDialectTranslation(registry);
  registerNVVMDialectTranslation(registry);
}

void ntp::fillGpuPipelineOptions(const NvptxTargetOptions &options,
                                 GpuPipelineOptions &pipeline) {
  pipeline.chip = options.chip;
  pipeline.features = options.features;
  pipeline.blockSize = options.blockSize;
  pipeline.mapping = options.mapping;
  pipeline.samplesPerBlock = options.samplesPerBlock;
  pipeline.backward = options.backward;
}

namespace {

class NvptxBackend : public TargetBackend {
public:
  llvm::StringRef getName() const override { return "nvptx"; }
  llvm::StringRef getDescription() const override {
    return "NVIDIA GPUs: PTX through LLVM's NVPTX backend, cubin through "
           "ptxas";
  }
  void registerDialects(DialectRegistry &registry) const override {
    registerNvptxTargetDialects(registry);
  }
  bool supports(EmitStage stage) const override {
    return stage != EmitStage::Obj;
  }

  bool checkOptions(const CompileOptions &options,
                    std::string &error) const override {
    const NvptxTargetOptions &gpu = options.gpu;
    if (!checkNvptxChip(gpu.chip, error))
      return false;
    if (gpu.mapping == artifact::GpuMapping::Sample &&
        (gpu.blockSize < 1 || gpu.blockSize > 1024)) {
      error = "the block size must be in 1..1024, got " +
              std::to_string(gpu.blockSize);
      return false;
    }
    if (gpu.mapping == artifact::GpuMapping::Lanes &&
        (gpu.samplesPerBlock < 1 || gpu.samplesPerBlock > 32)) {
      error = "the samples per block must be in 1..32, got " +
              std::to_string(gpu.samplesPerBlock);
      return false;
    }
    return true;
  }

  bool buildPipeline(OpPassManager &pm, const CompileOptions &options,
                     EmitStage stage, std::string &) const override {
    if (stage == EmitStage::Jets || stage == EmitStage::Loops) {
      // A thread's jet buffers hold one sample; forward only.
      CpuPipelineOptions loops;
      loops.tileSize = 1;
      loops.backward = false;
      if (stage == EmitStage::Jets) {
        NtpDecomposeMlpOptions decompose;
        decompose.tileSize = 1;
        pm.addPass(createNtpDecomposeMlp(decompose));
      } else {
        buildJetLoopsPipeline(pm, loops);
      }
      return true;
    }
    GpuPipelineOptions pipeline;
    fillGpuPipelineOptions(options.gpu, pipeline);
    buildGpuPipeline(pm, pipeline);
    return true;
  }

  bool serialize(ModuleOp lowered, const artifact::KernelManifest &manifest,
                 EmitStage stage, const CompileOptions &options,
                 CompileOutput &output, std::string &error) const override {
    // The chip is the kernel's (its #ntp.kernel); the options give only where
    // libdevice and ptxas are and the PTX features.
    if (!manifest.cuda) {
      error = "the module's #ntp.kernel is not for a CUDA device";
      return false;
    }
    NvptxTargetOptions gpu = options.gpu;
    gpu.chip = manifest.cuda->chip;
    std::string ptx;
    if (!emitPtx(lowered, gpu, ptx, error, stage == EmitStage::Llvm))
      return false;
    if (stage == EmitStage::Llvm || stage == EmitStage::Asm) {
      output.bytes = std::move(ptx);
      return true;
    }
    bool cubin =
        stage == EmitStage::Cubin ||
        options.gpuFormat == CudaImageFormat::Cubin ||
        (options.gpuFormat == CudaImageFormat::Auto && !findPtxas(gpu).empty());
    std::string image = ptx;
    // ptxas also runs for its report alone (registers, spills) when asked.
    if (cubin || options.ptxasReport) {
      std::string binary;
      if (!assembleCubin(ptx, gpu, binary, error, &output.report))
        return false;
      if (cubin)
        image = std::move(binary);
    }
    if (stage == EmitStage::Cubin) {
      output.bytes = std::move(image);
      return true;
    }
    // The image is the serializer's; every other fact is the attribute's.
    artifact::KernelManifest artifactManifest = manifest;
    artifactManifest.cuda->format =
        cubin ? artifact::ImageFormat::Cubin : artifact::ImageFormat::Ptx;
    artifactManifest.cuda->imageBytes = static_cast<int64_t>(image.size());
    output.bytes = artifact::sealArtifact(image, artifactManifest);
    return true;
  }
};

} // namespace

void ntp::registerNvptxTarget() {
  registerTargetBackend(std::make_unique<NvptxBackend>());
}
