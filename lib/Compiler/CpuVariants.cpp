//===- CpuVariants.cpp - One CPU artifact with a kernel per CPU -----------===//
//
// ntp-compile --target-cpu=x86-64-v3,znver4,sapphirerapids: the network is
// lowered once per CPU (each with the schedule its LLVM model gives), each
// kernel's symbols carry the prefix ntp_kernel_v<i>, and the objects link
// into one shared object with the artifact's manifest, whose cpu_variants
// key lists the variants in the order the runtime prefers them. The
// runtime (CpuArtifact.cpp) loads the first the host supports. Why one
// shared object rather than one per variant or a container of several:
// docs/TARGETS.md.
//
//===----------------------------------------------------------------------===//

#include "ntp/Compiler/Compiler.h"
#include "ntp/Target/Cpu/CpuTarget.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/PassManager.h"

#include "llvm/ADT/SmallString.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/raw_ostream.h"

#include <functional>
#include <map>

using namespace mlir;
using namespace ntp;
namespace art = ntp::artifact;

namespace {
/// Temporary files removed when this goes out of scope.
struct TemporaryFiles {
  std::vector<std::string> paths;
  ~TemporaryFiles() {
    for (const std::string &path : paths)
      llvm::sys::fs::remove(path);
  }
  /// A new temporary file holding `bytes`; false and `error` if it cannot.
  bool write(llvm::StringRef suffix, llvm::StringRef bytes,
             std::string &error) {
    llvm::SmallString<128> path;
    int fd;
    if (std::error_code ec = llvm::sys::fs::createTemporaryFile(
            "ntp-variant", suffix, fd, path)) {
      error = "cannot create a temporary file: " + ec.message();
      return false;
    }
    paths.push_back(path.str().str());
    llvm::raw_fd_ostream os(fd, /*shouldClose=*/true);
    os << bytes;
    os.close();
    if (os.has_error()) {
      os.clear_error();
      error = "cannot write the temporary file '" + paths.back() + "'";
      return false;
    }
    return true;
  }
};
} // namespace

std::vector<art::CpuVariant>
ntp::orderCpuVariants(const CpuTargetOptions &options, std::string &error) {
  std::vector<art::CpuVariant> variants;
  for (const std::string &name : options.variants) {
    CpuTargetOptions one = options;
    one.cpu = name;
    one.variants.clear();
    std::unique_ptr<llvm::TargetMachine> machine =
        createCpuTargetMachine(one, error);
    if (!machine)
      return {};
    variants.push_back({machine->getTargetCPU().str(),
                        recordedCpuFeatures(*machine->getMCSubtargetInfo(),
                                            machine->getTargetTriple())});
  }
  // More recorded features first; the list's order among equals (a multimap
  // keeps equal keys in insertion order; std::stable_sort instantiates
  // libstdc++ 12's deprecated std::get_temporary_buffer, a warning under
  // clang 22).
  std::multimap<size_t, art::CpuVariant, std::greater<size_t>> byFeatures;
  for (art::CpuVariant &v : variants)
    byFeatures.emplace(v.features.size(), std::move(v));
  variants.clear();
  for (auto &entry : byFeatures)
    variants.push_back(std::move(entry.second));
  for (size_t i = 0; i < variants.size(); ++i)
    for (size_t j = 0; j < i; ++j)
      if (variants[i].features == variants[j].features) {
        error = "--target-cpu lists '" + variants[j].cpu + "' and '" +
                variants[i].cpu +
                "', which have the same instruction-set features: the "
                "runtime could never choose the second; list one of them";
        return {};
      }
  return variants;
}

bool ntp::compileCpuVariants(ModuleOp module, const TargetBackend &target,
                             EmitStage stage, const CompileOptions &options,
                             CompileOutput &output, std::string &error) {
  const CpuTargetOptions cpu = options.get<CpuTargetOptions>();
  if (stage != EmitStage::Artifact) {
    error = "several --target-cpu values make one artifact (--emit=so); "
            "emit other stages for one CPU at a time";
    return false;
  }
  if (!cpu.symbolPrefix.empty() &&
      cpu.symbolPrefix != art::kDefaultSymbolPrefix) {
    error = "--symbol-prefix does not apply to an artifact with several "
            "CPU variants (the runtime loads their own prefixes)";
    return false;
  }
  if (!target.checkOptions(options, error))
    return false;
  std::vector<art::CpuVariant> variants = orderCpuVariants(cpu, error);
  if (variants.empty())
    return false;

  // One object per variant, lowered from a copy of the module.
  TemporaryFiles files;
  art::KernelManifest combined;
  for (size_t i = 0; i < variants.size(); ++i) {
    CompileOptions one = options;
    CpuTargetOptions &oneCpu = one.get<CpuTargetOptions>();
    oneCpu.cpu = variants[i].cpu;
    oneCpu.variants.clear();
    oneCpu.symbolPrefix = art::cpuVariantPrefix(i);
    oneCpu.internalizeHelpers = true;
    OwningOpRef<ModuleOp> copy = module.clone();
    PassManager pm(module.getContext());
    CompileOutput object;
    if (!compile(*copy, target, EmitStage::Obj, one, pm, object, error)) {
      if (error.empty())
        error = "lowering the network for '" + variants[i].cpu + "' failed";
      return false;
    }
    art::KernelManifest manifest = object.manifest;
    if (manifest.targetCpu != variants[i].cpu ||
        manifest.cpuFeatures != variants[i].features) {
      error = "the kernel for '" + variants[i].cpu +
              "' was stamped for another CPU";
      return false;
    }
    // The variants differ in their code only: the runtime sizes buffers
    // and workspaces from the one manifest.
    if (i == 0) {
      combined = manifest;
    } else {
      art::KernelManifest same = manifest;
      same.targetCpu = combined.targetCpu;
      same.cpuFeatures = combined.cpuFeatures;
      if (art::serializeManifest(same) != art::serializeManifest(combined)) {
        error = "the kernels for '" + variants[0].cpu + "' and '" +
                variants[i].cpu +
                "' differ in more than their code (tile, workspace): they "
                "cannot share one artifact";
        return false;
      }
    }
    if (!files.write("o", object.bytes, error))
      return false;
  }
  combined.cpuVariants = variants;

  // The artifact's manifest as ntp_kernel_manifest, beside the variants'.
  CpuTargetOptions first = cpu;
  first.cpu = variants[0].cpu;
  first.variants.clear();
  std::unique_ptr<llvm::TargetMachine> machine =
      createCpuTargetMachine(first, error);
  if (!machine)
    return false;
  std::string manifestObject;
  if (!emitManifestObject(combined, art::kDefaultSymbolPrefix, *machine,
                          manifestObject, error) ||
      !files.write("o", manifestObject, error))
    return false;

  llvm::SmallString<128> shared;
  if (std::error_code ec =
          llvm::sys::fs::createTemporaryFile("ntp-variants", "so", shared)) {
    error = "cannot create a temporary shared object: " + ec.message();
    return false;
  }
  std::vector<std::string> objects = files.paths;
  files.paths.push_back(shared.str().str());
  if (!linkSharedObject(objects, shared, combined, error))
    return false;
  auto bytes = llvm::MemoryBuffer::getFile(shared, /*IsText=*/false,
                                           /*RequiresNullTerminator=*/false);
  if (!bytes) {
    error =
        "cannot read the linked shared object: " + bytes.getError().message();
    return false;
  }
  output.bytes = (*bytes)->getBuffer().str();
  output.manifest = combined;
  return true;
}
