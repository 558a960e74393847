//===- JitCache.cpp - The JIT's use of the kernel cache -------------------===//
//
// A kernel's cache key is the canonical text of its spec (JitSpec.cpp), of
// its target and of this compiler's version, which includes the build id of
// libntp_jit itself: a rebuilt compiler never loads an older one's entries.
// An entry that does not load (corrupt, another key, an object that does
// not link, an image the CUDA driver rejects) is removed and rebuilt.
//
//===----------------------------------------------------------------------===//

#include "JitInternal.h"

#include "ntp/Target/KernelSpec.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Config/llvm-config.h"
#include "llvm/Support/FileSystem.h"

#include <cstring>
#include <elf.h>
#include <link.h>
#include <string>

#ifndef NTP_VERSION
#define NTP_VERSION "unknown"
#endif

using namespace ntp;
using namespace ntp::jit;

namespace {

/// Bump when generated code changes in a way the build id below would not
/// catch (it does catch any change to the compiler linked into this library).
constexpr const char *kJitRevision = "1";

//===----------------------------------------------------------------------===//
// Compiler version
//===----------------------------------------------------------------------===//

/// The GNU build id of the shared object holding this code: it changes with
/// any change to the compiler linked into it, so a rebuilt compiler never
/// loads an older one's cache entries.
std::string buildId() {
  struct Search {
    uintptr_t address;
    std::string id;
  } search{reinterpret_cast<uintptr_t>(&buildId), {}};
  dl_iterate_phdr(
      [](dl_phdr_info *info, size_t, void *data) -> int {
        auto &s = *static_cast<Search *>(data);
        bool mine = false;
        for (int i = 0; i < info->dlpi_phnum; ++i) {
          const ElfW(Phdr) &ph = info->dlpi_phdr[i];
          uintptr_t begin = info->dlpi_addr + ph.p_vaddr;
          if (ph.p_type == PT_LOAD && s.address >= begin &&
              s.address < begin + ph.p_memsz)
            mine = true;
        }
        if (!mine)
          return 0;
        for (int i = 0; i < info->dlpi_phnum; ++i) {
          const ElfW(Phdr) &ph = info->dlpi_phdr[i];
          if (ph.p_type != PT_NOTE)
            continue;
          auto *p =
              reinterpret_cast<const char *>(info->dlpi_addr + ph.p_vaddr);
          const char *end = p + ph.p_memsz;
          while (p + sizeof(ElfW(Nhdr)) <= end) {
            auto *note = reinterpret_cast<const ElfW(Nhdr) *>(p);
            const char *name = p + sizeof(ElfW(Nhdr));
            const char *desc = name + ((note->n_namesz + 3) & ~3u);
            if (note->n_type == NT_GNU_BUILD_ID && note->n_namesz == 4 &&
                std::memcmp(name, "GNU", 4) == 0 &&
                desc + note->n_descsz <= end) {
              s.id = llvm::toHex(llvm::StringRef(desc, note->n_descsz),
                                 /*LowerCase=*/true);
              return 1;
            }
            p = desc + ((note->n_descsz + 3) & ~3u);
          }
        }
        return 1;
      },
      &search);
  // Linked without --build-id: kJitRevision must then be bumped by hand.
  return search.id.empty() ? std::string("none") : search.id;
}

} // namespace

const std::string &ntp::jit::versionString() {
  static const std::string version =
      std::string("ntp ") + NTP_VERSION + " jit " + kJitRevision + " (LLVM " +
      LLVM_VERSION_STRING + ", abi " + std::to_string(kArtifactAbiVersion) +
      ", cache format " + std::to_string(kCacheFormatVersion) + ", build " +
      buildId() + ")";
  return version;
}

//===----------------------------------------------------------------------===//
// Lookup and store
//===----------------------------------------------------------------------===//

CacheEntry ntp::jit::findCacheEntry(const ntp_jit_options &options,
                                    const std::string &specText,
                                    const ResolvedTarget &target,
                                    ntp_jit_report &report) {
  CacheEntry entry{
      CacheKey(specText + "--\n" + target.keyText + "--\n" + versionString()),
      options.use_cache ? resolveCacheDir(options.cache_dir) : std::string(),
      std::string(), std::string()};
  if (!entry.dir.empty()) {
    entry.path = entry.dir + "/" + entry.key.fileName();
    copyField(report.cache_path, entry.path);
  }
  return entry;
}

std::optional<Failure> ntp::jit::loadCachedKernel(CacheEntry &entry,
                                                  const ResolvedTarget &target,
                                                  ntp_kernel **out,
                                                  ntp_jit_report &report) {
  if (entry.dir.empty())
    return std::nullopt;
  const std::string &path = entry.path;
  std::unique_ptr<llvm::MemoryBuffer> cached;
  std::string why;
  switch (readCacheEntry(path, entry.key, cached, why)) {
  case CacheLookup::Hit: {
    if (target.cuda) {
      // Only an image the driver rejects is a bad entry; no driver or an
      // older GPU is the caller's problem, and the entry stays.
      Failure f = loadCudaArtifact(cached->getBuffer(), out);
      if (f.status != NTP_ERROR_BAD_ARTIFACT) {
        report.cache_hit = 1;
        return f;
      }
      why = "the CUDA driver rejects it";
    } else {
      if (!linkObject(std::move(cached), target.facts.backward, out).status) {
        report.cache_hit = 1;
        return Failure();
      }
      why = "it does not link";
    }
    [[fallthrough]];
  }
  case CacheLookup::Invalid:
    report.cache_rebuilt = 1;
    if (std::error_code ec = llvm::sys::fs::remove(path))
      entry.warning = "cannot remove the unusable cache entry '" + path +
                      "': " + ec.message();
    break;
  case CacheLookup::Missing:
    break;
  }
  return std::nullopt;
}

void ntp::jit::storeCachedKernel(CacheEntry &entry, llvm::StringRef bytes,
                                 ntp_jit_report &report) {
  if (entry.dir.empty())
    return;
  std::string error;
  if (writeCacheEntry(entry.dir, entry.path, entry.key, bytes, error))
    report.cache_stored = 1;
  else if (entry.warning.empty())
    entry.warning = "the kernel was not cached: " + error;
}
