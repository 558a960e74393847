//===- ntp-compile.cpp - Ahead-of-time compiler for ntp kernels -----------===//
//
// A thin driver over the compile chain of lib/Compiler: parse the flags and
// the input (an .mlir file holding one ntp.mlp, or flags describing the
// network), pick the target from the registry, call ntp::compile, write the
// output (a shared object the runtime loads by default, an object file plus
// C header for static linking, or any intermediate stage with --emit).
//
//===----------------------------------------------------------------------===//

#include "ntp/Compiler/Compiler.h"
#include "ntp/Support/ActivationRules.h"

#include "mlir/IR/AsmState.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Support/FileUtilities.h"
#include "mlir/Support/Timing.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/raw_ostream.h"

using namespace mlir;
using namespace ntp;
namespace cl = llvm::cl;
namespace art = ntp::artifact;

static cl::OptionCategory category("ntp-compile options");
static cl::OptionCategory networkCategory("Network (instead of an input file)");
static cl::OptionCategory cpuCategory("CPU target options");
static cl::OptionCategory gpuCategory("NVPTX target options");

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
               clEnumValN(Emit::Mlir, "mlir",
                          "the target's lowered MLIR (LLVM dialect)"),
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

/// --target: the registered targets (filled in main, before parsing).
static cl::opt<const TargetBackend *, false, cl::parser<const TargetBackend *>>
    targetFlag("target", cl::desc("Target (default: cpu)"), cl::init(nullptr),
               cl::cat(category));

static cl::opt<std::string>
    layersFlag("layers",
               cl::desc("Layer widths, input to output (e.g. 1,24,24,24,1)"),
               cl::init(""), cl::cat(networkCategory));
/// The description lists the activation table (set in main).
static cl::opt<std::string> activationFlag("activation", cl::init("tanh"),
                                           cl::cat(networkCategory));
static cl::opt<int64_t> orderFlag("order", cl::desc("Derivative order"),
                                  cl::init(0), cl::cat(networkCategory));
static cl::opt<art::Dtype>
    dtypeFlag("dtype", cl::desc("Element type"), cl::init(art::Dtype::F32),
              cl::values(clEnumValN(art::Dtype::F32, "f32", "float"),
                         clEnumValN(art::Dtype::F64, "f64", "double")),
              cl::cat(networkCategory));
static cl::opt<std::string> nameFlag("name", cl::desc("Kernel name"),
                                     cl::init("ntp_kernel"),
                                     cl::cat(networkCategory));

static cl::opt<std::string>
    targetCpu("target-cpu",
              cl::desc("LLVM CPU name, or 'native' for this machine"),
              cl::init("x86-64-v3"), cl::cat(cpuCategory));
static cl::opt<std::string> targetFeatures("target-features",
                                           cl::desc("Extra LLVM CPU features"),
                                           cl::init(""), cl::cat(cpuCategory));
static cl::opt<int64_t> tileSize("tile",
                                 cl::desc("Samples per tile (0: automatic)"),
                                 cl::init(0), cl::cat(cpuCategory));
static cl::opt<std::string> symbolPrefix(
    "symbol-prefix",
    cl::desc("Prefix of exported symbols (default: ntp_kernel for --emit=so, "
             "the kernel name for --emit=obj)"),
    cl::init(""), cl::cat(cpuCategory));
static cl::opt<std::string>
    headerFile("header",
               cl::desc("With --emit=obj: also write a C header here"),
               cl::value_desc("path"), cl::init(""), cl::cat(cpuCategory));

static cl::opt<std::string> chipFlag("chip",
                                     cl::desc("NVIDIA architecture (sm_XX)"),
                                     cl::init("sm_90"), cl::cat(gpuCategory));
static cl::opt<std::string>
    gpuFeatures("gpu-features", cl::desc("LLVM NVPTX features, e.g. +ptx80"),
                cl::init(""), cl::cat(gpuCategory));
static cl::opt<art::GpuMapping>
    gpuMapping("gpu-mapping", cl::desc("Work per GPU thread"),
               cl::init(art::GpuMapping::Sample),
               cl::values(clEnumValN(art::GpuMapping::Sample, "sample",
                                     "a thread per sample"),
                          clEnumValN(art::GpuMapping::Lanes, "lanes",
                                     "a warp per sample, a neuron per lane")),
               cl::cat(gpuCategory));
static cl::opt<int64_t>
    blockSizeFlag("block-size",
                  cl::desc("Threads per block (--gpu-mapping=sample)"),
                  cl::init(128), cl::cat(gpuCategory));
static cl::opt<int64_t> samplesPerBlockFlag(
    "samples-per-block",
    cl::desc("Samples (warps) per block (--gpu-mapping=lanes)"), cl::init(4),
    cl::cat(gpuCategory));
static cl::opt<CudaImageFormat>
    gpuFormat("gpu-format", cl::desc("Image in a CUDA artifact (--emit=so)"),
              cl::init(CudaImageFormat::Auto),
              cl::values(clEnumValN(CudaImageFormat::Auto, "auto",
                                    "cubin when ptxas is found, else PTX"),
                         clEnumValN(CudaImageFormat::Ptx, "ptx",
                                    "PTX (JIT-compiled by the driver)"),
                         clEnumValN(CudaImageFormat::Cubin, "cubin",
                                    "cubin (needs ptxas)")),
              cl::cat(gpuCategory));
static cl::opt<std::string>
    libdeviceFlag("libdevice",
                  cl::desc("libdevice.10.bc for f64 math (default: "
                           "$NTP_LIBDEVICE or the CUDA toolkit's)"),
                  cl::init(""), cl::cat(gpuCategory));
static cl::opt<std::string>
    ptxasFlag("ptxas",
              cl::desc("ptxas (default: $NTP_PTXAS, "
                       "/usr/local/cuda/bin/ptxas, PATH)"),
              cl::init(""), cl::cat(gpuCategory));
static cl::opt<bool>
    ptxasReport("ptxas-report",
                cl::desc("Print ptxas -v (registers, spills) to stderr"),
                cl::init(false), cl::cat(gpuCategory));

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
    description.name = nameFlag;
    description.activation = activationFlag;
    description.order = orderFlag;
    description.isF64 = dtypeFlag == art::Dtype::F64;
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

static EmitStage toStage(Emit value) {
  switch (value) {
  case Emit::Jets:
    return EmitStage::Jets;
  case Emit::Loops:
    return EmitStage::Loops;
  case Emit::Mlir:
    return EmitStage::Lowered;
  case Emit::Llvm:
    return EmitStage::Llvm;
  case Emit::Asm:
  case Emit::Ptx:
    return EmitStage::Asm;
  case Emit::Obj:
    return EmitStage::Obj;
  case Emit::So:
    return EmitStage::Artifact;
  case Emit::Cubin:
    return EmitStage::Cubin;
  }
  return EmitStage::Artifact;
}

/// Hides LLVM's own options (backends, codegen, ...) from --help, as clang
/// does; --help-hidden still lists them. ntp's options and the MLIR ones a
/// user needs (pass manager, IR printing, timing, context) stay.
static void hideUnrelatedOptions() {
  for (auto &entry : cl::getRegisteredOptions()) {
    cl::Option *option = entry.second;
    bool ntp = false;
    for (cl::OptionCategory *c : option->Categories)
      ntp |= c == &category || c == &networkCategory || c == &cpuCategory ||
             c == &gpuCategory;
    llvm::StringRef name = entry.first;
    bool mlir = name.starts_with("mlir-") || name.starts_with("pass-") ||
                name == "print-ir-after-all" || name == "help" ||
                name == "help-hidden" || name == "version";
    if (!ntp && !mlir)
      option->setHiddenFlag(cl::Hidden);
  }
}

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  registerAsmPrinterCLOptions();
  registerMLIRContextCLOptions();
  registerPassManagerCLOptions();
  registerDefaultTimingManagerCLOptions();
  registerAllTargets();
  for (const TargetBackend *target : getTargetBackends())
    targetFlag.getParser().addLiteralOption(target->getName(), target,
                                            target->getDescription());
  static const std::string activationHelp =
      "Activation of every hidden layer, or a comma-separated list with one "
      "per hidden layer (" +
      llvm::join(activationNames(), ", ") + ")";
  activationFlag.setDescription(activationHelp);
  hideUnrelatedOptions();
  cl::ParseCommandLineOptions(
      argc, argv,
      "ntp-compile: compile an MLP and a derivative order into a jet kernel\n\n"
      "  ntp-compile net.mlir -o net.so\n"
      "  ntp-compile --layers 1,24,24,24,1 --activation tanh --order 9 "
      "--dtype f64 -o pinn.so\n");

  const TargetBackend &target =
      targetFlag ? *targetFlag.getValue() : *getTarget("cpu");
  bool gpu = target.getName() == "nvptx";
  if (!layersFlag.empty() && !inputFile.empty())
    return fail("give either an input file or --layers, not both");
  if (layersFlag.empty() && inputFile.empty())
    return fail("no input: give an .mlir file or --layers (see --help)");
  if (!gpu && (emit == Emit::Ptx || emit == Emit::Cubin))
    return fail("--emit=ptx and --emit=cubin need --target=nvptx");
  if (gpu && emit == Emit::Obj)
    return fail("--emit=obj is for the CPU; use --emit=cubin or --emit=so "
                "with --target=nvptx");
  if ((emit == Emit::So || emit == Emit::Obj || emit == Emit::Cubin) &&
      outputFile.empty())
    return fail("-o is required for --emit=so, --emit=obj and --emit=cubin");
  if (!headerFile.empty() && emit != Emit::Obj)
    return fail("--header is only meaningful with --emit=obj");
  if (samplesPerBlockFlag < 1 || samplesPerBlockFlag > 32)
    return fail("--samples-per-block must be in 1..32, got " +
                llvm::Twine(samplesPerBlockFlag.getValue()));
  if (blockSizeFlag < 1 || blockSizeFlag > 1024)
    return fail("--block-size must be in 1..1024, got " +
                llvm::Twine(blockSizeFlag.getValue()));
  if (tileSize < 0)
    return fail("--tile must be positive (or 0 for automatic), got " +
                llvm::Twine(tileSize.getValue()));

  CompileOptions options;
  options.tileSize = tileSize;
  options.target.cpu = targetCpu;
  options.target.features = targetFeatures;
  options.target.symbolPrefix = symbolPrefix;
  options.gpu.chip = chipFlag;
  options.gpu.features = gpuFeatures;
  options.gpu.blockSize = blockSizeFlag;
  options.gpu.mapping = gpuMapping;
  options.gpu.samplesPerBlock = samplesPerBlockFlag;
  options.gpu.libdevice = libdeviceFlag;
  options.gpu.ptxas = ptxasFlag;
  options.gpuFormat = gpuFormat;
  options.ptxasReport = ptxasReport;
  // The options are checked before anything is parsed or built.
  if (std::string error; !target.checkOptions(options, error))
    return fail(error);

  DialectRegistry registry;
  target.registerDialects(registry);
  MLIRContext context(registry);
  llvm::SourceMgr sources;
  SourceMgrDiagnosticHandler diagnostics(sources, &context);
  OwningOpRef<ModuleOp> module = loadInput(context, sources);
  if (!module)
    return 1;

  PassManager pm(&context);
  applyDefaultTimingPassManagerCLOptions(pm);
  if (failed(applyPassManagerCLOptions(pm)))
    return fail("invalid pass manager options");
  CompileOutput output;
  std::string error;
  if (!compile(*module, target, toStage(emit), options, pm, output, error))
    return error.empty() ? 1 : fail(error);
  if (ptxasReport)
    llvm::errs() << output.report;

  // The header first: a failure then leaves no object behind.
  if (!headerFile.empty()) {
    CpuTargetOptions header = options.target;
    if (header.symbolPrefix.empty())
      header.symbolPrefix = output.manifest.name;
    if (!writeOutputFile(headerFile, generateCHeader(output.manifest, header),
                         error))
      return fail(error);
  }
  if (!writeOutputFile(outputFile, output.bytes, error)) {
    if (!headerFile.empty())
      llvm::sys::fs::remove(headerFile);
    return fail(error);
  }
  return 0;
}
