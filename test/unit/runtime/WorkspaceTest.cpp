//===- WorkspaceTest.cpp - Workspace header, reduction order, threads -----===//
//
// An in-memory kernel with every entry point (f(x) = W x + b, order 1, tile
// 4, f64) written here, so that the runtime's side of the reverse mode can
// be tested without the compiler: the workspace header written by
// ntp_forward_save and checked by ntp_backward_saved (hardening defect 9),
// the fixed-order reduction of the parameter gradient (defect 10), and the
// thread-count cap (defect 5).
//
//===----------------------------------------------------------------------===//
#include "ntp/runtime.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <dirent.h>
#include <memory>
#include <random>
#include <string>
#include <vector>

namespace {

constexpr int64_t kTile = 4;
constexpr int64_t kWorkspacePerTile = 16; // (order + 1) * (1 + 1) * tile

std::string manifest(const std::string &name) {
  return "ntp-kernel-manifest\nabi_version=2\nname=" + name +
         "\nactivation=identity\norder=1\ndtype=f64\ndevice=cpu\n"
         "layers=1,1\nnum_params=2\ntile=4\nbackward=1\n"
         "workspace_per_tile=16\ntarget_cpu=x86-64\ncpu_features=\n";
}

std::atomic<const double *> lastSavedJets{nullptr};

void forwardTiles(const double *x, const double *v, const double *p,
                  double *out, int64_t batch, int64_t tb, int64_t te) {
  for (int64_t b = tb * kTile; b < te * kTile && b < batch; ++b) {
    out[b] = p[0] * x[b] + p[1];
    out[batch + b] = p[0] * v[0];
  }
}

void forwardSaveTiles(const double *x, const double *v, const double *p,
                      double *out, double *ws, int64_t batch, int64_t tb,
                      int64_t te) {
  lastSavedJets = ws;
  forwardTiles(x, v, p, out, batch, tb, te);
  for (int64_t b = tb * kTile; b < te * kTile && b < batch; ++b)
    ws[(b / kTile) * kWorkspacePerTile + b % kTile] = x[b];
}

/// Adds tile by tile, so that the order of the runtime's partial sums
/// shows in the last bits.
void backwardFrom(const double *xs, int64_t stride, const double *v,
                  const double *p, const double *cot, double *grad,
                  double *xGrad, int64_t batch, int64_t tb, int64_t te) {
  for (int64_t t = tb; t < te; ++t) {
    double gw = 0, gb = 0;
    for (int64_t b = t * kTile; b < (t + 1) * kTile && b < batch; ++b) {
      double x = stride ? xs[(b / kTile) * stride + b % kTile] : xs[b];
      gw += cot[b] * x + cot[batch + b] * v[0];
      gb += cot[b];
      xGrad[b] = cot[b] * p[0];
    }
    grad[0] += gw;
    grad[1] += gb;
  }
}

void backwardTiles(const double *x, const double *v, const double *p,
                   const double *cot, double *grad, double *xGrad,
                   int64_t batch, int64_t tb, int64_t te) {
  backwardFrom(x, 0, v, p, cot, grad, xGrad, batch, tb, te);
}

void backwardSavedTiles(const double *, const double *v, const double *p,
                        const double *cot, double *grad, double *xGrad,
                        const double *ws, int64_t batch, int64_t tb,
                        int64_t te) {
  backwardFrom(ws, kWorkspacePerTile, v, p, cot, grad, xGrad, batch, tb, te);
}

struct KernelDeleter {
  void operator()(ntp_kernel *k) const { ntp_kernel_free(k); }
};
using KernelPtr = std::unique_ptr<ntp_kernel, KernelDeleter>;

KernelPtr makeKernel(const std::string &name = "affine") {
  ntp_kernel_entry_points entry = {
      reinterpret_cast<void *>(&forwardTiles),
      reinterpret_cast<void *>(&backwardTiles),
      reinterpret_cast<void *>(&forwardSaveTiles),
      reinterpret_cast<void *>(&backwardSavedTiles)};
  ntp_kernel *k = nullptr;
  EXPECT_EQ(ntp_kernel_create_with(manifest(name).c_str(), &entry, nullptr,
                                   nullptr, &k),
            NTP_OK)
      << ntp_last_error();
  return KernelPtr(k);
}

/// A buffer of `bytes` bytes aligned to 64.
struct Aligned {
  explicit Aligned(int64_t bytes)
      : data(static_cast<char *>(std::aligned_alloc(
            64, static_cast<size_t>((bytes + 63) / 64 * 64)))) {
    std::memset(data, 0, static_cast<size_t>(bytes));
  }
  ~Aligned() { std::free(data); }
  char *data;
};

class WorkspaceTest : public ::testing::Test {
protected:
  void TearDown() override { ntp_set_num_threads(0); }

  std::vector<double> x = points(8, 1), v = {1.0}, params = {2.5, -0.75};
  std::vector<double> out = std::vector<double>(16), cot = points(16, 7),
                      grad = std::vector<double>(2),
                      xGrad = std::vector<double>(8);

  static std::vector<double> points(size_t n, unsigned seed) {
    std::mt19937_64 random(seed);
    std::uniform_real_distribution<double> u(-1, 1);
    std::vector<double> values(n);
    for (double &value : values)
      value = u(random);
    return values;
  }
};

TEST_F(WorkspaceTest, SizeIncludesTheHeaderAndJetsStayAligned) {
  KernelPtr k = makeKernel();
  int64_t bytes = 0;
  ASSERT_EQ(ntp_workspace_size(k.get(), 8, &bytes), NTP_OK);
  EXPECT_EQ(bytes, 64 + 2 * kWorkspacePerTile * 8);
  ASSERT_EQ(ntp_workspace_size(k.get(), 0, &bytes), NTP_OK);
  EXPECT_EQ(bytes, 64);
  ASSERT_EQ(ntp_workspace_size(k.get(), 8, &bytes), NTP_OK);
  Aligned ws(bytes);
  ASSERT_EQ(ntp_forward_save(k.get(), x.data(), v.data(), params.data(),
                             out.data(), ws.data, 8),
            NTP_OK)
      << ntp_last_error();
  EXPECT_EQ(reinterpret_cast<const char *>(lastSavedJets.load()), ws.data + 64);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(lastSavedJets.load()) % 64, 0u);

  // The saved path gives the recomputing path's gradients.
  ASSERT_EQ(ntp_backward_saved(k.get(), x.data(), v.data(), params.data(),
                               cot.data(), grad.data(), xGrad.data(), ws.data,
                               8),
            NTP_OK)
      << ntp_last_error();
  std::vector<double> grad2(2), xGrad2(8);
  ASSERT_EQ(ntp_backward_full(k.get(), x.data(), v.data(), params.data(),
                              cot.data(), grad2.data(), xGrad2.data(), 8),
            NTP_OK);
  EXPECT_EQ(grad, grad2);
  EXPECT_EQ(xGrad, xGrad2);
}

// Defect 9: a workspace saved for batch 8 and used with batch 64 read far
// past its end (SIGSEGV); saved for other x it silently gave another
// gradient.
TEST_F(WorkspaceTest, BackwardSavedRefusesAWorkspaceOfAnotherCall) {
  KernelPtr k = makeKernel();
  int64_t bytes = 0;
  ASSERT_EQ(ntp_workspace_size(k.get(), 8, &bytes), NTP_OK);
  Aligned ws(bytes);
  const std::string first =
      ": call ntp_forward_save with the same arguments first";
  auto saved = [&](const std::vector<double> &xs, const double *vv,
                   const double *pp, int64_t batch) {
    std::vector<double> cots(2 * static_cast<size_t>(batch));
    std::vector<double> xg(static_cast<size_t>(batch));
    return ntp_backward_saved(k.get(), xs.data(), vv, pp, cots.data(),
                              grad.data(), xg.data(), ws.data, batch);
  };
  EXPECT_EQ(saved(x, v.data(), params.data(), 8), NTP_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(std::string(ntp_last_error()),
            "the workspace was not written by ntp_forward_save (or was "
            "overwritten)" +
                first);

  ASSERT_EQ(ntp_forward_save(k.get(), x.data(), v.data(), params.data(),
                             out.data(), ws.data, 8),
            NTP_OK);
  EXPECT_EQ(saved(x, v.data(), params.data(), 8), NTP_OK) << ntp_last_error();
  std::vector<double> big = points(64, 3);
  EXPECT_EQ(saved(big, v.data(), params.data(), 64),
            NTP_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(std::string(ntp_last_error()),
            "the workspace was saved for batch 8, not 64" + first);
  std::vector<double> otherX = x;
  otherX[5] += 1e-9;
  EXPECT_EQ(saved(otherX, v.data(), params.data(), 8),
            NTP_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(std::string(ntp_last_error()),
            "the workspace was saved for other x" + first);
  double otherV = 2.0;
  EXPECT_EQ(saved(x, &otherV, params.data(), 8), NTP_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(std::string(ntp_last_error()),
            "the workspace was saved for another direction" + first);
  std::vector<double> otherParams = {2.5, 0.0};
  EXPECT_EQ(saved(x, v.data(), otherParams.data(), 8),
            NTP_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(std::string(ntp_last_error()),
            "the workspace was saved for other params" + first);

  KernelPtr other = makeKernel("other");
  std::vector<double> cots(16), xg(8);
  EXPECT_EQ(ntp_backward_saved(other.get(), x.data(), v.data(), params.data(),
                               cots.data(), grad.data(), xg.data(), ws.data, 8),
            NTP_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(std::string(ntp_last_error()),
            "the workspace was saved by another kernel" + first);

  // A damaged header.
  ws.data[20] ^= 1;
  EXPECT_EQ(saved(x, v.data(), params.data(), 8), NTP_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(std::string(ntp_last_error()),
            "the workspace was not written by ntp_forward_save (or was "
            "overwritten)" +
                first);
}

TEST_F(WorkspaceTest, CheckedVariantsCheckTheWorkspaceSize) {
  KernelPtr k = makeKernel();
  int64_t bytes = 0;
  ASSERT_EQ(ntp_workspace_size(k.get(), 8, &bytes), NTP_OK);
  Aligned ws(bytes);
  EXPECT_EQ(ntp_forward_save_checked(k.get(), x.data(), v.data(), params.data(),
                                     out.data(), ws.data, bytes - 1, 8),
            NTP_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(std::string(ntp_last_error()),
            "workspace has 319 bytes but batch 8 needs 320 "
            "(ntp_workspace_size)");
  ASSERT_EQ(ntp_forward_save_checked(k.get(), x.data(), v.data(), params.data(),
                                     out.data(), ws.data, bytes, 8),
            NTP_OK)
      << ntp_last_error();
  EXPECT_EQ(ntp_backward_saved_checked(k.get(), x.data(), v.data(),
                                       params.data(), cot.data(), grad.data(),
                                       xGrad.data(), ws.data, bytes, 8),
            NTP_OK)
      << ntp_last_error();
  // Batch 64 with the batch-8 workspace: refused by size before the header
  // is read.
  std::vector<double> big = points(64, 3), cots(128), xg(64);
  EXPECT_EQ(ntp_backward_saved_checked(k.get(), big.data(), v.data(),
                                       params.data(), cots.data(), grad.data(),
                                       xg.data(), ws.data, bytes, 64),
            NTP_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(std::string(ntp_last_error()),
            "workspace has 320 bytes but batch 64 needs 2112 "
            "(ntp_workspace_size)");
  EXPECT_EQ(ntp_backward_saved_checked(k.get(), x.data(), v.data(),
                                       params.data(), cot.data(), grad.data(),
                                       xGrad.data(), ws.data, -1, 8),
            NTP_ERROR_INVALID_ARGUMENT);
}

// Defect 10: the partial gradients of the threads were added in the order
// the threads finished, so equal calls differed in the last bits.
TEST_F(WorkspaceTest, BackwardIsBitwiseReproducibleForAThreadCount) {
  KernelPtr k = makeKernel();
  ASSERT_EQ(ntp_set_num_threads(4), NTP_OK);
  const int64_t batch = 4096;
  std::vector<double> xs = points(batch, 11), cots = points(2 * batch, 12);
  std::vector<double> first(2), xg(batch);
  ASSERT_EQ(ntp_backward(k.get(), xs.data(), v.data(), params.data(),
                         cots.data(), first.data(), batch),
            NTP_OK);
  for (int call = 0; call < 50; ++call) {
    std::vector<double> again(2);
    ASSERT_EQ(ntp_backward_full(k.get(), xs.data(), v.data(), params.data(),
                                cots.data(), again.data(), xg.data(), batch),
              NTP_OK);
    EXPECT_EQ(std::memcmp(again.data(), first.data(), 2 * sizeof(double)), 0)
        << "call " << call;
  }
  // And it is the sum (up to rounding) that one thread computes.
  ASSERT_EQ(ntp_set_num_threads(1), NTP_OK);
  std::vector<double> serial(2);
  ASSERT_EQ(ntp_backward(k.get(), xs.data(), v.data(), params.data(),
                         cots.data(), serial.data(), batch),
            NTP_OK);
  EXPECT_NEAR(serial[0], first[0], 1e-9);
  EXPECT_NEAR(serial[1], first[1], 1e-9);
}

int threadsOfThisProcess() {
  int count = 0;
  if (DIR *d = ::opendir("/proc/self/task")) {
    while (dirent *e = ::readdir(d))
      count += e->d_name[0] != '.';
    ::closedir(d);
  }
  return count;
}

// Defect 5: any thread count was taken, and the pool started that many
// workers even for a call of two tiles.
TEST_F(WorkspaceTest, ThreadCountIsCappedAndWorkersFollowTheWork) {
  EXPECT_EQ(ntp_set_num_threads(5000), NTP_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(std::string(ntp_last_error()),
            "n is 5000; at most 4096 threads are supported");
  ASSERT_EQ(ntp_set_num_threads(64), NTP_OK);
  KernelPtr k = makeKernel();
  int before = threadsOfThisProcess();
  std::vector<double> xs = points(16, 5), outs(32); // 4 tiles: 2 chunks
  ASSERT_EQ(
      ntp_forward(k.get(), xs.data(), v.data(), params.data(), outs.data(), 16),
      NTP_OK);
  EXPECT_LE(threadsOfThisProcess() - before, 1);
}

} // namespace

namespace {

// The _async variants on a CPU kernel: a null stream runs the synchronous
// call (same results), a stream is refused before anything runs.
TEST_F(WorkspaceTest, AsyncVariantsTakeNoStreamForACpuKernel) {
  KernelPtr k = makeKernel();
  int64_t bytes = 0;
  ASSERT_EQ(ntp_workspace_size(k.get(), 8, &bytes), NTP_OK);
  Aligned ws(bytes);
  void *stream = reinterpret_cast<void *>(uintptr_t(0x5157));
  const char *refusal = "a stream was given for a CPU kernel";
  EXPECT_EQ(ntp_forward_save_async(k.get(), x.data(), v.data(), params.data(),
                                   out.data(), ws.data, 8, stream),
            NTP_ERROR_INVALID_ARGUMENT);
  EXPECT_STREQ(ntp_last_error(), refusal);
  EXPECT_EQ(ntp_backward_async(k.get(), x.data(), v.data(), params.data(),
                               cot.data(), grad.data(), 8, stream),
            NTP_ERROR_INVALID_ARGUMENT);
  EXPECT_STREQ(ntp_last_error(), refusal);
  EXPECT_EQ(ntp_backward_full_async(k.get(), x.data(), v.data(), params.data(),
                                    cot.data(), grad.data(), xGrad.data(), 8,
                                    stream),
            NTP_ERROR_INVALID_ARGUMENT);
  EXPECT_STREQ(ntp_last_error(), refusal);
  EXPECT_EQ(ntp_backward_saved_async(k.get(), x.data(), v.data(), params.data(),
                                     cot.data(), grad.data(), xGrad.data(),
                                     ws.data, 8, stream),
            NTP_ERROR_INVALID_ARGUMENT);
  EXPECT_STREQ(ntp_last_error(), refusal);

  ASSERT_EQ(ntp_forward_save_async(k.get(), x.data(), v.data(), params.data(),
                                   out.data(), ws.data, 8, nullptr),
            NTP_OK)
      << ntp_last_error();
  ASSERT_EQ(ntp_backward_saved_async(k.get(), x.data(), v.data(), params.data(),
                                     cot.data(), grad.data(), xGrad.data(),
                                     ws.data, 8, nullptr),
            NTP_OK)
      << ntp_last_error();
  std::vector<double> grad2(2), xGrad2(8), grad3(2);
  ASSERT_EQ(ntp_backward_full_async(k.get(), x.data(), v.data(), params.data(),
                                    cot.data(), grad2.data(), xGrad2.data(), 8,
                                    nullptr),
            NTP_OK);
  ASSERT_EQ(ntp_backward_async(k.get(), x.data(), v.data(), params.data(),
                               cot.data(), grad3.data(), 8, nullptr),
            NTP_OK);
  EXPECT_EQ(grad, grad2);
  EXPECT_EQ(grad, grad3);
  EXPECT_EQ(xGrad, xGrad2);
}

} // namespace
