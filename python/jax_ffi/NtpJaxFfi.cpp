//===- NtpJaxFfi.cpp - ntp kernels as XLA FFI custom calls ----------------===//
//
// The handlers behind ntp.jax: typed XLA FFI custom calls (api_version 4)
// that run a kernel through the runtime's C API. The kernel is an
// ntp_kernel* passed as the int64 attribute `kernel`: ntp.jax compiles it
// once per spec (JIT) and keeps it for the process, so the pointer outlives
// every executable that embeds it.
//
// Every buffer carries a leading instance axis I: x [I, N, d], direction
// [I, d], params [I, P], out [I, n+1, N, q]. One instance is one kernel call
// over N points; ntp.jax folds a vmapped axis of x into N when params and
// direction are shared (one call), and uses I > 1 only when they differ per
// instance (or for the reverse mode, whose parameter gradient is a sum over
// the call's whole batch, so per-instance gradients need a call each).
//
//   ntp_jet       (CPU, CUDA) x, v, p -> out                     ntp_forward
//   ntp_jet_save  (CPU, CUDA) x, v, p -> out, ws [I, W] (u8) ntp_forward_save
//   ntp_jet_bwd   (CPU, CUDA) x, v, p, c, ws -> pg [I, P|0], ntp_backward_saved
//                             xg [I, N|0, d], vg [I, d|0 (CUDA: 0)]
//   ntp_jet_bwd_recompute (CPU) x, v, p, c -> pg, xg, vg    ntp_backward_full
//
// Partials kernels (CPU and CUDA, every target), R requests,
// out[i][r][b][j] = D^{alpha_r} f_j(x[i][b]) as ntp_partials:
//   ntp_partials      x [I, N, d], p [I, P] -> out [I, R, N, q]  ntp_partials
//   ntp_partials_save x, p -> out, ws [I, W] (u8)           ntp_partials_save
//   ntp_partials_bwd  x, p, c, ws -> pg [I, P|0], xg [I, N|0, d]
//                                                  ntp_partials_backward_saved
//   ntp_partials_bwd_recompute  x, p, c -> pg, xg      ntp_partials_backward
//     (no workspace: each CPU tile recomputes its rays on the stack, a GPU
//     call takes stream-ordered scratch; ntp.jax takes it on the CPU when
//     the save's workspace would be large, see python/ntp/jax/)
//
// A gradient output with a zero-sized axis is not wanted and not computed.
// vg, the gradient with respect to the direction, follows from symmetry of
// the derivative tensors: out_k = D^k f(x)[v,..,v], so d out_k / dv =
// k D^k f(x)[v^(k-1), .] = k d out_(k-1) / dx; it is the x gradient of the
// cotangent shifted down one order and scaled by k, summed over the points.
//
// Threads: a CPU call runs on ntp's own pool (ntp_set_num_threads,
// $NTP_NUM_THREADS), the XLA thread that called the handler taking part; the
// runtime moves tiles off a thread whose stack is too small for them.
//
// Floating-point mode: XLA runs its CPU programs with denormals flushed
// (MXCSR FTZ and DAZ; FPCR FZ on AArch64), ntp's worker threads do not. A
// call's tiles would then round differently by the thread that ran them, and
// differ from the same kernel called through the C API. Every CPU handler
// runs its calls with IEEE denormals (IeeeDenormals) and restores XLA's mode.
//
// CUDA: every handler launches on XLA's stream (ntp_forward_async,
// ntp_forward_save_async, ntp_backward_saved_async; for partials kernels
// ntp_partials_async, ntp_partials_save_async,
// ntp_partials_backward_saved_async, ntp_partials_backward_async) and
// returns once queued.
// The workspace is device memory that XLA allocates as the save's second
// result; its size is checked here against ntp_workspace_size (the async
// calls take no size). The direction gradient of a CUDA kernel is not
// computed here (it needs a host-side sum over the points): ntp.jax gets it
// from a second backward call with the shifted cotangent, summed by XLA.
//
//===----------------------------------------------------------------------===//
#include "ntp/runtime.h"

#include "xla/ffi/api/ffi.h"

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <xmmintrin.h>
#endif

namespace ffi = xla::ffi;

namespace {

/// Clears flush-to-zero and denormals-are-zero on this thread for its
/// lifetime and restores the caller's mode after (see the banner).
class IeeeDenormals {
public:
#if defined(__x86_64__) || defined(__i386__)
  IeeeDenormals() : saved(_mm_getcsr()) {
    constexpr unsigned kFtz = 1u << 15, kDaz = 1u << 6;
    if (saved & (kFtz | kDaz))
      _mm_setcsr(saved & ~(kFtz | kDaz));
  }
  ~IeeeDenormals() {
    if (_mm_getcsr() != saved)
      _mm_setcsr(saved);
  }

private:
  unsigned saved;
#elif defined(__aarch64__)
  IeeeDenormals() {
    __asm__ volatile("mrs %0, fpcr" : "=r"(saved));
    constexpr uint64_t kFz = uint64_t(1) << 24;
    if (saved & kFz)
      __asm__ volatile("msr fpcr, %0" ::"r"(saved & ~kFz));
  }
  ~IeeeDenormals() { __asm__ volatile("msr fpcr, %0" ::"r"(saved)); }

private:
  uint64_t saved;
#else
  IeeeDenormals() = default;
#endif
  IeeeDenormals(const IeeeDenormals &) = delete;
  IeeeDenormals &operator=(const IeeeDenormals &) = delete;
};

ffi::Error invalid(std::string message) {
  return ffi::Error::InvalidArgument("ntp: " + std::move(message));
}

// A failed runtime call, with its sentence.
ffi::Error failed(ntp_status status) {
  const char *msg = ntp_last_error();
  std::string text = std::string("ntp: ") + (msg && *msg ? msg : "failed");
  switch (status) {
  case NTP_ERROR_INVALID_ARGUMENT:
    return ffi::Error(ffi::ErrorCode::kInvalidArgument, text);
  case NTP_ERROR_UNSUPPORTED:
    return ffi::Error(ffi::ErrorCode::kUnimplemented, text);
  default:
    return ffi::Error(ffi::ErrorCode::kInternal, text);
  }
}

template <typename Dims> std::string shapeText(const Dims &dims) {
  std::string s = "[";
  for (size_t i = 0; i < dims.size(); ++i)
    s += (i ? ", " : "") +
         (dims[i] < 0 ? std::string("*") : std::to_string(dims[i]));
  return s + "]";
}

std::string typeName(ffi::DataType t) {
  switch (t) {
  case ffi::DataType::F32:
    return "float32";
  case ffi::DataType::F64:
    return "float64";
  case ffi::DataType::U8:
    return "uint8";
  default:
    return "XLA type " + std::to_string(static_cast<int>(t));
  }
}

// The kernel and its shapes, checked against the buffers of one call.
struct Call {
  ntp_kernel *k = nullptr;
  ntp_kernel_info info{};
  int64_t instances = 0, points = 0;
  size_t elem = 0; // bytes per value

  ffi::Error init(int64_t handle, ntp_device device) {
    k = reinterpret_cast<ntp_kernel *>(handle);
    if (!k)
      return invalid("the kernel attribute is null");
    if (ntp_status s = ntp_kernel_info_get(k, &info))
      return failed(s);
    if (info.device != device)
      return invalid(std::string("a ") +
                     (info.device == NTP_DEVICE_CUDA ? "CUDA" : "CPU") +
                     " kernel was called from the " +
                     (device == NTP_DEVICE_CUDA ? "CUDA" : "CPU") + " handler");
    elem = info.dtype == NTP_DTYPE_F64 ? 8 : 4;
    return ffi::Error::Success();
  }

  ffi::DataType dtype() const {
    return info.dtype == NTP_DTYPE_F64 ? ffi::DataType::F64
                                       : ffi::DataType::F32;
  }

  // `b` must have the kernel's dtype (or u8 for a workspace) and `shape`,
  // where -1 matches anything (and is then read back through `shape`).
  ffi::Error expect(const char *name, const ffi::AnyBuffer &b,
                    std::vector<int64_t> shape, bool bytes = false) {
    ffi::DataType want = bytes ? ffi::DataType::U8 : dtype();
    if (b.element_type() != want)
      return invalid(std::string(name) + " is " + typeName(b.element_type()) +
                     " but the kernel takes " + typeName(want));
    auto dims = b.dimensions();
    bool ok = dims.size() == shape.size();
    for (size_t i = 0; ok && i < shape.size(); ++i)
      ok = shape[i] < 0 || shape[i] == dims[i];
    if (!ok)
      return invalid(std::string(name) + " has shape " + shapeText(dims) +
                     ", expected " + shapeText(shape) + " for this kernel");
    return ffi::Error::Success();
  }

  // x [I, N, d], v [I, d], p [I, P]; sets instances and points.
  ffi::Error inputs(const ffi::AnyBuffer &x, const ffi::AnyBuffer &v,
                    const ffi::AnyBuffer &p) {
    if (auto e = expect("x", x, {-1, -1, info.input_dim}); e.failure())
      return e;
    instances = x.dimensions()[0];
    points = x.dimensions()[1];
    if (auto e = expect("direction", v, {instances, info.input_dim});
        e.failure())
      return e;
    return expect("params", p, {instances, info.num_params});
  }

  std::vector<int64_t> outShape() const {
    return {instances, info.order + 1, points, info.output_dim};
  }

  // Which gradients a reverse-mode call computes: each output is wanted
  // (full shape) or not (a zero-sized axis).
  struct Wanted {
    bool p = false, x = false, v = false;
  };

  // Checks the gradient outputs pg [I, P|0], xg [I, N|0, d] and, when
  // given (jets), vg [I, d|0], and says which are wanted.
  ffi::Error gradientOutputs(const ffi::AnyBuffer &pg, const ffi::AnyBuffer &xg,
                             const ffi::AnyBuffer *vg, Wanted &want) {
    const int64_t d = info.input_dim, np = info.num_params;
    want.p = pg.dimensions().size() == 2 && pg.dimensions()[1] != 0;
    want.x = xg.dimensions().size() == 3 && xg.dimensions()[1] != 0;
    want.v = vg && vg->dimensions().size() == 2 && vg->dimensions()[1] != 0;
    if (auto e = expect("params_grad", pg, {instances, want.p ? np : 0});
        e.failure())
      return e;
    if (auto e = expect("x_grad", xg, {instances, want.x ? points : 0, d});
        e.failure())
      return e;
    if (vg)
      return expect("direction_grad", *vg, {instances, want.v ? d : 0});
    return ffi::Error::Success();
  }

  // Pointer to instance i of a buffer holding `per` values (bytes if raw).
  static void *at(void *base, int64_t i, int64_t per, size_t width) {
    return static_cast<char *>(base) + static_cast<size_t>(i * per) * width;
  }
  static const void *at(const void *base, int64_t i, int64_t per,
                        size_t width) {
    return static_cast<const char *>(base) +
           static_cast<size_t>(i * per) * width;
  }
};

/// The CPU and CUDA handler functions of one implementation
/// Impl(device, stream, kernel, buffers...): the CPU one runs with IEEE
/// denormals and no stream, the CUDA one on XLA's stream.
template <auto Impl> struct OnPlatform;
template <typename... Buffers,
          ffi::Error (*Impl)(ntp_device, void *, int64_t, Buffers...)>
struct OnPlatform<Impl> {
  static ffi::Error cpu(int64_t kernel, Buffers... buffers) {
    IeeeDenormals mode;
    return Impl(NTP_DEVICE_CPU, nullptr, kernel, buffers...);
  }
  static ffi::Error cuda(void *stream, int64_t kernel, Buffers... buffers) {
    return Impl(NTP_DEVICE_CUDA, stream, kernel, buffers...);
  }
};

ffi::Error jetImpl(ntp_device device, void *stream, int64_t kernel,
                   ffi::AnyBuffer x, ffi::AnyBuffer v, ffi::AnyBuffer p,
                   ffi::Result<ffi::AnyBuffer> out) {
  Call c;
  if (auto e = c.init(kernel, device); e.failure())
    return e;
  if (auto e = c.inputs(x, v, p); e.failure())
    return e;
  if (auto e = c.expect("out", *out, c.outShape()); e.failure())
    return e;
  const int64_t d = c.info.input_dim, np = c.info.num_params;
  const int64_t outPer = (c.info.order + 1) * c.points * c.info.output_dim;
  for (int64_t i = 0; i < c.instances; ++i) {
    const void *xi = Call::at(x.untyped_data(), i, c.points * d, c.elem);
    const void *vi = Call::at(v.untyped_data(), i, d, c.elem);
    const void *pi = Call::at(p.untyped_data(), i, np, c.elem);
    void *oi = Call::at(out->untyped_data(), i, outPer, c.elem);
    ntp_status s =
        device == NTP_DEVICE_CUDA
            ? ntp_forward_async(c.k, xi, vi, pi, oi, c.points, stream)
            : ntp_forward(c.k, xi, vi, pi, oi, c.points);
    if (s != NTP_OK)
      return failed(s);
  }
  return ffi::Error::Success();
}

// The workspace's bytes per instance, checked against what the kernel needs
// for `points` (the CUDA calls take no size; the CPU ones check it again).
ffi::Error checkWorkspace(const Call &c, const ffi::AnyBuffer &ws) {
  int64_t need = 0;
  if (ntp_status s = ntp_workspace_size(c.k, c.points, &need))
    return failed(s);
  if (ws.dimensions()[1] < need)
    return invalid("the workspace holds " + std::to_string(ws.dimensions()[1]) +
                   " bytes but " + std::to_string(c.points) + " points need " +
                   std::to_string(need));
  return ffi::Error::Success();
}

ffi::Error jetSaveImpl(ntp_device device, void *stream, int64_t kernel,
                       ffi::AnyBuffer x, ffi::AnyBuffer v, ffi::AnyBuffer p,
                       ffi::Result<ffi::AnyBuffer> out,
                       ffi::Result<ffi::AnyBuffer> ws) {
  Call c;
  if (auto e = c.init(kernel, device); e.failure())
    return e;
  if (auto e = c.inputs(x, v, p); e.failure())
    return e;
  if (auto e = c.expect("out", *out, c.outShape()); e.failure())
    return e;
  if (auto e = c.expect("workspace", *ws, {c.instances, -1}, true); e.failure())
    return e;
  if (auto e = checkWorkspace(c, *ws); e.failure())
    return e;
  const int64_t d = c.info.input_dim, np = c.info.num_params;
  const int64_t outPer = (c.info.order + 1) * c.points * c.info.output_dim;
  const int64_t wsBytes = ws->dimensions()[1];
  for (int64_t i = 0; i < c.instances; ++i) {
    const void *xi = Call::at(x.untyped_data(), i, c.points * d, c.elem);
    const void *vi = Call::at(v.untyped_data(), i, d, c.elem);
    const void *pi = Call::at(p.untyped_data(), i, np, c.elem);
    void *oi = Call::at(out->untyped_data(), i, outPer, c.elem);
    void *wi = Call::at(ws->untyped_data(), i, wsBytes, 1);
    ntp_status s =
        device == NTP_DEVICE_CUDA
            ? ntp_forward_save_async(c.k, xi, vi, pi, oi, wi, c.points, stream)
            : ntp_forward_save_checked(c.k, xi, vi, pi, oi, wi, wsBytes,
                                       c.points);
    if (s != NTP_OK)
      return failed(s);
  }
  return ffi::Error::Success();
}

// vg[j] = sum_b xg'[b, j], xg' the x gradient of c'[k-1] = k c[k] (from the
// workspace, or recomputed when `ws` is null).
template <typename T>
ffi::Error directionGrad(const Call &c, const void *x, const void *v,
                         const void *p, const void *cot, const void *ws,
                         int64_t wsBytes, T *vg) {
  const int64_t n = c.info.order, N = c.points, q = c.info.output_dim,
                d = c.info.input_dim;
  const T *ct = static_cast<const T *>(cot);
  std::vector<T> shifted(static_cast<size_t>((n + 1) * N * q), T(0));
  for (int64_t k = 1; k <= n; ++k)
    for (int64_t j = 0; j < N * q; ++j)
      shifted[(k - 1) * N * q + j] = T(k) * ct[k * N * q + j];
  std::vector<T> xg(static_cast<size_t>(N * d));
  if (ntp_status s =
          ws ? ntp_backward_saved_checked(c.k, x, v, p, shifted.data(), nullptr,
                                          xg.data(), ws, wsBytes, N)
             : ntp_backward_full(c.k, x, v, p, shifted.data(), nullptr,
                                 xg.data(), N))
    return failed(s);
  for (int64_t j = 0; j < d; ++j)
    vg[j] = T(0);
  for (int64_t b = 0; b < N; ++b)
    for (int64_t j = 0; j < d; ++j)
      vg[j] += xg[b * d + j];
  return ffi::Error::Success();
}

// The jet reverse mode from the save's workspace `ws` (ntp_backward_saved)
// or, with ws null, recomputing (ntp_backward_full: each tile recomputes its
// jets on the stack; CPU only), for calls whose save would need a large
// workspace (see python/ntp/jax/, RECOMPUTE_ABOVE_BYTES).
ffi::Error jetBwdImpl(ntp_device device, void *stream, int64_t kernel,
                      ffi::AnyBuffer x, ffi::AnyBuffer v, ffi::AnyBuffer p,
                      ffi::AnyBuffer cot, const ffi::AnyBuffer *ws,
                      ffi::Result<ffi::AnyBuffer> pg,
                      ffi::Result<ffi::AnyBuffer> xg,
                      ffi::Result<ffi::AnyBuffer> vg) {
  Call c;
  if (auto e = c.init(kernel, device); e.failure())
    return e;
  if (auto e = c.inputs(x, v, p); e.failure())
    return e;
  if (auto e = c.expect("cotangent", cot, c.outShape()); e.failure())
    return e;
  if (ws)
    if (auto e = c.expect("workspace", *ws, {c.instances, -1}, true);
        e.failure())
      return e;
  const int64_t d = c.info.input_dim, np = c.info.num_params;
  Call::Wanted want;
  if (auto e = c.gradientOutputs(*pg, *xg, &*vg, want); e.failure())
    return e;
  const bool wantP = want.p, wantX = want.x, wantV = want.v;
  const bool cuda = device == NTP_DEVICE_CUDA;
  if (cuda && wantV)
    return invalid("the CUDA backward handler does not compute the direction "
                   "gradient (ntp.jax derives it from the x gradient of the "
                   "shifted cotangent)");
  if (cuda && c.points == 0)
    return invalid("the CUDA backward handler was given no points (ntp.jax "
                   "returns zero gradients for an empty batch itself)");
  if (ws)
    if (auto e = checkWorkspace(c, *ws); e.failure())
      return e;
  const int64_t outPer = (c.info.order + 1) * c.points * c.info.output_dim;
  const int64_t wsBytes = ws ? ws->dimensions()[1] : 0;
  for (int64_t i = 0; i < c.instances; ++i) {
    const void *xi = Call::at(x.untyped_data(), i, c.points * d, c.elem);
    const void *vi = Call::at(v.untyped_data(), i, d, c.elem);
    const void *pi = Call::at(p.untyped_data(), i, np, c.elem);
    const void *ci = Call::at(cot.untyped_data(), i, outPer, c.elem);
    const void *wi = ws ? Call::at(ws->untyped_data(), i, wsBytes, 1) : nullptr;
    void *pgi = wantP ? Call::at(pg->untyped_data(), i, np, c.elem) : nullptr;
    void *xgi =
        wantX ? Call::at(xg->untyped_data(), i, c.points * d, c.elem) : nullptr;
    if (c.points == 0) { // an empty sum: zero gradients, nothing to run
      if (pgi)
        std::memset(pgi, 0, static_cast<size_t>(np) * c.elem);
      if (wantV)
        std::memset(Call::at(vg->untyped_data(), i, d, c.elem), 0,
                    static_cast<size_t>(d) * c.elem);
      continue;
    }
    if (pgi || xgi) {
      ntp_status s;
      if (!wi)
        s = ntp_backward_full(c.k, xi, vi, pi, ci, pgi, xgi, c.points);
      else if (cuda)
        s = ntp_backward_saved_async(c.k, xi, vi, pi, ci, pgi, xgi, wi,
                                     c.points, stream);
      else
        s = ntp_backward_saved_checked(c.k, xi, vi, pi, ci, pgi, xgi, wi,
                                       wsBytes, c.points);
      if (s != NTP_OK)
        return failed(s);
    }
    if (wantV) {
      void *vgi = Call::at(vg->untyped_data(), i, d, c.elem);
      ffi::Error e = c.info.dtype == NTP_DTYPE_F64
                         ? directionGrad(c, xi, vi, pi, ci, wi, wsBytes,
                                         static_cast<double *>(vgi))
                         : directionGrad(c, xi, vi, pi, ci, wi, wsBytes,
                                         static_cast<float *>(vgi));
      if (e.failure())
        return e;
    }
  }
  return ffi::Error::Success();
}

ffi::Error jetBwdSavedImpl(ntp_device device, void *stream, int64_t kernel,
                           ffi::AnyBuffer x, ffi::AnyBuffer v, ffi::AnyBuffer p,
                           ffi::AnyBuffer cot, ffi::AnyBuffer ws,
                           ffi::Result<ffi::AnyBuffer> pg,
                           ffi::Result<ffi::AnyBuffer> xg,
                           ffi::Result<ffi::AnyBuffer> vg) {
  return jetBwdImpl(device, stream, kernel, x, v, p, cot, &ws, pg, xg, vg);
}

ffi::Error jetBwdRecomputeImpl(ntp_device device, void *stream, int64_t kernel,
                               ffi::AnyBuffer x, ffi::AnyBuffer v,
                               ffi::AnyBuffer p, ffi::AnyBuffer cot,
                               ffi::Result<ffi::AnyBuffer> pg,
                               ffi::Result<ffi::AnyBuffer> xg,
                               ffi::Result<ffi::AnyBuffer> vg) {
  return jetBwdImpl(device, stream, kernel, x, v, p, cot, nullptr, pg, xg, vg);
}

//===----------------------------------------------------------------------===//
// Partials kernels
//===----------------------------------------------------------------------===//

// A partials kernel's call: x [I, N, d], p [I, P]; `requests` is R.
struct PartialsCall : Call {
  int32_t requests = 0;

  ffi::Error init(int64_t handle, ntp_device device) {
    if (auto e = Call::init(handle, device); e.failure())
      return e;
    if (ntp_status s = ntp_kernel_partials_get(k, nullptr, 0, &requests))
      return failed(s);
    if (requests == 0)
      return invalid("a jet kernel was called from a partials handler");
    return ffi::Error::Success();
  }

  ffi::Error inputs(const ffi::AnyBuffer &x, const ffi::AnyBuffer &p) {
    if (auto e = expect("x", x, {-1, -1, info.input_dim}); e.failure())
      return e;
    instances = x.dimensions()[0];
    points = x.dimensions()[1];
    return expect("params", p, {instances, info.num_params});
  }

  std::vector<int64_t> outShape() const {
    return {instances, requests, points, info.output_dim};
  }
  int64_t outPer() const { return requests * points * info.output_dim; }
};

ffi::Error partialsImpl(ntp_device device, void *stream, int64_t kernel,
                        ffi::AnyBuffer x, ffi::AnyBuffer p,
                        ffi::Result<ffi::AnyBuffer> out) {
  PartialsCall c;
  if (auto e = c.init(kernel, device); e.failure())
    return e;
  if (auto e = c.inputs(x, p); e.failure())
    return e;
  if (auto e = c.expect("out", *out, c.outShape()); e.failure())
    return e;
  const int64_t d = c.info.input_dim, np = c.info.num_params;
  for (int64_t i = 0; i < c.instances; ++i) {
    const void *xi = Call::at(x.untyped_data(), i, c.points * d, c.elem);
    const void *pi = Call::at(p.untyped_data(), i, np, c.elem);
    void *oi = Call::at(out->untyped_data(), i, c.outPer(), c.elem);
    ntp_status s = device == NTP_DEVICE_CUDA
                       ? ntp_partials_async(c.k, xi, pi, oi, c.points, stream)
                       : ntp_partials(c.k, xi, pi, oi, c.points);
    if (s != NTP_OK)
      return failed(s);
  }
  return ffi::Error::Success();
}

ffi::Error partialsSaveImpl(ntp_device device, void *stream, int64_t kernel,
                            ffi::AnyBuffer x, ffi::AnyBuffer p,
                            ffi::Result<ffi::AnyBuffer> out,
                            ffi::Result<ffi::AnyBuffer> ws) {
  PartialsCall c;
  if (auto e = c.init(kernel, device); e.failure())
    return e;
  if (auto e = c.inputs(x, p); e.failure())
    return e;
  if (auto e = c.expect("out", *out, c.outShape()); e.failure())
    return e;
  if (auto e = c.expect("workspace", *ws, {c.instances, -1}, true); e.failure())
    return e;
  if (auto e = checkWorkspace(c, *ws); e.failure())
    return e;
  const int64_t d = c.info.input_dim, np = c.info.num_params;
  const int64_t wsBytes = ws->dimensions()[1];
  for (int64_t i = 0; i < c.instances; ++i) {
    const void *xi = Call::at(x.untyped_data(), i, c.points * d, c.elem);
    const void *pi = Call::at(p.untyped_data(), i, np, c.elem);
    void *oi = Call::at(out->untyped_data(), i, c.outPer(), c.elem);
    void *wi = Call::at(ws->untyped_data(), i, wsBytes, 1);
    ntp_status s =
        device == NTP_DEVICE_CUDA
            ? ntp_partials_save_async(c.k, xi, pi, oi, wi, c.points, stream)
            : ntp_partials_save(c.k, xi, pi, oi, wi, c.points);
    if (s != NTP_OK)
      return failed(s);
  }
  return ffi::Error::Success();
}

// The reverse mode from the save's workspace `ws` (ntp_partials_backward_saved)
// or, with ws null, recomputing (ntp_partials_backward: each CPU tile
// recomputes its rays' jets on its stack). For wide requests the save's
// workspace is tens of MB per call (d = 8, 64-wide layers, batch 1024, f64:
// 77 MB) that XLA allocates, pages in and frees at every training step, and
// that the backward streams back from memory; recomputing is then cheaper.
// On a GPU the recomputing call takes its scratch workspace stream-ordered
// on XLA's stream, and an empty batch's zero parameter gradient is written
// by the runtime's reduction over no rows (the buffers are device memory).
ffi::Error partialsBwdImpl(ntp_device device, void *stream, int64_t kernel,
                           ffi::AnyBuffer x, ffi::AnyBuffer p,
                           ffi::AnyBuffer cot, const ffi::AnyBuffer *ws,
                           ffi::Result<ffi::AnyBuffer> pg,
                           ffi::Result<ffi::AnyBuffer> xg) {
  PartialsCall c;
  if (auto e = c.init(kernel, device); e.failure())
    return e;
  if (auto e = c.inputs(x, p); e.failure())
    return e;
  if (auto e = c.expect("cotangent", cot, c.outShape()); e.failure())
    return e;
  if (ws) {
    if (auto e = c.expect("workspace", *ws, {c.instances, -1}, true);
        e.failure())
      return e;
    if (auto e = checkWorkspace(c, *ws); e.failure())
      return e;
  }
  const int64_t d = c.info.input_dim, np = c.info.num_params;
  Call::Wanted want;
  if (auto e = c.gradientOutputs(*pg, *xg, nullptr, want); e.failure())
    return e;
  const bool cuda = device == NTP_DEVICE_CUDA;
  const int64_t wsBytes = ws ? ws->dimensions()[1] : 0;
  for (int64_t i = 0; i < c.instances; ++i) {
    const void *xi = Call::at(x.untyped_data(), i, c.points * d, c.elem);
    const void *pi = Call::at(p.untyped_data(), i, np, c.elem);
    const void *ci = Call::at(cot.untyped_data(), i, c.outPer(), c.elem);
    void *pgi = want.p ? Call::at(pg->untyped_data(), i, np, c.elem) : nullptr;
    void *xgi = want.x ? Call::at(xg->untyped_data(), i, c.points * d, c.elem)
                       : nullptr;
    if (!pgi && !xgi)
      continue; // nothing wanted
    ntp_status s = NTP_OK;
    if (c.points == 0 && !cuda) { // an empty sum: zero gradients
      if (pgi)
        std::memset(pgi, 0, static_cast<size_t>(np) * c.elem);
    } else if (c.points == 0 || !ws) {
      s = cuda ? ntp_partials_backward_async(c.k, xi, pi, ci, pgi, xgi,
                                             c.points, stream)
               : ntp_partials_backward(c.k, xi, pi, ci, pgi, xgi, c.points);
    } else {
      const void *wi = Call::at(ws->untyped_data(), i, wsBytes, 1);
      s = cuda ? ntp_partials_backward_saved_async(c.k, xi, pi, ci, pgi, xgi,
                                                   wi, c.points, stream)
               : ntp_partials_backward_saved(c.k, xi, pi, ci, pgi, xgi, wi,
                                             c.points);
    }
    if (s != NTP_OK)
      return failed(s);
  }
  return ffi::Error::Success();
}

ffi::Error partialsBwdSavedImpl(ntp_device device, void *stream, int64_t kernel,
                                ffi::AnyBuffer x, ffi::AnyBuffer p,
                                ffi::AnyBuffer cot, ffi::AnyBuffer ws,
                                ffi::Result<ffi::AnyBuffer> pg,
                                ffi::Result<ffi::AnyBuffer> xg) {
  return partialsBwdImpl(device, stream, kernel, x, p, cot, &ws, pg, xg);
}

ffi::Error partialsBwdRecomputeImpl(ntp_device device, void *stream,
                                    int64_t kernel, ffi::AnyBuffer x,
                                    ffi::AnyBuffer p, ffi::AnyBuffer cot,
                                    ffi::Result<ffi::AnyBuffer> pg,
                                    ffi::Result<ffi::AnyBuffer> xg) {
  return partialsBwdImpl(device, stream, kernel, x, p, cot, nullptr, pg, xg);
}

/// `b` with `Args` buffer arguments and `Rets` buffer results appended,
/// bound to `fn`. (A Binding cannot be returned, only chained.)
template <int Args, int Rets, typename B, typename Fn>
auto bindBuffers(B &&b, Fn fn) {
  if constexpr (Args > 0)
    return bindBuffers<Args - 1, Rets>(
        std::move(b).template Arg<ffi::AnyBuffer>(), fn);
  else if constexpr (Rets > 0)
    return bindBuffers<0, Rets - 1>(std::move(b).template Ret<ffi::AnyBuffer>(),
                                    fn);
  else
    return std::move(b).To(fn);
}

/// The handlers of OnPlatform's functions: the CPU one binds (kernel,
/// buffers...), the CUDA one (XLA's stream, kernel, buffers...).
template <auto Impl, int Args, int Rets> auto *cpuHandler() {
  return bindBuffers<Args, Rets>(ffi::Ffi::Bind().Attr<int64_t>("kernel"),
                                 OnPlatform<Impl>::cpu)
      .release();
}
template <auto Impl, int Args, int Rets> auto *cudaHandler() {
  return bindBuffers<Args, Rets>(
             ffi::Ffi::Bind().Ctx<ffi::PlatformStream<void *>>().Attr<int64_t>(
                 "kernel"),
             OnPlatform<Impl>::cuda)
      .release();
}

} // namespace

// The handler symbols ntp.jax registers (jax.ffi.pycapsule of each), the
// only ones the library exports: NAME##Cpu and, with CUDA, NAME##Cuda, for
// IMPL with ARGS buffer arguments and RETS buffer results (what
// XLA_FFI_DEFINE_HANDLER_SYMBOL defines, with the bindings built above).
#define NTP_DEFINE_HANDLER(symbol, make)                                       \
  extern "C" __attribute__((visibility("default"))) XLA_FFI_Error *symbol(     \
      XLA_FFI_CallFrame *call_frame) {                                         \
    static auto *handler = make;                                               \
    return handler->Call(call_frame);                                          \
  }
#define NTP_DEFINE_CPU_HANDLER(name, impl, args, rets)                         \
  NTP_DEFINE_HANDLER(name##Cpu, (cpuHandler<impl, args, rets>()))
#define NTP_DEFINE_HANDLERS(name, impl, args, rets)                            \
  NTP_DEFINE_CPU_HANDLER(name, impl, args, rets)                               \
  NTP_DEFINE_HANDLER(name##Cuda, (cudaHandler<impl, args, rets>()))

// Jets: x, v, p [, c, ws] -> ...
NTP_DEFINE_HANDLERS(NtpJaxJet, jetImpl, 3, 1)
NTP_DEFINE_HANDLERS(NtpJaxJetSave, jetSaveImpl, 3, 2)
NTP_DEFINE_HANDLERS(NtpJaxJetBwd, jetBwdSavedImpl, 5, 3)
NTP_DEFINE_CPU_HANDLER(NtpJaxJetBwdRecompute, jetBwdRecomputeImpl, 4, 3)
// Partials: x, p [, c, ws] -> ...
NTP_DEFINE_HANDLERS(NtpJaxPartials, partialsImpl, 2, 1)
NTP_DEFINE_HANDLERS(NtpJaxPartialsSave, partialsSaveImpl, 2, 2)
NTP_DEFINE_HANDLERS(NtpJaxPartialsBwd, partialsBwdSavedImpl, 4, 2)
NTP_DEFINE_HANDLERS(NtpJaxPartialsBwdRecompute, partialsBwdRecomputeImpl, 3, 2)
