//===- JaxFfiPartialsCudaTest.cpp - ntp.jax's CUDA partials handlers ------===//
//
// The CUDA FFI handlers of partials kernels (NtpJaxPartialsCuda, ...SaveCuda,
// ...BwdCuda, ...BwdRecomputeCuda in python/jax_ffi/NtpJaxFfi.cpp) called
// with hand-built call frames (JaxFfiCallFrame.h) on JIT-compiled CUDA
// partials kernels and the fake driver of test/unit/runtime
// (fixtures/fake_libcuda.c): every launch goes to XLA's stream, per instance,
// with the launches the runtime's ntp_partials*_async calls make for the
// same buffers; what the handlers refuse. A CPU jaxlib has no CUDA platform
// and this machine no GPU: what the kernels compute under XLA is untested.
//
//===----------------------------------------------------------------------===//
#include "ntp/jit.h"
#include "ntp/runtime.h"

#include "../runtime/fixtures/fake_libcuda.h"
#include "JaxFfiCallFrame.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <dlfcn.h>
#include <string>
#include <utility>
#include <vector>

namespace {

using namespace ntp::jaxtest;

// u_xx, u_xy, u and the Laplacian of a 2-input network: R = 4 rows.
const char *const kPartialsMlir =
    "ntp.mlp @ntp_kernel layers [2, 6, 5, 1] activation \"tanh\" order 2 "
    "partials [[2, 0], [1, 1], [0, 0]] operators [#ntp.laplacian] : f64\n";
constexpr int64_t kR = 4, kD = 2, kNp = 2 * 6 + 6 + 30 + 5 + 5 + 1;

// Device pointers: the fake driver never dereferences them.
char *const X = reinterpret_cast<char *>(0x7f0000001000);
char *const Pp = reinterpret_cast<char *>(0x7f0000003000);
char *const O = reinterpret_cast<char *>(0x7f0000004000);
char *const C = reinterpret_cast<char *>(0x7f0000005000);
char *const G = reinterpret_cast<char *>(0x7f0000006000);
char *const XG = reinterpret_cast<char *>(0x7f0000007000);
char *const W = reinterpret_cast<char *>(0x7f0000100000);

uint64_t word(const void *p) { return uint64_t(uintptr_t(p)); }

class JaxFfiPartialsCudaTest : public HandlerTest {
protected:
  void SetUp() override {
    HandlerTest::SetUp();
    if (HasFatalFailure())
      return;
    handlers({{"NtpJaxPartialsCuda", &fwdCuda},
              {"NtpJaxPartialsSaveCuda", &saveCuda},
              {"NtpJaxPartialsBwdCuda", &bwdCuda},
              {"NtpJaxPartialsBwdRecomputeCuda", &bwdRecomputeCuda},
              {"NtpJaxPartialsCpu", &fwdCpu}});
    gStream = reinterpret_cast<void *>(0x77);
  }

  /// Launch `i` of the log equals `expected` (the runtime's own call).
  void expectSameLaunch(int i, const fake_cuda_logged_launch &expected) {
    ASSERT_LT(i, state->logged);
    const fake_cuda_logged_launch &l = state->log[i];
    EXPECT_STREQ(l.function, expected.function) << i;
    EXPECT_EQ(l.stream, expected.stream) << l.function;
    EXPECT_EQ(l.grid, expected.grid) << l.function;
    EXPECT_EQ(l.block, expected.block) << l.function;
    ASSERT_EQ(l.num_args, expected.num_args) << l.function;
    for (int a = 0; a < l.num_args; ++a)
      EXPECT_EQ(l.args[a], expected.args[a]) << l.function << " argument " << a;
  }

  XLA_FFI_Handler *fwdCuda = nullptr, *saveCuda = nullptr, *bwdCuda = nullptr,
                  *bwdRecomputeCuda = nullptr, *fwdCpu = nullptr;
};

TEST_F(JaxFfiPartialsCudaTest, ForwardLaunchesOnXlasStreamPerInstance) {
  ntp_kernel *k = compile(NTP_DEVICE_CUDA, 0, kPartialsMlir);
  ASSERT_NE(k, nullptr);
  const int64_t I = 2, N = 300;
  reset();
  Frame f(&api, k);
  f.arg(F64, X, {I, N, kD});
  f.arg(F64, Pp, {I, kNp});
  f.ret(F64, O, {I, kR, N, 1});
  ASSERT_EQ(f.call(fwdCuda), "");
  ASSERT_EQ(state->logged, 2); // one forward per instance
  for (int i = 0; i < 2; ++i) {
    const fake_cuda_logged_launch &l = state->log[i];
    EXPECT_STREQ(l.function, "ntp_kernel_forward");
    EXPECT_EQ(l.stream, gStream);
    EXPECT_EQ(l.args[0], word(X + i * N * kD * 8));
    EXPECT_EQ(l.args[1], word(Pp + i * kNp * 8)); // params stands in for v
    EXPECT_EQ(l.args[2], word(Pp + i * kNp * 8));
    EXPECT_EQ(l.args[3], word(O + i * kR * N * 8));
    EXPECT_EQ(l.args[4], uint64_t(N));
  }
  // The runtime's call for each instance makes the same launches.
  for (int i = 0; i < 2; ++i)
    ASSERT_EQ(ntp_partials_async(k, X + i * N * kD * 8, Pp + i * kNp * 8,
                                 O + i * kR * N * 8, N, gStream),
              NTP_OK)
        << ntp_last_error();
  ASSERT_EQ(state->logged, 4);
  expectSameLaunch(0, state->log[2]);
  expectSameLaunch(1, state->log[3]);

  // What the handler refuses: a wrong shape, a jet kernel, a kernel of the
  // other device.
  Frame g(&api, k);
  g.arg(F64, X, {1, N, kD});
  g.arg(F64, Pp, {1, kNp});
  g.ret(F64, O, {1, kR - 1, N, 1});
  EXPECT_EQ(g.call(fwdCuda), "ntp: out has shape [1, 3, 300, 1], expected "
                             "[1, 4, 300, 1] for this kernel");
  Frame cpuHandler(&api, k);
  cpuHandler.arg(F64, X, {1, N, kD});
  cpuHandler.arg(F64, Pp, {1, kNp});
  cpuHandler.ret(F64, O, {1, kR, N, 1});
  EXPECT_EQ(cpuHandler.call(fwdCpu),
            "ntp: a CUDA kernel was called from the CPU handler");
  ntp_kernel *jet = compile(NTP_DEVICE_CUDA, 2);
  ASSERT_NE(jet, nullptr);
  const int64_t jetP = 6 + 6 + 30 + 5 + 5 + 1;
  Frame h(&api, jet);
  h.arg(F64, X, {1, N, 1});
  h.arg(F64, Pp, {1, jetP});
  h.ret(F64, O, {1, 3, N, 1});
  EXPECT_EQ(h.call(fwdCuda),
            "ntp: a jet kernel was called from a partials handler");
  ntp_kernel *cpu = compile(NTP_DEVICE_CPU, 0, kPartialsMlir);
  ASSERT_NE(cpu, nullptr);
  std::vector<double> x(N * kD), p(kNp), out(kR * N);
  Frame j(&api, cpu);
  j.arg(F64, x.data(), {1, N, kD});
  j.arg(F64, p.data(), {1, kNp});
  j.ret(F64, out.data(), {1, kR, N, 1});
  EXPECT_EQ(j.call(fwdCuda),
            "ntp: a CPU kernel was called from the CUDA handler");
  EXPECT_EQ(state->logged, 4);
}

TEST_F(JaxFfiPartialsCudaTest, SaveAndBackwardSavedLaunchOnXlasStream) {
  ntp_kernel *k = compile(NTP_DEVICE_CUDA, 0, kPartialsMlir); // reverse mode
  ASSERT_NE(k, nullptr);
  const int64_t I = 2, N = 300;
  int64_t ws = 0;
  ASSERT_EQ(ntp_workspace_size(k, N, &ws), NTP_OK) << ntp_last_error();
  reset();
  Frame save(&api, k);
  save.arg(F64, X, {I, N, kD});
  save.arg(F64, Pp, {I, kNp});
  save.ret(F64, O, {I, kR, N, 1});
  save.ret(U8, W, {I, ws});
  ASSERT_EQ(save.call(saveCuda), "");
  ASSERT_EQ(state->logged, 2); // one forward_save per instance
  for (int i = 0; i < 2; ++i) {
    const fake_cuda_logged_launch &l = state->log[i];
    EXPECT_STREQ(l.function, "ntp_kernel_forward_save");
    EXPECT_EQ(l.stream, gStream);
    EXPECT_EQ(l.args[0], word(X + i * N * kD * 8));
    EXPECT_EQ(l.args[1], word(Pp + i * kNp * 8));
    EXPECT_EQ(l.args[2], word(Pp + i * kNp * 8));
    EXPECT_EQ(l.args[3], word(O + i * kR * N * 8));
    EXPECT_EQ(l.args[4], word(W + i * ws + 64));
    EXPECT_EQ(l.args[5], uint64_t(N));
  }

  Frame bwd(&api, k);
  bwd.arg(F64, X, {I, N, kD});
  bwd.arg(F64, Pp, {I, kNp});
  bwd.arg(F64, C, {I, kR, N, 1});
  bwd.arg(U8, W, {I, ws});
  bwd.ret(F64, G, {I, kNp});
  bwd.ret(F64, XG, {I, N, kD});
  ASSERT_EQ(bwd.call(bwdCuda), "");
  // Per instance: backward_saved, then the parameter gradient's reduction.
  ASSERT_EQ(state->logged, 6);
  for (int i = 0; i < 2; ++i) {
    const fake_cuda_logged_launch &b = state->log[2 + 2 * i],
                                  &r = state->log[3 + 2 * i];
    EXPECT_STREQ(b.function, "ntp_kernel_backward_saved");
    EXPECT_STREQ(r.function, "ntp_kernel_reduce_params_grad");
    EXPECT_EQ(b.stream, gStream);
    EXPECT_EQ(r.stream, gStream);
    EXPECT_EQ(b.args[0], word(X + i * N * kD * 8));
    EXPECT_EQ(b.args[2], word(Pp + i * kNp * 8));
    EXPECT_EQ(b.args[3], word(C + i * kR * N * 8));
    EXPECT_EQ(b.args[5], word(XG + i * N * kD * 8));
    EXPECT_EQ(b.args[6], word(W + i * ws + 64));
    EXPECT_EQ(b.args[8], uint64_t(N));
    EXPECT_EQ(r.args[1], word(G + i * kNp * 8));
  }
  // The runtime's pair for instance 1 makes the same launches.
  ASSERT_EQ(ntp_partials_save_async(k, X + N * kD * 8, Pp + kNp * 8,
                                    O + kR * N * 8, W + ws, N, gStream),
            NTP_OK)
      << ntp_last_error();
  ASSERT_EQ(ntp_partials_backward_saved_async(
                k, X + N * kD * 8, Pp + kNp * 8, C + kR * N * 8, G + kNp * 8,
                XG + N * kD * 8, W + ws, N, gStream),
            NTP_OK)
      << ntp_last_error();
  ASSERT_EQ(state->logged, 9);
  expectSameLaunch(1, state->log[6]);
  expectSameLaunch(4, state->log[7]);
  expectSameLaunch(5, state->log[8]);

  // Only the x gradient (params_grad [I, 0]): no reduction.
  reset();
  Frame xOnly(&api, k);
  xOnly.arg(F64, X, {I, N, kD});
  xOnly.arg(F64, Pp, {I, kNp});
  xOnly.arg(F64, C, {I, kR, N, 1});
  xOnly.arg(U8, W, {I, ws});
  xOnly.ret(F64, nullptr, {I, 0});
  xOnly.ret(F64, XG, {I, N, kD});
  ASSERT_EQ(xOnly.call(bwdCuda), "");
  ASSERT_EQ(state->logged, 2);
  EXPECT_STREQ(state->log[1].function, "ntp_kernel_backward_saved");
  EXPECT_EQ(state->log[1].stream, gStream);

  // What the handlers refuse, each in one sentence, before any launch.
  Frame small(&api, k);
  small.arg(F64, X, {1, N, kD});
  small.arg(F64, Pp, {1, kNp});
  small.ret(F64, O, {1, kR, N, 1});
  small.ret(U8, W, {1, ws - 1});
  EXPECT_EQ(small.call(saveCuda),
            "ntp: the workspace holds " + std::to_string(ws - 1) +
                " bytes but 300 points need " + std::to_string(ws));
  Frame badGrad(&api, k);
  badGrad.arg(F64, X, {1, N, kD});
  badGrad.arg(F64, Pp, {1, kNp});
  badGrad.arg(F64, C, {1, kR, N, 1});
  badGrad.arg(U8, W, {1, ws});
  badGrad.ret(F64, G, {1, kNp - 1});
  badGrad.ret(F64, XG, {1, N, kD});
  EXPECT_EQ(badGrad.call(bwdCuda),
            "ntp: params_grad has shape [1, " + std::to_string(kNp - 1) +
                "], expected [1, " + std::to_string(kNp) + "] for this kernel");
  // A workspace the save did not write (another address).
  Frame unsaved(&api, k);
  unsaved.arg(F64, X, {1, N, kD});
  unsaved.arg(F64, Pp, {1, kNp});
  unsaved.arg(F64, C, {1, kR, N, 1});
  unsaved.arg(U8, W + (ws + 4096) * 4, {1, ws});
  unsaved.ret(F64, G, {1, kNp});
  unsaved.ret(F64, XG, {1, N, kD});
  EXPECT_EQ(unsaved.call(bwdCuda).rfind("ntp: the workspace was not written "
                                        "by this kernel's ntp_forward_save",
                                        0),
            0u);
  EXPECT_EQ(state->logged, 2);
}

TEST_F(JaxFfiPartialsCudaTest, RecomputeBackwardTakesScratchOnXlasStream) {
  ntp_kernel *k = compile(NTP_DEVICE_CUDA, 0, kPartialsMlir);
  ASSERT_NE(k, nullptr);
  const int64_t I = 2, N = 300;
  reset();
  Frame bwd(&api, k);
  bwd.arg(F64, X, {I, N, kD});
  bwd.arg(F64, Pp, {I, kNp});
  bwd.arg(F64, C, {I, kR, N, 1});
  bwd.ret(F64, G, {I, kNp});
  bwd.ret(F64, XG, {I, N, kD});
  ASSERT_EQ(bwd.call(bwdRecomputeCuda), "");
  // Per instance a stream-ordered scratch (workspace and output), three
  // launches on XLA's stream, the scratch freed there.
  EXPECT_EQ(state->allocs, 2);
  EXPECT_EQ(state->frees, 2);
  EXPECT_EQ(state->alloc_stream, gStream);
  EXPECT_EQ(state->free_stream, gStream);
  EXPECT_EQ(state->live_bytes, 0u);
  ASSERT_EQ(state->logged, 6);
  for (int i = 0; i < 2; ++i) {
    const fake_cuda_logged_launch &s = state->log[3 * i],
                                  &b = state->log[3 * i + 1],
                                  &r = state->log[3 * i + 2];
    EXPECT_STREQ(s.function, "ntp_kernel_forward_save");
    EXPECT_STREQ(b.function, "ntp_kernel_backward_saved");
    EXPECT_STREQ(r.function, "ntp_kernel_reduce_params_grad");
    for (const fake_cuda_logged_launch *l : {&s, &b, &r})
      EXPECT_EQ(l->stream, gStream) << l->function;
    EXPECT_EQ(s.args[0], word(X + i * N * kD * 8));
    EXPECT_EQ(s.args[2], word(Pp + i * kNp * 8));
    EXPECT_EQ(b.args[3], word(C + i * kR * N * 8));
    EXPECT_EQ(b.args[5], word(XG + i * N * kD * 8));
    EXPECT_EQ(b.args[8], uint64_t(N));
    EXPECT_EQ(r.args[1], word(G + i * kNp * 8));
  }
  // The runtime's call makes the same launches but for its own scratch's
  // address: the same functions, streams and caller's buffers.
  const uint64_t bytes = state->alloc_bytes;
  ASSERT_EQ(ntp_partials_backward_async(k, X, Pp, C, G, XG, N, gStream), NTP_OK)
      << ntp_last_error();
  EXPECT_EQ(state->alloc_bytes, bytes);
  ASSERT_EQ(state->logged, 9);
  for (int j = 0; j < 3; ++j) {
    EXPECT_STREQ(state->log[6 + j].function, state->log[j].function);
    EXPECT_EQ(state->log[6 + j].stream, gStream);
  }
  EXPECT_EQ(state->log[7].args[3], state->log[1].args[3]);
  EXPECT_EQ(state->log[7].args[5], state->log[1].args[5]);
  EXPECT_EQ(state->log[8].args[1], state->log[2].args[1]);

  // No points: the parameter gradient is zero, written on the device by the
  // reduction over no rows (the buffers are device memory), and nothing is
  // allocated; the saved handler does the same.
  int64_t ws0 = 0;
  ASSERT_EQ(ntp_workspace_size(k, 0, &ws0), NTP_OK) << ntp_last_error();
  reset();
  for (XLA_FFI_Handler *handler : {bwdRecomputeCuda, bwdCuda}) {
    Frame empty(&api, k);
    empty.arg(F64, X, {I, 0, kD});
    empty.arg(F64, Pp, {I, kNp});
    empty.arg(F64, C, {I, kR, 0, 1});
    if (handler == bwdCuda)
      empty.arg(U8, W, {I, ws0});
    empty.ret(F64, G, {I, kNp});
    empty.ret(F64, nullptr, {I, 0, kD});
    ASSERT_EQ(empty.call(handler), "");
  }
  ASSERT_EQ(state->logged, 4);
  for (int i = 0; i < 4; ++i) {
    const fake_cuda_logged_launch &r = state->log[i];
    EXPECT_STREQ(r.function, "ntp_kernel_reduce_params_grad");
    EXPECT_EQ(r.stream, gStream);
    EXPECT_EQ(r.args[1], word(G + (i % 2) * kNp * 8));
    EXPECT_EQ(r.args[2], 0u);
  }
  EXPECT_EQ(state->allocs, 0);
}

} // namespace
