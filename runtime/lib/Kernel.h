//===- Kernel.h - The runtime's kernel object and error channel -*- C++ -*-===//
//
// Internal to the runtime: struct ntp_kernel (what every file of the runtime
// shares about a loaded kernel), and the thread-local error channel behind
// ntp_last_error. The files by concern:
//   Loader.cpp       reads and validates an artifact, then hands it to
//   CpuArtifact.cpp  (ELF checks, CPU features, dlopen, symbol cross-check)
//   CudaArtifact.cpp (the image through the driver, Cuda.cpp)
//   Dispatch.cpp     argument checks and the thread-pool calls of the tiles
//   Workspace.cpp    the saved-jets workspace and its header
//   CApi.cpp         the exported C functions, thin
//
//===----------------------------------------------------------------------===//
#ifndef NTP_RUNTIME_KERNEL_H
#define NTP_RUNTIME_KERNEL_H

#include "ntp/artifact.hpp"
#include "ntp/runtime.h"

#include <algorithm>
#include <cstdint>
#include <mutex>
#include <new>
#include <optional>
#include <string>
#include <vector>

namespace ntp::rt {
struct CudaModule;
} // namespace ntp::rt

struct ntp_kernel {
  void *handle = nullptr; // from dlopen; null for ntp_kernel_create
  /// The anonymous file that names `handle` when the artifact was loaded
  /// from a private copy (CpuArtifact.cpp); closed after dlclose.
  int privateCopyFd = -1;
  void *forwardTiles = nullptr;       // <prefix>_forward_tiles
  void *backwardTiles = nullptr;      // <prefix>_backward_tiles, if any
  void *forwardSaveTiles = nullptr;   // <prefix>_forward_save_tiles
  void *backwardSavedTiles = nullptr; // <prefix>_backward_saved_tiles
  void (*release)(void *) = nullptr;  // ntp_kernel_create's owner callback
  void *releaseArg = nullptr;
  ntp::artifact::KernelManifest manifest;
  /// checksum64 of the manifest text: the kernel's identity in workspace
  /// headers.
  uint64_t identity = 0;
  /// A CUDA kernel: loaded from a CUDA artifact, launched on the GPU.
  ntp::rt::CudaModule *cuda = nullptr;
  /// CUDA kernels: what ntp_forward_save last saved into each of the most
  /// recent workspaces (device memory, whose header the host cannot read
  /// or write without synchronising), checked by ntp_backward_saved.
  struct SavedCall {
    const void *workspace, *x, *direction, *params;
    int64_t batch;
  };
  std::mutex savedMutex;
  std::vector<SavedCall> saved; // newest last, at most kMaxSavedCalls
  static constexpr size_t kMaxSavedCalls = 64;

  ntp_kernel() = default;
  ntp_kernel(const ntp_kernel &) = delete;
  ntp_kernel &operator=(const ntp_kernel &) = delete;
  ~ntp_kernel();

  bool isF64() const { return manifest.dtype == ntp::artifact::Dtype::F64; }
  int64_t elementBytes() const {
    return ntp::artifact::dtypeBytes(manifest.dtype);
  }
  int64_t tiles(int64_t batch) const {
    return batch / manifest.tile + (batch % manifest.tile != 0);
  }
  /// Bytes of stack a thread needs to run one tile of any entry point: the
  /// jets the tile keeps there (jetStackElementsPerTile, the recomputing
  /// backward's, the largest; for a partials kernel the compiler's bound
  /// kMaxTileStackBytes) and kFrameStackBytes for the frames around them.
  /// INT64_MAX on overflow.
  int64_t stackBytesPerTile() const;
};

namespace ntp::rt {

/// Stack a tile needs beyond its jets: the generated function's own
/// variables and spills, its callees and the runtime's frames above it
/// (measured at the compiler's bound: the entry points' frames exceed their
/// jets by 0.5 to 2 KiB, the activation helpers they call take up to
/// 3.4 KiB), and, on the main thread, the environment and arguments that
/// glibc counts as stack.
inline constexpr int64_t kFrameStackBytes = int64_t(256) << 10;

/// This thread's ntp_last_error() text.
std::string &lastError();

/// Sets the error message and returns `status`.
int fail(ntp_status status, std::string message);

/// 'path' as messages quote it.
inline std::string quoted(const std::string &path) { return "'" + path + "'"; }

/// Runs `body`, turning an escaping exception into NTP_ERROR_INTERNAL: no
/// exception crosses the C ABI.
template <class Fn> int guarded(Fn &&body) noexcept {
  try {
    return body();
  } catch (const std::bad_alloc &) {
    lastError() = "out of memory"; // fits the small-string buffer: no throw
  } catch (...) {
    try {
      lastError() = "internal error in the ntp runtime";
    } catch (...) {
    }
  }
  return NTP_ERROR_INTERNAL;
}

} // namespace ntp::rt

inline int64_t ntp_kernel::stackBytesPerTile() const {
  std::optional<int64_t> jets = ntp::artifact::jetStackElementsPerTile(
      manifest.layers, manifest.order, manifest.tile, manifest.kinds);
  // A partials kernel's reverse mode (ntp-generate-backward) holds one ray's
  // jets (at most a jet kernel's of the same order) and beyond them the C
  // ray and P output coefficients of the top layer and two x-cotangent
  // accumulators, [order + 2, d_in, tile] each; C comes from its workspace
  // (C coefficients' worth; fewer rows where the reverse mode follows a
  // fast forward, which the kMaxTileStackBytes floor below covers). A
  // forward-only partials kernel does not say C.
  std::optional<int64_t> perCoefficient =
      ntp::artifact::workspaceElementsPerTile(manifest.layers, 0, manifest.tile,
                                              manifest.kinds);
  if (jets && manifest.isPartials() && manifest.backward && perCoefficient &&
      *perCoefficient > 0) {
    int64_t columns = manifest.workspacePerTile / *perCoefficient;
    int64_t rows = columns + static_cast<int64_t>(manifest.partials.size());
    int64_t extra = 0;
    if (__builtin_mul_overflow(rows, manifest.outputDim(), &extra) ||
        __builtin_add_overflow(
            extra, 2 * (int64_t(manifest.order) + 2) * manifest.inputDim(),
            &extra) ||
        __builtin_mul_overflow(extra, manifest.tile, &extra) ||
        __builtin_add_overflow(*jets, extra, &extra))
      return INT64_MAX;
    jets = extra;
  }
  // A partials kernel's forward may be lowered multi-direction or collapsed
  // (ntp/Support/PartialsLowering.h), its blocks of rays sized by the
  // compiler's plan, which the manifest does not state: only the bound the
  // compiler holds every partials entry point to, kMaxTileStackBytes, is
  // safe (the rows of a collapsed Laplacian over 32 inputs exceed the jets
  // of a jet kernel of its order several times).
  if (jets && manifest.isPartials())
    jets = std::max(*jets, ntp::artifact::kMaxTileStackBytes / elementBytes());
  int64_t bytes = 0;
  if (!jets || __builtin_mul_overflow(*jets, elementBytes(), &bytes) ||
      __builtin_add_overflow(bytes, ntp::rt::kFrameStackBytes, &bytes))
    return INT64_MAX;
  return bytes;
}

#endif // NTP_RUNTIME_KERNEL_H
