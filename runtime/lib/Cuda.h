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
  /// The reverse mode's kernels (empty: none): forward_save,
  /// backward_saved, reduce_params_grad (artifact::cudaKernelSymbol).
  std::string forwardSaveEntry, backwardSavedEntry, reduceEntry;
};

/// A reverse-mode call on the GPU: device pointers, and the layout of the
/// workspace's regions (artifact::cudaWorkspaceElements), in elements.
struct CudaBackwardCall {
  const void *x, *direction, *params, *cotangent;
  void *paramsGrad; // null: not asked for
  void *xGrad;      // null: the workspace's scratch region
  void *jets;       // the saved jets (the workspace after its header)
  int64_t batch, numParams, jetElements, elementBytes;
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

/// Launches the forward-save kernel (the jets into `jets`) on `stream`.
ntp_status cudaLaunchForwardSave(CudaModule *module, const void *x,
                                 const void *direction, const void *params,
                                 void *out, void *jets, int64_t batch,
                                 void *stream, std::string &error);

/// Launches backward-saved (per-sample gradient columns and per-block
/// partials in the workspace after the jets) and, when params_grad is
/// asked for, the reduction of the partials into it, on `stream`. With
/// batch 0 only the reduction runs (over no rows: zeros).
ntp_status cudaLaunchBackwardSaved(CudaModule *module,
                                   const CudaBackwardCall &call, void *stream,
                                   std::string &error);

/// Stream-ordered device memory (cuMemAllocAsync / cuMemFreeAsync, CUDA
/// 11.2 and later) in the kernel's context: the scratch workspace of
/// ntp_backward.
ntp_status cudaAllocAsync(CudaModule *module, int64_t bytes, void *stream,
                          void **out, std::string &error);
ntp_status cudaFreeAsync(CudaModule *module, void *pointer, void *stream,
                         std::string &error);

void cudaUnload(CudaModule *module);

/// The compute capability of device `ordinal` as one number (sm_90: 90).
ntp_status cudaDeviceArch(int ordinal, int32_t &sm, std::string &error);

} // namespace ntp::rt

#endif // NTP_RUNTIME_CUDA_H
