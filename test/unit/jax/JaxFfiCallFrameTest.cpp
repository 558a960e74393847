//===- JaxFfiCallFrameTest.cpp - ntp.jax's FFI handlers, called by hand ---===//
//
// The XLA FFI handlers of python/jax_ffi/NtpJaxFfi.cpp called the way XLA
// calls them, with hand-built XLA_FFI_CallFrames and a minimal XLA_FFI_Api
// (errors and the platform stream; JaxFfiCallFrame.h): the CPU handlers (jets
// and partials) on JIT-compiled kernels against direct runtime calls, the
// CUDA jet handlers (forward, save, backward) on the fake driver of
// test/unit/runtime (fixtures/fake_libcuda.c), which records the launches
// (the CUDA partials handlers: JaxFfiPartialsCudaTest.cpp).
// A CPU jaxlib has no CUDA platform to call that handler through, and this
// machine has no GPU: what a CUDA kernel computes under XLA is untested.
//
//===----------------------------------------------------------------------===//
#include "ntp/jit.h"
#include "ntp/runtime.h"

#include "../runtime/fixtures/fake_libcuda.h"
#include "JaxFfiCallFrame.h"

#include "xla/ffi/api/c_api.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <dlfcn.h>
#include <string>
#include <vector>

#if defined(__x86_64__)
#include <xmmintrin.h>
#endif

namespace {

using namespace ntp::jaxtest;

class JaxFfiTest : public HandlerTest {
protected:
  void SetUp() override {
    HandlerTest::SetUp();
    if (HasFatalFailure())
      return;
    handlers({{"NtpJaxJetCpu", &jetCpu},
              {"NtpJaxJetCuda", &jetCuda},
              {"NtpJaxJetSaveCpu", &saveCpu},
              {"NtpJaxJetBwdCpu", &bwdCpu},
              {"NtpJaxJetSaveCuda", &saveCuda},
              {"NtpJaxJetBwdCuda", &bwdCuda},
              {"NtpJaxPartialsCpu", &partialsCpu},
              {"NtpJaxJetBwdRecomputeCpu", &bwdRecomputeCpu}});
  }

  const int64_t P = 6 + 6 + 30 + 5 + 5 + 1;
  XLA_FFI_Handler *jetCpu = nullptr, *jetCuda = nullptr, *saveCpu = nullptr,
                  *bwdCpu = nullptr, *saveCuda = nullptr, *bwdCuda = nullptr,
                  *partialsCpu = nullptr, *bwdRecomputeCpu = nullptr;
};

std::vector<double> ramp(int64_t n, double scale, double shift) {
  std::vector<double> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i)
    v[i] = scale * std::sin(0.7 * double(i) + shift);
  return v;
}

TEST_F(JaxFfiTest, CpuHandlerEqualsTheRuntimeCallPerInstance) {
  ntp_kernel *k = compile(NTP_DEVICE_CPU, 3);
  ASSERT_NE(k, nullptr);
  const int64_t I = 2, N = 7, n1 = 4;
  auto x = ramp(I * N, 1.3, 0.1), v = std::vector<double>{1.0, -0.5};
  auto p = ramp(I * P, 0.8, 0.3);
  std::vector<double> out(I * n1 * N, -1.0);
  Frame f(&api, k);
  f.arg(F64, x.data(), {I, N, 1});
  f.arg(F64, v.data(), {I, 1});
  f.arg(F64, p.data(), {I, P});
  f.ret(F64, out.data(), {I, n1, N, 1});
  ASSERT_EQ(f.call(jetCpu), "");
  for (int64_t i = 0; i < I; ++i) {
    std::vector<double> ref(n1 * N);
    ASSERT_EQ(ntp_forward(k, x.data() + i * N, v.data() + i, p.data() + i * P,
                          ref.data(), N),
              NTP_OK);
    for (int64_t j = 0; j < n1 * N; ++j)
      EXPECT_EQ(out[i * n1 * N + j], ref[j]) << i << " " << j;
  }
}

TEST_F(JaxFfiTest, CpuSaveAndBackwardHandlersEqualTheRuntimeCalls) {
  ntp_kernel *k = compile(NTP_DEVICE_CPU, 3);
  ASSERT_NE(k, nullptr);
  const int64_t N = 9, n1 = 4;
  int64_t ws = 0;
  ASSERT_EQ(ntp_workspace_size(k, N, &ws), NTP_OK);
  auto x = ramp(N, 1.1, 0.2), p = ramp(P, 0.9, 0.5), c = ramp(n1 * N, 1, 2);
  std::vector<double> v{1.0}, out(n1 * N);
  std::vector<uint8_t> work(ws);
  Frame save(&api, k);
  save.arg(F64, x.data(), {1, N, 1});
  save.arg(F64, v.data(), {1, 1});
  save.arg(F64, p.data(), {1, P});
  save.ret(F64, out.data(), {1, n1, N, 1});
  save.ret(U8, work.data(), {1, ws});
  ASSERT_EQ(save.call(saveCpu), "");

  std::vector<double> pg(P), xg(N), vg(1);
  Frame bwd(&api, k);
  bwd.arg(F64, x.data(), {1, N, 1});
  bwd.arg(F64, v.data(), {1, 1});
  bwd.arg(F64, p.data(), {1, P});
  bwd.arg(F64, c.data(), {1, n1, N, 1});
  bwd.arg(U8, work.data(), {1, ws});
  bwd.ret(F64, pg.data(), {1, P});
  bwd.ret(F64, xg.data(), {1, N, 1});
  bwd.ret(F64, vg.data(), {1, 1});
  ASSERT_EQ(bwd.call(bwdCpu), "");

  std::vector<double> pgRef(P), xgRef(N);
  ASSERT_EQ(ntp_backward_full(k, x.data(), v.data(), p.data(), c.data(),
                              pgRef.data(), xgRef.data(), N),
            NTP_OK);
  for (int64_t j = 0; j < P; ++j)
    EXPECT_NEAR(pg[j], pgRef[j], 1e-13 * (1 + std::abs(pgRef[j])));
  for (int64_t j = 0; j < N; ++j)
    EXPECT_NEAR(xg[j], xgRef[j], 1e-13 * (1 + std::abs(xgRef[j])));
  // The direction's gradient: out_k is homogeneous of degree k in v, so
  // v . dL/dv = sum_k k <c_k, out_k> (Euler's theorem).
  double euler = 0;
  for (int64_t kk = 0; kk < n1; ++kk)
    for (int64_t b = 0; b < N; ++b)
      euler += double(kk) * c[kk * N + b] * out[kk * N + b];
  EXPECT_NEAR(vg[0] * v[0], euler, 1e-12 * std::abs(euler));
}

TEST_F(JaxFfiTest, CpuHandlersRefuseBuffersTheKernelCannotTake) {
  ntp_kernel *k = compile(NTP_DEVICE_CPU, 2);
  ASSERT_NE(k, nullptr);
  std::vector<double> x(4), v(1), p(P), out(3 * 4);
  std::vector<float> x32(4);
  auto frame = [&](ntp_kernel *kk, XLA_FFI_DataType xt, void *xd,
                   std::vector<int64_t> pdims) {
    Frame f(&api, kk);
    f.arg(xt, xd, {1, 4, 1});
    f.arg(F64, v.data(), {1, 1});
    f.arg(F64, p.data(), std::move(pdims));
    f.ret(F64, out.data(), {1, 3, 4, 1});
    return f.call(jetCpu);
  };
  EXPECT_EQ(frame(k, F32, x32.data(), {1, P}),
            "ntp: x is float32 but the kernel takes float64");
  EXPECT_EQ(frame(k, F64, x.data(), {1, P - 1}),
            "ntp: params has shape [1, 52], expected [1, 53] for this kernel");
  EXPECT_EQ(frame(nullptr, F64, x.data(), {1, P}),
            "ntp: the kernel attribute is null");
  // A handler given the wrong number of buffers: the binding refuses it.
  Frame f(&api, k);
  f.arg(F64, x.data(), {1, 4, 1});
  EXPECT_NE(f.call(jetCpu), "");
}

TEST_F(JaxFfiTest, CudaHandlerLaunchesOnXlasStreamThroughTheFakeDriver) {
  ntp_kernel *k = compile(NTP_DEVICE_CUDA, 3);
  ASSERT_NE(k, nullptr);
  // Device pointers: the fake driver never dereferences them.
  char *X = reinterpret_cast<char *>(0x7f0000001000),
       *V = reinterpret_cast<char *>(0x7f0000002000),
       *Pp = reinterpret_cast<char *>(0x7f0000003000),
       *O = reinterpret_cast<char *>(0x7f0000004000);
  const int64_t I = 2, N = 300, n1 = 4;
  gStream = reinterpret_cast<void *>(0x5000);
  Frame f(&api, k);
  f.arg(F64, X, {I, N, 1});
  f.arg(F64, V, {I, 1});
  f.arg(F64, Pp, {I, P});
  f.ret(F64, O, {I, n1, N, 1});
  int before = state->launches;
  ASSERT_EQ(f.call(jetCuda), "");
  EXPECT_EQ(state->launches - before, 2); // one per instance
  const fake_cuda_launch &l = state->last_launch;
  EXPECT_EQ(l.stream, gStream);
  EXPECT_EQ(l.x, X + N * 8);
  EXPECT_EQ(l.direction, V + 8);
  EXPECT_EQ(l.params, Pp + P * 8);
  EXPECT_EQ(l.out, O + n1 * N * 8);
  EXPECT_EQ(l.batch, N);
  // A CUDA kernel through the CPU handler, and the other way round.
  Frame g(&api, k);
  g.arg(F64, X, {1, N, 1});
  g.arg(F64, V, {1, 1});
  g.arg(F64, Pp, {1, P});
  g.ret(F64, O, {1, n1, N, 1});
  EXPECT_EQ(g.call(jetCpu),
            "ntp: a CUDA kernel was called from the CPU handler");
  ntp_kernel *cpu = compile(NTP_DEVICE_CPU, 3);
  ASSERT_NE(cpu, nullptr);
  Frame h(&api, cpu);
  std::vector<double> x(N), v(1), p(P), out(n1 * N);
  h.arg(F64, x.data(), {1, N, 1});
  h.arg(F64, v.data(), {1, 1});
  h.arg(F64, p.data(), {1, P});
  h.ret(F64, out.data(), {1, n1, N, 1});
  EXPECT_EQ(h.call(jetCuda),
            "ntp: a CPU kernel was called from the CUDA handler");
}

TEST_F(JaxFfiTest, CudaSaveAndBackwardHandlersLaunchOnXlasStream) {
  ntp_kernel *k = compile(NTP_DEVICE_CUDA, 3); // with the reverse mode
  ASSERT_NE(k, nullptr);
  const int64_t I = 2, N = 300, n1 = 4;
  int64_t ws = 0;
  ASSERT_EQ(ntp_workspace_size(k, N, &ws), NTP_OK) << ntp_last_error();
  // Device pointers: the fake driver never dereferences them.
  char *X = reinterpret_cast<char *>(0x7f0000001000),
       *V = reinterpret_cast<char *>(0x7f0000002000),
       *Pp = reinterpret_cast<char *>(0x7f0000003000),
       *O = reinterpret_cast<char *>(0x7f0000004000),
       *C = reinterpret_cast<char *>(0x7f0000005000),
       *G = reinterpret_cast<char *>(0x7f0000006000),
       *XG = reinterpret_cast<char *>(0x7f0000007000),
       *W = reinterpret_cast<char *>(0x7f0000100000);
  gStream = reinterpret_cast<void *>(0x77);
  reset();
  Frame save(&api, k);
  save.arg(F64, X, {I, N, 1});
  save.arg(F64, V, {I, 1});
  save.arg(F64, Pp, {I, P});
  save.ret(F64, O, {I, n1, N, 1});
  save.ret(U8, W, {I, ws});
  ASSERT_EQ(save.call(saveCuda), "");
  ASSERT_EQ(state->logged, 2); // one forward_save per instance
  for (int i = 0; i < 2; ++i) {
    const fake_cuda_logged_launch &l = state->log[i];
    EXPECT_STREQ(l.function, "ntp_kernel_forward_save");
    EXPECT_EQ(l.stream, gStream);
    EXPECT_EQ(l.args[0], uint64_t(uintptr_t(X + i * N * 8)));
    EXPECT_EQ(l.args[1], uint64_t(uintptr_t(V + i * 8)));
    EXPECT_EQ(l.args[2], uint64_t(uintptr_t(Pp + i * P * 8)));
    EXPECT_EQ(l.args[3], uint64_t(uintptr_t(O + i * n1 * N * 8)));
    EXPECT_EQ(l.args[4], uint64_t(uintptr_t(W + i * ws + 64)));
    EXPECT_EQ(l.args[5], uint64_t(N));
  }

  reset();
  Frame bwd(&api, k);
  bwd.arg(F64, X, {I, N, 1});
  bwd.arg(F64, V, {I, 1});
  bwd.arg(F64, Pp, {I, P});
  bwd.arg(F64, C, {I, n1, N, 1});
  bwd.arg(U8, W, {I, ws});
  bwd.ret(F64, G, {I, P});
  bwd.ret(F64, XG, {I, N, 1});
  bwd.ret(F64, nullptr, {I, 0}); // the direction gradient: not wanted
  ASSERT_EQ(bwd.call(bwdCuda), "");
  // Per instance: backward_saved, then the parameter gradient's reduction.
  ASSERT_EQ(state->logged, 4);
  for (int i = 0; i < 2; ++i) {
    const fake_cuda_logged_launch &b = state->log[2 * i],
                                  &r = state->log[2 * i + 1];
    EXPECT_STREQ(b.function, "ntp_kernel_backward_saved");
    EXPECT_STREQ(r.function, "ntp_kernel_reduce_params_grad");
    EXPECT_EQ(b.stream, gStream);
    EXPECT_EQ(r.stream, gStream);
    EXPECT_EQ(b.args[0], uint64_t(uintptr_t(X + i * N * 8)));
    EXPECT_EQ(b.args[3], uint64_t(uintptr_t(C + i * n1 * N * 8)));
    EXPECT_EQ(b.args[5], uint64_t(uintptr_t(XG + i * N * 8)));
    EXPECT_EQ(b.args[6], uint64_t(uintptr_t(W + i * ws + 64)));
    EXPECT_EQ(b.args[8], uint64_t(N));
    EXPECT_EQ(r.args[1], uint64_t(uintptr_t(G + i * P * 8)));
  }

  // What the CUDA handlers refuse, each in one sentence.
  Frame small(&api, k);
  small.arg(F64, X, {1, N, 1});
  small.arg(F64, V, {1, 1});
  small.arg(F64, Pp, {1, P});
  small.ret(F64, O, {1, n1, N, 1});
  small.ret(U8, W, {1, ws - 1});
  EXPECT_EQ(small.call(saveCuda),
            "ntp: the workspace holds " + std::to_string(ws - 1) +
                " bytes but 300 points need " + std::to_string(ws));
  Frame dir(&api, k);
  dir.arg(F64, X, {1, N, 1});
  dir.arg(F64, V, {1, 1});
  dir.arg(F64, Pp, {1, P});
  dir.arg(F64, C, {1, n1, N, 1});
  dir.arg(U8, W, {1, ws});
  dir.ret(F64, G, {1, P});
  dir.ret(F64, XG, {1, N, 1});
  dir.ret(F64, G, {1, 1});
  EXPECT_EQ(dir.call(bwdCuda),
            "ntp: the CUDA backward handler does not compute the direction "
            "gradient (ntp.jax derives it from the x gradient of the shifted "
            "cotangent)");
  // A CPU kernel through the CUDA reverse handlers.
  ntp_kernel *cpu = compile(NTP_DEVICE_CPU, 3);
  ASSERT_NE(cpu, nullptr);
  Frame h(&api, cpu);
  h.arg(F64, X, {1, N, 1});
  h.arg(F64, V, {1, 1});
  h.arg(F64, Pp, {1, P});
  h.ret(F64, O, {1, n1, N, 1});
  h.ret(U8, W, {1, ws});
  EXPECT_EQ(h.call(saveCuda),
            "ntp: a CPU kernel was called from the CUDA handler");
}

TEST_F(JaxFfiTest, PartialsHandlerEqualsNtpPartialsPerInstance) {
  // u_xx, u_xy, u and the Laplacian of a 2-input network.
  const char *mlir =
      "ntp.mlp @ntp_kernel layers [2, 6, 5, 1] activation \"tanh\" order 2 "
      "partials [[2, 0], [1, 1], [0, 0]] operators [#ntp.laplacian] : f64\n";
  ntp_kernel *k = compile(NTP_DEVICE_CPU, 0, mlir);
  ASSERT_NE(k, nullptr);
  const int64_t I = 2, N = 11, R = 4, np = 2 * 6 + 6 + 30 + 5 + 5 + 1;
  auto x = ramp(I * N * 2, 0.9, 0.4), p = ramp(I * np, 0.7, 0.2);
  std::vector<double> out(I * R * N, -1.0);
  Frame f(&api, k);
  f.arg(F64, x.data(), {I, N, 2});
  f.arg(F64, p.data(), {I, np});
  f.ret(F64, out.data(), {I, R, N, 1});
  ASSERT_EQ(f.call(partialsCpu), "");
  for (int64_t i = 0; i < I; ++i) {
    std::vector<double> ref(R * N);
    ASSERT_EQ(
        ntp_partials(k, x.data() + i * N * 2, p.data() + i * np, ref.data(), N),
        NTP_OK);
    for (int64_t j = 0; j < R * N; ++j)
      EXPECT_EQ(out[i * R * N + j], ref[j]) << i << " " << j;
  }
  // Wrong shapes, and a jet kernel through the partials handler.
  Frame g(&api, k);
  g.arg(F64, x.data(), {1, N, 2});
  g.arg(F64, p.data(), {1, np});
  g.ret(F64, out.data(), {1, R - 1, N, 1});
  EXPECT_EQ(g.call(partialsCpu),
            "ntp: out has shape [1, 3, 11, 1], expected [1, 4, 11, 1] for "
            "this kernel");
  ntp_kernel *jet = compile(NTP_DEVICE_CPU, 2);
  ASSERT_NE(jet, nullptr);
  Frame h(&api, jet);
  h.arg(F64, x.data(), {1, N, 1});
  h.arg(F64, p.data(), {1, P});
  h.ret(F64, out.data(), {1, 3, N, 1});
  EXPECT_EQ(h.call(partialsCpu),
            "ntp: a jet kernel was called from a partials handler");
  // ...and a partials kernel through the jet handler: the runtime refuses.
  std::vector<double> v(2, 1.0);
  Frame j(&api, k);
  j.arg(F64, x.data(), {1, N, 2});
  j.arg(F64, v.data(), {1, 2});
  j.arg(F64, p.data(), {1, np});
  j.ret(F64, out.data(), {1, 3, N, 1});
  EXPECT_NE(j.call(jetCpu).find("call ntp_partials"), std::string::npos);
}

} // namespace

// The recomputing backward (no workspace; ntp_backward_full per instance)
// and the direction gradient it derives, run with IEEE denormals whatever
// the caller's mode (XLA's is FTZ/DAZ), which it restores after.
TEST_F(JaxFfiTest, RecomputeBackwardHandlerEqualsTheRuntimeCallPerInstance) {
  ntp_kernel *k = compile(NTP_DEVICE_CPU, 3);
  ASSERT_NE(k, nullptr);
  const int64_t I = 2, N = 6, n1 = 4;
  auto x = ramp(I * N, 1.2, 0.4), p = ramp(I * P, 0.7, 0.9);
  auto c = ramp(I * n1 * N, 1, 1.5);
  std::vector<double> v{1.0, 0.75}, out(I * n1 * N);
  std::vector<double> pg(I * P), xg(I * N), vg(I);
  Frame bwd(&api, k);
  bwd.arg(F64, x.data(), {I, N, 1});
  bwd.arg(F64, v.data(), {I, 1});
  bwd.arg(F64, p.data(), {I, P});
  bwd.arg(F64, c.data(), {I, n1, N, 1});
  bwd.ret(F64, pg.data(), {I, P});
  bwd.ret(F64, xg.data(), {I, N, 1});
  bwd.ret(F64, vg.data(), {I, 1});
#if defined(__x86_64__)
  const unsigned csr = _mm_getcsr();
  _mm_setcsr(csr | (1u << 15) | (1u << 6)); // XLA's FTZ and DAZ
#endif
  std::string error = bwd.call(bwdRecomputeCpu);
#if defined(__x86_64__)
  EXPECT_EQ(_mm_getcsr() & ((1u << 15) | (1u << 6)), (1u << 15) | (1u << 6));
  _mm_setcsr(csr);
#endif
  ASSERT_EQ(error, "");
  for (int64_t i = 0; i < I; ++i) {
    std::vector<double> pgRef(P), xgRef(N);
    ASSERT_EQ(ntp_backward_full(k, x.data() + i * N, v.data() + i,
                                p.data() + i * P, c.data() + i * n1 * N,
                                pgRef.data(), xgRef.data(), N),
              NTP_OK);
    for (int64_t j = 0; j < P; ++j)
      EXPECT_EQ(pg[i * P + j], pgRef[j]) << i << " " << j;
    for (int64_t j = 0; j < N; ++j)
      EXPECT_EQ(xg[i * N + j], xgRef[j]) << i << " " << j;
    ASSERT_EQ(ntp_forward(k, x.data() + i * N, v.data() + i, p.data() + i * P,
                          out.data() + i * n1 * N, N),
              NTP_OK);
    double euler = 0; // v . dL/dv = sum_k k <c_k, out_k>
    for (int64_t kk = 0; kk < n1; ++kk)
      for (int64_t b = 0; b < N; ++b)
        euler += double(kk) * c[i * n1 * N + kk * N + b] *
                 out[i * n1 * N + kk * N + b];
    EXPECT_NEAR(vg[i] * v[i], euler, 1e-12 * std::abs(euler)) << i;
  }
}
