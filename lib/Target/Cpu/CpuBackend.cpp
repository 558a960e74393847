//===- CpuBackend.cpp - The CPU target ------------------------------------===//
//
// ntp-cpu-pipeline, then LLVM IR with the C-ABI entry points and manifest,
// O3, machine code for the chosen CPU, and a shared object.
//
//===----------------------------------------------------------------------===//

#include "ntp/Dialect/Ntp/IR/NtpDialect.h"
#include "ntp/Pipelines/Pipelines.h"
#include "ntp/Target/Cpu/CpuTarget.h"
#include "ntp/Target/TargetBackend.h"
#include "ntp/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/ControlFlow/IR/ControlFlow.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Target/LLVMIR/Dialect/Builtin/BuiltinToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/LLVMIR/LLVMToLLVMIRTranslation.h"

#include "llvm/ADT/SmallString.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/raw_ostream.h"

using namespace mlir;
using namespace ntp;
namespace cl = llvm::cl;

void ntp::registerCpuTargetDialects(DialectRegistry &registry) {
  registry
      .insert<NtpDialect, arith::ArithDialect, cf::ControlFlowDialect,
              func::FuncDialect, LLVM::LLVMDialect, math::MathDialect,
              memref::MemRefDialect, scf::SCFDialect, vector::VectorDialect>();
  registerBuiltinDialectTranslation(registry);
  registerLLVMDialectTranslation(registry);
}

namespace {

/// Removes a temporary file when it goes out of scope.
struct TemporaryFile {
  llvm::SmallString<128> path;
  ~TemporaryFile() {
    if (!path.empty())
      llvm::sys::fs::remove(path);
  }
};

/// The CPU target's flags, created on demand by registerCommandLineOptions
/// (ntp-compile) rather than as static options of this library.
struct CpuFlags {
  cl::OptionCategory category{"CPU target options (--target=cpu)"};
  cl::opt<std::string> cpu{
      "target-cpu",
      cl::desc("LLVM CPU name, or 'native' for this machine; a "
               "comma-separated list (x86-64-v3,znver4,sapphirerapids) makes "
               "one artifact with a kernel per CPU, of which the runtime "
               "loads the best the host supports (--emit=so, x86-64)"),
      cl::init(CpuTargetOptions().cpu), cl::cat(category)};
  cl::opt<std::string> features{"target-features",
                                cl::desc("Extra LLVM CPU features"),
                                cl::init(""), cl::cat(category)};
  cl::opt<std::string> triple{
      "target-triple",
      cl::desc("LLVM target triple (default: this machine's); another "
               "architecture's code, e.g. aarch64-linux-gnu, is emitted with "
               "--emit=llvm, asm or obj"),
      cl::init(""), cl::cat(category)};
  cl::opt<int64_t> sveVectorBits{
      "sve-vector-bits",
      cl::desc("AArch64: the SVE vector length the code may assume (256..2048, "
               "a multiple of 128; 0: NEON vectors)"),
      cl::init(0), cl::cat(category)};
  cl::opt<int64_t> tile{"tile", cl::desc("Samples per tile (0: automatic)"),
                        cl::init(0), cl::cat(category)};
  cl::opt<bool> backward{
      "backward",
      cl::desc("Also the reverse-mode entry points (ntp_backward, "
               "ntp_forward_save, ...; ntp_partials_backward, _save, "
               "_backward_saved for a partials kernel); --backward=false: "
               "the forward only, whose reverse-mode calls the runtime "
               "refuses"),
      cl::init(true), cl::cat(category)};
  cl::opt<std::string> symbolPrefix{
      "symbol-prefix",
      cl::desc("Prefix of exported symbols (default: ntp_kernel for "
               "--emit=so, the kernel name for --emit=obj)"),
      cl::init(""), cl::cat(category)};
  cl::opt<int64_t> interleave{
      "interleave",
      cl::desc("Neurons whose activation jets are interleaved (0: chosen "
               "from the CPU's scheduling model, 1: one at a time)"),
      cl::init(0), cl::cat(category)};
  cl::opt<int64_t> affineOutputs{
      "affine-outputs",
      cl::desc("Output neurons per register block of the affine layers (0: "
               "chosen from the CPU's scheduling model, 1: unblocked)"),
      cl::init(0), cl::cat(category)};
  cl::opt<int64_t> affineOrders{
      "affine-orders",
      cl::desc("Live orders per register block of the affine layers (0: all, "
               "or chosen with --affine-outputs=0)"),
      cl::init(0), cl::cat(category)};
  cl::opt<bool> hoistPrimitives{
      "hoist-primitives",
      cl::desc("Evaluate each layer's activation primitives (tanh(y_0), "
               "...) in a loop of their own before its jets (default on; "
               "off: in each neuron's arithmetic)"),
      cl::init(true), cl::cat(category)};
  cl::opt<int64_t> rayRows{
      "ray-rows",
      cl::desc("Rows per register block of the multi-direction affine "
               "layers of partials kernels (0: chosen from the CPU's "
               "scheduling model; with --ray-neurons)"),
      cl::init(0), cl::cat(category)};
  cl::opt<int64_t> rayNeurons{
      "ray-neurons",
      cl::desc("Output neurons per register block of the multi-direction "
               "affine layers (0: chosen; with --ray-rows)"),
      cl::init(0), cl::cat(category)};
  cl::opt<int64_t> gradOutputs{
      "grad-outputs",
      cl::desc("Output neurons per register tile of the affine layers' "
               "parameter gradients in the reverse mode (0: chosen from the "
               "CPU's scheduling model; with --grad-inputs)"),
      cl::init(0), cl::cat(category)};
  cl::opt<int64_t> gradInputs{
      "grad-inputs",
      cl::desc("Input neurons per register tile of the parameter gradients "
               "(0: chosen; with --grad-outputs)"),
      cl::init(0), cl::cat(category)};
  cl::opt<int64_t> gradLaneBits{
      "grad-lane-bits",
      cl::desc("Bits of the reverse mode's lane-wise gradient accumulators "
               "per parameter (-1: chosen per kernel from the CPU's "
               "scheduling model, its vector register or half of it, into "
               "which a wider tile folds its lanes; 0: one lane per sample)"),
      cl::init(-1), cl::cat(category)};
};

CpuFlags *&registeredCpuFlags() {
  static CpuFlags *flags = nullptr;
  return flags;
}

class CpuBackend : public TargetBackend {
public:
  llvm::StringRef getName() const override { return "cpu"; }
  llvm::StringRef getDescription() const override {
    return "the host CPU (default)";
  }
  void registerDialects(DialectRegistry &registry) const override {
    registerCpuTargetDialects(registry);
  }
  bool supports(EmitStage stage) const override {
    return stage != EmitStage::Cubin;
  }

  cl::OptionCategory *registerCommandLineOptions() const override {
    static CpuFlags flags;
    registeredCpuFlags() = &flags;
    return &flags.category;
  }

  bool applyCommandLineOptions(CompileOptions &options,
                               std::string &error) const override {
    const CpuFlags *flags = registeredCpuFlags();
    if (!flags)
      return true;
    if (flags->tile < 0) {
      error = "--tile must be positive (or 0 for automatic), got " +
              std::to_string(flags->tile.getValue());
      return false;
    }
    options.tileSize = flags->tile;
    if (flags->backward.getNumOccurrences())
      options.backward = flags->backward;
    CpuTargetOptions &cpu = options.get<CpuTargetOptions>();
    cpu.cpu = flags->cpu;
    // A list: one artifact with a kernel per CPU (compileCpuVariants).
    if (llvm::StringRef(flags->cpu).contains(',')) {
      llvm::SmallVector<llvm::StringRef> names;
      llvm::StringRef(flags->cpu).split(names, ',');
      cpu.variants.assign(names.begin(), names.end());
      cpu.cpu = cpu.variants.front();
    }
    cpu.features = flags->features;
    cpu.triple = flags->triple;
    cpu.sveVectorBits = flags->sveVectorBits;
    cpu.symbolPrefix = flags->symbolPrefix;
    if (flags->interleave < 0 || flags->interleave > 8 ||
        flags->affineOutputs < 0 || flags->affineOutputs > 8 ||
        flags->affineOrders < 0) {
      error = "--interleave and --affine-outputs must be in 0..8 and "
              "--affine-orders at least 0";
      return false;
    }
    cpu.interleave = flags->interleave;
    cpu.affineOutputs = flags->affineOutputs;
    cpu.affineOrders = flags->affineOrders;
    cpu.rayRows = flags->rayRows;
    cpu.rayNeurons = flags->rayNeurons;
    cpu.gradOutputs = flags->gradOutputs;
    cpu.gradInputs = flags->gradInputs;
    cpu.gradLaneBits = flags->gradLaneBits;
    cpu.hoistPrimitives = flags->hoistPrimitives;
    return true;
  }

  bool checkOptions(const CompileOptions &options,
                    std::string &error) const override {
    if (options.tileSize < 0 || options.tileSize > artifact::kMaxTile) {
      error = "tile size must be in [1, " + std::to_string(artifact::kMaxTile) +
              "] (kMaxTile) or 0 for the default, got " +
              std::to_string(options.tileSize);
      return false;
    }
    CpuTargetOptions cpu = options.get<CpuTargetOptions>();
    if (cpu.interleave < 0 || cpu.interleave > 8 || cpu.affineOutputs < 0 ||
        cpu.affineOutputs > 8 || cpu.affineOrders < 0) {
      error = "the CPU schedule's interleave and affine outputs must be in "
              "0..8 and its affine orders at least 0";
      return false;
    }
    if (cpu.rayRows < 0 || cpu.rayRows > 8 || cpu.rayNeurons < 0 ||
        cpu.rayNeurons > 8 || (cpu.rayRows == 0) != (cpu.rayNeurons == 0)) {
      error = "the ray block's rows and neurons must both be in 1..8, or "
              "both 0 (chosen), got " +
              std::to_string(cpu.rayRows) + " x " +
              std::to_string(cpu.rayNeurons);
      return false;
    }
    if (cpu.gradOutputs < 0 || cpu.gradOutputs > 8 || cpu.gradInputs < 0 ||
        cpu.gradInputs > 8 || (cpu.gradOutputs == 0) != (cpu.gradInputs == 0)) {
      error = "the gradient tile's outputs and inputs must both be in 1..8, "
              "or both 0 (chosen), got " +
              std::to_string(cpu.gradOutputs) + " x " +
              std::to_string(cpu.gradInputs);
      return false;
    }
    if (cpu.gradLaneBits < -1 || cpu.gradLaneBits > 4096 ||
        (cpu.gradLaneBits > 0 && cpu.gradLaneBits % 32 != 0)) {
      error = "the gradient accumulators' bits must be -1 (chosen for the "
              "CPU), 0 (one lane per sample) or a multiple of 32 up to "
              "4096, got " +
              std::to_string(cpu.gradLaneBits);
      return false;
    }
    if (!cpu.variants.empty())
      return checkVariants(cpu, error);
    return createCpuTargetMachine(options.get<CpuTargetOptions>(), error) !=
           nullptr;
  }

  /// A --target-cpu list: named, distinct, known x86 CPUs.
  static bool checkVariants(const CpuTargetOptions &cpu, std::string &error) {
    llvm::Triple triple = cpuTargetTriple(cpu);
    if (!triple.isX86() || !isHostArchitecture(triple)) {
      error = "several --target-cpu values make one x86-64 artifact whose "
              "variants the runtime tells apart by their instruction-set "
              "features; for " +
              triple.str() + " name one CPU";
      return false;
    }
    for (size_t i = 0; i < cpu.variants.size(); ++i) {
      const std::string &name = cpu.variants[i];
      if (name.empty() || name == "native") {
        error = "--target-cpu lists " +
                (name.empty() ? std::string("an empty CPU name")
                              : std::string("'native'")) +
                "; a list names CPUs (e.g. x86-64-v3,znver4,sapphirerapids)";
        return false;
      }
      for (size_t j = 0; j < i; ++j)
        if (cpu.variants[j] == name) {
          error = "--target-cpu lists '" + name + "' twice";
          return false;
        }
      CpuTargetOptions one = cpu;
      one.cpu = name;
      one.variants.clear();
      if (!createCpuTargetMachine(one, error))
        return false;
    }
    return true;
  }

  bool buildPipeline(OpPassManager &pm, const CompileOptions &options,
                     EmitStage stage, std::string &error) const override {
    CpuPipelineOptions pipeline;
    pipeline.tileSize = options.tileSize;
    pipeline.backward = options.backward;
    pipeline.outline = options.outline;
    pipeline.formulation = options.formulation;
    if (stage == EmitStage::Jets) {
      NtpDecomposeMlpOptions decompose;
      decompose.tileSize = options.tileSize;
      decompose.backward = options.backward;
      pm.addPass(createNtpDecomposeMlp(decompose));
      return true;
    }
    std::unique_ptr<llvm::TargetMachine> machine =
        createCpuTargetMachine(options.get<CpuTargetOptions>(), error);
    if (!machine)
      return false;
    // The schedule: as asked, or (0) derived per layer from the CPU's facts.
    CpuTargetOptions cpu = options.get<CpuTargetOptions>();
    pipeline.interleave = cpu.interleave;
    pipeline.affineOutputs = cpu.affineOutputs;
    pipeline.affineOrders = cpu.affineOrders;
    pipeline.rayRows = cpu.rayRows;
    pipeline.rayNeurons = cpu.rayNeurons;
    pipeline.gradOutputs = cpu.gradOutputs;
    pipeline.gradInputs = cpu.gradInputs;
    pipeline.hoistPrimitives = cpu.hoistPrimitives;
    MachineVectorFacts facts = cpuVectorFacts(*machine, cpu.sveVectorBits);
    // -1: per kernel from the facts (ntp::chooseGradLaneBits).
    pipeline.gradLaneBits = cpu.gradLaneBits;
    if (cpu.interleave == 0 || cpu.affineOutputs == 0 || cpu.rayRows == 0 ||
        cpu.gradLaneBits < 0) {
      if (facts.known())
        pipeline.machineFacts = {facts.vectorBits, facts.vectorRegisters,
                                 facts.fmaLatency, facts.fmaPipes,
                                 facts.loadPorts,  facts.l1DataBytes};
    }
    // --emit=loops shows the loops the kernel runs: scheduled as above.
    if (stage == EmitStage::Loops) {
      buildJetLoopsPipeline(pm, pipeline);
      return true;
    }
    buildCpuPipeline(pm, pipeline);
    pm.addPass(createStampKernelTargetPass(stampCpuTarget(*machine)));
    return true;
  }

  bool serialize(ModuleOp lowered, const artifact::KernelManifest &manifest,
                 EmitStage stage, const CompileOptions &options,
                 CompileOutput &output, std::string &error) const override {
    CpuTargetOptions target = options.get<CpuTargetOptions>();
    // Objects for static linking export the kernel's own name; the runtime
    // loads the default prefix.
    if (target.symbolPrefix.empty())
      target.symbolPrefix = stage == EmitStage::Obj
                                ? manifest.name
                                : std::string(artifact::kDefaultSymbolPrefix);
    std::unique_ptr<llvm::TargetMachine> machine =
        createCpuTargetMachine(target, error);
    if (!machine)
      return false;
    llvm::LLVMContext context;
    std::unique_ptr<llvm::Module> module =
        buildKernelLLVMModule(lowered, context, target, *machine, error);
    if (!module)
      return false;
    // A variant of a multi-variant artifact exports only its entry points
    // and manifest, so that the variants link into one shared object.
    if (target.internalizeHelpers)
      internalizeHelpers(*module, target.symbolPrefix);
    if (stage == EmitStage::Llvm) {
      llvm::raw_string_ostream os(output.bytes);
      module->print(os, nullptr);
      return true;
    }
    llvm::SmallString<0> code;
    llvm::raw_svector_ostream os(code);
    if (!emitMachineCode(*module, *machine, stage == EmitStage::Asm, os, error))
      return false;
    if (stage != EmitStage::Artifact) {
      output.bytes.assign(code.begin(), code.end());
      // An object for static linking comes with the header declaring it.
      if (stage == EmitStage::Obj)
        output.header = generateCHeader(manifest, target);
      return true;
    }
    // The artifact: the object linked into a shared object, which only the
    // host's architecture can load.
    llvm::Triple triple = cpuTargetTriple(target);
    if (!isHostArchitecture(triple)) {
      error = "a kernel artifact for " + triple.str() +
              " cannot be linked or loaded on this machine; use --emit=obj, "
              "asm or llvm and that architecture's toolchain";
      return false;
    }
    TemporaryFile object, shared;
    int fd;
    if (std::error_code ec = llvm::sys::fs::createTemporaryFile(
            "ntp-kernel", "o", fd, object.path)) {
      error = "cannot create a temporary object file: " + ec.message();
      return false;
    }
    {
      llvm::raw_fd_ostream file(fd, /*shouldClose=*/true);
      file << code;
      file.close();
      if (file.has_error()) {
        file.clear_error();
        error = "cannot write the temporary object file '" +
                object.path.str().str() + "'";
        return false;
      }
    }
    if (std::error_code ec = llvm::sys::fs::createTemporaryFile(
            "ntp-kernel", "so", shared.path)) {
      error = "cannot create a temporary shared object: " + ec.message();
      return false;
    }
    if (!linkSharedObject(object.path, shared.path, manifest, error))
      return false;
    auto bytes = llvm::MemoryBuffer::getFile(shared.path, /*IsText=*/false,
                                             /*RequiresNullTerminator=*/false);
    if (!bytes) {
      error =
          "cannot read the linked shared object: " + bytes.getError().message();
      return false;
    }
    output.bytes = (*bytes)->getBuffer().str();
    return true;
  }
};

} // namespace

void ntp::registerCpuTarget() {
  registerTargetBackend(std::make_unique<CpuBackend>());
}
