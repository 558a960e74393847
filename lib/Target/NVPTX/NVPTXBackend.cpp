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

#include "llvm/Support/CommandLine.h"

using namespace mlir;
using namespace ntp;
namespace cl = llvm::cl;
namespace art = ntp::artifact;

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

/// The NVPTX target's flags, created on demand by registerCommandLineOptions
/// (ntp-compile) rather than as static options of this library.
struct NvptxFlags {
  NvptxTargetOptions defaults;
  cl::OptionCategory category{"NVPTX target options (--target=nvptx)"};
  cl::opt<std::string> chip{"chip", cl::desc("NVIDIA architecture (sm_XX)"),
                            cl::init(defaults.chip), cl::cat(category)};
  cl::opt<std::string> features{"gpu-features",
                                cl::desc("LLVM NVPTX features, e.g. +ptx80"),
                                cl::init(""), cl::cat(category)};
  cl::opt<art::GpuMapping> mapping{
      "gpu-mapping", cl::desc("Work per GPU thread"),
      cl::init(defaults.mapping),
      cl::values(
          clEnumValN(art::GpuMapping::Sample, "sample", "a thread per sample"),
          clEnumValN(art::GpuMapping::Lanes, "lanes",
                     "a warp per sample, a neuron per lane")),
      cl::cat(category)};
  cl::opt<int64_t> blockSize{
      "block-size", cl::desc("Threads per block (--gpu-mapping=sample)"),
      cl::init(defaults.blockSize), cl::cat(category)};
  cl::opt<int64_t> samplesPerBlock{
      "samples-per-block",
      cl::desc("Samples (warps) per block (--gpu-mapping=lanes)"),
      cl::init(defaults.samplesPerBlock), cl::cat(category)};
  cl::opt<bool> backward{
      "gpu-backward",
      cl::desc("Also the reverse-mode kernels (forward-save, backward-saved, "
               "the gradient reduction) for ntp_backward & co."),
      cl::init(defaults.backward), cl::cat(category)};
  cl::opt<CudaImageFormat> imageFormat{
      "gpu-format", cl::desc("Image in a CUDA artifact (--emit=so)"),
      cl::init(defaults.imageFormat),
      cl::values(
          clEnumValN(CudaImageFormat::Auto, "auto",
                     "cubin when ptxas is found, else PTX"),
          clEnumValN(CudaImageFormat::Ptx, "ptx",
                     "PTX (JIT-compiled by the driver)"),
          clEnumValN(CudaImageFormat::Cubin, "cubin", "cubin (needs ptxas)")),
      cl::cat(category)};
  cl::opt<std::string> libdevice{
      "libdevice",
      cl::desc("libdevice.10.bc for f64 math (default: $NTP_LIBDEVICE or the "
               "CUDA toolkit's)"),
      cl::init(""), cl::cat(category)};
  cl::opt<std::string> ptxas{"ptxas",
                             cl::desc("ptxas (default: $NTP_PTXAS, "
                                      "/usr/local/cuda/bin/ptxas, PATH)"),
                             cl::init(""), cl::cat(category)};
  cl::opt<bool> ptxasReport{
      "ptxas-report", cl::desc("Print ptxas -v (registers, spills) to stderr"),
      cl::init(false), cl::cat(category)};
};

NvptxFlags *&registeredNvptxFlags() {
  static NvptxFlags *flags = nullptr;
  return flags;
}

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
  std::vector<EmitName> getEmitNames() const override {
    return {{"ptx", EmitStage::Asm, "PTX text"},
            {"cubin", EmitStage::Cubin, "a cubin from ptxas"}};
  }

  cl::OptionCategory *registerCommandLineOptions() const override {
    static NvptxFlags flags;
    registeredNvptxFlags() = &flags;
    return &flags.category;
  }

  bool applyCommandLineOptions(CompileOptions &options,
                               std::string &error) const override {
    const NvptxFlags *flags = registeredNvptxFlags();
    if (!flags)
      return true;
    if (flags->samplesPerBlock < 1 || flags->samplesPerBlock > 32) {
      error = "--samples-per-block must be in 1..32, got " +
              std::to_string(flags->samplesPerBlock.getValue());
      return false;
    }
    if (flags->blockSize < 1 || flags->blockSize > 1024) {
      error = "--block-size must be in 1..1024, got " +
              std::to_string(flags->blockSize.getValue());
      return false;
    }
    NvptxTargetOptions &gpu = options.get<NvptxTargetOptions>();
    gpu.chip = flags->chip;
    gpu.features = flags->features;
    gpu.mapping = flags->mapping;
    gpu.blockSize = flags->blockSize;
    gpu.samplesPerBlock = flags->samplesPerBlock;
    gpu.backward = flags->backward;
    gpu.imageFormat = flags->imageFormat;
    gpu.libdevice = flags->libdevice;
    gpu.ptxas = flags->ptxas;
    gpu.ptxasReport = flags->ptxasReport;
    return true;
  }

  bool checkOptions(const CompileOptions &options,
                    std::string &error) const override {
    const NvptxTargetOptions gpu = options.get<NvptxTargetOptions>();
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
    fillGpuPipelineOptions(options.get<NvptxTargetOptions>(), pipeline);
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
    NvptxTargetOptions gpu = options.get<NvptxTargetOptions>();
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
        gpu.imageFormat == CudaImageFormat::Cubin ||
        (gpu.imageFormat == CudaImageFormat::Auto && !findPtxas(gpu).empty());
    std::string image = ptx;
    // ptxas also runs for its report alone (registers, spills) when asked.
    if (cubin || gpu.ptxasReport) {
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
