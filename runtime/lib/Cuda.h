//===- Cuda.h - CUDA kernels through the driver API, opened at run time ---===//
//
// The runtime links no CUDA library: libcuda.so.1 (or $NTP_LIBCUDA) is
// opened with dlopen on the first CUDA load, so the runtime builds, links
// and runs its tests on machines with no GPU and no driver.
//
//===----------------------------------------------------------------------===//

#ifndef NTP_RUNTIME_CUDA_H
#define NTP_RUNTIME_CUDA_H

#include "ntp/runtime.h"

#include <cstdint>
#include <string>

namespace ntp::rt {

struct CudaModule;

/// What a CUDA artifact's manifest says about its image.
struct CudaImageInfo {
  std::string chip;          // sm_XX
  bool isPtx = true;         // else cubin
  std::string entry;         // kernel function name
  int blockSize = 128;       // threads per block
  int samplesPerBlock = 128; // samples per block: the grid is
                             // ceil(batch / samplesPerBlock)
};

/// Loads `image` into the current CUDA context (or device 0's primary
/// context, made current, when the thread has none). On failure returns a
/// status and sets `error` to one sentence.
ntp_status cudaLoad(const std::string &image, const CudaImageInfo &info,
                    CudaModule **out, std::string &error);

/// Launches the forward kernel on `stream` (null: the default stream) with
/// device pointers; asynchronous with respect to the host.
ntp_status cudaLaunchForward(CudaModule *module, const void *x,
                             const void *direction, const void *params,
                             void *out, int64_t batch, void *stream,
                             std::string &error);

void cudaUnload(CudaModule *module);

/// The compute capability of device `ordinal` as one number (sm_90: 90).
ntp_status cudaDeviceArch(int ordinal, int32_t &sm, std::string &error);

} // namespace ntp::rt

#endif // NTP_RUNTIME_CUDA_H
