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

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <dlfcn.h>
#include <link.h>
#include <memory>
#include <sys/mman.h>
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

namespace {
/// The features of kRecordedCpuFeatures this runtime can test, and whether
/// the host has each; empty on non-x86 hosts.
const std::vector<std::pair<std::string, bool>> &hostFeatureTable() {
  static const std::vector<std::pair<std::string, bool>> table = [] {
    std::vector<std::pair<std::string, bool>> rows;
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    // __builtin_cpu_supports takes a literal: one row per feature of
    // kRecordedCpuFeatures (ntp/artifact.hpp).
    __builtin_cpu_init();
    const std::pair<const char *, bool> present[] = {
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
    static_assert(sizeof(present) / sizeof(present[0]) ==
                      kRecordedCpuFeatures.size(),
                  "one row per recorded feature");
    for (const auto &[name, has] : present)
      rows.emplace_back(name, has);
#endif
    return rows;
  }();
  return table;
}

/// hostFeatureTable, less the features NTP_CPU_FEATURES leaves out when set
/// (a comma-separated list): a host can be made to look older, never newer,
/// so that the fallback variants of an artifact can be tried on it.
std::vector<std::pair<std::string, bool>> effectiveFeatureTable() {
  std::vector<std::pair<std::string, bool>> table = hostFeatureTable();
  const char *limit = std::getenv("NTP_CPU_FEATURES");
  if (!limit)
    return table;
  std::string listed = std::string(",") + limit + ",";
  for (auto &[name, present] : table)
    present = present && listed.find("," + name + ",") != std::string::npos;
  return table;
}
} // namespace

std::vector<std::string>
missingCpuFeatures(const std::vector<std::string> &features) {
  std::vector<std::string> missing;
  for (const std::string &feature : features)
    for (const auto &[name, present] : effectiveFeatureTable())
      if (feature == name && !present)
        missing.push_back(feature);
  return missing;
}

std::vector<std::string> hostCpuFeatures() {
  std::vector<std::string> features;
  for (const auto &[name, present] : effectiveFeatureTable())
    if (present)
      features.push_back(name);
  return features;
}

int chooseCpuVariant(const KernelManifest &manifest,
                     const std::vector<std::string> &hostFeatures) {
  for (size_t v = 0; v < manifest.cpuVariants.size(); ++v) {
    const std::vector<std::string> &needed = manifest.cpuVariants[v].features;
    if (std::all_of(needed.begin(), needed.end(), [&](const std::string &f) {
          return std::find(hostFeatures.begin(), hostFeatures.end(), f) !=
                 hostFeatures.end();
        }))
      return static_cast<int>(v);
  }
  return -1;
}

KernelManifest cpuVariantManifest(const KernelManifest &manifest,
                                  size_t index) {
  KernelManifest variant = manifest;
  variant.targetCpu = manifest.cpuVariants[index].cpu;
  variant.cpuFeatures = manifest.cpuVariants[index].features;
  variant.cpuVariants.clear();
  return variant;
}

int selectCpuVariant(const KernelManifest &manifest,
                     const std::vector<std::string> &hostFeatures,
                     const std::string &what, size_t &index) {
  int chosen = chooseCpuVariant(manifest, hostFeatures);
  if (chosen < 0) {
    std::string cpus;
    for (const CpuVariant &variant : manifest.cpuVariants)
      cpus += (cpus.empty() ? "" : ", ") + variant.cpu;
    return fail(NTP_ERROR_UNSUPPORTED,
                what + " carries kernels for the CPUs " + cpus +
                    " and this CPU lacks instructions each of them needs: "
                    "recompile with a --target-cpu list that includes an "
                    "older CPU such as x86-64-v3 (or native)");
  }
  index = static_cast<size_t>(chosen);
  return NTP_OK;
}

/// dlopens a copy of `payload` in an anonymous file, whose descriptor
/// (`fd`) names it (/proc/self/fd/N) and must stay open while the library
/// is loaded, so that no other library gets that name; null and `reason`
/// where the system has no such files or /proc.
static void *loadPrivateCopy(std::string_view payload, int &fd,
                             std::string &reason) {
  fd = static_cast<int>(::memfd_create("ntp-kernel", MFD_CLOEXEC));
  if (fd < 0) {
    reason = std::string("memfd_create: ") + std::strerror(errno);
    return nullptr;
  }
  for (size_t done = 0; done < payload.size();) {
    ssize_t n = ::write(fd, payload.data() + done, payload.size() - done);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0) {
      reason = std::string("writing the copy: ") + std::strerror(errno);
      ::close(fd);
      fd = -1;
      return nullptr;
    }
    done += static_cast<size_t>(n);
  }
  std::string name = "/proc/self/fd/" + std::to_string(fd);
  void *handle = ::dlopen(name.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle) {
    const char *error = ::dlerror();
    reason = error ? error : "dlopen failed";
    ::close(fd);
    fd = -1;
  }
  return handle;
}

int checkCpuManifest(const KernelManifest &manifest, const std::string &what) {
  if (manifest.device != Device::Cpu)
    return fail(NTP_ERROR_BAD_ARTIFACT, what + " is not a CPU kernel");
  // The variants are an artifact's: only its loader chooses among them.
  if (!manifest.cpuVariants.empty())
    return fail(NTP_ERROR_UNSUPPORTED,
                what + " lists several CPU variants (cpu_variants), which "
                       "only ntp_kernel_load chooses among; give the chosen "
                       "variant's own manifest");
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
  // A multi-variant artifact: the first variant the host supports, whose
  // symbols carry its prefix; its manifest is the artifact's with that CPU.
  KernelManifest manifest = view.manifest;
  std::string prefix(kDefaultSymbolPrefix);
  bool variants = !manifest.cpuVariants.empty();
  if (variants) {
    size_t index = 0;
    if (int status =
            selectCpuVariant(view.manifest, hostCpuFeatures(), what, index))
      return status;
    manifest = cpuVariantManifest(view.manifest, index);
    prefix = cpuVariantPrefix(index);
  }
  if (int status = checkCpuManifest(manifest, what))
    return status;

  // Without a slash, dlopen would search the library path, not the file
  // that was read. (Not /proc/self/fd/N: glibc matches an already loaded
  // library by that name, which a later load would reuse for another file.)
  // The file could still be replaced between the read and dlopen; the
  // manifest cross-check below catches a different kernel, and artifacts
  // must come from a trusted place anyway (runtime.h).
  std::string dlPath = path.find('/') == std::string::npos ? "./" + path : path;
  auto kernel = std::make_unique<ntp_kernel>(); // closes the handle on failure
  kernel->manifest = manifest;
  kernel->identity = checksum64(view.manifestText);
  // Whether a library of this name is loaded already: glibc hands that one
  // back, even when the file under the name has been replaced since.
  void *earlier = ::dlopen(dlPath.c_str(), RTLD_NOW | RTLD_LOCAL | RTLD_NOLOAD);
  if (earlier)
    ::dlclose(earlier);
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
  std::string manifestName = manifestSymbol(kDefaultSymbolPrefix);
  auto sameManifest = [&](void *library) {
    const char *text =
        static_cast<const char *>(findSymbol(library, manifestName));
    return text && std::string_view(
                       text, ::strnlen(text, view.manifestText.size() + 1)) ==
                       view.manifestText;
  };
  if (earlier && !sameManifest(handle)) {
    // A kernel recompiled to the same path while one from the old file is
    // still loaded here: load the bytes that were read and checked from a
    // private copy, under a name of its own while the kernel lives.
    ::dlclose(handle);
    std::string reason; // on failure the handle is null: nothing to close
    handle = kernel->handle =
        loadPrivateCopy(view.payload, kernel->privateCopyFd, reason);
    if (!handle)
      return fail(NTP_ERROR_BAD_ARTIFACT,
                  what +
                      " was replaced since a kernel was loaded from it in "
                      "this process, and the new file cannot be loaded "
                      "beside the old one (" +
                      reason + "); load it under another name");
  }
  if (!findSymbol(handle, manifestName))
    return fail(NTP_ERROR_BAD_ARTIFACT,
                what + " has no " + manifestName + " symbol");
  if (!sameManifest(handle))
    return fail(NTP_ERROR_BAD_ARTIFACT,
                what + " is inconsistent: its " + manifestName +
                    " symbol differs from the manifest in its trailer");
  // The chosen variant's code was compiled from its own manifest.
  if (variants) {
    std::string variantName = manifestSymbol(prefix);
    std::string expected = serializeManifest(manifest);
    const char *variantText =
        static_cast<const char *>(findSymbol(handle, variantName));
    if (!variantText ||
        std::string_view(variantText,
                         ::strnlen(variantText, expected.size() + 1)) !=
            expected)
      return fail(NTP_ERROR_BAD_ARTIFACT,
                  what + " is inconsistent: its " + variantName +
                      " symbol is missing or is not the manifest of its "
                      "variant for " +
                      manifest.targetCpu);
  }

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
