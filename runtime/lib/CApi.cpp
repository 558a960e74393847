//===- CApi.cpp - The exported C functions of runtime.h -------------------===//
//
// Thin: each function catches exceptions (guarded), converts the status and
// calls the file that owns the concern (Loader, Dispatch, ThreadPool). The
// error channel behind ntp_last_error lives here too.
//
//===----------------------------------------------------------------------===//
#include "ntp/runtime.h"

#include "Cuda.h"
#include "Dispatch.h"
#include "Kernel.h"
#include "Loader.h"
#include "ThreadPool.h"

#include <algorithm>
#include <cstring>
#include <dlfcn.h>
#include <unistd.h>

#define NTP_EXPORT extern "C" __attribute__((visibility("default")))

using namespace ntp::rt;

ntp_kernel::~ntp_kernel() {
  if (handle)
    ::dlclose(handle);
  if (privateCopyFd >= 0)
    ::close(privateCopyFd);
  if (release)
    release(releaseArg);
  cudaUnload(cuda);
}

std::string &ntp::rt::lastError() {
  thread_local std::string message;
  return message;
}

int ntp::rt::fail(ntp_status status, std::string message) {
  lastError() = std::move(message);
  return status;
}

namespace {

/// guarded() as an ntp_status.
template <class Fn> ntp_status run(Fn &&body) noexcept {
  return static_cast<ntp_status>(guarded(std::forward<Fn>(body)));
}

std::string countMismatch(const char *buffer, int64_t given, int64_t expected) {
  return std::string(buffer) + " has " + std::to_string(given) +
         " elements but the kernel expects " + std::to_string(expected);
}

} // namespace

NTP_EXPORT ntp_status ntp_kernel_load(const char *path, ntp_kernel **out) {
  return run([&] { return loadKernelFile(path, out); });
}

NTP_EXPORT ntp_status ntp_kernel_load_memory(const void *data, int64_t size,
                                             ntp_kernel **out) {
  return run([&] { return loadKernelMemory(data, size, out); });
}

NTP_EXPORT ntp_status ntp_cuda_device_arch(int32_t device, int32_t *sm) {
  return run([&]() -> int {
    if (!sm)
      return fail(NTP_ERROR_INVALID_ARGUMENT, "sm is null");
    *sm = 0;
    if (device < 0)
      return fail(NTP_ERROR_INVALID_ARGUMENT,
                  "device is " + std::to_string(device) + "; it must be >= 0");
    std::string reason;
    if (ntp_status status = cudaDeviceArch(device, *sm, reason))
      return fail(status, reason);
    return NTP_OK;
  });
}

NTP_EXPORT ntp_status ntp_kernel_create(const char *manifest,
                                        void *forward_tiles,
                                        void (*release)(void *),
                                        void *release_arg, ntp_kernel **out) {
  return run([&] {
    ntp_kernel_entry_points entry = {forward_tiles, nullptr, nullptr, nullptr};
    return createKernel(manifest, entry, release, release_arg, out);
  });
}

NTP_EXPORT ntp_status ntp_kernel_create_with(
    const char *manifest, const ntp_kernel_entry_points *entry,
    void (*release)(void *), void *release_arg, ntp_kernel **out) {
  return run([&]() -> int {
    if (!entry) {
      if (out)
        *out = nullptr;
      return fail(NTP_ERROR_INVALID_ARGUMENT, "entry points are null");
    }
    return createKernel(manifest, *entry, release, release_arg, out);
  });
}

NTP_EXPORT ntp_status ntp_kernel_info_get(const ntp_kernel *k,
                                          ntp_kernel_info *info) {
  return run([&]() -> int {
    if (!k)
      return fail(NTP_ERROR_INVALID_ARGUMENT, "kernel is null");
    if (!info)
      return fail(NTP_ERROR_INVALID_ARGUMENT, "info is null");
    const ntp::artifact::KernelManifest &m = k->manifest;
    info->order = m.order;
    info->input_dim = static_cast<int32_t>(m.inputDim());
    info->output_dim = static_cast<int32_t>(m.outputDim());
    info->num_params = m.numParams;
    info->dtype = static_cast<int32_t>(m.dtype);
    info->device = static_cast<int32_t>(m.device);
    return NTP_OK;
  });
}

NTP_EXPORT ntp_status ntp_forward(ntp_kernel *k, const void *x,
                                  const void *direction, const void *params,
                                  void *out, int64_t batch) {
  return run([&]() -> int {
    BufferCounts counts;
    if (int status =
            checkForwardArgs(k, x, direction, params, out, batch, counts))
      return status;
    return runForward(*k, x, direction, params, out, batch);
  });
}

NTP_EXPORT ntp_status ntp_partials(ntp_kernel *k, const void *x,
                                   const void *params, void *out,
                                   int64_t batch) {
  return run([&]() -> int {
    return partialsForward(k, "ntp_partials", x, params, out, batch);
  });
}

NTP_EXPORT ntp_status ntp_partials_backward(ntp_kernel *k, const void *x,
                                            const void *params,
                                            const void *out_cotangent,
                                            void *params_grad, void *x_grad,
                                            int64_t batch) {
  return run([&] {
    return partialsBackward(k, "ntp_partials_backward", x, params,
                            out_cotangent, params_grad, x_grad, batch);
  });
}

NTP_EXPORT ntp_status ntp_partials_save(ntp_kernel *k, const void *x,
                                        const void *params, void *out,
                                        void *workspace, int64_t batch) {
  return run([&] {
    return partialsSave(k, "ntp_partials_save", x, params, out, workspace, -1,
                        batch);
  });
}

NTP_EXPORT ntp_status ntp_partials_backward_saved(
    ntp_kernel *k, const void *x, const void *params, const void *out_cotangent,
    void *params_grad, void *x_grad, const void *workspace, int64_t batch) {
  return run([&] {
    return partialsBackwardSaved(k, "ntp_partials_backward_saved", x, params,
                                 out_cotangent, params_grad, x_grad, workspace,
                                 -1, batch);
  });
}

NTP_EXPORT ntp_status ntp_partials_save_checked(ntp_kernel *k, const void *x,
                                                const void *params, void *out,
                                                void *workspace,
                                                int64_t workspace_bytes,
                                                int64_t batch) {
  return run([&]() -> int {
    if (workspace_bytes < 0)
      return fail(NTP_ERROR_INVALID_ARGUMENT,
                  "workspace_bytes is " + std::to_string(workspace_bytes) +
                      "; it must be non-negative");
    return partialsSave(k, "ntp_partials_save_checked", x, params, out,
                        workspace, workspace_bytes, batch);
  });
}

NTP_EXPORT ntp_status ntp_partials_backward_saved_checked(
    ntp_kernel *k, const void *x, const void *params, const void *out_cotangent,
    void *params_grad, void *x_grad, const void *workspace,
    int64_t workspace_bytes, int64_t batch) {
  return run([&]() -> int {
    if (workspace_bytes < 0)
      return fail(NTP_ERROR_INVALID_ARGUMENT,
                  "workspace_bytes is " + std::to_string(workspace_bytes) +
                      "; it must be non-negative");
    return partialsBackwardSaved(k, "ntp_partials_backward_saved_checked", x,
                                 params, out_cotangent, params_grad, x_grad,
                                 workspace, workspace_bytes, batch);
  });
}

// The partials calls on a CUDA stream, in the pattern of the jet calls'
// _async variants: a CPU kernel refuses a non-null stream and runs the
// synchronous call with a null one.
NTP_EXPORT ntp_status ntp_partials_async(ntp_kernel *k, const void *x,
                                         const void *params, void *out,
                                         int64_t batch, void *stream) {
  return run([&]() -> int {
    if (int status = refuseCpuStream(k, stream))
      return status;
    return partialsForward(k, "ntp_partials_async", x, params, out, batch,
                           stream);
  });
}

NTP_EXPORT ntp_status ntp_partials_backward_async(
    ntp_kernel *k, const void *x, const void *params, const void *out_cotangent,
    void *params_grad, void *x_grad, int64_t batch, void *stream) {
  return run([&]() -> int {
    if (int status = refuseCpuStream(k, stream))
      return status;
    return partialsBackward(k, "ntp_partials_backward_async", x, params,
                            out_cotangent, params_grad, x_grad, batch, stream);
  });
}

NTP_EXPORT ntp_status ntp_partials_save_async(ntp_kernel *k, const void *x,
                                              const void *params, void *out,
                                              void *workspace, int64_t batch,
                                              void *stream) {
  return run([&]() -> int {
    if (int status = refuseCpuStream(k, stream))
      return status;
    return partialsSave(k, "ntp_partials_save_async", x, params, out, workspace,
                        -1, batch, stream);
  });
}

NTP_EXPORT ntp_status ntp_partials_backward_saved_async(
    ntp_kernel *k, const void *x, const void *params, const void *out_cotangent,
    void *params_grad, void *x_grad, const void *workspace, int64_t batch,
    void *stream) {
  return run([&]() -> int {
    if (int status = refuseCpuStream(k, stream))
      return status;
    return partialsBackwardSaved(k, "ntp_partials_backward_saved_async", x,
                                 params, out_cotangent, params_grad, x_grad,
                                 workspace, -1, batch, stream);
  });
}

NTP_EXPORT ntp_status ntp_kernel_partials_get(const ntp_kernel *k,
                                              int32_t *alphas, int32_t capacity,
                                              int32_t *count) {
  return run([&]() -> int {
    if (!k)
      return fail(NTP_ERROR_INVALID_ARGUMENT, "kernel is null");
    if (!count)
      return fail(NTP_ERROR_INVALID_ARGUMENT, "count is null");
    const auto &rows = k->manifest.partials;
    int64_t needed = static_cast<int64_t>(rows.size()) * k->manifest.inputDim();
    if (alphas && capacity < needed)
      return fail(NTP_ERROR_INVALID_ARGUMENT,
                  "capacity is " + std::to_string(capacity) +
                      " int32 entries but the " + std::to_string(rows.size()) +
                      " requests need " + std::to_string(needed));
    if (alphas)
      for (size_t p = 0; p < rows.size(); ++p)
        std::copy(rows[p].begin(), rows[p].end(),
                  alphas + p * static_cast<size_t>(k->manifest.inputDim()));
    *count = static_cast<int32_t>(rows.size());
    return NTP_OK;
  });
}

NTP_EXPORT ntp_status ntp_forward_async(ntp_kernel *k, const void *x,
                                        const void *direction,
                                        const void *params, void *out,
                                        int64_t batch, void *stream) {
  return run([&]() -> int {
    BufferCounts counts;
    if (int status =
            checkForwardArgs(k, x, direction, params, out, batch, counts))
      return status;
    if (!k->cuda && stream)
      return fail(NTP_ERROR_INVALID_ARGUMENT,
                  "a stream was given for a CPU kernel");
    return runForward(*k, x, direction, params, out, batch, stream);
  });
}

NTP_EXPORT ntp_status ntp_forward_checked(
    ntp_kernel *k, const void *x, int64_t x_count, const void *direction,
    int64_t direction_count, const void *params, int64_t params_count,
    void *out, int64_t out_count, int64_t batch) {
  return run([&]() -> int {
    BufferCounts counts;
    if (int status =
            checkForwardArgs(k, x, direction, params, out, batch, counts))
      return status;
    if (x_count != counts.x)
      return fail(NTP_ERROR_INVALID_ARGUMENT,
                  countMismatch("x", x_count, counts.x));
    if (direction_count != counts.direction)
      return fail(
          NTP_ERROR_INVALID_ARGUMENT,
          countMismatch("direction", direction_count, counts.direction));
    if (params_count != counts.params)
      return fail(NTP_ERROR_INVALID_ARGUMENT,
                  countMismatch("params", params_count, counts.params));
    if (out_count != counts.out)
      return fail(NTP_ERROR_INVALID_ARGUMENT,
                  countMismatch("out", out_count, counts.out));
    return runForward(*k, x, direction, params, out, batch);
  });
}

NTP_EXPORT ntp_status ntp_backward(ntp_kernel *k, const void *x,
                                   const void *direction, const void *params,
                                   const void *out_cotangent, void *params_grad,
                                   int64_t batch) {
  return run([&]() -> int {
    if (!params_grad)
      return fail(NTP_ERROR_INVALID_ARGUMENT, "params_grad is null");
    return backward(k, "ntp_backward", x, direction, params, out_cotangent,
                    params_grad, nullptr, batch);
  });
}

NTP_EXPORT ntp_status ntp_backward_full(
    ntp_kernel *k, const void *x, const void *direction, const void *params,
    const void *out_cotangent, void *params_grad, void *x_grad, int64_t batch) {
  return run([&] {
    return backward(k, "ntp_backward_full", x, direction, params, out_cotangent,
                    params_grad, x_grad, batch);
  });
}

NTP_EXPORT ntp_status ntp_workspace_size(const ntp_kernel *k, int64_t batch,
                                         int64_t *bytes) {
  return run([&]() -> int {
    if (!bytes)
      return fail(NTP_ERROR_INVALID_ARGUMENT, "bytes is null");
    return workspaceSize(k, batch, *bytes);
  });
}

NTP_EXPORT ntp_status ntp_forward_save(ntp_kernel *k, const void *x,
                                       const void *direction,
                                       const void *params, void *out,
                                       void *workspace, int64_t batch) {
  return run([&] {
    return forwardSave(k, x, direction, params, out, workspace, -1, batch);
  });
}

NTP_EXPORT ntp_status ntp_forward_save_checked(
    ntp_kernel *k, const void *x, const void *direction, const void *params,
    void *out, void *workspace, int64_t workspace_bytes, int64_t batch) {
  return run([&]() -> int {
    if (workspace_bytes < 0)
      return fail(NTP_ERROR_INVALID_ARGUMENT,
                  "workspace_bytes is " + std::to_string(workspace_bytes) +
                      "; it must be non-negative");
    return forwardSave(k, x, direction, params, out, workspace, workspace_bytes,
                       batch);
  });
}

NTP_EXPORT ntp_status ntp_backward_saved(ntp_kernel *k, const void *x,
                                         const void *direction,
                                         const void *params,
                                         const void *out_cotangent,
                                         void *params_grad, void *x_grad,
                                         const void *workspace, int64_t batch) {
  return run([&] {
    return backwardSaved(k, "ntp_backward_saved", x, direction, params,
                         out_cotangent, params_grad, x_grad, workspace, -1,
                         batch);
  });
}

NTP_EXPORT ntp_status ntp_backward_saved_checked(
    ntp_kernel *k, const void *x, const void *direction, const void *params,
    const void *out_cotangent, void *params_grad, void *x_grad,
    const void *workspace, int64_t workspace_bytes, int64_t batch) {
  return run([&]() -> int {
    if (workspace_bytes < 0)
      return fail(NTP_ERROR_INVALID_ARGUMENT,
                  "workspace_bytes is " + std::to_string(workspace_bytes) +
                      "; it must be non-negative");
    return backwardSaved(k, "ntp_backward_saved_checked", x, direction, params,
                         out_cotangent, params_grad, x_grad, workspace,
                         workspace_bytes, batch);
  });
}

NTP_EXPORT ntp_status ntp_backward_async(
    ntp_kernel *k, const void *x, const void *direction, const void *params,
    const void *out_cotangent, void *params_grad, int64_t batch, void *stream) {
  return run([&]() -> int {
    if (!params_grad)
      return fail(NTP_ERROR_INVALID_ARGUMENT, "params_grad is null");
    if (int status = refuseCpuStream(k, stream))
      return status;
    return backward(k, "ntp_backward_async", x, direction, params,
                    out_cotangent, params_grad, nullptr, batch, stream);
  });
}

NTP_EXPORT ntp_status ntp_backward_full_async(ntp_kernel *k, const void *x,
                                              const void *direction,
                                              const void *params,
                                              const void *out_cotangent,
                                              void *params_grad, void *x_grad,
                                              int64_t batch, void *stream) {
  return run([&]() -> int {
    if (int status = refuseCpuStream(k, stream))
      return status;
    return backward(k, "ntp_backward_full_async", x, direction, params,
                    out_cotangent, params_grad, x_grad, batch, stream);
  });
}

NTP_EXPORT ntp_status ntp_forward_save_async(ntp_kernel *k, const void *x,
                                             const void *direction,
                                             const void *params, void *out,
                                             void *workspace, int64_t batch,
                                             void *stream) {
  return run([&]() -> int {
    if (int status = refuseCpuStream(k, stream))
      return status;
    return forwardSave(k, x, direction, params, out, workspace, -1, batch,
                       stream);
  });
}

NTP_EXPORT ntp_status ntp_backward_saved_async(
    ntp_kernel *k, const void *x, const void *direction, const void *params,
    const void *out_cotangent, void *params_grad, void *x_grad,
    const void *workspace, int64_t batch, void *stream) {
  return run([&]() -> int {
    if (int status = refuseCpuStream(k, stream))
      return status;
    return backwardSaved(k, "ntp_backward_saved_async", x, direction, params,
                         out_cotangent, params_grad, x_grad, workspace, -1,
                         batch, stream);
  });
}

NTP_EXPORT void ntp_kernel_free(ntp_kernel *k) { delete k; }

NTP_EXPORT const char *ntp_last_error(void) { return lastError().c_str(); }

NTP_EXPORT void ntp_set_last_error(const char *message) {
  try {
    lastError() = message ? message : "";
  } catch (...) {
    lastError().clear();
  }
}

NTP_EXPORT ntp_status ntp_kernel_layers(const ntp_kernel *k, int32_t *widths,
                                        int32_t capacity, int32_t *count) {
  return run([&]() -> int {
    if (!k)
      return fail(NTP_ERROR_INVALID_ARGUMENT, "kernel is null");
    if (!count)
      return fail(NTP_ERROR_INVALID_ARGUMENT, "count is null");
    if (capacity < 0)
      return fail(NTP_ERROR_INVALID_ARGUMENT, "capacity is " +
                                                  std::to_string(capacity) +
                                                  "; it must be non-negative");
    if (capacity > 0 && !widths)
      return fail(NTP_ERROR_INVALID_ARGUMENT,
                  "widths is null but capacity is " + std::to_string(capacity));
    const std::vector<int64_t> &layers = k->manifest.layers;
    *count = static_cast<int32_t>(layers.size());
    for (size_t i = 0; i < layers.size() && i < size_t(capacity); ++i)
      widths[i] = static_cast<int32_t>(layers[i]);
    return NTP_OK;
  });
}

NTP_EXPORT const char *ntp_kernel_activation(const ntp_kernel *k) {
  if (!k) {
    fail(NTP_ERROR_INVALID_ARGUMENT, "kernel is null");
    return nullptr;
  }
  return k->manifest.activation.c_str();
}

NTP_EXPORT const char *ntp_kernel_target_cpu(const ntp_kernel *k) {
  if (!k) {
    fail(NTP_ERROR_INVALID_ARGUMENT, "kernel is null");
    return nullptr;
  }
  if (k->manifest.device != ntp::artifact::Device::Cpu) {
    fail(NTP_ERROR_INVALID_ARGUMENT, "the kernel is not a CPU kernel");
    return nullptr;
  }
  return k->manifest.targetCpu.c_str();
}

NTP_EXPORT const char *ntp_kernel_partials_lowering(const ntp_kernel *k,
                                                    int32_t reverse) {
  if (!k) {
    fail(NTP_ERROR_INVALID_ARGUMENT, "kernel is null");
    return nullptr;
  }
  if (reverse != 0 && reverse != 1) {
    fail(NTP_ERROR_INVALID_ARGUMENT,
         "reverse must be 0 (the forward's lowering) or 1 (the reverse "
         "mode's), got " +
             std::to_string(reverse));
    return nullptr;
  }
  return reverse ? k->manifest.partialsReverseLowering.c_str()
                 : k->manifest.partialsLowering.c_str();
}

NTP_EXPORT ntp_status ntp_kernel_description(const ntp_kernel *k, char *text,
                                             int64_t capacity,
                                             int64_t *length) {
  return run([&]() -> int {
    if (!k)
      return fail(NTP_ERROR_INVALID_ARGUMENT, "kernel is null");
    if (!length)
      return fail(NTP_ERROR_INVALID_ARGUMENT, "length is null");
    if (capacity < 0)
      return fail(NTP_ERROR_INVALID_ARGUMENT, "capacity is " +
                                                  std::to_string(capacity) +
                                                  "; it must be non-negative");
    if (capacity > 0 && !text)
      return fail(NTP_ERROR_INVALID_ARGUMENT,
                  "text is null but capacity is " + std::to_string(capacity));
    const std::string description = ntp::artifact::mlpDescription(k->manifest);
    *length = static_cast<int64_t>(description.size());
    if (capacity > 0) {
      size_t n = std::min(description.size(), size_t(capacity - 1));
      std::memcpy(text, description.data(), n);
      text[n] = '\0';
    }
    return NTP_OK;
  });
}

NTP_EXPORT ntp_status ntp_set_num_threads(int32_t n) {
  return run([&]() -> int {
    if (n > ThreadPool::kMaxThreads)
      return fail(NTP_ERROR_INVALID_ARGUMENT,
                  "n is " + std::to_string(n) + "; at most " +
                      std::to_string(ThreadPool::kMaxThreads) +
                      " threads are supported");
    ThreadPool::instance().setNumThreads(n);
    return NTP_OK;
  });
}
