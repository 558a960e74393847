//===- runtime.hpp - ntp runtime C++ wrapper --------------------*- C++ -*-===//
//
// Header-only C++17 wrapper over the C API in runtime.h: RAII kernels and
// exceptions instead of status codes.
//
//   ntp::Kernel k = ntp::Kernel::load("pinn.so");
//   std::vector<float> out;
//   k.forward(x, v, params, out); // batch = x.size() / input_dim
//
//===----------------------------------------------------------------------===//
#ifndef NTP_RUNTIME_HPP
#define NTP_RUNTIME_HPP

#include "ntp/runtime.h"

#include <cstddef>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace ntp {

/// A failed runtime call: the message of ntp_last_error() and its status.
class Error : public std::runtime_error {
public:
  Error(ntp_status status, const std::string &message)
      : std::runtime_error(message), status_(status) {}
  ntp_status status() const noexcept { return status_; }

private:
  ntp_status status_;
};

namespace detail {
inline void check(int status) {
  if (status != NTP_OK)
    throw Error(static_cast<ntp_status>(status), ntp_last_error());
}

inline int64_t toCount(size_t count, const char *buffer) {
  if (count > static_cast<size_t>(std::numeric_limits<int64_t>::max()))
    throw Error(NTP_ERROR_INVALID_ARGUMENT,
                std::string(buffer) + " has too many elements");
  return static_cast<int64_t>(count);
}
} // namespace detail

/// Sets the number of CPU threads kernels use; n <= 0 restores the default.
inline void setNumThreads(int32_t n) { detail::check(ntp_set_num_threads(n)); }

/// An owned, loaded kernel artifact. Movable, not copyable.
class Kernel {
public:
  static Kernel load(const std::string &path) {
    ntp_kernel *k = nullptr;
    detail::check(ntp_kernel_load(path.c_str(), &k));
    return adopt(k);
  }

  /// A CUDA artifact held in memory (see ntp_kernel_load_memory).
  static Kernel loadMemory(const void *data, size_t size) {
    ntp_kernel *k = nullptr;
    detail::check(ntp_kernel_load_memory(data, static_cast<int64_t>(size), &k));
    return adopt(k);
  }

  /// Takes ownership of `k` (from ntp_kernel_create, ntp_jit_compile, ...);
  /// frees it and throws if it is null or its info cannot be read.
  static Kernel adopt(ntp_kernel *k) {
    Kernel kernel(k); // owns k before anything else can throw
    detail::check(ntp_kernel_info_get(k, &kernel.info_));
    return kernel;
  }

  /// An empty kernel (get() is null), e.g. to be assigned later.
  Kernel() noexcept = default;

  Kernel(Kernel &&other) noexcept
      : kernel_(std::exchange(other.kernel_, nullptr)),
        info_(std::exchange(other.info_, {})) {}
  Kernel &operator=(Kernel &&other) noexcept {
    if (this != &other) {
      ntp_kernel_free(kernel_);
      kernel_ = std::exchange(other.kernel_, nullptr);
      info_ = std::exchange(other.info_, {});
    }
    return *this;
  }
  Kernel(const Kernel &) = delete;
  Kernel &operator=(const Kernel &) = delete;
  ~Kernel() { ntp_kernel_free(kernel_); }

  /// The C handle, for calls this wrapper does not cover; still owned here.
  ntp_kernel *get() const noexcept { return kernel_; }

  const ntp_kernel_info &info() const noexcept { return info_; }

  std::vector<int32_t> layers() const {
    int32_t count = 0;
    detail::check(ntp_kernel_layers(kernel_, nullptr, 0, &count));
    std::vector<int32_t> widths(static_cast<size_t>(count));
    detail::check(ntp_kernel_layers(kernel_, widths.data(), count, &count));
    return widths;
  }

  std::string activation() const {
    const char *name = ntp_kernel_activation(kernel_);
    if (!name)
      detail::check(NTP_ERROR_INVALID_ARGUMENT);
    return name;
  }

  /// The network as the canonical one-line IR (ntp_kernel_description).
  std::string description() const {
    int64_t length = 0;
    detail::check(ntp_kernel_description(kernel_, nullptr, 0, &length));
    std::string text(static_cast<size_t>(length) + 1, '\0');
    detail::check(
        ntp_kernel_description(kernel_, text.data(), length + 1, &length));
    text.resize(static_cast<size_t>(length));
    return text;
  }

  /// How a partials kernel's forward (reverse = false) or reverse mode
  /// propagates its rays, as the compiler summarized its choice
  /// (ntp_kernel_partials_lowering); "" where none is recorded.
  std::string partialsLowering(bool reverse = false) const {
    const char *text = ntp_kernel_partials_lowering(kernel_, reverse ? 1 : 0);
    if (!text)
      detail::check(NTP_ERROR_INVALID_ARGUMENT);
    return text;
  }

  /// Computes the jet at `batch` points; counts are element counts. T must
  /// be the kernel's dtype (float for f32, double for f64).
  template <class T>
  void forward(const T *x, size_t x_count, const T *v, size_t v_count,
               const T *params, size_t params_count, T *out, size_t out_count,
               int64_t batch) {
    checkDtype<T>();
    detail::check(
        ntp_forward_checked(kernel_, x, detail::toCount(x_count, "x"), v,
                            detail::toCount(v_count, "direction"), params,
                            detail::toCount(params_count, "params"), out,
                            detail::toCount(out_count, "out"), batch));
  }

  /// As above with batch = x.size() / input_dim; resizes `out` to
  /// (order + 1) * batch * output_dim.
  template <class T>
  void forward(const std::vector<T> &x, const std::vector<T> &v,
               const std::vector<T> &params, std::vector<T> &out) {
    checkDtype<T>();
    size_t inputDim = static_cast<size_t>(info_.input_dim);
    if (kernel_ && x.size() % inputDim != 0)
      throw Error(NTP_ERROR_INVALID_ARGUMENT,
                  "x has " + std::to_string(x.size()) +
                      " elements, not a multiple of input_dim " +
                      std::to_string(inputDim));
    size_t batch = kernel_ ? x.size() / inputDim : 0;
    out.resize(static_cast<size_t>(info_.order + 1) * batch *
               static_cast<size_t>(info_.output_dim));
    forward(x.data(), x.size(), v.data(), v.size(), params.data(),
            params.size(), out.data(), out.size(), detail::toCount(batch, "x"));
  }

  /// A partials kernel's requests (ntp_kernel_partials_get): one row of
  /// input_dim entries per request; empty for a jet kernel.
  std::vector<std::vector<int32_t>> partialsRequests() const {
    int32_t count = 0;
    detail::check(ntp_kernel_partials_get(kernel_, nullptr, 0, &count));
    size_t d = static_cast<size_t>(info_.input_dim);
    std::vector<int32_t> flat(static_cast<size_t>(count) * d);
    detail::check(ntp_kernel_partials_get(
        kernel_, flat.data(), static_cast<int32_t>(flat.size()), &count));
    std::vector<std::vector<int32_t>> rows;
    for (size_t p = 0; p < static_cast<size_t>(count); ++p)
      rows.emplace_back(flat.begin() + p * d, flat.begin() + (p + 1) * d);
    return rows;
  }

  /// A partials kernel's out [P, batch, output_dim] at batch = x.size() /
  /// input_dim points (see ntp_partials); resizes `out`.
  template <class T>
  void partials(const std::vector<T> &x, const std::vector<T> &params,
                std::vector<T> &out) {
    checkDtype<T>();
    size_t inputDim = static_cast<size_t>(info_.input_dim);
    if (kernel_ && x.size() % inputDim != 0)
      throw Error(NTP_ERROR_INVALID_ARGUMENT,
                  "x has " + std::to_string(x.size()) +
                      " elements, not a multiple of input_dim " +
                      std::to_string(inputDim));
    if (kernel_ && params.size() != static_cast<size_t>(info_.num_params))
      throw Error(NTP_ERROR_INVALID_ARGUMENT,
                  "params has " + std::to_string(params.size()) +
                      " elements but the kernel has " +
                      std::to_string(info_.num_params) + " parameters");
    size_t batch = kernel_ ? x.size() / inputDim : 0;
    out.resize(partialsRequests().size() * batch *
               static_cast<size_t>(info_.output_dim));
    detail::check(ntp_partials(kernel_, x.data(), params.data(), out.data(),
                               detail::toCount(batch, "x")));
  }

  /// params_grad = J^T out_cotangent (see ntp_backward); T must be the
  /// kernel's dtype. Throws ntp::Error where the kernel has no backward.
  template <class T>
  void backward(const T *x, const T *v, const T *params, const T *out_cotangent,
                T *params_grad, int64_t batch) {
    checkDtype<T>();
    detail::check(
        ntp_backward(kernel_, x, v, params, out_cotangent, params_grad, batch));
  }

  /// Parameter gradient and gradient with respect to x (see
  /// ntp_backward_full); either output may be null.
  template <class T>
  void backward(const T *x, const T *v, const T *params, const T *out_cotangent,
                T *params_grad, T *x_grad, int64_t batch) {
    checkDtype<T>();
    detail::check(ntp_backward_full(kernel_, x, v, params, out_cotangent,
                                    params_grad, x_grad, batch));
  }

  /// Bytes of workspace that forwardSave/backwardSaved need for `batch`.
  int64_t workspaceBytes(int64_t batch) const {
    int64_t bytes = 0;
    detail::check(ntp_workspace_size(kernel_, batch, &bytes));
    return bytes;
  }

  /// The training path: a forward that keeps every layer's jet in
  /// `workspace` (workspaceBytes(batch) bytes), then the backward from it.
  template <class T>
  void forwardSave(const T *x, const T *v, const T *params, T *out,
                   void *workspace, int64_t batch) {
    checkDtype<T>();
    detail::check(
        ntp_forward_save(kernel_, x, v, params, out, workspace, batch));
  }
  template <class T>
  void backwardSaved(const T *x, const T *v, const T *params,
                     const T *out_cotangent, T *params_grad, T *x_grad,
                     const void *workspace, int64_t batch) {
    checkDtype<T>();
    detail::check(ntp_backward_saved(kernel_, x, v, params, out_cotangent,
                                     params_grad, x_grad, workspace, batch));
  }
  /// The same with the workspace's size in bytes, checked against batch.
  template <class T>
  void forwardSave(const T *x, const T *v, const T *params, T *out,
                   void *workspace, int64_t workspace_bytes, int64_t batch) {
    checkDtype<T>();
    detail::check(ntp_forward_save_checked(kernel_, x, v, params, out,
                                           workspace, workspace_bytes, batch));
  }
  template <class T>
  void backwardSaved(const T *x, const T *v, const T *params,
                     const T *out_cotangent, T *params_grad, T *x_grad,
                     const void *workspace, int64_t workspace_bytes,
                     int64_t batch) {
    checkDtype<T>();
    detail::check(ntp_backward_saved_checked(
        kernel_, x, v, params, out_cotangent, params_grad, x_grad, workspace,
        workspace_bytes, batch));
  }

  /// The reverse mode of a partials kernel (ntp_partials_backward): the
  /// gradients of sum out_cotangent * out ([P, batch, output_dim]) with
  /// respect to params and/or x (either output may be null, not both).
  template <class T>
  void partialsBackward(const T *x, const T *params, const T *out_cotangent,
                        T *params_grad, T *x_grad, int64_t batch) {
    checkDtype<T>();
    detail::check(ntp_partials_backward(kernel_, x, params, out_cotangent,
                                        params_grad, x_grad, batch));
  }
  /// The training path of a partials kernel: out as partials() computes it,
  /// every ray's jets kept in `workspace` (workspaceBytes(batch) bytes),
  /// then the gradients from it.
  template <class T>
  void partialsSave(const T *x, const T *params, T *out, void *workspace,
                    int64_t workspace_bytes, int64_t batch) {
    checkDtype<T>();
    detail::check(ntp_partials_save_checked(kernel_, x, params, out, workspace,
                                            workspace_bytes, batch));
  }
  template <class T>
  void partialsBackwardSaved(const T *x, const T *params,
                             const T *out_cotangent, T *params_grad, T *x_grad,
                             const void *workspace, int64_t workspace_bytes,
                             int64_t batch) {
    checkDtype<T>();
    detail::check(ntp_partials_backward_saved_checked(
        kernel_, x, params, out_cotangent, params_grad, x_grad, workspace,
        workspace_bytes, batch));
  }

private:
  explicit Kernel(ntp_kernel *k) noexcept : kernel_(k) {}

  template <class T> void checkDtype() const {
    static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>,
                  "ntp kernels compute in float or double");
    constexpr int32_t dtype =
        std::is_same_v<T, float> ? NTP_DTYPE_F32 : NTP_DTYPE_F64;
    if (kernel_ && info_.dtype != dtype)
      throw Error(NTP_ERROR_INVALID_ARGUMENT,
                  std::string("this kernel computes in ") +
                      (info_.dtype == NTP_DTYPE_F32 ? "f32" : "f64") +
                      " but forward was called with " +
                      (dtype == NTP_DTYPE_F32 ? "float" : "double") +
                      " buffers");
  }

  ntp_kernel *kernel_ = nullptr;
  ntp_kernel_info info_{};
};

} // namespace ntp

#endif // NTP_RUNTIME_HPP
