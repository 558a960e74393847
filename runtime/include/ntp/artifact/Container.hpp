//===- Container.hpp - The sealed artifact container ------------*- C++ -*-===//
//
// Part of ntp/artifact.hpp (include that): the one container of CPU and
// CUDA artifacts, its writer, its validating reader and the bounded file
// reader (runtime/lib/artifact).
//
//===----------------------------------------------------------------------===//
#ifndef NTP_ARTIFACT_CONTAINER_HPP
#define NTP_ARTIFACT_CONTAINER_HPP

#include "ntp/artifact/Manifest.hpp"
#include "ntp/runtime.h"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace ntp::artifact {

//===----------------------------------------------------------------------===//
// The container (ABI version 2)
//===----------------------------------------------------------------------===//
//
// One container for every artifact, CPU and CUDA:
//
//   payload | manifest text | trailer (kTrailerBytes)
//
// The payload is the ELF shared object (CPU) or the PTX text / cubin (CUDA).
// The trailer, little-endian, fixed size, at the very end of the file:
//
//   offset  0  uint64  payload bytes
//   offset  8  uint64  manifest bytes
//   offset 16  uint64  checksum: checksum64 over the payload, the manifest
//                      and the trailer with this field left out
//   offset 24  uint32  trailer bytes (kTrailerBytes)
//   offset 28  uint32  ABI version (kAbiVersion)
//   offset 32  char[8] kTrailerMagic
//
// The magic and the version sit at fixed offsets from the end, so any later
// version's artifact is recognised as such and refused by number. A shared
// object with bytes appended still loads with dlopen (the loader maps only
// its segments), so the runtime reads and validates the whole file, manifest
// and checksum included, before dlopen runs any of its code. The CPU payload
// also exports the same manifest text as the symbol <prefix>_manifest, which
// the loader compares with the trailer's after dlopen.
//
// ABI version 1 (before the container): a CPU artifact was a bare shared
// object exporting ntp_kernel_manifest; a CUDA artifact was the text
// "ntp-cuda-artifact\n", the manifest, "end-manifest\n", the image. Both are
// recognised and refused with NTP_ERROR_ABI_MISMATCH naming version 1.

inline constexpr std::string_view kTrailerMagic = "NTPARTF\n";
inline constexpr size_t kTrailerBytes = 40;
/// The magic of version 1 CUDA artifacts (recognised to refuse them).
inline constexpr std::string_view kLegacyCudaMagic = "ntp-cuda-artifact\n";

/// Size caps the reader enforces before reading anything.
inline constexpr int64_t kMaxManifestBytes = 64 * 1024;
inline constexpr int64_t kMaxArtifactBytes = int64_t(1) << 30; // 1 GiB

/// 64-bit FNV-1a, continuing from `state` (kChecksumSeed to start). Any
/// change of a single byte changes the result.
inline constexpr uint64_t kChecksumSeed = 0xcbf29ce484222325ull;
uint64_t checksum64(std::string_view bytes, uint64_t state = kChecksumSeed);

/// The artifact holding `payload` and `manifest` (serialized with
/// serializeManifest): the one writer of the container, for both targets.
std::string sealArtifact(std::string_view payload,
                         const KernelManifest &manifest);

/// The same with manifest text as is and any version number in the
/// trailer: for tests and tools that must write artifacts the reader
/// refuses. Compilers call sealArtifact.
std::string sealArtifactText(std::string_view payload,
                             std::string_view manifestText,
                             int32_t abiVersion = kAbiVersion);

/// An artifact whose container, checksum and manifest were validated; the
/// views point into the bytes given to openArtifact.
struct ArtifactView {
  std::string_view payload;
  std::string_view manifestText;
  KernelManifest manifest;
};

/// Validates `bytes` as a whole artifact: trailer, sizes, checksum, the
/// manifest (parseManifest), and for CUDA image_bytes == payload size.
/// Version 1 artifacts and trailers of other versions give
/// NTP_ERROR_ABI_MISMATCH; anything else NTP_ERROR_BAD_ARTIFACT. `error` is
/// a sentence fragment to prefix with the artifact's name, as for
/// parseManifest.
ntp_status openArtifact(std::string_view bytes, ArtifactView &view,
                        std::string &error);

/// Reads the file at `path` for openArtifact without ever blocking or
/// reading without bound: opened with O_NONBLOCK, refused unless fstat says
/// it is a regular file, refused when larger than `maxBytes`. NTP_ERROR_IO
/// (cannot open, not a regular file, read error) or NTP_ERROR_BAD_ARTIFACT
/// (too large); `error` is a sentence fragment: the system's reason ("No
/// such file or directory"), "it is not a regular file", ... With `keepFd`, the
/// open descriptor is returned there (the caller closes it) so that the caller
/// can use exactly the file that was read.
ntp_status readArtifactFile(const std::string &path, std::string &bytes,
                            std::string &error,
                            int64_t maxBytes = kMaxArtifactBytes,
                            int *keepFd = nullptr);

} // namespace ntp::artifact

#endif // NTP_ARTIFACT_CONTAINER_HPP
