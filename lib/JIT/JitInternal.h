//===- JitInternal.h - What the parts of the JIT share ----------*- C++ -*-===//
//
// Internal to lib/JIT. A compile runs through three files: Jit.cpp (the
// driver: options and target, the pipeline, linking or loading, the C API),
// JitSpec.cpp (what a spec means: its validation, its canonical text for the
// cache key, its module) and JitCache.cpp (the compiler version, the cache
// key, looking the kernel up in and storing it into the disk cache of
// KernelCache.h). Nothing here is exported from libntp_jit.
//
//===----------------------------------------------------------------------===//

#ifndef NTP_LIB_JIT_JITINTERNAL_H
#define NTP_LIB_JIT_JITINTERNAL_H

#include "ntp/jit.h"

#include "KernelCache.h"

#include "ntp/Compiler/KernelFacts.h"
#include "ntp/Target/Cpu/CpuTarget.h"
#include "ntp/Target/NVPTX/NVPTXTarget.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/OwningOpRef.h"

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/MemoryBuffer.h"

#include <algorithm>
#include <cstring>
#include <memory>
#include <optional>
#include <string>

namespace ntp::jit {

inline constexpr const char *kSymbolPrefix = "ntp_kernel";

/// A failure: a status and the sentence for ntp_last_error().
struct Failure {
  int status = NTP_OK;
  std::string message;
};

inline Failure failure(int status, std::string message) {
  return {status, std::move(message)};
}

/// Copies `text` into a fixed-size field of ntp_jit_report, truncated and
/// NUL-terminated.
inline void copyField(char (&field)[1024], const std::string &text) {
  size_t n = std::min(text.size(), sizeof(field) - 1);
  std::memcpy(field, text.data(), n);
  field[n] = '\0';
}

/// The target a compile is for: the concrete CPU name and feature string
/// (never "native"), the kernel facts that depend on them, and the canonical
/// text of what else the generated code depends on for the cache key.
struct ResolvedTarget {
  bool cuda = false;
  CpuTargetOptions cpu;
  NvptxTargetOptions gpu; // the chip is always concrete
  KernelTarget facts;     // what ntp::describeKernel takes
  std::string keyText;
};

//===----------------------------------------------------------------------===//
// JitSpec.cpp
//===----------------------------------------------------------------------===//

/// The canonical text of the kernel for the cache key, after checking the
/// spec's fields (see JitSpec.cpp).
Failure specKeyText(const ntp_jit_spec &spec, const ResolvedTarget &target,
                    std::string &out);

/// The module holding `spec`'s ntp.mlp (parsed text or built from fields).
mlir::OwningOpRef<mlir::ModuleOp> buildModule(const ntp_jit_spec &spec,
                                              mlir::MLIRContext &context);

//===----------------------------------------------------------------------===//
// JitCache.cpp
//===----------------------------------------------------------------------===//

/// What ntp_jit_version returns; part of every cache key.
const std::string &versionString();

/// A compile's entry in the disk cache: none (an empty `dir`) when caching
/// is off.
struct CacheEntry {
  CacheKey key;
  std::string dir, path;
  /// A problem with the cache, for ntp_jit_report::warning.
  std::string warning;
};

/// The entry of the kernel that `specText` (specKeyText) describes, for
/// `target` and this compiler; sets report.cache_path.
CacheEntry findCacheEntry(const ntp_jit_options &options,
                          const std::string &specText,
                          const ResolvedTarget &target, ntp_jit_report &report);

/// The compile's result when `entry` holds a usable kernel (loaded into
/// *out); nothing when it holds none, after removing an unusable one: the
/// caller then compiles.
std::optional<Failure> loadCachedKernel(CacheEntry &entry,
                                        const ResolvedTarget &target,
                                        ntp_kernel **out,
                                        ntp_jit_report &report);

/// Stores the compiled kernel's `bytes` in `entry` (report.cache_stored),
/// or says in entry.warning why not.
void storeCachedKernel(CacheEntry &entry, llvm::StringRef bytes,
                       ntp_jit_report &report);

//===----------------------------------------------------------------------===//
// Jit.cpp
//===----------------------------------------------------------------------===//

/// Links `object` with a fresh LLJIT and wraps its entry point.
Failure linkObject(std::unique_ptr<llvm::MemoryBuffer> object, bool backward,
                   ntp_kernel **out);

/// Loads the bytes of a CUDA artifact through the runtime (and the driver).
Failure loadCudaArtifact(llvm::StringRef bytes, ntp_kernel **out);

} // namespace ntp::jit

#endif // NTP_LIB_JIT_JITINTERNAL_H
