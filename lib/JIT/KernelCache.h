//===- KernelCache.h - On-disk cache of JIT-compiled objects ----*- C++ -*-===//
//
// One file per kernel: a checked header, the full key text and the object
// file. Entries are written to a temporary file and renamed into place, so
// readers only ever see complete entries; anything that fails a check is
// reported as invalid (the caller deletes and rebuilds it).
//
//===----------------------------------------------------------------------===//

#ifndef NTP_LIB_JIT_KERNELCACHE_H
#define NTP_LIB_JIT_KERNELCACHE_H

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/MemoryBuffer.h"

#include <cstdint>
#include <memory>
#include <string>

namespace ntp::jit {

/// Bumped whenever the entry layout below changes.
constexpr uint32_t kCacheFormatVersion = 1;

/// What an entry is for: the canonical spec, target and compiler version.
struct CacheKey {
  std::string text;
  uint64_t hash = 0;

  explicit CacheKey(std::string keyText);
  /// "<16 hex digits>.ntpo".
  std::string fileName() const;
};

/// The cache directory for an explicit option (may be null or empty), or
/// from the environment; empty when caching is off.
std::string resolveCacheDir(const char *option);

enum class CacheLookup { Hit, Missing, Invalid };

/// Reads and verifies the entry at `path`; on a hit `object` holds the
/// object file. `why` says what was wrong with an invalid entry.
CacheLookup readCacheEntry(const std::string &path, const CacheKey &key,
                           std::unique_ptr<llvm::MemoryBuffer> &object,
                           std::string &why);

/// Writes the entry atomically (temporary file in `dir`, then rename);
/// false with `error` set when the directory cannot be created or written.
bool writeCacheEntry(const std::string &dir, const std::string &path,
                     const CacheKey &key, llvm::StringRef object,
                     std::string &error);

} // namespace ntp::jit

#endif // NTP_LIB_JIT_KERNELCACHE_H
