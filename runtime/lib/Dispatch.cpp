//===- Dispatch.cpp - Argument checks and calls of a kernel's tiles -------===//
//
// A CPU kernel's entry points each run a range of tiles [tile_begin,
// tile_end) of a call; this file checks a call's arguments against the
// manifest and spreads its tiles over the thread pool. The reverse mode's
// parameter gradient is a sum over tiles: it is reduced in a fixed order (one
// partial sum per chunk of tiles, chunks fixed by the thread count, added in
// chunk order), so that equal calls give bitwise equal gradients.
//
// A CUDA kernel's reverse mode (docs/NVPTX.md) launches forward-save,
// backward-saved and the gradient reduction on the caller's stream; its
// workspace is device memory (artifact::cudaWorkspaceElements after the
// 64-byte header, which stays unwritten), and ntp_backward takes a
// stream-ordered scratch workspace per call.
//
// A tile keeps its jets on the stack of the thread running it (up to
// kMaxTileStackBytes, which the compiler enforces). When the calling thread
// has less stack left than a tile needs (a Python or Java thread has 256 KiB
// to 1 MiB), its tiles all go to the pool's workers, whose stacks are sized
// for the bound, and it waits; otherwise it takes part as usual.
//
// The partials kernels' calls (ntp_partials*) are in PartialsDispatch.cpp;
// they take the jet calls' paths after their own checks.
//
//===----------------------------------------------------------------------===//
#include "Dispatch.h"

#include "Cuda.h"
#include "ThreadPool.h"
#include "Workspace.h"

#include <algorithm>
#include <cstring>
#include <vector>

using namespace ntp::artifact;

namespace ntp::rt {
namespace {

// Tiles each thread must get before a call is split across threads; below
// this, waking workers costs more than it saves.
constexpr int64_t kMinTilesPerThread = 2;

/// Runs items [0, n) of `task` on threads that have the stack for them (see
/// the banner).
int runOnThreadsWithStack(const ntp_kernel &k, int64_t n, int64_t minPerThread,
                          ThreadPool::Task task, void *ctx) {
  const int64_t needed = k.stackBytesPerTile();
  const int64_t left = ThreadPool::callerStackLeft();
  if (needed > ThreadPool::kWorkerStackBytes) {
    // Beyond the compiler's bound (a hand-written manifest, or an artifact
    // older than the bound): only a caller with a large stack can run it.
    if (left < needed)
      return fail(NTP_ERROR_UNSUPPORTED,
                  "one tile of this kernel needs " + std::to_string(needed) +
                      " bytes of stack, more than the runtime's worker "
                      "threads have (" +
                      std::to_string(ThreadPool::kWorkerStackBytes) +
                      ") and the calling thread has left (" +
                      std::to_string(left) +
                      "); compile it with a smaller tile");
    task(ctx, 0, n);
    return NTP_OK;
  }
  if (!ThreadPool::instance().parallelFor(n, minPerThread, task, ctx,
                                          /*callerRuns=*/left >= needed))
    return fail(NTP_ERROR_INTERNAL,
                "the calling thread has " + std::to_string(left) +
                    " bytes of stack left, less than the " +
                    std::to_string(needed) +
                    " one tile needs, and no worker thread could be started "
                    "to run it");
  return NTP_OK;
}

//===----------------------------------------------------------------------===//
// Forward
//===----------------------------------------------------------------------===//

struct ForwardCall {
  void *tiles;
  const void *x, *direction, *params;
  void *out;
  void *workspace; // forward-save only
  int64_t batch;
};

template <class T>
using ForwardTilesFn = void (*)(const T *, const T *, const T *, T *, int64_t,
                                int64_t, int64_t);
template <class T>
using ForwardSaveTilesFn = void (*)(const T *, const T *, const T *, T *, T *,
                                    int64_t, int64_t, int64_t);

template <class T> void runForwardTiles(void *ctx, int64_t begin, int64_t end) {
  const ForwardCall &c = *static_cast<const ForwardCall *>(ctx);
  reinterpret_cast<ForwardTilesFn<T>>(c.tiles)(
      static_cast<const T *>(c.x), static_cast<const T *>(c.direction),
      static_cast<const T *>(c.params), static_cast<T *>(c.out), c.batch, begin,
      end);
}

template <class T>
void runForwardSaveTiles(void *ctx, int64_t begin, int64_t end) {
  const ForwardCall &c = *static_cast<const ForwardCall *>(ctx);
  reinterpret_cast<ForwardSaveTilesFn<T>>(c.tiles)(
      static_cast<const T *>(c.x), static_cast<const T *>(c.direction),
      static_cast<const T *>(c.params), static_cast<T *>(c.out),
      static_cast<T *>(c.workspace), c.batch, begin, end);
}

//===----------------------------------------------------------------------===//
// Reverse mode
//===----------------------------------------------------------------------===//

/// One backward call: the generated entry point adds the parameter gradient
/// of its tiles into a grad buffer and writes x_grad for its tiles.
struct BackwardCall {
  void *tiles; // backward_tiles or backward_saved_tiles
  const void *x, *direction, *params, *cotangent;
  void *xGrad;           // never null (scratch if the caller passed none)
  const void *workspace; // jets (after the header); null: recomputing
  int64_t batch, numParams, numTiles, numChunks;
  void *partials; // T[numChunks][numParams], zeroed
};

template <class T>
using BackwardTilesFn = void (*)(const T *, const T *, const T *, const T *,
                                 T *, T *, int64_t, int64_t, int64_t);
template <class T>
using BackwardSavedTilesFn = void (*)(const T *, const T *, const T *,
                                      const T *, T *, T *, const T *, int64_t,
                                      int64_t, int64_t);

/// Runs chunks [begin, end): chunk c covers a fixed range of tiles and adds
/// into its own partial sum.
template <class T>
void runBackwardChunks(void *ctx, int64_t begin, int64_t end) {
  const BackwardCall &c = *static_cast<const BackwardCall *>(ctx);
  auto x = static_cast<const T *>(c.x);
  auto v = static_cast<const T *>(c.direction);
  auto p = static_cast<const T *>(c.params);
  auto cot = static_cast<const T *>(c.cotangent);
  auto xGrad = static_cast<T *>(c.xGrad);
  for (int64_t chunk = begin; chunk < end; ++chunk) {
    int64_t first = c.numTiles * chunk / c.numChunks;
    int64_t last = c.numTiles * (chunk + 1) / c.numChunks;
    T *grad = static_cast<T *>(c.partials) + chunk * c.numParams;
    if (c.workspace)
      reinterpret_cast<BackwardSavedTilesFn<T>>(c.tiles)(
          x, v, p, cot, grad, xGrad, static_cast<const T *>(c.workspace),
          c.batch, first, last);
    else
      reinterpret_cast<BackwardTilesFn<T>>(c.tiles)(x, v, p, cot, grad, xGrad,
                                                    c.batch, first, last);
  }
}

template <class T>
int runBackwardTyped(ntp_kernel &k, BackwardCall &call, void *paramsGrad,
                     void *xGrad) {
  const KernelManifest &m = k.manifest;
  call.numTiles = k.tiles(call.batch);
  ThreadPool &pool = ThreadPool::instance();
  call.numChunks = std::max<int64_t>(
      1,
      std::min<int64_t>(pool.numThreads(), call.numTiles / kMinTilesPerThread));
  std::vector<T> partials(static_cast<size_t>(call.numChunks * m.numParams),
                          T(0));
  std::vector<T> xScratch;
  if (!xGrad) {
    xScratch.resize(static_cast<size_t>(call.batch * m.inputDim()));
    xGrad = xScratch.data();
  }
  call.partials = partials.data();
  call.xGrad = xGrad;
  if (int status = runOnThreadsWithStack(k, call.numChunks, 1,
                                         runBackwardChunks<T>, &call))
    return status;
  if (!paramsGrad)
    return NTP_OK;
  // The fixed order: chunk 0, 1, 2, ... whichever thread ran them.
  T *total = static_cast<T *>(paramsGrad);
  std::copy(partials.begin(), partials.begin() + m.numParams, total);
  for (int64_t chunk = 1; chunk < call.numChunks; ++chunk) {
    const T *partial = partials.data() + chunk * m.numParams;
    for (int64_t i = 0; i < m.numParams; ++i)
      total[i] += partial[i];
  }
  return NTP_OK;
}

} // namespace

int runBackward(ntp_kernel &k, void *tiles, const void *x,
                const void *direction, const void *params,
                const void *cotangent, void *paramsGrad, void *xGrad,
                const void *workspace, int64_t batch) {
  const KernelManifest &m = k.manifest;
  if (batch == 0) {
    // The gradient of an empty sum is zero.
    if (paramsGrad)
      std::memset(paramsGrad, 0,
                  static_cast<size_t>(m.numParams * k.elementBytes()));
    return NTP_OK;
  }
  BackwardCall call{};
  call.tiles = tiles;
  call.x = x;
  call.direction = direction;
  call.params = params;
  call.cotangent = cotangent;
  call.workspace = workspace;
  call.batch = batch;
  call.numParams = m.numParams;
  if (k.isF64())
    return runBackwardTyped<double>(k, call, paramsGrad, xGrad);
  return runBackwardTyped<float>(k, call, paramsGrad, xGrad);
}

namespace {

/// Checks what every reverse-mode call needs beyond the forward's checks.
int checkBackwardArgs(const ntp_kernel *k, const char *function, const void *x,
                      const void *direction, const void *params,
                      const void *cotangent, const void *paramsGrad,
                      const void *xGrad, int64_t batch) {
  BufferCounts counts;
  if (k && k->manifest.isPartials())
    return fail(NTP_ERROR_INVALID_ARGUMENT,
                std::string(function) +
                    " is for jet kernels; this kernel computes partial "
                    "derivatives (compiled with --partials or --operator): "
                    "call ntp_partials_backward, or ntp_partials_save and "
                    "ntp_partials_backward_saved");
  // The cotangent has the shape of out.
  if (int status = checkForwardArgs(k, x, direction, params, cotangent, batch,
                                    counts, "out_cotangent"))
    return status;
  return checkReverseMode(k, function, paramsGrad, xGrad);
}

} // namespace

int checkReverseMode(const ntp_kernel *k, const char *function,
                     const void *paramsGrad, const void *xGrad) {
  if (!k->manifest.backward)
    return fail(NTP_ERROR_UNSUPPORTED,
                std::string(function) +
                    " is not supported by this kernel: it was compiled "
                    "without the reverse-mode entry points");
  if (!paramsGrad && !xGrad)
    return fail(NTP_ERROR_INVALID_ARGUMENT,
                "params_grad and x_grad are both null; nothing to compute");
  return NTP_OK;
}

namespace {

/// Checks the workspace pointer and, when known, its size.
int checkWorkspace(const ntp_kernel *k, const void *workspace,
                   int64_t workspaceBytes, int64_t batch) {
  if (!workspace)
    return fail(NTP_ERROR_INVALID_ARGUMENT,
                "workspace is null but batch is " + std::to_string(batch));
  if (workspaceBytes < 0)
    return NTP_OK;
  int64_t needed = 0;
  if (int status = workspaceSize(k, batch, needed))
    return status;
  if (workspaceBytes < needed)
    return fail(NTP_ERROR_INVALID_ARGUMENT,
                "workspace has " + std::to_string(workspaceBytes) +
                    " bytes but batch " + std::to_string(batch) + " needs " +
                    std::to_string(needed) + " (ntp_workspace_size)");
  return NTP_OK;
}

//===----------------------------------------------------------------------===//
// CUDA reverse mode
//===----------------------------------------------------------------------===//

/// Elements of a CUDA kernel's workspace after its header.
int cudaWorkspaceElements(const ntp_kernel &k, int64_t batch,
                          int64_t &elements) {
  std::optional<int64_t> count =
      artifact::cudaWorkspaceElements(k.manifest, batch);
  if (!count || __builtin_mul_overflow(*count, k.elementBytes(), &elements))
    return fail(NTP_ERROR_INVALID_ARGUMENT,
                "batch " + std::to_string(batch) +
                    " is too large: the workspace size overflows int64_t");
  elements = *count;
  return NTP_OK;
}

CudaBackwardCall cudaCall(const ntp_kernel &k, const void *x,
                          const void *direction, const void *params,
                          const void *cotangent, void *paramsGrad, void *xGrad,
                          void *jets, int64_t batch) {
  const KernelManifest &m = k.manifest;
  CudaBackwardCall call{};
  call.x = x;
  call.direction = direction;
  call.params = params;
  call.cotangent = cotangent;
  call.paramsGrad = paramsGrad;
  call.xGrad = xGrad;
  call.jets = jets;
  call.batch = batch;
  call.numParams = m.numParams;
  call.jetElements = k.tiles(batch) * m.workspacePerTile;
  call.elementBytes = k.elementBytes();
  return call;
}

} // namespace

/// ntp_backward on the GPU: forward-save into a stream-ordered scratch
/// workspace (and output), backward-saved, the reduction, the scratch freed
/// on the stream. Everything is queued on `stream`; nothing waits.
int cudaBackward(ntp_kernel &k, const void *x, const void *direction,
                 const void *params, const void *cotangent, void *paramsGrad,
                 void *xGrad, int64_t batch, void *stream) {
  std::string reason;
  if (batch == 0) { // params_grad = 0: the reduction over no rows
    CudaBackwardCall call = cudaCall(k, x, direction, params, cotangent,
                                     paramsGrad, xGrad, nullptr, 0);
    if (ntp_status status =
            cudaLaunchBackwardSaved(k.cuda, call, stream, reason))
      return fail(status, reason);
    return NTP_OK;
  }
  int64_t elements = 0, outElements = 0, bytes = 0;
  if (int status = cudaWorkspaceElements(k, batch, elements))
    return status;
  // The forward's scratch output: order + 1 rows, or a partials kernel's P.
  if (__builtin_mul_overflow(batch * k.manifest.outputRows(),
                             k.manifest.outputDim(), &outElements) ||
      __builtin_add_overflow(elements, outElements, &bytes) ||
      __builtin_mul_overflow(bytes, k.elementBytes(), &bytes))
    return fail(NTP_ERROR_INVALID_ARGUMENT,
                "batch " + std::to_string(batch) +
                    " is too large: the workspace size overflows int64_t");
  void *scratch = nullptr;
  if (ntp_status status =
          cudaAllocAsync(k.cuda, bytes, stream, &scratch, reason))
    return fail(status, reason);
  void *out = static_cast<char *>(scratch) + elements * k.elementBytes();
  ntp_status status = cudaLaunchForwardSave(k.cuda, x, direction, params, out,
                                            scratch, batch, stream, reason);
  if (status == NTP_OK) {
    CudaBackwardCall call = cudaCall(k, x, direction, params, cotangent,
                                     paramsGrad, xGrad, scratch, batch);
    status = cudaLaunchBackwardSaved(k.cuda, call, stream, reason);
  }
  std::string freeReason;
  ntp_status freed = cudaFreeAsync(k.cuda, scratch, stream, freeReason);
  if (status != NTP_OK)
    return fail(status, reason);
  if (freed != NTP_OK)
    return fail(freed, freeReason);
  return NTP_OK;
}

namespace {

/// Remembers what ntp_forward_save saved into `workspace`.
void recordSaved(ntp_kernel &k, const void *workspace, const void *x,
                 const void *direction, const void *params, int64_t batch) {
  std::lock_guard<std::mutex> lock(k.savedMutex);
  for (auto it = k.saved.begin(); it != k.saved.end(); ++it)
    if (it->workspace == workspace) {
      k.saved.erase(it);
      break;
    }
  if (k.saved.size() == ntp_kernel::kMaxSavedCalls)
    k.saved.erase(k.saved.begin());
  k.saved.push_back({workspace, x, direction, params, batch});
}

/// The CUDA counterpart of checkWorkspaceHeader: the workspace, its batch
/// and the buffers' addresses (not their contents) must be those of an
/// ntp_forward_save of this kernel.
int checkSaved(ntp_kernel &k, const void *workspace, const void *x,
               const void *direction, const void *params, int64_t batch) {
  auto refuse = [](const std::string &why) {
    return fail(NTP_ERROR_INVALID_ARGUMENT,
                "the workspace " + why +
                    ": call ntp_forward_save with the same arguments first");
  };
  std::lock_guard<std::mutex> lock(k.savedMutex);
  for (const ntp_kernel::SavedCall &s : k.saved) {
    if (s.workspace != workspace)
      continue;
    if (s.batch != batch)
      return refuse("was saved for batch " + std::to_string(s.batch) +
                    ", not " + std::to_string(batch));
    if (s.x != x)
      return refuse("was saved for other x");
    if (s.direction != direction)
      return refuse("was saved for another direction");
    if (s.params != params)
      return refuse("was saved for other params");
    return NTP_OK;
  }
  return refuse("was not written by this kernel's ntp_forward_save (on a "
                "GPU, a workspace is known by its address)");
}

} // namespace

int refuseCpuStream(const ntp_kernel *k, void *stream) {
  if (k && !k->cuda && stream)
    return fail(NTP_ERROR_INVALID_ARGUMENT,
                "a stream was given for a CPU kernel");
  return NTP_OK;
}

/// Computes the counts; false when one does not fit in int64_t.
static bool bufferCounts(const ntp_kernel &k, int64_t batch,
                         BufferCounts &counts) {
  const KernelManifest &m = k.manifest;
  int64_t rows = 0;
  counts.direction = m.inputDim();
  counts.params = m.numParams;
  return !__builtin_mul_overflow(batch, m.inputDim(), &counts.x) &&
         !__builtin_mul_overflow(batch, m.outputRows(), &rows) &&
         !__builtin_mul_overflow(rows, m.outputDim(), &counts.out);
}

int checkBuffers(const ntp_kernel &k, const void *x, const void *direction,
                 const void *params, const void *out, int64_t batch,
                 BufferCounts &counts, const char *outName) {
  if (batch < 0)
    return fail(NTP_ERROR_INVALID_ARGUMENT, "batch is " +
                                                std::to_string(batch) +
                                                "; it must be non-negative");
  if (!k.manifest.isPartials() && !direction)
    return fail(NTP_ERROR_INVALID_ARGUMENT, "direction is null");
  if (!params)
    return fail(NTP_ERROR_INVALID_ARGUMENT, "params is null");
  if (batch > 0 && !x)
    return fail(NTP_ERROR_INVALID_ARGUMENT,
                "x is null but batch is " + std::to_string(batch));
  if (batch > 0 && !out)
    return fail(NTP_ERROR_INVALID_ARGUMENT, std::string(outName) +
                                                " is null but batch is " +
                                                std::to_string(batch));
  if (!bufferCounts(k, batch, counts))
    return fail(NTP_ERROR_INVALID_ARGUMENT,
                "batch " + std::to_string(batch) +
                    " is too large: the buffer sizes overflow int64_t");
  return NTP_OK;
}

int checkForwardArgs(const ntp_kernel *k, const void *x, const void *direction,
                     const void *params, const void *out, int64_t batch,
                     BufferCounts &counts, const char *outName) {
  if (!k)
    return fail(NTP_ERROR_INVALID_ARGUMENT, "kernel is null");
  if (k->manifest.isPartials())
    return fail(NTP_ERROR_INVALID_ARGUMENT,
                "this kernel computes partial derivatives (compiled with "
                "--partials or --operator), not a jet: call ntp_partials");
  return checkBuffers(*k, x, direction, params, out, batch, counts, outName);
}

int runForward(ntp_kernel &k, const void *x, const void *direction,
               const void *params, void *out, int64_t batch, void *stream) {
  if (batch == 0)
    return NTP_OK;
  if (k.cuda) {
    std::string reason;
    if (ntp_status status = cudaLaunchForward(k.cuda, x, direction, params, out,
                                              batch, stream, reason))
      return fail(status, reason);
    return NTP_OK;
  }
  ForwardCall call{k.forwardTiles, x, direction, params, out, nullptr, batch};
  return runOnThreadsWithStack(
      k, k.tiles(batch), kMinTilesPerThread,
      k.isF64() ? runForwardTiles<double> : runForwardTiles<float>, &call);
}

int backward(ntp_kernel *k, const char *function, const void *x,
             const void *direction, const void *params, const void *cotangent,
             void *paramsGrad, void *xGrad, int64_t batch, void *stream) {
  if (int status = checkBackwardArgs(k, function, x, direction, params,
                                     cotangent, paramsGrad, xGrad, batch))
    return status;
  if (k->cuda)
    return cudaBackward(*k, x, direction, params, cotangent, paramsGrad, xGrad,
                        batch, stream);
  return runBackward(*k, k->backwardTiles, x, direction, params, cotangent,
                     paramsGrad, xGrad, nullptr, batch);
}

int workspaceSize(const ntp_kernel *k, int64_t batch, int64_t &bytes) {
  if (!k)
    return fail(NTP_ERROR_INVALID_ARGUMENT, "kernel is null");
  if (batch < 0)
    return fail(NTP_ERROR_INVALID_ARGUMENT, "batch is " +
                                                std::to_string(batch) +
                                                "; it must be non-negative");
  if (!k->manifest.backward)
    return fail(NTP_ERROR_UNSUPPORTED,
                "this kernel was compiled without the reverse-mode entry "
                "points, so it has no workspace");
  if (k->cuda) {
    int64_t elements = 0;
    if (int status = cudaWorkspaceElements(*k, batch, elements))
      return status;
    if (__builtin_mul_overflow(elements, k->elementBytes(), &bytes) ||
        __builtin_add_overflow(bytes, kWorkspaceHeaderBytes, &bytes))
      return fail(NTP_ERROR_INVALID_ARGUMENT,
                  "batch " + std::to_string(batch) +
                      " is too large: the workspace size overflows int64_t");
    return NTP_OK;
  }
  int64_t count = 0;
  if (__builtin_mul_overflow(k->tiles(batch), k->manifest.workspacePerTile,
                             &count) ||
      __builtin_mul_overflow(count, k->elementBytes(), &bytes) ||
      __builtin_add_overflow(bytes, kWorkspaceHeaderBytes, &bytes))
    return fail(NTP_ERROR_INVALID_ARGUMENT,
                "batch " + std::to_string(batch) +
                    " is too large: the workspace size overflows int64_t");
  return NTP_OK;
}

int forwardSave(ntp_kernel *k, const void *x, const void *direction,
                const void *params, void *out, void *workspace,
                int64_t workspaceBytes, int64_t batch, void *stream) {
  BufferCounts counts;
  if (k && k->manifest.isPartials())
    return fail(NTP_ERROR_INVALID_ARGUMENT,
                "ntp_forward_save is for jet kernels; this kernel computes "
                "partial derivatives (compiled with --partials or "
                "--operator): call ntp_partials_save");
  if (int status =
          checkForwardArgs(k, x, direction, params, out, batch, counts))
    return status;
  return forwardSaveChecked(k, "ntp_forward_save", x, direction, params, out,
                            workspace, workspaceBytes, batch, stream);
}

int forwardSaveChecked(ntp_kernel *k, const char *function, const void *x,
                       const void *direction, const void *params, void *out,
                       void *workspace, int64_t workspaceBytes, int64_t batch,
                       void *stream) {
  if (!k->manifest.backward)
    return fail(NTP_ERROR_UNSUPPORTED,
                std::string(function) +
                    " is not supported by this kernel: it was compiled "
                    "without the reverse-mode entry points");
  if (batch == 0 && !workspace)
    return NTP_OK; // nothing to save, nowhere to save it
  if (int status = checkWorkspace(k, workspace, workspaceBytes, batch))
    return status;
  if (k->cuda) {
    recordSaved(*k, workspace, x, direction, params, batch);
    if (batch == 0)
      return NTP_OK;
    std::string reason;
    if (ntp_status status = cudaLaunchForwardSave(k->cuda, x, direction, params,
                                                  out, workspaceJets(workspace),
                                                  batch, stream, reason))
      return fail(status, reason);
    return NTP_OK;
  }
  writeWorkspaceHeader(*k, workspace, x, direction, params, batch);
  if (batch == 0)
    return NTP_OK;
  ForwardCall call{k->forwardSaveTiles,      x,    direction, params, out,
                   workspaceJets(workspace), batch};
  return runOnThreadsWithStack(*k, k->tiles(batch), kMinTilesPerThread,
                               k->isF64() ? runForwardSaveTiles<double>
                                          : runForwardSaveTiles<float>,
                               &call);
}

int backwardSaved(ntp_kernel *k, const char *function, const void *x,
                  const void *direction, const void *params,
                  const void *cotangent, void *paramsGrad, void *xGrad,
                  const void *workspace, int64_t workspaceBytes, int64_t batch,
                  void *stream) {
  if (int status = checkBackwardArgs(k, function, x, direction, params,
                                     cotangent, paramsGrad, xGrad, batch))
    return status;
  return backwardSavedChecked(k, x, direction, params, cotangent, paramsGrad,
                              xGrad, workspace, workspaceBytes, batch, stream);
}

int backwardSavedChecked(ntp_kernel *k, const void *x, const void *direction,
                         const void *params, const void *cotangent,
                         void *paramsGrad, void *xGrad, const void *workspace,
                         int64_t workspaceBytes, int64_t batch, void *stream) {
  if (k->cuda) {
    if (batch == 0 && !workspace)
      return cudaBackward(*k, x, direction, params, cotangent, paramsGrad,
                          xGrad, 0, stream);
    if (int status = checkWorkspace(k, workspace, workspaceBytes, batch))
      return status;
    if (int status = checkSaved(*k, workspace, x, direction, params, batch))
      return status;
    CudaBackwardCall call =
        cudaCall(*k, x, direction, params, cotangent, paramsGrad, xGrad,
                 const_cast<void *>(workspaceJets(workspace)), batch);
    std::string reason;
    if (ntp_status status =
            cudaLaunchBackwardSaved(k->cuda, call, stream, reason))
      return fail(status, reason);
    return NTP_OK;
  }
  if (batch == 0 && !workspace)
    return runBackward(*k, k->backwardSavedTiles, x, direction, params,
                       cotangent, paramsGrad, xGrad, nullptr, 0);
  if (int status = checkWorkspace(k, workspace, workspaceBytes, batch))
    return status;
  if (int status =
          checkWorkspaceHeader(*k, workspace, x, direction, params, batch))
    return status;
  return runBackward(*k, k->backwardSavedTiles, x, direction, params, cotangent,
                     paramsGrad, xGrad, workspaceJets(workspace), batch);
}

} // namespace ntp::rt
