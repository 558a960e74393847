//===- Dispatch.h - Argument checks, calls of a kernel's tiles -*- C++ -*-===//
//
// What every ntp_forward* / ntp_backward* call does between the C API and the
// generated code: check the arguments against the kernel's shapes, then run
// the tiles on the thread pool (CPU) or launch (CUDA). Each function returns
// a status and sets the error (Kernel.h) on failure.
//
//===----------------------------------------------------------------------===//
#ifndef NTP_RUNTIME_DISPATCH_H
#define NTP_RUNTIME_DISPATCH_H

#include "Kernel.h"

namespace ntp::rt {

/// Element counts of the buffers of a call with `batch` points.
struct BufferCounts {
  int64_t x, direction, params, out;
};

/// Checks the arguments common to every forward call (and, with the
/// cotangent as `out`, the reverse-mode ones) and computes the counts.
int checkForwardArgs(const ntp_kernel *k, const void *x, const void *direction,
                     const void *params, const void *out, int64_t batch,
                     BufferCounts &counts, const char *outName = "out");

/// ntp_partials (and ntp_partials_async, on `stream`): the argument checks
/// of a partials kernel and its forward.
int partialsForward(ntp_kernel *k, const char *function, const void *x,
                    const void *params, void *out, int64_t batch,
                    void *stream = nullptr);
int runForward(ntp_kernel &k, const void *x, const void *direction,
               const void *params, void *out, int64_t batch,
               void *stream = nullptr);

/// ntp_backward / ntp_backward_full (function names the C function).
int backward(ntp_kernel *k, const char *function, const void *x,
             const void *direction, const void *params, const void *cotangent,
             void *paramsGrad, void *xGrad, int64_t batch,
             void *stream = nullptr);

/// A CPU kernel given a stream: the _async functions' one refusal.
int refuseCpuStream(const ntp_kernel *k, void *stream);

/// Bytes of the workspace for `batch` points, header included.
int workspaceSize(const ntp_kernel *k, int64_t batch, int64_t &bytes);

/// ntp_forward_save / ntp_backward_saved; workspaceBytes < 0: unknown (the
/// unchecked C functions).
int forwardSave(ntp_kernel *k, const void *x, const void *direction,
                const void *params, void *out, void *workspace,
                int64_t workspaceBytes, int64_t batch, void *stream = nullptr);
/// The reverse mode of partials kernels (ntp_partials_backward,
/// ntp_partials_save, ntp_partials_backward_saved and their _checked and
/// _async variants): the jet calls' paths with the partials kernels' checks.
int partialsBackward(ntp_kernel *k, const char *function, const void *x,
                     const void *params, const void *cotangent,
                     void *paramsGrad, void *xGrad, int64_t batch,
                     void *stream = nullptr);
int partialsSave(ntp_kernel *k, const char *function, const void *x,
                 const void *params, void *out, void *workspace,
                 int64_t workspaceBytes, int64_t batch, void *stream = nullptr);
int partialsBackwardSaved(ntp_kernel *k, const char *function, const void *x,
                          const void *params, const void *cotangent,
                          void *paramsGrad, void *xGrad, const void *workspace,
                          int64_t workspaceBytes, int64_t batch,
                          void *stream = nullptr);
int backwardSaved(ntp_kernel *k, const char *function, const void *x,
                  const void *direction, const void *params,
                  const void *cotangent, void *paramsGrad, void *xGrad,
                  const void *workspace, int64_t workspaceBytes, int64_t batch,
                  void *stream = nullptr);

//===----------------------------------------------------------------------===//
// Shared by Dispatch.cpp and PartialsDispatch.cpp
//===----------------------------------------------------------------------===//

/// The checks a forward call and ntp_partials share: batch, the buffers
/// (`direction` is not read by a partials kernel: null skips its check),
/// and the sizes.
int checkBuffers(const ntp_kernel &k, const void *x, const void *direction,
                 const void *params, const void *out, int64_t batch,
                 BufferCounts &counts, const char *outName);

/// What every reverse-mode call needs beyond its buffers: the entry points,
/// and at least one gradient to compute.
int checkReverseMode(const ntp_kernel *k, const char *function,
                     const void *paramsGrad, const void *xGrad);

/// Runs the CPU reverse mode `tiles` (backward_tiles, or backward_saved_tiles
/// with the saved `workspace` jets) over the batch.
int runBackward(ntp_kernel &k, void *tiles, const void *x,
                const void *direction, const void *params,
                const void *cotangent, void *paramsGrad, void *xGrad,
                const void *workspace, int64_t batch);

/// ntp_backward on the GPU: forward-save into a stream-ordered scratch
/// workspace (and output), backward-saved, the reduction, the scratch freed
/// on the stream (partialsBackward shares it).
int cudaBackward(ntp_kernel &k, const void *x, const void *direction,
                 const void *params, const void *cotangent, void *paramsGrad,
                 void *xGrad, int64_t batch, void *stream);

/// The part of forwardSave after the buffer checks (partialsSave shares it).
int forwardSaveChecked(ntp_kernel *k, const char *function, const void *x,
                       const void *direction, const void *params, void *out,
                       void *workspace, int64_t workspaceBytes, int64_t batch,
                       void *stream);

/// The part of backwardSaved after the argument checks (partialsBackward
/// shares it).
int backwardSavedChecked(ntp_kernel *k, const void *x, const void *direction,
                         const void *params, const void *cotangent,
                         void *paramsGrad, void *xGrad, const void *workspace,
                         int64_t workspaceBytes, int64_t batch, void *stream);

} // namespace ntp::rt

#endif // NTP_RUNTIME_DISPATCH_H
