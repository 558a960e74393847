//===- CpuArtifact.cpp - CPU kernels: shared objects and host checks ------===//
//
// A CPU artifact's payload is an ELF shared object. By the time it gets
// here the container, checksum and manifest have been validated
// (Loader.cpp); this file checks what the manifest cannot say (the payload
// is a complete shared object for this machine, the host has the
// instruction-set features), then dlopens the very file that was read and
// checks the library against its manifest.
//
//===----------------------------------------------------------------------===//
#include "CpuArtifact.h"

#include <cstring>
#include <dlfcn.h>
#include <link.h>
#include <memory>
#include <unistd.h>

using namespace ntp::artifact;

namespace ntp::rt {
namespace {

#if defined(__x86_64__)
constexpr int kHostMachine = EM_X86_64;
#elif defined(__aarch64__)
constexpr int kHostMachine = EM_AARCH64;
#else
constexpr int kHostMachine = -1; // not checked
#endif

/// Checks that `payload` is a complete ELF shared object of this machine:
/// touching pages mapped past the end of a truncated file raises SIGBUS
/// instead of failing cleanly.
int checkElfPayload(std::string_view payload, const std::string &what) {
  ElfW(Ehdr) header;
  if (payload.size() < SELFMAG ||
      std::memcmp(payload.data(), ELFMAG, SELFMAG) != 0)
    return fail(NTP_ERROR_BAD_ARTIFACT,
                what + " is not a shared object (no ELF header)");
  std::string truncated = what + " is truncated (" +
                          std::to_string(payload.size()) +
                          " bytes of shared object) or corrupt";
  if (payload.size() < sizeof(header))
    return fail(NTP_ERROR_BAD_ARTIFACT, truncated);
  std::memcpy(&header, payload.data(), sizeof(header));
  if (header.e_ident[EI_CLASS] !=
          (sizeof(void *) == 8 ? ELFCLASS64 : ELFCLASS32) ||
      (kHostMachine >= 0 && header.e_machine != kHostMachine))
    return fail(NTP_ERROR_BAD_ARTIFACT,
                what + " is an ELF file for another architecture");
  if (header.e_type != ET_DYN)
    return fail(NTP_ERROR_BAD_ARTIFACT,
                what + " is an ELF file but not a shared object");

  // Every table and loadable segment must lie inside the payload.
  uint64_t size = payload.size();
  auto fits = [size](uint64_t offset, uint64_t count, uint64_t entry) {
    uint64_t bytes = 0, end = 0;
    return !__builtin_mul_overflow(count, entry, &bytes) &&
           !__builtin_add_overflow(offset, bytes, &end) && end <= size;
  };
  if (header.e_phentsize != sizeof(ElfW(Phdr)) ||
      !fits(header.e_phoff, header.e_phnum, header.e_phentsize) ||
      (header.e_shoff != 0 &&
       !fits(header.e_shoff, header.e_shnum, header.e_shentsize)))
    return fail(NTP_ERROR_BAD_ARTIFACT, truncated);
  for (unsigned i = 0; i < header.e_phnum; ++i) {
    ElfW(Phdr) segment;
    std::memcpy(&segment, payload.data() + header.e_phoff + i * sizeof(segment),
                sizeof(segment));
    if (segment.p_type == PT_LOAD &&
        !fits(segment.p_offset, 1, segment.p_filesz))
      return fail(NTP_ERROR_BAD_ARTIFACT, truncated);
  }
  return NTP_OK;
}

/// Looks up `name` in `handle`; null when absent.
void *findSymbol(void *handle, const std::string &name) {
  ::dlerror();
  return ::dlsym(handle, name.c_str());
}

} // namespace

std::vector<std::string>
missingCpuFeatures(const std::vector<std::string> &features) {
  std::vector<std::string> missing;
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  // __builtin_cpu_supports takes a literal: one row per feature of
  // kRecordedCpuFeatures (ntp/artifact.hpp).
  __builtin_cpu_init();
  static const struct {
    const char *name;
    bool present;
  } table[] = {
      {"sse4.2", __builtin_cpu_supports("sse4.2") != 0},
      {"avx", __builtin_cpu_supports("avx") != 0},
      {"avx2", __builtin_cpu_supports("avx2") != 0},
      {"fma", __builtin_cpu_supports("fma") != 0},
      {"bmi", __builtin_cpu_supports("bmi") != 0},
      {"bmi2", __builtin_cpu_supports("bmi2") != 0},
      {"avx512f", __builtin_cpu_supports("avx512f") != 0},
      {"avx512dq", __builtin_cpu_supports("avx512dq") != 0},
      {"avx512cd", __builtin_cpu_supports("avx512cd") != 0},
      {"avx512bw", __builtin_cpu_supports("avx512bw") != 0},
      {"avx512vl", __builtin_cpu_supports("avx512vl") != 0},
      {"avx512ifma", __builtin_cpu_supports("avx512ifma") != 0},
      {"avx512vbmi", __builtin_cpu_supports("avx512vbmi") != 0},
      {"avx512vnni", __builtin_cpu_supports("avx512vnni") != 0},
      {"avx512bf16", __builtin_cpu_supports("avx512bf16") != 0},
      {"avx512fp16", __builtin_cpu_supports("avx512fp16") != 0},
  };
  static_assert(sizeof(table) / sizeof(table[0]) == kRecordedCpuFeatures.size(),
                "one row per recorded feature");
  for (const std::string &feature : features)
    for (const auto &row : table)
      if (feature == row.name && !row.present)
        missing.push_back(feature);
#else
  (void)features;
#endif
  return missing;
}

int checkCpuManifest(const KernelManifest &manifest, const std::string &what) {
  if (manifest.device != Device::Cpu)
    return fail(NTP_ERROR_BAD_ARTIFACT, what + " is not a CPU kernel");
  // Code for a newer CPU would die of SIGILL in the first call: refuse it
  // while there is still a sentence to say.
  std::vector<std::string> missing = missingCpuFeatures(manifest.cpuFeatures);
  if (!missing.empty()) {
    std::string list;
    for (const std::string &feature : missing)
      list += (list.empty() ? "" : ", ") + feature;
    return fail(NTP_ERROR_UNSUPPORTED,
                what + " was compiled for the CPU '" + manifest.targetCpu +
                    "' and needs instructions this CPU lacks (" + list +
                    "): recompile with --target-cpu=native (or an older "
                    "--target-cpu such as x86-64-v3)");
  }
  return NTP_OK;
}

int loadCpuArtifact(const std::string &path, const ArtifactView &view,
                    ntp_kernel **out) {
  std::string what = quoted(path);
  if (int status = checkElfPayload(view.payload, what))
    return status;
  if (int status = checkCpuManifest(view.manifest, what))
    return status;

  // Without a slash, dlopen would search the library path, not the file
  // that was read. (Not /proc/self/fd/N: glibc matches an already loaded
  // library by that name, which a later load would reuse for another file.)
  // The file could still be replaced between the read and dlopen; the
  // manifest cross-check below catches a different kernel, and artifacts
  // must come from a trusted place anyway (runtime.h).
  std::string dlPath = path.find('/') == std::string::npos ? "./" + path : path;
  auto kernel = std::make_unique<ntp_kernel>(); // closes the handle on failure
  kernel->manifest = view.manifest;
  kernel->identity = checksum64(view.manifestText);
  void *handle = kernel->handle =
      ::dlopen(dlPath.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle) {
    const char *reason = ::dlerror();
    return fail(NTP_ERROR_BAD_ARTIFACT,
                "cannot load kernel artifact " + what + ": " +
                    (reason ? reason : "dlopen failed"));
  }

  // The library must carry the same manifest as its trailer: both were
  // written by one compiler from one description.
  std::string prefix(kDefaultSymbolPrefix);
  std::string manifestName = manifestSymbol(prefix);
  const char *text =
      static_cast<const char *>(findSymbol(handle, manifestName));
  if (!text)
    return fail(NTP_ERROR_BAD_ARTIFACT,
                what + " has no " + manifestName + " symbol");
  size_t length = ::strnlen(text, view.manifestText.size() + 1);
  if (std::string_view(text, length) != view.manifestText)
    return fail(NTP_ERROR_BAD_ARTIFACT,
                what + " is inconsistent: its " + manifestName +
                    " symbol differs from the manifest in its trailer");

  void **slots[] = {&kernel->forwardTiles, &kernel->backwardTiles,
                    &kernel->forwardSaveTiles, &kernel->backwardSavedTiles};
  for (size_t i = 0; i < kEntryPoints.size(); ++i) {
    EntryPoint entry = kEntryPoints[i];
    if (entry != EntryPoint::Forward && !kernel->manifest.backward)
      continue;
    std::string symbol = entryPointSymbol(prefix, entry);
    *slots[i] = findSymbol(handle, symbol);
    if (!*slots[i])
      return fail(NTP_ERROR_BAD_ARTIFACT,
                  what + " has no " + symbol + " symbol" +
                      (entry == EntryPoint::Forward
                           ? ""
                           : " (its manifest says backward=1)"));
  }
  *out = kernel.release();
  return NTP_OK;
}

} // namespace ntp::rt
