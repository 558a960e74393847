//===- ntp-compile.cpp - Ahead-of-time compiler for ntp kernels -----------===//
//
// Input: an .mlir file holding one ntp.mlp, or flags describing the network.
// Output: a shared object the runtime loads (default), an object file plus C
// header for static linking, or any intermediate stage (--emit).
//
//===----------------------------------------------------------------------===//

#include "ntp/Compiler/Compiler.h"
#include "ntp/Pipelines/Pipelines.h"
#include "ntp/Target/NVPTX/NVPTXTarget.h"
#include "ntp/Transforms/Passes.h"

#include "mlir/IR/AsmState.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Support/FileUtilities.h"
#include "mlir/Support/Timing.h"

#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/ToolOutputFile.h"
#include "llvm/Support/raw_ostream.h"

using namespace mlir;
using namespace ntp;
namespace cl = llvm::cl;

static cl::OptionCategory category("ntp-compile options");

static cl::opt<std::string> inputFile(cl::Positional,
                                      cl::desc("[<input .mlir file>]"),
                                      cl::init(""), cl::cat(category));
static cl::opt<std::string> outputFile("o", cl::desc("Output file"),
                                       cl::value_desc("path"), cl::init(""),
                                       cl::cat(category));

enum class Emit { Jets, Loops, Mlir, Llvm, Asm, Obj, So, Ptx, Cubin };
static cl::opt<Emit> emit(
    "emit", cl::desc("What to produce"), cl::init(Emit::So),
    cl::values(clEnumValN(Emit::Jets, "jets",
                          "per-layer jet ops (ntp dialect)"),
               clEnumValN(Emit::Loops, "loops",
                          "vectorized loops with the Faà di Bruno arithmetic"),
               clEnumValN(Emit::Mlir, "mlir", "the LLVM dialect"),
               clEnumValN(Emit::Llvm, "llvm", "optimized LLVM IR"),
               clEnumValN(Emit::Asm, "asm", "assembly"),
               clEnumValN(Emit::Obj, "obj", "an object file (see --header)"),
               clEnumValN(Emit::So, "so",
                          "the runtime artifact (CPU: a shared object; "
                          "nvptx: a CUDA artifact)"),
               clEnumValN(Emit::Ptx, "ptx", "PTX text (--target=nvptx)"),
               clEnumValN(Emit::Cubin, "cubin",
                          "a cubin from ptxas (--target=nvptx)")),
    cl::cat(category));

static cl::opt<std::string>
    layersFlag("layers",
               cl::desc("Layer widths, input to output (e.g. 1,24,24,24,1)"),
               cl::init(""), cl::cat(category));
static cl::opt<std::string>
    activationFlag("activation",
                   cl::desc("Activation (tanh, sigmoid, sin, identity, exp, "
                            "softplus)"),
                   cl::init("tanh"), cl::cat(category));
static cl::opt<int64_t> orderFlag("order", cl::desc("Derivative order"),
                                  cl::init(0), cl::cat(category));
static cl::opt<std::string> dtypeFlag("dtype", cl::desc("f32 or f64"),
                                      cl::init("f32"), cl::cat(category));
static cl::opt<std::string> nameFlag("name", cl::desc("Kernel name"),
                                     cl::init("ntp_kernel"), cl::cat(category));
enum class Target { Cpu, Nvptx };
static cl::opt<Target> targetFlag(
    "target", cl::desc("Target"), cl::init(Target::Cpu),
    cl::values(clEnumValN(Target::Cpu, "cpu", "the host CPU (default)"),
               clEnumValN(Target::Nvptx, "nvptx",
                          "NVIDIA GPUs: PTX through LLVM's NVPTX backend, "
                          "cubin through ptxas")),
    cl::cat(category));
static cl::opt<std::string> chipFlag("chip",
                                     cl::desc("NVIDIA architecture (nvptx)"),
                                     cl::init("sm_90"), cl::cat(category));
static cl::opt<std::string>
    gpuFeatures("gpu-features",
                cl::desc("LLVM NVPTX features, e.g. +ptx80 (nvptx)"),
                cl::init(""), cl::cat(category));
static cl::opt<int64_t> blockSizeFlag("block-size",
                                      cl::desc("Threads per block (nvptx)"),
                                      cl::init(128), cl::cat(category));
static cl::opt<std::string> gpuMapping(
    "gpu-mapping",
    cl::desc("Work per GPU thread (nvptx): 'sample' (a thread per sample) or "
             "'lanes' (a warp per sample, a neuron per lane)"),
    cl::init("sample"), cl::cat(category));
static cl::opt<int64_t> samplesPerBlockFlag(
    "samples-per-block",
    cl::desc("Samples (warps) per block with --gpu-mapping=lanes (nvptx)"),
    cl::init(4), cl::cat(category));
static cl::opt<CudaImageFormat>
    gpuFormat("gpu-format",
              cl::desc("Image in a CUDA artifact (--emit=so, nvptx)"),
              cl::init(CudaImageFormat::Auto),
              cl::values(clEnumValN(CudaImageFormat::Auto, "auto",
                                    "cubin when ptxas is found, else PTX"),
                         clEnumValN(CudaImageFormat::Ptx, "ptx",
                                    "PTX (JIT-compiled by the driver)"),
                         clEnumValN(CudaImageFormat::Cubin, "cubin",
                                    "cubin (needs ptxas)")),
              cl::cat(category));
static cl::opt<std::string>
    libdeviceFlag("libdevice",
                  cl::desc("libdevice.10.bc for f64 math (nvptx; default: "
                           "$NTP_LIBDEVICE or the CUDA toolkit's)"),
                  cl::init(""), cl::cat(category));
static cl::opt<std::string>
    ptxasFlag("ptxas",
              cl::desc("ptxas (nvptx; default: $NTP_PTXAS, "
                       "/usr/local/cuda/bin/ptxas, PATH)"),
              cl::init(""), cl::cat(category));
static cl::opt<bool> ptxasReport(
    "ptxas-report",
    cl::desc("Print ptxas -v (registers, spills) to stderr (nvptx)"),
    cl::init(false), cl::cat(category));

static cl::opt<std::string>
    targetCpu("target-cpu",
              cl::desc("LLVM CPU name, or 'native' for this machine"),
              cl::init("x86-64-v3"), cl::cat(category));
static cl::opt<std::string> targetFeatures("target-features",
                                           cl::desc("Extra LLVM CPU features"),
                                           cl::init(""), cl::cat(category));
static cl::opt<int64_t> tileSize("tile",
                                 cl::desc("Samples per tile (0: automatic)"),
                                 cl::init(0), cl::cat(category));
static cl::opt<std::string> symbolPrefix(
    "symbol-prefix",
    cl::desc("Prefix of exported symbols (default: ntp_kernel for --emit=so, "
             "the kernel name for --emit=obj)"),
    cl::init(""), cl::cat(category));
static cl::opt<std::string>
    headerFile("header",
               cl::desc("With --emit=obj: also write a C header here"),
               cl::value_desc("path"), cl::init(""), cl::cat(category));

static int fail(const llvm::Twine &message) {
  llvm::errs() << "ntp-compile: error: " << message << "\n";
  return 1;
}

/// Parses "1,24,24,1"; false on anything but positive integers.
static bool parseLayers(llvm::StringRef text, std::vector<int64_t> &layers) {
  llvm::SmallVector<llvm::StringRef> parts;
  text.split(parts, ',');
  for (llvm::StringRef part : parts) {
    int64_t width;
    if (part.trim().getAsInteger(10, width) || width <= 0)
      return false;
    layers.push_back(width);
  }
  return !layers.empty();
}

static OwningOpRef<ModuleOp> loadInput(MLIRContext &context,
                                       llvm::SourceMgr &sources) {
  if (!layersFlag.empty()) {
    MlpDescription description;
    if (!parseLayers(layersFlag, description.layers)) {
      fail("--layers expects comma-separated positive integers, got '" +
           layersFlag + "'");
      return nullptr;
    }
    if (dtypeFlag != "f32" && dtypeFlag != "f64") {
      fail("--dtype must be f32 or f64, got '" + dtypeFlag + "'");
      return nullptr;
    }
    description.name = nameFlag;
    description.activation = activationFlag;
    description.order = orderFlag;
    description.isF64 = dtypeFlag == "f64";
    return buildMlpModule(context, description);
  }
  std::string message;
  auto file = openInputFile(inputFile, &message);
  if (!file) {
    fail(message);
    return nullptr;
  }
  sources.AddNewSourceBuffer(std::move(file), llvm::SMLoc());
  return parseSourceFile<ModuleOp>(sources, &context);
}

static bool writeText(const std::string &path,
                      llvm::function_ref<void(llvm::raw_ostream &)> write) {
  std::string message;
  auto out = openOutputFile(path.empty() ? "-" : path, &message);
  if (!out) {
    fail(message);
    return false;
  }
  write(out->os());
  out->keep();
  return true;
}

static int compileNvptx(ModuleOp module, PassManager &pm) {
  NvptxTargetOptions target;
  target.chip = chipFlag;
  target.features = gpuFeatures;
  target.blockSize = blockSizeFlag;
  target.mapping = gpuMapping;
  target.samplesPerBlock = samplesPerBlockFlag;
  target.libdevice = libdeviceFlag;
  target.ptxas = ptxasFlag;
  if (emit == Emit::Obj)
    return fail("--emit=obj is for the CPU; use --emit=cubin or --emit=so "
                "with --target=nvptx");
  if (!headerFile.empty())
    return fail("--header is for the CPU target");
  FailureOr<KernelSpec> spec = lowerToNVVM(module, pm, target);
  if (failed(spec))
    return 1;
  if (emit == Emit::Mlir)
    return writeText(outputFile, [&](llvm::raw_ostream &os) { os << module; })
               ? 0
               : 1;
  std::string ptx, error;
  if (!emitPtx(module, target, ptx, error, emit == Emit::Llvm))
    return fail(error);
  if (emit == Emit::Llvm || emit == Emit::Ptx || emit == Emit::Asm)
    return writeText(outputFile, [&](llvm::raw_ostream &os) { os << ptx; }) ? 0
                                                                            : 1;
  std::string report;
  if (emit == Emit::Cubin) {
    if (outputFile.empty())
      return fail("-o is required for --emit=cubin");
    std::string cubin;
    if (!assembleCubin(ptx, target, cubin, error, &report))
      return fail(error);
    if (ptxasReport)
      llvm::errs() << report;
    return writeText(outputFile, [&](llvm::raw_ostream &os) { os << cubin; })
               ? 0
               : 1;
  }
  std::string artifact;
  if (!buildCudaArtifact(ptx, *spec, target, gpuFormat, artifact, error,
                         ptxasReport ? &report : nullptr))
    return fail(error);
  if (ptxasReport)
    llvm::errs() << report;
  return writeText(outputFile, [&](llvm::raw_ostream &os) { os << artifact; })
             ? 0
             : 1;
}

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  registerAsmPrinterCLOptions();
  registerMLIRContextCLOptions();
  registerPassManagerCLOptions();
  registerDefaultTimingManagerCLOptions();
  cl::HideUnrelatedOptions({&category, &cl::getGeneralCategory()});
  cl::ParseCommandLineOptions(
      argc, argv,
      "ntp-compile: compile an MLP and a derivative order into a jet kernel\n\n"
      "  ntp-compile net.mlir -o net.so\n"
      "  ntp-compile --layers 1,24,24,24,1 --activation tanh --order 9 "
      "--dtype f64 -o pinn.so\n");

  if (!layersFlag.empty() && !inputFile.empty())
    return fail("give either an input file or --layers, not both");
  if (layersFlag.empty() && inputFile.empty())
    return fail("no input: give an .mlir file or --layers (see --help)");
  if (targetFlag == Target::Cpu && (emit == Emit::Ptx || emit == Emit::Cubin))
    return fail("--emit=ptx and --emit=cubin need --target=nvptx");
  if ((emit == Emit::So || emit == Emit::Obj) && outputFile.empty())
    return fail("-o is required for --emit=so and --emit=obj");
  if (!headerFile.empty() && emit != Emit::Obj)
    return fail("--header is only meaningful with --emit=obj");
  if (gpuMapping != "sample" && gpuMapping != "lanes")
    return fail("--gpu-mapping must be sample or lanes, got '" + gpuMapping +
                "'");
  if (samplesPerBlockFlag < 1 || samplesPerBlockFlag > 32)
    return fail("--samples-per-block must be in 1..32, got " +
                llvm::Twine(samplesPerBlockFlag.getValue()));
  if (tileSize < 0)
    return fail("--tile must be positive (or 0 for automatic), got " +
                llvm::Twine(tileSize.getValue()));

  DialectRegistry registry;
  registerNtpCompilerDialects(registry);
  if (targetFlag == Target::Nvptx)
    registerNtpGpuCompilerDialects(registry);
  MLIRContext context(registry);
  llvm::SourceMgr sources;
  SourceMgrDiagnosticHandler diagnostics(sources, &context);
  OwningOpRef<ModuleOp> module = loadInput(context, sources);
  if (!module)
    return 1;

  CompileOptions options;
  options.tileSize = tileSize;
  options.target.cpu = targetCpu;
  options.target.features = targetFeatures;
  // The GPU kernels run one sample per thread (tile size 1).
  FailureOr<KernelSpec> spec =
      getKernelSpec(*module, targetFlag == Target::Nvptx ? 1 : tileSize);
  if (failed(spec))
    return 1;
  options.target.symbolPrefix =
      !symbolPrefix.empty() ? symbolPrefix.getValue()
                            : (emit == Emit::Obj ? spec->name : "ntp_kernel");

  PassManager pm(&context);
  applyDefaultTimingPassManagerCLOptions(pm);
  if (failed(applyPassManagerCLOptions(pm)))
    return fail("invalid pass manager options");
  if (targetFlag == Target::Nvptx && emit != Emit::Jets && emit != Emit::Loops)
    return compileNvptx(*module, pm);
  if (emit == Emit::Jets || emit == Emit::Loops) {
    CpuPipelineOptions pipeline;
    pipeline.tileSize = spec->tile;
    pipeline.backward = targetFlag == Target::Cpu;
    if (emit == Emit::Jets) {
      NtpDecomposeMlpOptions decompose;
      decompose.tileSize = spec->tile;
      pm.addPass(createNtpDecomposeMlp(decompose));
    } else {
      buildJetLoopsPipeline(pm, pipeline);
    }
    if (failed(pm.run(*module)))
      return 1;
    return writeText(outputFile,
                     [&](llvm::raw_ostream &os) { module->print(os); })
               ? 0
               : 1;
  }
  if (failed(lowerToLLVMDialect(*module, pm, options)))
    return 1;
  if (emit == Emit::Mlir)
    return writeText(outputFile,
                     [&](llvm::raw_ostream &os) { module->print(os); })
               ? 0
               : 1;

  std::string error;
  auto machine = createCpuTargetMachine(options.target, error);
  if (!machine)
    return fail(error);
  llvm::LLVMContext llvmContext;
  auto llvmModule = buildKernelLLVMModule(*module, llvmContext, *spec,
                                          options.target, *machine, error);
  if (!llvmModule)
    return fail(error);
  switch (emit) {
  case Emit::Llvm:
    return writeText(
               outputFile,
               [&](llvm::raw_ostream &os) { llvmModule->print(os, nullptr); })
               ? 0
               : 1;
  case Emit::Asm:
  case Emit::Obj: {
    std::string message;
    auto out = openOutputFile(outputFile.empty() ? "-" : outputFile.getValue(),
                              &message);
    if (!out)
      return fail(message);
    if (!emitMachineCode(*llvmModule, *machine, emit == Emit::Asm, out->os(),
                         error))
      return fail(error);
    out->keep();
    if (!headerFile.empty() &&
        !writeText(headerFile, [&](llvm::raw_ostream &os) {
          os << generateCHeader(*spec, options.target);
        }))
      return 1;
    return 0;
  }
  case Emit::So: {
    llvm::SmallString<256> objectPath(outputFile.getValue());
    objectPath += ".o.tmp";
    {
      std::string message;
      auto out = openOutputFile(objectPath, &message);
      if (!out)
        return fail(message);
      if (!emitMachineCode(*llvmModule, *machine, false, out->os(), error))
        return fail(error);
      out->keep();
    }
    bool linked = linkSharedObject(objectPath, outputFile,
                                   cpuKernelManifest(*spec, *machine), error);
    llvm::sys::fs::remove(objectPath);
    return linked ? 0 : fail(error);
  }
  default:
    return 0;
  }
}
