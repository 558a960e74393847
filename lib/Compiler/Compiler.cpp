//===- Compiler.cpp - The compile chain -----------------------------------===//

#include "ntp/Compiler/Compiler.h"
#include "ntp/Dialect/Ntp/IR/NtpAttributes.h"
#include "ntp/Dialect/Ntp/IR/NtpOps.h"
#include "ntp/Pipelines/Pipelines.h"
#include "ntp/Target/StampKernel.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Pass/PassManager.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/raw_ostream.h"

#include <mutex>
#include <optional>

using namespace mlir;
using namespace ntp;

// The registration function of every target of NTP_TARGETS
// (lib/Target/CMakeLists.txt), whose libraries NtpAllTargets links in.
#define NTP_TARGET(registration) void registration();
namespace ntp {
#include "ntp/Target/Targets.inc"
} // namespace ntp
#undef NTP_TARGET

void ntp::registerAllTargets() {
  static std::once_flag once;
  std::call_once(once, [] {
#define NTP_TARGET(registration) ntp::registration();
#include "ntp/Target/Targets.inc"
#undef NTP_TARGET
  });
}

const TargetBackend *ntp::getTarget(llvm::StringRef name) {
  registerAllTargets();
  return lookupTargetBackend(name);
}

void ntp::registerNtpCompilerDialects(DialectRegistry &registry) {
  registerCpuTargetDialects(registry);
}

void ntp::registerNtpGpuCompilerDialects(DialectRegistry &registry) {
  registerNvptxTargetDialects(registry);
}

OwningOpRef<ModuleOp> ntp::buildMlpModule(MLIRContext &context,
                                          const MlpDescription &description) {
  context.loadDialect<NtpDialect>();
  OpBuilder b(&context);
  Location loc = b.getUnknownLoc();
  OwningOpRef<ModuleOp> module = ModuleOp::create(loc);
  b.setInsertionPointToEnd(module->getBody());
  Type element = description.isF64 ? Type(b.getF64Type()) : b.getF32Type();
  // A partials request: multi-index rows into `partials`, operator rows
  // into `operators` (the verifier keeps the order: indices, then
  // operators, which is how the rows are grouped here too).
  ArrayAttr alphas, operators;
  if (!description.partials.empty()) {
    SmallVector<Attribute> indexRows, operatorAttrs;
    for (const std::vector<int32_t> &row : description.partials) {
      bool laplacian = llvm::is_contained(row, -2);
      bool biharmonic = llvm::is_contained(row, -4);
      if (!laplacian && !biharmonic) {
        SmallVector<Attribute> entries;
        for (int32_t e : row)
          entries.push_back(b.getI64IntegerAttr(e));
        indexRows.push_back(b.getArrayAttr(entries));
        continue;
      }
      SmallVector<int64_t> coordinates;
      for (auto [l, e] : llvm::enumerate(row))
        if (e < 0)
          coordinates.push_back(static_cast<int64_t>(l));
      if (static_cast<int64_t>(coordinates.size()) ==
          static_cast<int64_t>(row.size()))
        coordinates.clear(); // all of them
      operatorAttrs.push_back(
          laplacian ? Attribute(LaplacianAttr::get(&context, coordinates))
                    : Attribute(BiharmonicAttr::get(&context, coordinates)));
    }
    if (!indexRows.empty())
      alphas = b.getArrayAttr(indexRows);
    if (!operatorAttrs.empty())
      operators = b.getArrayAttr(operatorAttrs);
  }
  // "silu,tanh" (one name per hidden layer) is the dialect's list.
  Attribute activation = b.getStringAttr(description.activation);
  if (StringRef(description.activation).contains(',')) {
    SmallVector<StringRef> names;
    StringRef(description.activation).split(names, ',');
    activation = b.getStrArrayAttr(names);
  }
  // Typed layers: a list of slope kinds and of residual flags, or nothing.
  Attribute slopes;
  DenseBoolArrayAttr residual;
  if (!description.kinds.slopesText().empty()) {
    SmallVector<StringRef> names;
    for (artifact::Slope slope : description.kinds.slopes) {
      std::string_view name = artifact::slopeName(slope);
      names.push_back(StringRef(name.data(), name.size()));
    }
    slopes = b.getStrArrayAttr(names);
  }
  if (!description.kinds.residualText().empty())
    residual = b.getDenseBoolArrayAttr(SmallVector<bool>(
        description.kinds.residual.begin(), description.kinds.residual.end()));
  MlpOp mlp =
      MlpOp::create(b, loc, b.getStringAttr(description.name),
                    b.getDenseI64ArrayAttr(description.layers), activation,
                    b.getI64IntegerAttr(description.order),
                    TypeAttr::get(element), alphas, operators, slopes, residual,
                    description.kinds.fourier > 0
                        ? b.getI64IntegerAttr(description.kinds.fourier)
                        : IntegerAttr(),
                    description.kinds.gated ? b.getUnitAttr() : UnitAttr());
  if (!description.partialsLowering.empty())
    mlp->setAttr("ntp.partials_lowering",
                 b.getStringAttr(description.partialsLowering));
  if (!description.partialsReverseLowering.empty())
    mlp->setAttr("ntp.partials_reverse_lowering",
                 b.getStringAttr(description.partialsReverseLowering));
  if (failed(verify(*module)))
    return nullptr;
  return module;
}

bool ntp::compile(ModuleOp module, const TargetBackend &target, EmitStage stage,
                  const CompileOptions &options, PassManager &pm,
                  CompileOutput &output, std::string &error) {
  error.clear();
  if (!target.supports(stage)) {
    error = "the " + target.getName().str() + " target cannot emit this stage";
    return false;
  }
  // The module compiles to one kernel.
  size_t mlps = llvm::range_size(module.getOps<MlpOp>());
  if (mlps != 1) {
    module.emitError("expected exactly one ntp.mlp in the module, found ")
        << mlps;
    return false;
  }
  // A --target-cpu list: a kernel per CPU in one artifact.
  if (target.getName() == CpuTargetOptions::kTargetName &&
      options.get<CpuTargetOptions>().variants.size() > 1)
    return compileCpuVariants(module, target, stage, options, output, error);
  // Options first: nothing is built for an unknown CPU or chip.
  if (!target.checkOptions(options, error) ||
      !target.buildPipeline(pm, options, stage, error))
    return false;
  if (failed(pm.run(module)))
    return false; // reported as diagnostics
  output = CompileOutput();
  if (KernelAttr kernel = getKernelAttr(module))
    output.manifest = kernel.getManifest();
  if (stage == EmitStage::Jets || stage == EmitStage::Loops ||
      stage == EmitStage::Lowered) {
    llvm::raw_string_ostream os(output.bytes);
    module.print(os);
    return true;
  }
  if (output.manifest.name.empty()) {
    error = "the lowered module carries no #ntp.kernel attribute";
    return false;
  }
  return target.serialize(module, output.manifest, stage, options, output,
                          error);
}

/// Writes `bytes` to a new file beside `path` and renames it over `path`,
/// with `permissions` (an existing file's) or the default ones. `created`:
/// whether the new file could be made at all.
static bool replaceFile(llvm::StringRef path, llvm::StringRef bytes,
                        std::optional<llvm::sys::fs::perms> permissions,
                        bool &created, std::string &error) {
  llvm::SmallString<256> temp;
  int fd = -1;
  created = false;
  if (std::error_code ec =
          llvm::sys::fs::createUniqueFile(path + ".%%%%%%%%.tmp", fd, temp)) {
    error = "cannot write '" + path.str() + "': " + ec.message();
    return false;
  }
  created = true;
  std::error_code ec;
  {
    llvm::raw_fd_ostream os(fd, /*shouldClose=*/true);
    os << bytes;
    os.close();
    if (os.has_error()) {
      ec = os.error();
      os.clear_error();
    }
  }
  if (!ec && permissions)
    ec = llvm::sys::fs::setPermissions(temp, *permissions);
  if (!ec)
    ec = llvm::sys::fs::rename(temp, path);
  if (ec) {
    llvm::sys::fs::remove(temp);
    error = "cannot write '" + path.str() + "': " + ec.message();
    return false;
  }
  return true;
}

bool ntp::writeOutputFile(llvm::StringRef path, llvm::StringRef bytes,
                          std::string &error) {
  if (path.empty() || path == "-") {
    llvm::outs() << bytes;
    llvm::outs().flush();
    if (llvm::outs().has_error()) {
      llvm::outs().clear_error();
      error = "cannot write to standard output";
      return false;
    }
    return true;
  }
  // A regular file is replaced rather than rewritten: the bytes go to a new
  // file beside it, renamed over it once complete. A process that has the
  // old artifact loaded keeps its mapping of the old file (rewriting the
  // file in place changes the code under a loaded kernel, which then
  // crashes), and no reader sees half an artifact. Anything else (a device,
  // a FIFO, a symbolic link) is written in place, as asked.
  llvm::sys::fs::file_status status;
  std::error_code statError =
      llvm::sys::fs::status(path, status, /*follow=*/false);
  bool isNew = statError == std::errc::no_such_file_or_directory;
  if (isNew ||
      (!statError && status.type() == llvm::sys::fs::file_type::regular_file)) {
    bool created = false;
    if (replaceFile(path, bytes,
                    isNew ? std::nullopt : std::optional(status.permissions()),
                    created, error))
      return true;
    // A writable file in a folder where no file can be made: rewrite it in
    // place, as asked.
    if (created || isNew)
      return false;
    error.clear();
  }
  bool existed = !isNew;
  std::error_code ec;
  llvm::raw_fd_ostream os(path, ec, llvm::sys::fs::OF_None);
  if (ec) {
    error = "cannot write '" + path.str() + "': " + ec.message();
    return false;
  }
  os << bytes;
  os.close();
  if (os.has_error()) {
    error = "cannot write '" + path.str() + "': " + os.error().message();
    os.clear_error();
    // Leave no partial file behind (but never remove a device).
    if (!existed && llvm::sys::fs::is_regular_file(path))
      llvm::sys::fs::remove(path);
    return false;
  }
  return true;
}

bool ntp::compileToSharedObject(ModuleOp module, const CompileOptions &options,
                                const std::string &outputPath,
                                std::string &error) {
  PassManager pm(module.getContext());
  CompileOutput output;
  if (!compile(module, *getTarget("cpu"), EmitStage::Artifact, options, pm,
               output, error)) {
    if (error.empty())
      error = "lowering the network to LLVM failed";
    return false;
  }
  return writeOutputFile(outputPath, output.bytes, error);
}

bool ntp::compileGpuEmulationToSharedObject(ModuleOp module,
                                            const NvptxTargetOptions &target,
                                            const CpuTargetOptions &host,
                                            const std::string &outputPath,
                                            std::string &error) {
  const TargetBackend &cpu = *getTarget("cpu");
  CompileOptions options;
  options.get<CpuTargetOptions>() = host;
  options.get<NvptxTargetOptions>() = target;
  options.backward = false;
  if (!cpu.checkOptions(options, error))
    return false;
  std::unique_ptr<llvm::TargetMachine> machine =
      createCpuTargetMachine(host, error);
  if (!machine)
    return false;
  PassManager pm(module.getContext());
  GpuPipelineOptions pipeline;
  fillGpuPipelineOptions(target, pipeline);
  buildGpuEmulationPipeline(pm, pipeline);
  // One GPU block per tile of the host kernel; forward only.
  KernelTargetUpdate hostFacts = stampCpuTarget(*machine);
  int64_t samplesPerBlock = target.samplesPerLaunchBlock();
  pm.addPass(createStampKernelTargetPass(
      [=](KernelTarget &facts, std::string &message) {
        facts.tile = samplesPerBlock;
        facts.backward = false;
        return hostFacts(facts, message);
      }));
  if (failed(pm.run(module))) {
    error = "lowering the GPU kernel to its host emulation failed";
    return false;
  }
  FailureOr<artifact::KernelManifest> manifest = readKernelManifest(module);
  if (failed(manifest)) {
    error = "the lowered module carries no #ntp.kernel attribute";
    return false;
  }
  CompileOutput output;
  if (!cpu.serialize(module, *manifest, EmitStage::Artifact, options, output,
                     error))
    return false;
  return writeOutputFile(outputPath, output.bytes, error);
}
