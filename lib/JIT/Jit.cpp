//===- Jit.cpp - ntp in-process JIT ---------------------------------------===//
//
// Implements ntp/jit.h. A compile: validate the options, derive the cache
// key, try the disk cache; on a miss build the module (parsed text or
// buildMlpModule), run ntp-cpu-pipeline, emit an object file in memory and
// store it. Either way the object is linked by its own ORC LLJIT, which the
// returned ntp_kernel owns (ntp_kernel_create's release callback). For the
// CUDA device the cached payload is a CUDA artifact (ntp-gpu-pipeline, PTX,
// cubin when ptxas is found) loaded with ntp_kernel_load_memory.
//
// This file is the driver: the options and target, the pipeline, linking
// and loading, the C API. The spec's text and module are in JitSpec.cpp,
// the cache key and lookup in JitCache.cpp (JitInternal.h).
//
// Library code: no exceptions, nothing printed; every failure becomes a
// status and one sentence in ntp_last_error().
//
//===----------------------------------------------------------------------===//

#include "JitInternal.h"

#include "ntp/Compiler/Compiler.h"
#include "ntp/Dialect/Ntp/IR/NtpOps.h"

#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Pass/PassManager.h"

#include "llvm/ADT/SmallVector.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ExecutionEngine/Orc/LLJIT.h"
#include "llvm/MC/MCSubtargetInfo.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/TargetParser/Host.h"
#include "llvm/TargetParser/Triple.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#define NTP_JIT_EXPORT extern "C" __attribute__((visibility("default")))

using namespace ntp;
using namespace ntp::jit;

namespace {

void initializeTargets() {
  static std::once_flag once;
  std::call_once(once, [] {
    llvm::InitializeNativeTarget();
    llvm::InitializeNativeTargetAsmPrinter();
    llvm::InitializeNativeTargetAsmParser();
  });
}

//===----------------------------------------------------------------------===//
// Options and target
//===----------------------------------------------------------------------===//

Failure resolveCudaTarget(const ntp_jit_options &options, ResolvedTarget &out) {
  out.cuda = true;
  std::string chip = options.chip ? options.chip : "";
  if (chip.empty()) {
    const char *configured = std::getenv("NTP_CUDA_DEVICE");
    int32_t device = configured && *configured ? std::atoi(configured) : 0;
    int32_t sm = 0;
    if (int status = ntp_cuda_device_arch(device, &sm))
      return failure(status,
                     "cannot choose the CUDA architecture (set the chip "
                     "option to compile without a GPU): " +
                         std::string(ntp_last_error()));
    chip = "sm_" + std::to_string(sm);
  }
  if (std::string error; !checkNvptxChip(chip, error))
    return failure(NTP_ERROR_INVALID_ARGUMENT, error);
  if (options.gpu_format < NTP_JIT_GPU_AUTO ||
      options.gpu_format > NTP_JIT_GPU_CUBIN)
    return failure(NTP_ERROR_INVALID_ARGUMENT,
                   "unknown gpu_format " + std::to_string(options.gpu_format));
  if (options.gpu_mapping != NTP_JIT_GPU_SAMPLE &&
      options.gpu_mapping != NTP_JIT_GPU_LANES)
    return failure(NTP_ERROR_INVALID_ARGUMENT,
                   "unknown gpu_mapping " +
                       std::to_string(options.gpu_mapping));
  out.gpu.chip = chip;
  // The reverse-mode kernels (ntp-compile --gpu-backward) when asked for.
  out.gpu.backward = options.backward != 0;
  out.facts.backward = out.gpu.backward;
  out.gpu.mapping = options.gpu_mapping == NTP_JIT_GPU_LANES
                        ? artifact::GpuMapping::Lanes
                        : artifact::GpuMapping::Sample;
  // The CUDA facts exactly as ntp-gpu-pipeline stamps them.
  if (std::string error;
      !stampCudaTarget(chip, out.gpu.mapping, out.gpu.blockSize,
                       out.gpu.samplesPerBlock)(out.facts, error))
    return failure(NTP_ERROR_INVALID_ARGUMENT, error);
  out.gpu.imageFormat = static_cast<CudaImageFormat>(options.gpu_format);
  bool haveAssembler = !findPtxas(out.gpu).empty();
  if (out.gpu.imageFormat == CudaImageFormat::Cubin && !haveAssembler)
    return failure(NTP_ERROR_UNSUPPORTED,
                   "a cubin needs ptxas, which was not found ($NTP_PTXAS, "
                   "/usr/local/cuda/bin/ptxas, PATH); use NTP_JIT_GPU_PTX");
  bool cubin = out.gpu.imageFormat == CudaImageFormat::Cubin ||
               (out.gpu.imageFormat == CudaImageFormat::Auto && haveAssembler);
  out.keyText = std::string("image=") + (cubin ? "cubin" : "ptx") +
                "\nfeatures=" + out.gpu.features + "\n";
  return {};
}

Failure resolveTarget(const ntp_jit_options &options, ResolvedTarget &out) {
  if (options.device == NTP_DEVICE_CUDA)
    return resolveCudaTarget(options, out);
  if (options.device != NTP_DEVICE_CPU)
    return failure(NTP_ERROR_INVALID_ARGUMENT,
                   "unknown device " + std::to_string(options.device) +
                       " (expected NTP_DEVICE_CPU or NTP_DEVICE_CUDA)");
  if (options.tile < 0 || options.tile > artifact::kMaxTile)
    return failure(NTP_ERROR_INVALID_ARGUMENT,
                   "tile is " + std::to_string(options.tile) +
                       "; it must be 0 (automatic) or in [1, " +
                       std::to_string(artifact::kMaxTile) + "] (kMaxTile)");
  out.facts.tile = options.tile;

  initializeTargets();
  llvm::Triple triple(llvm::sys::getDefaultTargetTriple());
  std::string error;
  const llvm::Target *target =
      llvm::TargetRegistry::lookupTarget(triple, error);
  if (!target)
    return failure(NTP_ERROR_INTERNAL,
                   "no LLVM target for this host: " + error);
  // A subtarget only to check names: LLVM would warn on stderr and fall back
  // to a generic model for an unknown CPU or feature.
  std::unique_ptr<llvm::MCSubtargetInfo> info(
      target->createMCSubtargetInfo(triple, "", ""));
  if (!info)
    return failure(NTP_ERROR_INTERNAL, "cannot describe the host target");

  std::string cpu = options.cpu && *options.cpu ? options.cpu : "native";
  std::vector<std::string> features;
  if (cpu == "native") {
    cpu = llvm::sys::getHostCPUName().str();
    for (const auto &feature : llvm::sys::getHostCPUFeatures())
      features.push_back((feature.second ? "+" : "-") + feature.first().str());
    std::sort(features.begin(), features.end()); // canonical for the key
  } else if (!info->isCPUStringValid(cpu)) {
    return failure(NTP_ERROR_INVALID_ARGUMENT,
                   "unknown target CPU '" + cpu + "' for " + triple.str());
  }
  // Explicit features come last so that they override the host's.
  llvm::SmallVector<llvm::StringRef> extra;
  llvm::StringRef(options.features ? options.features : "")
      .split(extra, ',', /*MaxSplit=*/-1, /*KeepEmpty=*/false);
  for (llvm::StringRef feature : extra) {
    feature = feature.trim();
    llvm::StringRef name = feature.drop_front();
    bool known = llvm::any_of(
        info->getAllProcessorFeatures(),
        [&](const llvm::SubtargetFeatureKV &kv) { return name == kv.Key; });
    if ((!feature.starts_with("+") && !feature.starts_with("-")) || !known)
      return failure(NTP_ERROR_INVALID_ARGUMENT,
                     "unknown target feature '" + feature.str() +
                         "' (expected +name or -name with an LLVM feature "
                         "name of " +
                         triple.str() + ")");
    features.push_back(feature.str());
  }
  out.cpu.cpu = cpu;
  out.cpu.features = llvm::join(features, ",");
  out.cpu.symbolPrefix = kSymbolPrefix;
  out.facts.device = artifact::Device::Cpu;
  out.facts.backward = options.backward != 0;
  out.facts.cpu = cpu;
  // The recorded features, as the CPU target stamps them from its machine
  // (the same CPU and feature string), without building a machine.
  std::unique_ptr<llvm::MCSubtargetInfo> subtarget(
      target->createMCSubtargetInfo(triple, cpu, out.cpu.features));
  if (!subtarget)
    return failure(NTP_ERROR_INTERNAL, "cannot describe the target CPU");
  out.facts.cpuFeatures = recordedCpuFeatures(*subtarget, triple);
  out.keyText =
      "triple=" + triple.str() + "\nfeatures=" + out.cpu.features + "\n";
  return {};
}

//===----------------------------------------------------------------------===//
// Compiling and linking
//===----------------------------------------------------------------------===//

/// Collects the first error diagnostic of a compile as one sentence.
class FirstError {
public:
  explicit FirstError(mlir::MLIRContext &context)
      : handler(&context, [this](mlir::Diagnostic &diag) {
          if (diag.getSeverity() != mlir::DiagnosticSeverity::Error ||
              !text.empty())
            return mlir::success(); // keep the first error; drop the rest
          std::string location;
          llvm::raw_string_ostream os(location);
          if (auto file =
                  llvm::dyn_cast<mlir::FileLineColLoc>(diag.getLocation()))
            os << "line " << file.getLine() << ":" << file.getColumn() << ": ";
          text = location + diag.str();
          return mlir::success();
        }) {}
  std::string with(std::string what) const {
    return text.empty() ? what : what + ": " + text;
  }

private:
  std::string text;
  mlir::ScopedDiagnosticHandler handler;
};

/// What every compile starts from: its own MLIR context (compiles on
/// several threads share nothing), the first error diagnostic, the module.
struct CompileSession {
  CompileSession(const ntp_jit_spec &spec, const TargetBackend &target)
      : context(registry(target)), diagnostics(context) {
    context.disableMultithreading();
    module = buildModule(spec, context);
  }
  static mlir::DialectRegistry registry(const TargetBackend &target) {
    mlir::DialectRegistry registry;
    target.registerDialects(registry);
    return registry;
  }
  /// The failure of a lowering pipeline: a spec error for parsed text (no
  /// ntp.mlp, ...), an internal one for a built module.
  Failure loweringFailure(const ntp_jit_spec &spec, const char *target) {
    return failure(spec.mlir ? NTP_ERROR_INVALID_ARGUMENT : NTP_ERROR_INTERNAL,
                   diagnostics.with(spec.mlir ? "cannot compile the spec"
                                              : std::string("lowering the "
                                                            "network to ") +
                                                    target + " failed"));
  }

  mlir::MLIRContext context;
  FirstError diagnostics;
  mlir::OwningOpRef<mlir::ModuleOp> module;
};

/// Compiles `spec` for `target` through the compile chain: the object file
/// (CPU) or the CUDA artifact's bytes (NVPTX). For a spec of fields, the
/// facts of the compiled module's #ntp.kernel must be those of the cache key
/// (`factsKey`, the text of the same describeKernel).
Failure compileKernel(const ntp_jit_spec &spec, const ResolvedTarget &target,
                      const std::string &factsKey, std::string &bytes) {
  const TargetBackend &backend = *getTarget(target.cuda ? "nvptx" : "cpu");
  CompileSession session(spec, backend);
  if (!session.module)
    return failure(NTP_ERROR_INVALID_ARGUMENT,
                   session.diagnostics.with("malformed spec"));
  // spec.partials_lowering on the ntp.mlp, as ntp-compile
  // --partials-lowering sets it (ntp-decompose-mlp reads it).
  if (spec.partials_lowering && *spec.partials_lowering)
    for (MlpOp mlp : session.module->getOps<MlpOp>()) {
      if (mlp.getRequestRows().empty() &&
          llvm::StringRef(spec.partials_lowering) != "auto")
        return failure(NTP_ERROR_INVALID_ARGUMENT,
                       "partials_lowering '" +
                           std::string(spec.partials_lowering) +
                           "' applies to partials kernels only; the spec's "
                           "ntp.mlp has no partials or operators");
      mlp->setAttr(
          "ntp.partials_lowering",
          mlir::StringAttr::get(&session.context, spec.partials_lowering));
    }
  // spec.partials_reverse_lowering likewise (ntp-compile
  // --partials-reverse-lowering).
  if (spec.partials_reverse_lowering && *spec.partials_reverse_lowering)
    for (MlpOp mlp : session.module->getOps<MlpOp>()) {
      if (mlp.getRequestRows().empty() &&
          llvm::StringRef(spec.partials_reverse_lowering) != "auto")
        return failure(NTP_ERROR_INVALID_ARGUMENT,
                       "partials_reverse_lowering '" +
                           std::string(spec.partials_reverse_lowering) +
                           "' applies to partials kernels only; the spec's "
                           "ntp.mlp has no partials or operators");
      mlp->setAttr("ntp.partials_reverse_lowering",
                   mlir::StringAttr::get(&session.context,
                                         spec.partials_reverse_lowering));
    }
  CompileOptions options;
  options.get<CpuTargetOptions>() = target.cpu;
  options.get<NvptxTargetOptions>() = target.gpu;
  options.tileSize = target.facts.tile;
  options.backward = target.facts.backward;
  mlir::PassManager pm(&session.context);
  CompileOutput output;
  std::string error;
  if (!compile(*session.module, backend,
               target.cuda ? EmitStage::Artifact : EmitStage::Obj, options, pm,
               output, error)) {
    if (error.empty())
      return session.loweringFailure(spec, target.cuda ? "NVVM" : "LLVM");
    return failure(NTP_ERROR_INTERNAL, session.diagnostics.with(error));
  }
  if (!spec.mlir && kernelKeyText(output.manifest) != factsKey)
    return failure(NTP_ERROR_INTERNAL,
                   "the compiled kernel's #ntp.kernel disagrees with its "
                   "cache key");
  bytes = std::move(output.bytes);
  return {};
}

void releaseJit(void *jit) { delete static_cast<llvm::orc::LLJIT *>(jit); }

} // namespace

/// Links `object` with a fresh LLJIT and wraps its entry point; the kernel
/// owns the LLJIT (and so the code) from then on.
Failure ntp::jit::linkObject(std::unique_ptr<llvm::MemoryBuffer> object,
                             bool backward, ntp_kernel **out) {
  initializeTargets();
  // The default process-symbols JITDylib (a DynamicLibrarySearchGenerator
  // for the current process) resolves libm calls such as tanhf.
  auto jit = llvm::orc::LLJITBuilder().create();
  if (!jit)
    return failure(NTP_ERROR_INTERNAL, "cannot create the JIT linker: " +
                                           llvm::toString(jit.takeError()));
  // Errors come back through the calls below; never print them.
  (*jit)->getExecutionSession().setErrorReporter(
      [](llvm::Error e) { llvm::consumeError(std::move(e)); });
  auto linkError = [](llvm::Error e) {
    return failure(NTP_ERROR_BAD_ARTIFACT, "cannot link the kernel object: " +
                                               llvm::toString(std::move(e)));
  };
  if (llvm::Error e = (*jit)->addObjectFile(std::move(object)))
    return linkError(std::move(e));
  std::string prefix = kSymbolPrefix;
  auto manifest = (*jit)->lookup(prefix + "_manifest");
  if (!manifest)
    return linkError(manifest.takeError());
  // The kernel's own facts say which entry points exist (the reverse ones
  // only when it was compiled with them).
  artifact::KernelManifest facts;
  std::string why;
  if (artifact::parseManifest(manifest->toPtr<const char *>(), facts, why) ==
          NTP_OK &&
      !facts.backward)
    backward = false;
  ntp_kernel_entry_points entry = {nullptr, nullptr, nullptr, nullptr};
  std::pair<const char *, void **> symbols[] = {
      {"_forward_tiles", &entry.forward_tiles},
      {"_backward_tiles", &entry.backward_tiles},
      {"_forward_save_tiles", &entry.forward_save_tiles},
      {"_backward_saved_tiles", &entry.backward_saved_tiles}};
  for (auto [suffix, slot] : symbols) {
    if (!backward && slot != &entry.forward_tiles)
      continue;
    auto address = (*jit)->lookup(prefix + suffix);
    if (!address)
      return linkError(address.takeError());
    *slot = address->toPtr<void *>();
  }

  llvm::orc::LLJIT *owned = jit->release();
  if (int status = ntp_kernel_create_with(manifest->toPtr<const char *>(),
                                          &entry, releaseJit, owned, out)) {
    std::string message = ntp_last_error();
    delete owned;
    return failure(status, message);
  }
  return {};
}

/// Loads the bytes of a CUDA artifact through the runtime (and the driver).
Failure ntp::jit::loadCudaArtifact(llvm::StringRef bytes, ntp_kernel **out) {
  if (int status = ntp_kernel_load_memory(
          bytes.data(), static_cast<int64_t>(bytes.size()), out))
    return failure(status, ntp_last_error());
  return {};
}

namespace {

Failure compile(const ntp_jit_spec &spec, const ntp_jit_options &options,
                ntp_kernel **out, ntp_jit_report &report) {
  ResolvedTarget target;
  if (Failure f = resolveTarget(options, target); f.status)
    return f;
  std::string specText;
  if (Failure f = specKeyText(spec, target, specText); f.status)
    return f;
  CacheEntry cache = findCacheEntry(options, specText, target, report);
  if (std::optional<Failure> cached =
          loadCachedKernel(cache, target, out, report))
    return *cached;

  std::string compiled;
  if (Failure f = compileKernel(spec, target, specText, compiled); f.status)
    return f;
  llvm::StringRef bytes = compiled;
  storeCachedKernel(cache, bytes, report);
  copyField(report.warning, cache.warning);
  if (target.cuda)
    return loadCudaArtifact(bytes, out);
  return linkObject(llvm::MemoryBuffer::getMemBufferCopy(bytes, "ntp-kernel"),
                    target.facts.backward, out);
}

} // namespace

//===----------------------------------------------------------------------===//
// C API
//===----------------------------------------------------------------------===//

NTP_JIT_EXPORT void ntp_jit_spec_init(ntp_jit_spec *spec) {
  if (!spec)
    return;
  std::memset(spec, 0, sizeof(*spec));
  spec->activation = "tanh";
  spec->dtype = NTP_DTYPE_F32;
}

NTP_JIT_EXPORT void ntp_jit_options_init(ntp_jit_options *options) {
  if (!options)
    return;
  std::memset(options, 0, sizeof(*options));
  options->cpu = "native";
  options->device = NTP_DEVICE_CPU;
  options->use_cache = 1;
  options->backward = 1;
}

NTP_JIT_EXPORT ntp_status ntp_jit_compile_report(const ntp_jit_spec *spec,
                                                 const ntp_jit_options *options,
                                                 ntp_kernel **out,
                                                 ntp_jit_report *report) {
  auto start = std::chrono::steady_clock::now();
  ntp_jit_report local;
  ntp_jit_report &r = report ? *report : local;
  std::memset(&r, 0, sizeof(r));
  if (out)
    *out = nullptr;
  Failure result;
  if (!spec)
    result = failure(NTP_ERROR_INVALID_ARGUMENT, "spec is null");
  else if (!out)
    result = failure(NTP_ERROR_INVALID_ARGUMENT, "out is null");
  else {
    ntp_jit_options defaults;
    ntp_jit_options_init(&defaults);
    result = compile(*spec, options ? *options : defaults, out, r);
  }
  r.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  if (result.status) {
    ntp_set_last_error(result.message.c_str());
    return static_cast<ntp_status>(result.status);
  }
  return NTP_OK;
}

NTP_JIT_EXPORT ntp_status ntp_jit_compile(const ntp_jit_spec *spec,
                                          const ntp_jit_options *options,
                                          ntp_kernel **out) {
  return ntp_jit_compile_report(spec, options, out, nullptr);
}

NTP_JIT_EXPORT const char *ntp_jit_version(void) {
  return versionString().c_str();
}
