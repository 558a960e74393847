//===- StackTest.cpp - Tiles run only on threads with the stack for them --===//
//
// A tile keeps its jets on the stack of the thread running it. The runtime
// must run tiles only on threads with at least the manifest's bound left
// (jetStackElementsPerTile * dtype bytes): a caller with a small stack (a
// Python or Java thread) hands them to the workers. The fake entry point
// here measures the stack it is given instead of using it; the real kernels
// are tested in test/unit/compiler/SmallStackTest.cpp.
//
//===----------------------------------------------------------------------===//
#include "ntp/artifact.hpp"
#include "ntp/runtime.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <pthread.h>
#include <set>
#include <string>
#include <vector>

namespace {

/// The stack left on this thread at the caller of this function.
int64_t stackLeft() {
  pthread_attr_t attr;
  void *addr = nullptr;
  size_t size = 0;
  if (pthread_getattr_np(pthread_self(), &attr) != 0)
    return -1;
  pthread_attr_getstack(&attr, &addr, &size);
  pthread_attr_destroy(&attr);
  return reinterpret_cast<intptr_t>(__builtin_frame_address(0)) -
         reinterpret_cast<intptr_t>(addr);
}

std::atomic<int64_t> minStackLeft{INT64_MAX};
std::mutex threadsMutex;
std::set<pthread_t> tileThreads;

/// A forward that copies x into out[0] and records where it ran.
extern "C" void measuringTiles(const double *x, const double *, const double *,
                               double *out, int64_t batch, int64_t tileBegin,
                               int64_t tileEnd) {
  int64_t left = stackLeft();
  int64_t seen = minStackLeft.load();
  while (left < seen && !minStackLeft.compare_exchange_weak(seen, left)) {
  }
  {
    std::lock_guard<std::mutex> lock(threadsMutex);
    tileThreads.insert(pthread_self());
  }
  // tile = 8 in both manifests below.
  for (int64_t b = tileBegin * 8; b < std::min(tileEnd * 8, batch); ++b)
    out[b] = x[b];
}

/// A forward-only f64 manifest of 1-width-1 at `order`, tile 8.
std::string manifest(int64_t width, int order) {
  return "ntp-kernel-manifest\nabi_version=2\nname=stack\n"
         "activation=tanh\norder=" +
         std::to_string(order) + "\ndtype=f64\ndevice=cpu\nlayers=1," +
         std::to_string(width) +
         ",1\nnum_params=" + std::to_string(3 * width + 1) +
         "\ntile=8\nbackward=0\nworkspace_per_tile=0\n"
         "target_cpu=x86-64\ncpu_features=\n";
}

int64_t jetBytes(int64_t width, int order) {
  return *ntp::artifact::jetStackElementsPerTile({1, width, 1}, order, 8) * 8;
}

/// Runs `body` on a new thread with a stack of `bytes` and waits.
void onThreadWithStack(size_t bytes, const std::function<void()> &body) {
  pthread_attr_t attr;
  ASSERT_EQ(pthread_attr_init(&attr), 0);
  ASSERT_EQ(pthread_attr_setstacksize(&attr, bytes), 0);
  pthread_t thread;
  auto run = [](void *arg) -> void * {
    (*static_cast<const std::function<void()> *>(arg))();
    return nullptr;
  };
  ASSERT_EQ(pthread_create(&thread, &attr, run,
                           const_cast<std::function<void()> *>(&body)),
            0);
  pthread_attr_destroy(&attr);
  pthread_join(thread, nullptr);
}

class StackTest : public ::testing::Test {
protected:
  void SetUp() override {
    minStackLeft = INT64_MAX;
    tileThreads.clear();
  }
  void TearDown() override { ntp_set_num_threads(0); }

  /// A forward of `batch` points; checks that every point was computed.
  ntp_status forward(ntp_kernel *k, int64_t batch) {
    std::vector<double> x(static_cast<size_t>(batch)), out(17 * batch, 0.0);
    std::vector<double> params(1 << 16, 0.0);
    for (int64_t b = 0; b < batch; ++b)
      x[b] = double(b + 1);
    double v = 1;
    ntp_status status =
        ntp_forward(k, x.data(), &v, params.data(), out.data(), batch);
    if (status == NTP_OK)
      for (int64_t b = 0; b < batch; ++b)
        EXPECT_EQ(out[b], x[b]) << "point " << b;
    return status;
  }
};

// 17 * 8 * (4 * 480 + 2) doubles: 2.0 MB of jets per tile.
constexpr int64_t kWidth = 480;
constexpr int kOrder = 16;

TEST_F(StackTest, SmallStackCallerHandsItsTilesToWorkers) {
  // 2 MB of jets per tile, and the most the compiler allows (1-963-1 at
  // order 16, f64: 4193152 bytes, as test/Transforms/decompose-mlp-stack
  // says), which the workers' stacks must hold.
  for (int64_t width : {kWidth, int64_t(963)}) {
    ntp_kernel *k = nullptr;
    ASSERT_EQ(ntp_kernel_create(manifest(width, kOrder).c_str(),
                                reinterpret_cast<void *>(measuringTiles),
                                nullptr, nullptr, &k),
              NTP_OK)
        << ntp_last_error();
    const int64_t needed = jetBytes(width, kOrder);
    ASSERT_GT(needed, 1 << 20);
    ASSERT_LE(needed, ntp::artifact::kMaxTileStackBytes);
    // One tile and many; one thread (the caller alone, normally) and four.
    for (int threads : {1, 4})
      for (int64_t batch : {int64_t(3), int64_t(8 * 40 + 5)}) {
        SCOPED_TRACE("width " + std::to_string(width) + ", threads " +
                     std::to_string(threads) + ", batch " +
                     std::to_string(batch));
        ASSERT_EQ(ntp_set_num_threads(threads), NTP_OK);
        SetUp();
        pthread_t caller{};
        onThreadWithStack(256 * 1024, [&] {
          caller = pthread_self();
          EXPECT_EQ(forward(k, batch), NTP_OK) << ntp_last_error();
        });
        EXPECT_GE(minStackLeft.load(), needed);
        EXPECT_EQ(tileThreads.count(caller), 0u);
        EXPECT_LE(tileThreads.size(), size_t(threads));
      }
    ntp_kernel_free(k);
  }
}

TEST_F(StackTest, LargeStackCallerStillRunsTiles) {
  ntp_kernel *k = nullptr;
  ASSERT_EQ(ntp_kernel_create(manifest(kWidth, kOrder).c_str(),
                              reinterpret_cast<void *>(measuringTiles), nullptr,
                              nullptr, &k),
            NTP_OK)
      << ntp_last_error();
  ASSERT_EQ(ntp_set_num_threads(1), NTP_OK);
  pthread_t caller{};
  onThreadWithStack(size_t(16) << 20, [&] {
    caller = pthread_self();
    EXPECT_EQ(forward(k, 8 * 40 + 5), NTP_OK) << ntp_last_error();
  });
  // One thread: the caller ran everything, as before.
  EXPECT_EQ(tileThreads, std::set<pthread_t>{caller});
  EXPECT_GE(minStackLeft.load(), jetBytes(kWidth, kOrder));
  ntp_kernel_free(k);
}

TEST_F(StackTest, TileBeyondTheWorkersStackNeedsALargeCaller) {
  // Beyond the compiler's bound (kMaxTileStackBytes), which a hand-written
  // manifest can be: 17 * 8 * (4 * 16384 + 2) doubles, 68 MiB.
  const int64_t width = 16384;
  ASSERT_GT(jetBytes(width, kOrder), int64_t(64) << 20);
  ntp_kernel *k = nullptr;
  ASSERT_EQ(ntp_kernel_create(manifest(width, kOrder).c_str(),
                              reinterpret_cast<void *>(measuringTiles), nullptr,
                              nullptr, &k),
            NTP_OK)
      << ntp_last_error();
  onThreadWithStack(256 * 1024, [&] {
    EXPECT_EQ(forward(k, 20), NTP_ERROR_UNSUPPORTED);
    EXPECT_NE(std::string(ntp_last_error()).find("bytes of stack"),
              std::string::npos)
        << ntp_last_error();
  });
  EXPECT_TRUE(tileThreads.empty());
  // A caller whose stack has room runs it alone.
  pthread_t caller{};
  onThreadWithStack(size_t(96) << 20, [&] {
    caller = pthread_self();
    EXPECT_EQ(forward(k, 20), NTP_OK) << ntp_last_error();
  });
  EXPECT_EQ(tileThreads, std::set<pthread_t>{caller});
  ntp_kernel_free(k);
}

/// A reverse-mode entry point that records where it ran and writes zeros.
extern "C" void measuringBackwardTiles(const double *, const double *,
                                       const double *, const double *, double *,
                                       double *xGrad, int64_t batch,
                                       int64_t tileBegin, int64_t tileEnd) {
  measuringTiles(xGrad, nullptr, nullptr, xGrad, batch, tileBegin, tileEnd);
}

TEST_F(StackTest, PartialsReverseModeCountsItsStackedRays) {
  // A partials kernel's backward keeps its C ray coefficients of the top
  // layer on the stack beyond the jets of one ray: with C = 20000 (read
  // from the workspace, C coefficients' worth) that is 1.28 MB per tile of
  // 8 doubles, far above the jets of 1-8-1 at order 2, so a caller with
  // 1 MiB of stack must hand its tiles to the workers.
  const int64_t columns = 20000;
  int64_t perCoefficient =
      *ntp::artifact::workspaceElementsPerTile({1, 8, 1}, 0, 8);
  std::string text =
      "ntp-kernel-manifest\nabi_version=2\nname=stack\nactivation=tanh\n"
      "order=2\ndtype=f64\ndevice=cpu\nlayers=1,8,1\nnum_params=25\n"
      "tile=8\nbackward=1\nworkspace_per_tile=" +
      std::to_string(columns * perCoefficient) +
      "\ntarget_cpu=x86-64\ncpu_features=\npartials=2;0\n";
  // (The training pair is never called here; any address will do.)
  void *forward = reinterpret_cast<void *>(measuringTiles),
       *backward = reinterpret_cast<void *>(measuringBackwardTiles);
  ntp_kernel_entry_points entry = {forward, backward, forward, backward};
  ntp_kernel *k = nullptr;
  ASSERT_EQ(ntp_kernel_create_with(text.c_str(), &entry, nullptr, nullptr, &k),
            NTP_OK)
      << ntp_last_error();
  ASSERT_LT(jetBytes(8, 2) + (256 << 10), 1 << 20);
  ASSERT_EQ(ntp_set_num_threads(1), NTP_OK);
  const int64_t batch = 8 * 3;
  std::vector<double> x(batch, 1.0), params(25, 0.0), cot(2 * batch, 1.0),
      xGrad(batch, 5.0);
  pthread_t caller{};
  onThreadWithStack(size_t(1) << 20, [&] {
    caller = pthread_self();
    EXPECT_EQ(ntp_partials_backward(k, x.data(), params.data(), cot.data(),
                                    nullptr, xGrad.data(), batch),
              NTP_OK)
        << ntp_last_error();
  });
  EXPECT_EQ(tileThreads.count(caller), 0u);
  EXPECT_FALSE(tileThreads.empty());
  EXPECT_GE(minStackLeft.load(), columns * 8 * 8);
  ntp_kernel_free(k);
}

TEST_F(StackTest, ForwardOnlyPartialsKernelHoldsTheCompilersBound) {
  // A partials kernel's forward may be lowered multi-direction or collapsed:
  // its blocks of rays (a collapsed Laplacian over 60 inputs of a 256-wide
  // network: 2 * 62 rows * 256 * 8 doubles, 2 MB per tile) are not stated
  // by its manifest, which a jet kernel of the same order (here 1-8-1 at
  // order 2, a few KiB) would fit into a 1 MiB stack. The runtime holds it
  // to the compiler's bound, kMaxTileStackBytes: such a caller hands its
  // tiles to the workers.
  std::string text =
      "ntp-kernel-manifest\nabi_version=2\nname=stack\nactivation=tanh\n"
      "order=2\ndtype=f64\ndevice=cpu\nlayers=1,8,1\nnum_params=25\n"
      "tile=8\nbackward=0\nworkspace_per_tile=0\ntarget_cpu=x86-64\n"
      "cpu_features=\npartials=-2\n";
  ntp_kernel_entry_points entry = {reinterpret_cast<void *>(measuringTiles),
                                   nullptr, nullptr, nullptr};
  ntp_kernel *k = nullptr;
  ASSERT_EQ(ntp_kernel_create_with(text.c_str(), &entry, nullptr, nullptr, &k),
            NTP_OK)
      << ntp_last_error();
  ASSERT_LT(jetBytes(8, 2) + (256 << 10), 1 << 20);
  ASSERT_EQ(ntp_set_num_threads(1), NTP_OK);
  const int64_t batch = 8 * 3;
  std::vector<double> x(batch), params(25, 0.0), out(batch, 0.0);
  for (int64_t b = 0; b < batch; ++b)
    x[b] = double(b + 1);
  pthread_t caller{};
  onThreadWithStack(size_t(1) << 20, [&] {
    caller = pthread_self();
    EXPECT_EQ(ntp_partials(k, x.data(), params.data(), out.data(), batch),
              NTP_OK)
        << ntp_last_error();
  });
  EXPECT_EQ(tileThreads.count(caller), 0u);
  EXPECT_FALSE(tileThreads.empty());
  EXPECT_GE(minStackLeft.load(), ntp::artifact::kMaxTileStackBytes);
  EXPECT_EQ(out, x);
  ntp_kernel_free(k);
}

} // namespace
