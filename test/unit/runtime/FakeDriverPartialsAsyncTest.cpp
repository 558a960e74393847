//===- FakeDriverPartialsAsyncTest.cpp - ntp_partials*_async --------------===//
//
// The partials calls on a CUDA stream (ntp_partials_async,
// ntp_partials_save_async, ntp_partials_backward_saved_async,
// ntp_partials_backward_async) against the fake driver of
// fixtures/fake_libcuda.c: every launch (and the scratch's allocation and
// free) goes to the caller's stream, with the arguments the synchronous call
// gives on the default stream; bad input is refused before anything is
// launched. On a CPU kernel (hand-written tiles in the runtime's calling
// convention) a null stream runs the synchronous call and a stream is
// refused, as for the jet calls' _async variants.
//
// The artifact comes from FakeDriverFixture.h (the fake-driver tests'
// Artifact); like those tests, this is an executable of its own because the
// runtime opens the driver once per process.
//
//===----------------------------------------------------------------------===//

#include "FakeDriverFixture.h"
#include "fixtures/fake_libcuda.h"
#include "ntp/artifact.hpp"
#include "ntp/runtime.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dlfcn.h>
#include <fstream>
#include <string>
#include <unistd.h>
#include <vector>

namespace {

//===----------------------------------------------------------------------===//
// A CUDA partials artifact for layers 1-4-1 (13 parameters), f32
//===----------------------------------------------------------------------===//

/// Rows "2;0" (d^2/dx^2 and f): P = 2, one ray of 3 jet coefficients, whose
/// saved jets take what an order-2 jet's do (FakeDriverFixture.h's
/// Artifact).
std::string partialsArtifact(int backward, int samplesPerBlock) {
  fake_driver_test::Artifact artifact;
  artifact.backward = backward;
  artifact.samplesPerBlock = samplesPerBlock;
  artifact.blockSize = samplesPerBlock ? 32 * samplesPerBlock : 128;
  artifact.partials = "2;0";
  if (backward)
    artifact.image = fake_driver_test::reversePtx();
  return artifact.text();
}

// Device pointers as a caller would pass them; the fake never reads them.
char *const kX = reinterpret_cast<char *>(uintptr_t(0x7f0000001000));
char *const kParams = reinterpret_cast<char *>(uintptr_t(0x7f0000003000));
char *const kOut = reinterpret_cast<char *>(uintptr_t(0x7f0000004000));
char *const kCot = reinterpret_cast<char *>(uintptr_t(0x7f0000005000));
char *const kGrad = reinterpret_cast<char *>(uintptr_t(0x7f0000006000));
char *const kXGrad = reinterpret_cast<char *>(uintptr_t(0x7f0000007000));
char *const kWorkspace = reinterpret_cast<char *>(uintptr_t(0x7f0000100000));
void *const kStream = reinterpret_cast<void *>(uintptr_t(0x5157));
constexpr int64_t kParamsCount = 13, kElement = 4;

/// Element offsets of the workspace's regions after its header, as
/// artifact.hpp's cudaWorkspaceElements lays them out.
struct Regions {
  int64_t columns, partials, xScratch, total;
  Regions(int64_t batch, int64_t samplesPerBlock) {
    int64_t blocks = (batch + samplesPerBlock - 1) / samplesPerBlock;
    columns = blocks * *ntp::artifact::workspaceElementsPerTile(
                           {1, 4, 1}, 2, samplesPerBlock);
    partials = columns + kParamsCount * batch;
    xScratch = partials + blocks * kParamsCount;
    total = xScratch + batch * 1;
  }
};

uint64_t word(const void *p) { return reinterpret_cast<uintptr_t>(p); }
uint64_t word(const char *base, int64_t elements) {
  return reinterpret_cast<uintptr_t>(base) + uint64_t(elements * kElement);
}

class FakeDriverPartialsAsyncTest : public ::testing::Test {
protected:
  void SetUp() override {
    ::setenv("NTP_LIBCUDA", NTP_FAKE_LIBCUDA, 1);
    for (const char *name :
         {"FAKE_CUDA_DEVICES", "FAKE_CUDA_CC", "FAKE_CUDA_FAIL"})
      ::unsetenv(name);
    // The same library the runtime opens, hence the same state.
    handle = ::dlopen(NTP_FAKE_LIBCUDA, RTLD_NOW | RTLD_LOCAL);
    ASSERT_NE(handle, nullptr) << ::dlerror();
    auto state = reinterpret_cast<fake_cuda_state_fn>(
        ::dlsym(handle, "fake_cuda_state"));
    reset = reinterpret_cast<fake_cuda_reset_fn>(
        ::dlsym(handle, "fake_cuda_reset"));
    ASSERT_TRUE(state && reset);
    reset();
    fake = state();
    char pattern[] = "/tmp/ntp-partials-async-test-XXXXXX";
    int fd = ::mkstemp(pattern);
    ASSERT_GE(fd, 0);
    ::close(fd);
    path = pattern;
  }
  void TearDown() override {
    for (ntp_kernel *k : kernels)
      ntp_kernel_free(k);
    std::remove(path.c_str());
    if (handle)
      ::dlclose(handle);
  }

  ntp_kernel *load(const std::string &artifact) {
    std::ofstream(path, std::ios::binary) << artifact;
    ntp_kernel *k = nullptr;
    EXPECT_EQ(ntp_kernel_load(path.c_str(), &k), NTP_OK) << ntp_last_error();
    if (k)
      kernels.push_back(k);
    return k;
  }
  ntp_kernel *loadPartials(int backward, int samplesPerBlock = 0) {
    return load(partialsArtifact(backward, samplesPerBlock));
  }

  void expectLogged(int i, const char *function, unsigned grid, unsigned block,
                    void *stream, std::vector<uint64_t> args) {
    ASSERT_LT(i, fake->logged);
    const fake_cuda_logged_launch &l = fake->log[i];
    EXPECT_STREQ(l.function, function) << "launch " << i;
    EXPECT_EQ(l.grid, grid) << function;
    EXPECT_EQ(l.block, block) << function;
    EXPECT_EQ(l.stream, stream) << function;
    ASSERT_EQ(l.num_args, int(args.size())) << function;
    for (size_t a = 0; a < args.size(); ++a)
      EXPECT_EQ(l.args[a], args[a]) << function << " argument " << a;
  }

  /// Launches [first, first + n) of the log, which the caller made on
  /// kStream, equal launches [other, other + n) in all but the stream,
  /// which must be the default one there.
  void expectSameLaunchesOnTheDefaultStream(int first, int other, int n) {
    ASSERT_LE(other + n, fake->logged);
    for (int i = 0; i < n; ++i) {
      const fake_cuda_logged_launch &a = fake->log[first + i],
                                    &b = fake->log[other + i];
      EXPECT_EQ(a.stream, kStream) << a.function;
      EXPECT_EQ(b.stream, nullptr) << b.function;
      EXPECT_STREQ(a.function, b.function);
      EXPECT_EQ(a.grid, b.grid) << a.function;
      EXPECT_EQ(a.block, b.block) << a.function;
      ASSERT_EQ(a.num_args, b.num_args) << a.function;
      for (int j = 0; j < a.num_args; ++j)
        EXPECT_EQ(a.args[j], b.args[j]) << a.function << " argument " << j;
    }
  }

  void *handle = nullptr;
  fake_cuda_state_t *fake = nullptr;
  fake_cuda_reset_fn reset = nullptr;
  std::string path;
  std::vector<ntp_kernel *> kernels;
};

//===----------------------------------------------------------------------===//
// CUDA kernels: the caller's stream
//===----------------------------------------------------------------------===//

TEST_F(FakeDriverPartialsAsyncTest,
       PartialsAsyncLaunchesTheForwardOnTheStream) {
  for (int samplesPerBlock : {0, 4}) { // the sample and the lanes mapping
    ntp_kernel *k = loadPartials(0, samplesPerBlock);
    ASSERT_NE(k, nullptr);
    reset();
    ASSERT_EQ(ntp_partials_async(k, kX, kParams, kOut, 300, kStream), NTP_OK)
        << ntp_last_error();
    const fake_cuda_launch async = fake->last_launch;
    EXPECT_STREQ(async.function, "net_forward");
    EXPECT_EQ(async.stream, kStream);
    EXPECT_EQ(async.x, kX);
    EXPECT_EQ(async.direction, kParams); // params stands in for v
    EXPECT_EQ(async.params, kParams);
    EXPECT_EQ(async.out, kOut);
    EXPECT_EQ(async.batch, 300);
    EXPECT_EQ(async.grid[0], samplesPerBlock ? 75u : 3u);
    EXPECT_EQ(async.block[0], 128u);
    // The synchronous call: the same launch on the default stream, as is a
    // null stream given to the _async call.
    for (bool viaAsync : {false, true}) {
      ASSERT_EQ(viaAsync
                    ? ntp_partials_async(k, kX, kParams, kOut, 300, nullptr)
                    : ntp_partials(k, kX, kParams, kOut, 300),
                NTP_OK)
          << ntp_last_error();
      EXPECT_EQ(fake->logged, viaAsync ? 3 : 2);
      expectSameLaunchesOnTheDefaultStream(0, fake->logged - 1, 1);
    }
    // An empty batch launches nothing.
    EXPECT_EQ(ntp_partials_async(k, nullptr, kParams, nullptr, 0, kStream),
              NTP_OK);
    EXPECT_EQ(fake->logged, 3);
  }
}

TEST_F(FakeDriverPartialsAsyncTest, SaveAndBackwardSavedOnTheStream) {
  ntp_kernel *k = loadPartials(1);
  ASSERT_NE(k, nullptr);
  const int64_t batch = 300; // 3 blocks of 128, the last ending inside
  Regions r(batch, 128);
  const char *jets = kWorkspace + 64;
  ASSERT_EQ(
      ntp_partials_save_async(k, kX, kParams, kOut, kWorkspace, batch, kStream),
      NTP_OK)
      << ntp_last_error();
  ASSERT_EQ(ntp_partials_backward_saved_async(k, kX, kParams, kCot, kGrad,
                                              kXGrad, kWorkspace, batch,
                                              kStream),
            NTP_OK)
      << ntp_last_error();
  ASSERT_EQ(fake->logged, 3);
  expectLogged(0, "net_forward_save", 3, 128, kStream,
               {word(kX), word(kParams), word(kParams), word(kOut), word(jets),
                uint64_t(batch)});
  expectLogged(1, "net_backward_saved", 3, 128, kStream,
               {word(kX), word(kParams), word(kParams), word(kCot),
                word(jets, r.columns), word(kXGrad), word(jets),
                word(jets, r.partials), uint64_t(batch)});
  expectLogged(2, "net_reduce_params_grad", 1, 128, kStream,
               {word(jets, r.partials), word(kGrad), 3});
  // The synchronous pair: the same three launches on the default stream.
  ASSERT_EQ(ntp_partials_save(k, kX, kParams, kOut, kWorkspace, batch), NTP_OK);
  ASSERT_EQ(ntp_partials_backward_saved(k, kX, kParams, kCot, kGrad, kXGrad,
                                        kWorkspace, batch),
            NTP_OK)
      << ntp_last_error();
  expectSameLaunchesOnTheDefaultStream(0, 3, 3);
  // Only the x gradient: no reduction; the caller's workspace, no scratch.
  ASSERT_EQ(ntp_partials_backward_saved_async(k, kX, kParams, kCot, nullptr,
                                              kXGrad, kWorkspace, batch,
                                              kStream),
            NTP_OK)
      << ntp_last_error();
  EXPECT_EQ(fake->logged, 7);
  EXPECT_STREQ(fake->log[6].function, "net_backward_saved");
  EXPECT_EQ(fake->log[6].stream, kStream);
  EXPECT_EQ(fake->allocs, 0);
}

TEST_F(FakeDriverPartialsAsyncTest, BackwardTakesItsScratchOnTheStream) {
  ntp_kernel *k = loadPartials(1, 4);
  ASSERT_NE(k, nullptr);
  const int64_t batch = 37; // 10 blocks of 4
  Regions r(batch, 4);
  // The scratch: the workspace's regions, then an output of P = 2 rows;
  // allocated, used and freed on `stream`.
  const int64_t outElements = 2 * batch * 1;
  auto expectScratchCall = [&](int first, void *stream) {
    EXPECT_EQ(fake->alloc_stream, stream);
    EXPECT_EQ(int64_t(fake->alloc_bytes), (r.total + outElements) * kElement);
    const char *scratch = static_cast<const char *>(fake->last_alloc);
    ASSERT_EQ(fake->logged, first + 3);
    expectLogged(first, "net_forward_save", 10, 128, stream,
                 {word(kX), word(kParams), word(kParams),
                  word(scratch, r.total), word(scratch), uint64_t(batch)});
    expectLogged(first + 1, "net_backward_saved", 10, 128, stream,
                 {word(kX), word(kParams), word(kParams), word(kCot),
                  word(scratch, r.columns), word(kXGrad), word(scratch),
                  word(scratch, r.partials), uint64_t(batch)});
    expectLogged(first + 2, "net_reduce_params_grad", 1, 128, stream,
                 {word(scratch, r.partials), word(kGrad), 10});
    // Freed on the same stream, after the launches.
    EXPECT_EQ(fake->free_stream, stream);
    EXPECT_EQ(fake->live_bytes, 0u);
  };
  ASSERT_EQ(ntp_partials_backward_async(k, kX, kParams, kCot, kGrad, kXGrad,
                                        batch, kStream),
            NTP_OK)
      << ntp_last_error();
  EXPECT_EQ(fake->allocs, 1);
  EXPECT_EQ(fake->frees, 1);
  expectScratchCall(0, kStream);
  // The synchronous call: the same on the default stream (with a scratch of
  // its own).
  ASSERT_EQ(ntp_partials_backward(k, kX, kParams, kCot, kGrad, kXGrad, batch),
            NTP_OK)
      << ntp_last_error();
  EXPECT_EQ(fake->allocs, 2);
  EXPECT_EQ(fake->frees, 2);
  expectScratchCall(3, nullptr);
  // The empty batch: the reduction over no rows writes a zero gradient, on
  // the stream; nothing is allocated.
  ASSERT_EQ(ntp_partials_backward_async(k, nullptr, kParams, nullptr, kGrad,
                                        nullptr, 0, kStream),
            NTP_OK)
      << ntp_last_error();
  ASSERT_EQ(fake->logged, 7);
  EXPECT_STREQ(fake->log[6].function, "net_reduce_params_grad");
  EXPECT_EQ(fake->log[6].stream, kStream);
  EXPECT_EQ(fake->log[6].args[1], word(kGrad));
  EXPECT_EQ(fake->log[6].args[2], 0u);
  EXPECT_EQ(fake->allocs, 2);
}

TEST_F(FakeDriverPartialsAsyncTest, DriverFailureFreesTheScratchOnTheStream) {
  ntp_kernel *k = loadPartials(1);
  ASSERT_NE(k, nullptr);
  ::setenv("FAKE_CUDA_FAIL", "cuLaunchKernel=701", 1);
  EXPECT_EQ(ntp_partials_backward_async(k, kX, kParams, kCot, kGrad, nullptr, 8,
                                        kStream),
            NTP_ERROR_INTERNAL);
  ::unsetenv("FAKE_CUDA_FAIL");
  EXPECT_STREQ(ntp_last_error(),
               "launching the CUDA kernel failed: too many resources "
               "requested for launch (CUDA error 701)");
  EXPECT_EQ(fake->allocs, 1);
  EXPECT_EQ(fake->frees, 1);
  EXPECT_EQ(fake->free_stream, kStream);
  EXPECT_EQ(fake->live_bytes, 0u);
}

//===----------------------------------------------------------------------===//
// Bad input: one sentence each, nothing launched
//===----------------------------------------------------------------------===//

TEST_F(FakeDriverPartialsAsyncTest, BadInputIsRefusedBeforeAnyLaunch) {
  ntp_kernel *k = loadPartials(1);
  ASSERT_NE(k, nullptr);
  auto refused = [&](ntp_status got, ntp_status want, const std::string &msg) {
    EXPECT_EQ(got, want) << msg;
    EXPECT_EQ(std::string(ntp_last_error()), msg);
  };
  const ntp_status bad = NTP_ERROR_INVALID_ARGUMENT;
  // A null kernel.
  refused(ntp_partials_async(nullptr, kX, kParams, kOut, 8, kStream), bad,
          "kernel is null");
  refused(ntp_partials_backward_async(nullptr, kX, kParams, kCot, kGrad,
                                      nullptr, 8, kStream),
          bad, "kernel is null");
  refused(ntp_partials_save_async(nullptr, kX, kParams, kOut, kWorkspace, 8,
                                  kStream),
          bad, "kernel is null");
  refused(ntp_partials_backward_saved_async(nullptr, kX, kParams, kCot, kGrad,
                                            nullptr, kWorkspace, 8, kStream),
          bad, "kernel is null");
  // Null buffers and a negative batch.
  refused(ntp_partials_async(k, nullptr, kParams, kOut, 8, kStream), bad,
          "x is null but batch is 8");
  refused(ntp_partials_async(k, kX, nullptr, kOut, 8, kStream), bad,
          "params is null");
  refused(ntp_partials_async(k, kX, kParams, nullptr, 8, kStream), bad,
          "out is null but batch is 8");
  refused(ntp_partials_async(k, kX, kParams, kOut, -1, kStream), bad,
          "batch is -1; it must be non-negative");
  refused(ntp_partials_backward_async(k, kX, kParams, nullptr, kGrad, nullptr,
                                      8, kStream),
          bad, "out_cotangent is null but batch is 8");
  refused(ntp_partials_backward_async(k, kX, kParams, kCot, nullptr, nullptr, 8,
                                      kStream),
          bad, "params_grad and x_grad are both null; nothing to compute");
  refused(ntp_partials_save_async(k, kX, kParams, kOut, nullptr, 8, kStream),
          bad, "workspace is null but batch is 8");
  refused(ntp_partials_backward_saved_async(k, kX, kParams, kCot, kGrad,
                                            nullptr, nullptr, 8, kStream),
          bad, "workspace is null but batch is 8");
  // A workspace that was not saved, or saved for another batch.
  const std::string rerun =
      ": call ntp_forward_save with the same arguments first";
  refused(ntp_partials_backward_saved_async(k, kX, kParams, kCot, kGrad,
                                            nullptr, kWorkspace, 8, kStream),
          bad,
          "the workspace was not written by this kernel's ntp_forward_save "
          "(on a GPU, a workspace is known by its address)" +
              rerun);
  EXPECT_EQ(fake->logged, 0);
  ASSERT_EQ(
      ntp_partials_save_async(k, kX, kParams, kOut, kWorkspace, 300, kStream),
      NTP_OK)
      << ntp_last_error();
  refused(ntp_partials_backward_saved_async(k, kX, kParams, kCot, kGrad,
                                            nullptr, kWorkspace, 8, kStream),
          bad, "the workspace was saved for batch 300, not 8" + rerun);
  EXPECT_EQ(fake->logged, 1); // the save only
  // A jet kernel: the jet call to make, in its _async form.
  {
    // The same artifact without its partials line is a jet kernel.
    fake_driver_test::Artifact artifact;
    artifact.backward = 1;
    artifact.image = fake_driver_test::reversePtx();
    ntp_kernel *jet = load(artifact.text());
    ASSERT_NE(jet, nullptr);
    refused(ntp_partials_async(jet, kX, kParams, kOut, 8, kStream), bad,
            "this kernel computes a jet (compiled without --partials or "
            "--operator), not partial derivatives: call ntp_forward_async");
    const std::string isFor = " is for partials kernels; this kernel computes "
                              "a jet (compiled without --partials or "
                              "--operator): call ";
    refused(ntp_partials_backward_async(jet, kX, kParams, kCot, kGrad, nullptr,
                                        8, kStream),
            bad,
            "ntp_partials_backward_async" + isFor + "ntp_backward_full_async");
    refused(
        ntp_partials_save_async(jet, kX, kParams, kOut, kWorkspace, 8, kStream),
        bad, "ntp_partials_save_async" + isFor + "ntp_forward_save_async");
    refused(ntp_partials_backward_saved_async(jet, kX, kParams, kCot, kGrad,
                                              nullptr, kWorkspace, 8, kStream),
            bad,
            "ntp_partials_backward_saved_async" + isFor +
                "ntp_backward_saved_async");
    // The synchronous calls still name the synchronous jet calls.
    refused(ntp_partials(jet, kX, kParams, kOut, 8), bad,
            "this kernel computes a jet (compiled without --partials or "
            "--operator), not partial derivatives: call ntp_forward");
  }
  // A kernel without the reverse mode.
  ntp_kernel *forwardOnly = loadPartials(0);
  ASSERT_NE(forwardOnly, nullptr);
  refused(ntp_partials_backward_async(forwardOnly, kX, kParams, kCot, kGrad,
                                      nullptr, 8, kStream),
          NTP_ERROR_UNSUPPORTED,
          "ntp_partials_backward_async is not supported by this kernel: it "
          "was compiled without the reverse-mode entry points");
  refused(ntp_partials_save_async(forwardOnly, kX, kParams, kOut, kWorkspace, 8,
                                  kStream),
          NTP_ERROR_UNSUPPORTED,
          "ntp_partials_save_async is not supported by this kernel: it was "
          "compiled without the reverse-mode entry points");
  EXPECT_EQ(fake->logged, 1);
  EXPECT_EQ(fake->allocs, 0);
}

//===----------------------------------------------------------------------===//
// CPU kernels: a null stream runs the synchronous call, a stream is refused
//===----------------------------------------------------------------------===//
//
// Hand-written f64 tiles of a partials kernel with rows "2;0" on 1-4-1
// (tile 8), in the runtime's calling convention: out[0] = p0 x^2, out[1] =
// p1 + x; the saved "jets" are x itself. They record the direction argument,
// which a partials call fills with params.

constexpr int64_t kTile = 8;
const double *seenDirection = nullptr;

void forwardRows(const double *x, const double *p, double *out, int64_t batch,
                 int64_t begin, int64_t end, double *ws) {
  for (int64_t b = begin * kTile; b < std::min(end * kTile, batch); ++b) {
    out[b] = p[0] * x[b] * x[b];
    out[batch + b] = p[1] + x[b];
    if (ws)
      ws[b] = x[b];
  }
}

void backwardRows(const double *x, const double *p, const double *cot,
                  double *grad, double *xGrad, int64_t batch, int64_t begin,
                  int64_t end) {
  for (int64_t b = begin * kTile; b < std::min(end * kTile, batch); ++b) {
    grad[0] += cot[b] * x[b] * x[b];
    grad[1] += cot[batch + b];
    xGrad[b] = cot[b] * 2 * p[0] * x[b] + cot[batch + b];
  }
}

extern "C" void cpuForward(const double *x, const double *v, const double *p,
                           double *out, int64_t batch, int64_t begin,
                           int64_t end) {
  seenDirection = v;
  forwardRows(x, p, out, batch, begin, end, nullptr);
}
extern "C" void cpuForwardSave(const double *x, const double *v,
                               const double *p, double *out, double *ws,
                               int64_t batch, int64_t begin, int64_t end) {
  seenDirection = v;
  forwardRows(x, p, out, batch, begin, end, ws);
}
extern "C" void cpuBackward(const double *x, const double *, const double *p,
                            const double *cot, double *grad, double *xGrad,
                            int64_t batch, int64_t begin, int64_t end) {
  backwardRows(x, p, cot, grad, xGrad, batch, begin, end);
}
extern "C" void cpuBackwardSaved(const double *, const double *,
                                 const double *p, const double *cot,
                                 double *grad, double *xGrad, const double *ws,
                                 int64_t batch, int64_t begin, int64_t end) {
  backwardRows(ws, p, cot, grad, xGrad, batch, begin, end);
}

ntp_kernel *cpuPartialsKernel() {
  std::string manifest =
      "ntp-kernel-manifest\nabi_version=2\nname=net\nactivation=tanh\n"
      "order=2\ndtype=f64\ndevice=cpu\nlayers=1,4,1\nnum_params=13\n"
      "tile=8\nbackward=1\nworkspace_per_tile=" +
      std::to_string(
          *ntp::artifact::workspaceElementsPerTile({1, 4, 1}, 2, kTile)) +
      "\ntarget_cpu=x86-64\ncpu_features=\npartials=2;0\n";
  ntp_kernel_entry_points entry = {reinterpret_cast<void *>(cpuForward),
                                   reinterpret_cast<void *>(cpuBackward),
                                   reinterpret_cast<void *>(cpuForwardSave),
                                   reinterpret_cast<void *>(cpuBackwardSaved)};
  ntp_kernel *k = nullptr;
  EXPECT_EQ(
      ntp_kernel_create_with(manifest.c_str(), &entry, nullptr, nullptr, &k),
      NTP_OK)
      << ntp_last_error();
  return k;
}

TEST_F(FakeDriverPartialsAsyncTest, CpuKernelRunsTheSynchronousCall) {
  ntp_kernel *k = cpuPartialsKernel();
  ASSERT_NE(k, nullptr);
  kernels.push_back(k);
  const int64_t batch = 37; // 5 tiles, the last ending inside
  std::vector<double> x(batch), p(kParamsCount), cot(2 * batch);
  for (int64_t b = 0; b < batch; ++b)
    x[b] = 0.1 * double(b) - 1.3;
  for (int64_t i = 0; i < kParamsCount; ++i)
    p[i] = 0.25 * double(i + 1);
  for (int64_t i = 0; i < 2 * batch; ++i)
    cot[i] = std::sin(double(i));
  int64_t wsBytes = 0;
  ASSERT_EQ(ntp_workspace_size(k, batch, &wsBytes), NTP_OK);
  struct Results {
    std::vector<double> out, saved, grad, xGrad, gradSaved, xGradSaved;
  };
  auto run = [&](bool async, void *stream, std::vector<uint8_t> &ws) {
    Results r{std::vector<double>(2 * batch, -7),
              std::vector<double>(2 * batch, -7),
              std::vector<double>(kParamsCount, -7),
              std::vector<double>(batch, -7),
              std::vector<double>(kParamsCount, -7),
              std::vector<double>(batch, -7)};
    seenDirection = nullptr;
    auto status = [&](ntp_status s) {
      EXPECT_EQ(s, stream ? NTP_ERROR_INVALID_ARGUMENT : NTP_OK)
          << ntp_last_error();
      if (stream)
        EXPECT_STREQ(ntp_last_error(), "a stream was given for a CPU kernel");
    };
    status(async ? ntp_partials_async(k, x.data(), p.data(), r.out.data(),
                                      batch, stream)
                 : ntp_partials(k, x.data(), p.data(), r.out.data(), batch));
    if (!stream)
      EXPECT_EQ(seenDirection, p.data());
    status(async ? ntp_partials_backward_async(k, x.data(), p.data(),
                                               cot.data(), r.grad.data(),
                                               r.xGrad.data(), batch, stream)
                 : ntp_partials_backward(k, x.data(), p.data(), cot.data(),
                                         r.grad.data(), r.xGrad.data(), batch));
    status(async
               ? ntp_partials_save_async(k, x.data(), p.data(), r.saved.data(),
                                         ws.data(), batch, stream)
               : ntp_partials_save(k, x.data(), p.data(), r.saved.data(),
                                   ws.data(), batch));
    status(async ? ntp_partials_backward_saved_async(
                       k, x.data(), p.data(), cot.data(), r.gradSaved.data(),
                       r.xGradSaved.data(), ws.data(), batch, stream)
                 : ntp_partials_backward_saved(
                       k, x.data(), p.data(), cot.data(), r.gradSaved.data(),
                       r.xGradSaved.data(), ws.data(), batch));
    return r;
  };
  std::vector<uint8_t> wsSync(wsBytes), wsAsync(wsBytes), wsRefused(wsBytes);
  Results sync = run(false, nullptr, wsSync);
  Results async = run(true, nullptr, wsAsync);
  // The synchronous results are the tiles' sums (not left untouched)...
  EXPECT_EQ(sync.out[3], p[0] * x[3] * x[3]);
  EXPECT_EQ(sync.out[batch + 3], p[1] + x[3]);
  EXPECT_EQ(sync.grad[2], 0.0);
  EXPECT_EQ(sync.xGrad, sync.xGradSaved);
  // ...and the _async calls with a null stream give them bit for bit.
  EXPECT_EQ(async.out, sync.out);
  EXPECT_EQ(async.saved, sync.out);
  EXPECT_EQ(async.grad, sync.grad);
  EXPECT_EQ(async.xGrad, sync.xGrad);
  EXPECT_EQ(async.gradSaved, sync.gradSaved);
  EXPECT_EQ(async.xGradSaved, sync.xGradSaved);
  EXPECT_EQ(wsAsync, wsSync); // the header and the saved values
  // A stream: refused, nothing written.
  Results refused = run(true, kStream, wsRefused);
  EXPECT_EQ(refused.out, std::vector<double>(2 * batch, -7));
  EXPECT_EQ(refused.grad, std::vector<double>(kParamsCount, -7));
  EXPECT_EQ(refused.xGradSaved, std::vector<double>(batch, -7));
  EXPECT_EQ(wsRefused, std::vector<uint8_t>(wsBytes, 0));
  EXPECT_EQ(seenDirection, nullptr);
  EXPECT_EQ(fake->launches, 0);
}

} // namespace
