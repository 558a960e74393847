//===- Loader.cpp - From an artifact to a kernel --------------------------===//
//
// The order of checks is the point of this file: the whole artifact is read
// (never blocking, never past a size cap), its container and checksum are
// validated and its manifest parsed before anything of it is mapped or run;
// only then does the CPU path dlopen it (CpuArtifact.cpp) or the CUDA path
// hand the image to the driver (CudaArtifact.cpp).
//
//===----------------------------------------------------------------------===//
#include "Loader.h"

#include "CpuArtifact.h"
#include "CudaArtifact.h"

#include <cstring>
#include <memory>

using namespace ntp::artifact;

namespace ntp::rt {

int loadKernelFile(const char *path, ntp_kernel **out) {
  if (out)
    *out = nullptr;
  if (!path)
    return fail(NTP_ERROR_INVALID_ARGUMENT, "path is null");
  if (!out)
    return fail(NTP_ERROR_INVALID_ARGUMENT, "out is null");
  std::string file = path;
  std::string bytes, reason;
  ntp_status status = readArtifactFile(file, bytes, reason);
  if (status == NTP_ERROR_IO)
    return fail(status,
                "cannot open kernel artifact " + quoted(file) + ": " + reason);
  if (status)
    return fail(status,
                "cannot load kernel artifact " + quoted(file) + ": " + reason);
  ArtifactView view;
  if (ntp_status status = openArtifact(bytes, view, reason))
    return fail(status,
                "cannot load kernel artifact " + quoted(file) + ": " + reason);
  if (view.manifest.device == Device::Cuda)
    return loadCudaArtifact(view, quoted(file), out);
  return loadCpuArtifact(file, view, out);
}

int loadKernelMemory(const void *data, int64_t size, ntp_kernel **out) {
  if (out)
    *out = nullptr;
  if (!data)
    return fail(NTP_ERROR_INVALID_ARGUMENT, "data is null");
  if (!out)
    return fail(NTP_ERROR_INVALID_ARGUMENT, "out is null");
  if (size < 0)
    return fail(NTP_ERROR_INVALID_ARGUMENT,
                "size is " + std::to_string(size) + "; it must be >= 0");
  std::string_view bytes(static_cast<const char *>(data),
                         static_cast<size_t>(size));
  ArtifactView view;
  std::string reason;
  if (ntp_status status = openArtifact(bytes, view, reason))
    return fail(status, "cannot load the in-memory kernel artifact: " + reason);
  if (view.manifest.device != Device::Cuda)
    return fail(NTP_ERROR_UNSUPPORTED,
                "the in-memory artifact is a CPU kernel: only CUDA artifacts "
                "load from memory; load shared objects with ntp_kernel_load");
  return loadCudaArtifact(view, "from memory", out);
}

int createKernel(const char *manifest, const ntp_kernel_entry_points &entry,
                 void (*release)(void *), void *releaseArg, ntp_kernel **out) {
  if (out)
    *out = nullptr;
  if (!out)
    return fail(NTP_ERROR_INVALID_ARGUMENT, "out is null");
  if (!manifest)
    return fail(NTP_ERROR_INVALID_ARGUMENT, "manifest is null");
  if (!entry.forward_tiles)
    return fail(NTP_ERROR_INVALID_ARGUMENT, "forward_tiles is null");
  const std::string what = "the in-memory kernel";
  // Bounded, so that a missing NUL cannot run off the end.
  size_t length = ::strnlen(manifest, kMaxManifestBytes + 1);
  auto kernel = std::make_unique<ntp_kernel>();
  std::string reason;
  switch (parseManifest({manifest, length}, kernel->manifest, reason)) {
  case NTP_OK:
    break;
  case NTP_ERROR_ABI_MISMATCH:
    return fail(NTP_ERROR_ABI_MISMATCH, "cannot load " + what + ": " + reason);
  default:
    return fail(NTP_ERROR_BAD_ARTIFACT,
                what + " has a malformed manifest: " + reason);
  }
  if (kernel->manifest.device == Device::Cuda)
    return fail(NTP_ERROR_UNSUPPORTED,
                what + " describes a CUDA kernel: CUDA kernels are loaded "
                       "from CUDA artifacts with ntp_kernel_load");
  if (int status = checkCpuManifest(kernel->manifest, what))
    return status;
  if (kernel->manifest.backward &&
      (!entry.backward_tiles || !entry.forward_save_tiles ||
       !entry.backward_saved_tiles))
    return fail(NTP_ERROR_INVALID_ARGUMENT,
                "the manifest declares backward=1 but a reverse-mode entry "
                "point is null");
  kernel->identity = checksum64({manifest, length});
  kernel->forwardTiles = entry.forward_tiles;
  if (kernel->manifest.backward) {
    kernel->backwardTiles = entry.backward_tiles;
    kernel->forwardSaveTiles = entry.forward_save_tiles;
    kernel->backwardSavedTiles = entry.backward_saved_tiles;
  }
  // Set last: on failure the caller keeps ownership of what it passed.
  kernel->release = release;
  kernel->releaseArg = releaseArg;
  *out = kernel.release();
  return NTP_OK;
}

} // namespace ntp::rt
