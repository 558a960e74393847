//===- PartialsDispatch.cpp - The calls of a partials kernel --------------===//
//
// ntp_partials and the partials kernels' reverse mode (ntp_partials_backward,
// ntp_partials_save, ntp_partials_backward_saved), and their _async variants
// (a CUDA stream; null: the default stream, which the synchronous calls use):
// their argument checks, then the jet calls' paths in Dispatch.cpp.
//
//===----------------------------------------------------------------------===//
#include "Dispatch.h"

#include <string>

using namespace ntp::artifact;

namespace ntp::rt {
namespace {

/// Whether `function` is an _async variant (the jet call it names then is
/// one too).
bool isAsync(const char *function) {
  std::string name(function);
  return name.size() > 6 && name.compare(name.size() - 6, 6, "_async") == 0;
}

} // namespace

int partialsForward(ntp_kernel *k, const char *function, const void *x,
                    const void *params, void *out, int64_t batch,
                    void *stream) {
  if (!k)
    return fail(NTP_ERROR_INVALID_ARGUMENT, "kernel is null");
  if (!k->manifest.isPartials())
    return fail(NTP_ERROR_INVALID_ARGUMENT,
                std::string("this kernel computes a jet (compiled without "
                            "--partials or --operator), not partial "
                            "derivatives: call ntp_forward") +
                    (isAsync(function) ? "_async" : ""));
  BufferCounts counts;
  if (int status =
          checkBuffers(*k, x, nullptr, params, out, batch, counts, "out"))
    return status;
  // The entry point keeps the jet kernels' signature; a partials kernel
  // seeds its own directions and never reads this one.
  return runForward(*k, x, /*direction=*/params, params, out, batch, stream);
}

//===----------------------------------------------------------------------===//
// The reverse mode of partials kernels
//===----------------------------------------------------------------------===//
//
// The generated entry points keep the jet kernels' signatures; a partials
// kernel never reads the direction argument, so `params` stands in for it
// (also in the workspace header, consistently between save and backward).

namespace {

/// The checks the ntp_partials* reverse-mode calls share.
int checkPartialsArgs(const ntp_kernel *k, const char *function,
                      const char *jetFunction, const void *x,
                      const void *params, const void *out, int64_t batch,
                      const char *outName) {
  if (!k)
    return fail(NTP_ERROR_INVALID_ARGUMENT, "kernel is null");
  if (!k->manifest.isPartials())
    return fail(NTP_ERROR_INVALID_ARGUMENT,
                std::string(function) +
                    " is for partials kernels; this kernel computes a jet "
                    "(compiled without --partials or --operator): call " +
                    jetFunction + (isAsync(function) ? "_async" : ""));
  BufferCounts counts;
  return checkBuffers(*k, x, nullptr, params, out, batch, counts, outName);
}

} // namespace

int partialsBackward(ntp_kernel *k, const char *function, const void *x,
                     const void *params, const void *cotangent,
                     void *paramsGrad, void *xGrad, int64_t batch,
                     void *stream) {
  if (int status = checkPartialsArgs(k, function, "ntp_backward_full", x,
                                     params, cotangent, batch, "out_cotangent"))
    return status;
  if (int status = checkReverseMode(k, function, paramsGrad, xGrad))
    return status;
  // CUDA: forward-save + backward-saved into stream-ordered scratch, as
  // ntp_backward.
  if (k->cuda)
    return cudaBackward(*k, x, params, params, cotangent, paramsGrad, xGrad,
                        batch, stream);
  return runBackward(*k, k->backwardTiles, x, params, params, cotangent,
                     paramsGrad, xGrad, nullptr, batch);
}

int partialsSave(ntp_kernel *k, const char *function, const void *x,
                 const void *params, void *out, void *workspace,
                 int64_t workspaceBytes, int64_t batch, void *stream) {
  if (int status = checkPartialsArgs(k, function, "ntp_forward_save", x, params,
                                     out, batch, "out"))
    return status;
  return forwardSaveChecked(k, function, x, params, params, out, workspace,
                            workspaceBytes, batch, stream);
}

int partialsBackwardSaved(ntp_kernel *k, const char *function, const void *x,
                          const void *params, const void *cotangent,
                          void *paramsGrad, void *xGrad, const void *workspace,
                          int64_t workspaceBytes, int64_t batch, void *stream) {
  if (int status = checkPartialsArgs(k, function, "ntp_backward_saved", x,
                                     params, cotangent, batch, "out_cotangent"))
    return status;
  if (int status = checkReverseMode(k, function, paramsGrad, xGrad))
    return status;
  return backwardSavedChecked(k, x, params, params, cotangent, paramsGrad,
                              xGrad, workspace, workspaceBytes, batch, stream);
}

} // namespace ntp::rt
