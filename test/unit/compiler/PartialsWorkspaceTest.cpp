//===- PartialsWorkspaceTest.cpp - Exact workspace of partials kernels ----===//
//
// ntp_workspace_size of a partials kernel is what its save writes, for each
// reverse mode: per-ray (the plan's jet coefficients), and one that follows
// a multi-direction or collapsed forward (the rows of its blocks,
// RaysBackward.cpp; KernelTarget::partialsSavedRows). For each, f32 and
// f64, and batches that are and are not multiples of the tile:
//   - the size is the 64-byte header plus, per tile, the saved rows times
//     workspaceElementsPerTile(layers, 0, tile) elements;
//   - a workspace of exactly that size followed by a guard region, all
//     filled with a canary, keeps the guard intact through _save and
//     _backward_saved, and the save reaches the workspace's last element
//     (so the size is not larger than needed);
//   - the gradients from the workspace equal the recomputing backward's.
//
//===----------------------------------------------------------------------===//

#include "CompiledKernel.h"
#include "ntp/Compiler/Compiler.h"
#include "ntp/Support/Partials.h"
#include "ntp/artifact.hpp"
#include "ntp/runtime.h"

#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/BuiltinOps.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <sstream>

namespace {

using ntp::test::CompiledKernel;
using Rows = std::vector<std::vector<int32_t>>;

constexpr int64_t kTile = 4;
constexpr int64_t kHeaderBytes = 64;
constexpr int64_t kGuardBytes = 4096;
constexpr unsigned char kCanary = 0xA5;

struct Case {
  std::string name;
  std::vector<int64_t> layers;
  Rows rows;
  std::string lowering; // forward
  std::string reverse;  // "auto" or "per-ray"
  bool perRayReverse;   // what the reverse mode must then be
};

ntp::partials::Row laplacian(int d) {
  ntp::partials::Row row;
  std::string error;
  EXPECT_TRUE(
      ntp::partials::operatorRow(ntp::partials::kLaplacian, {}, d, row, error))
      << error;
  return row;
}

std::vector<Case> cases() {
  return {
      {"collapsed", {3, 8, 6, 1}, {laplacian(3)}, "collapsed", "auto", false},
      {"multi_direction",
       {3, 8, 6, 1},
       {{1, 1, 0}, {2, 0, 0}, {0, 0, 0}},
       "multi-direction",
       "auto",
       false},
      {"collapsed_forced_per_ray",
       {3, 8, 6, 1},
       {laplacian(3)},
       "collapsed",
       "per-ray",
       true},
      {"per_ray", {2, 5, 1}, {{1, 1}, {0, 2}}, "per-ray", "auto", true},
  };
}

/// The rows of "collapsed: 2 blocks of rows 4,5, ...".
int64_t blockRows(const std::string &summary) {
  size_t at = summary.find("of rows ");
  if (at == std::string::npos)
    return 0;
  std::istringstream in(summary.substr(at + 8));
  int64_t total = 0, rows = 0;
  char comma = ',';
  while (comma == ',' && in >> rows) {
    total += rows;
    if (!(in >> comma))
      break;
  }
  return total;
}

template <class T> void checkCase(const Case &c) {
  constexpr bool f64 = sizeof(T) == 8;
  ntp::MlpDescription description;
  description.layers = c.layers;
  description.isF64 = f64;
  description.partials = c.rows;
  for (const auto &row : c.rows)
    description.order =
        std::max<int64_t>(description.order, ntp::partials::totalOrder(row));
  description.partialsLowering = c.lowering;
  description.partialsReverseLowering = c.reverse;
  ntp::CompileOptions options;
  options.backward = true;
  options.tileSize = kTile;
  std::string reverse;
  auto kernel = CompiledKernel::compile(
      description, options, /*errorOut=*/nullptr, [&](mlir::ModuleOp module) {
        reverse = ntp::test::kernelLowering(module, /*reverse=*/true);
      });
  ASSERT_TRUE(kernel);
  ntp_kernel *k = kernel->get();

  // The rows the save writes per sample.
  ntp::partials::Plan plan;
  std::string error;
  ASSERT_TRUE(
      ntp::partials::planPartials(c.rows, c.layers.front(), plan, error))
      << error;
  int64_t rows = plan.jetCoefficients();
  if (c.perRayReverse) {
    EXPECT_EQ(reverse.rfind("per-ray", 0), 0u) << reverse;
  } else {
    EXPECT_EQ(reverse.rfind(c.lowering, 0), 0u) << reverse;
    rows = blockRows(reverse);
    ASSERT_GT(rows, 0) << reverse;
    EXPECT_LT(rows, plan.jetCoefficients()) << reverse;
  }
  std::optional<int64_t> perRow =
      ntp::artifact::workspaceElementsPerTile(c.layers, 0, kTile);
  ASSERT_TRUE(perRow);

  int64_t d = c.layers.front(), q = c.layers.back();
  int64_t numParams = *ntp::artifact::countParams(c.layers);
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> u(-0.8, 0.8);
  std::vector<T> params(numParams);
  for (T &p : params)
    p = T(u(rng));
  for (int64_t batch : {1, 3, 4, 9, 16, 37}) {
    SCOPED_TRACE("batch " + std::to_string(batch));
    int64_t tiles = (batch + kTile - 1) / kTile;
    int64_t bytes = 0;
    ASSERT_EQ(ntp_workspace_size(k, batch, &bytes), NTP_OK) << ntp_last_error();
    EXPECT_EQ(bytes,
              kHeaderBytes + tiles * rows * *perRow * int64_t(sizeof(T)));

    std::vector<T> x(batch * d), cot(c.rows.size() * batch * q),
        out(cot.size()), grad(numParams), xGrad(x.size()), savedGrad(numParams),
        savedXGrad(x.size());
    for (T &v : x)
      v = T(u(rng));
    for (T &v : cot)
      v = T(u(rng));
    // The workspace, then the guard; canary everywhere. Aligned as the
    // runtime asks (64 bytes).
    std::vector<unsigned char> storage(bytes + kGuardBytes + 64);
    unsigned char *workspace = storage.data();
    workspace += (64 - reinterpret_cast<uintptr_t>(workspace) % 64) % 64;
    std::memset(workspace, kCanary, bytes + kGuardBytes);
    auto guardIntact = [&] {
      for (int64_t i = 0; i < kGuardBytes; ++i)
        if (workspace[bytes + i] != kCanary)
          return false;
      return true;
    };
    ASSERT_EQ(ntp_partials_save(k, x.data(), params.data(), out.data(),
                                workspace, batch),
              NTP_OK)
        << ntp_last_error();
    EXPECT_TRUE(guardIntact()) << "the save wrote past ntp_workspace_size";
    // The last element of the workspace is saved data: the size is no
    // larger than the save needs (the top rows of the last tile's last
    // lane are stacked at its end).
    if (batch % kTile == 0) {
      bool written = false;
      for (size_t i = 0; i < sizeof(T); ++i)
        written |= workspace[bytes - 1 - i] != kCanary;
      EXPECT_TRUE(written) << "the save left the workspace's end unwritten";
    }
    ASSERT_EQ(ntp_partials_backward_saved(k, x.data(), params.data(),
                                          cot.data(), savedGrad.data(),
                                          savedXGrad.data(), workspace, batch),
              NTP_OK)
        << ntp_last_error();
    EXPECT_TRUE(guardIntact()) << "backward_saved wrote past the workspace";
    ASSERT_EQ(ntp_partials_backward(k, x.data(), params.data(), cot.data(),
                                    grad.data(), xGrad.data(), batch),
              NTP_OK)
        << ntp_last_error();
    EXPECT_EQ(grad, savedGrad);
    EXPECT_EQ(xGrad, savedXGrad);
    // The checked save refuses a workspace one byte short.
    EXPECT_EQ(ntp_partials_save_checked(k, x.data(), params.data(), out.data(),
                                        workspace, bytes - 1, batch),
              NTP_ERROR_INVALID_ARGUMENT);
  }
}

class PartialsWorkspace : public ::testing::TestWithParam<Case> {};

TEST_P(PartialsWorkspace, ExactSizeF64) { checkCase<double>(GetParam()); }
TEST_P(PartialsWorkspace, ExactSizeF32) { checkCase<float>(GetParam()); }

INSTANTIATE_TEST_SUITE_P(Reverse, PartialsWorkspace,
                         ::testing::ValuesIn(cases()),
                         [](const auto &info) { return info.param.name; });

/// The Laplacian of d-64-64-64-1 (the benchmark network) at batch
/// 1024: the workspace of the collapsed reverse against the per-ray one,
/// printed, for d = 2 and 8 in f64 (d = 32 and f32 take minutes to compile
/// on a loaded machine: README's table was printed with {2, 8, 32} x {f64,
/// f32} here).
TEST(PartialsWorkspaceSizes, LaplacianBenchmarkNetwork) {
  for (int d : {2, 8})
    for (bool f64 : {true}) {
      int64_t sizes[2] = {0, 0};
      std::string summaries[2];
      for (int forced = 0; forced < 2; ++forced) {
        ntp::MlpDescription description;
        description.layers = {d, 64, 64, 64, 1};
        description.isF64 = f64;
        description.partials = {laplacian(d)};
        description.order = 2;
        description.partialsLowering = "collapsed";
        description.partialsReverseLowering = forced ? "per-ray" : "auto";
        ntp::CompileOptions options;
        options.backward = true;
        auto kernel = CompiledKernel::compile(
            description, options, nullptr, [&](mlir::ModuleOp module) {
              summaries[forced] =
                  ntp::test::kernelLowering(module, /*reverse=*/true);
            });
        ASSERT_TRUE(kernel);
        ASSERT_EQ(ntp_workspace_size(kernel->get(), 1024, &sizes[forced]),
                  NTP_OK);
      }
      std::printf("Laplacian d=%2d %s batch 1024: workspace %10lld bytes "
                  "(collapsed reverse, rows %lld) vs %10lld per-ray "
                  "(%.2fx)\n",
                  d, f64 ? "f64" : "f32", (long long)sizes[0],
                  (long long)blockRows(summaries[0]), (long long)sizes[1],
                  double(sizes[1]) / double(sizes[0]));
      EXPECT_LT(sizes[0], sizes[1]);
      // Collapsed Laplacian: row 0, d rays of order 1, one collapsed row.
      EXPECT_EQ(blockRows(summaries[0]), d + 2) << summaries[0];
    }
}

/// A partials kernel compiled forward only (ntp-compile --backward=false,
/// CompileOptions::backward = false) computes its partials and refuses the
/// reverse-mode calls with the jet kernels' sentence.
TEST(PartialsWorkspaceSizes, ForwardOnlyRefusesTheReverseMode) {
  ntp::MlpDescription description;
  description.layers = {3, 8, 1};
  description.isF64 = true;
  description.partials = {laplacian(3)};
  description.order = 2;
  ntp::CompileOptions options;
  options.backward = false;
  auto kernel = CompiledKernel::compile(description, options);
  ASSERT_TRUE(kernel);
  ntp_kernel *k = kernel->get();
  const int64_t batch = 5;
  std::vector<double> x(batch * 3, 0.25), params(3 * 8 + 8 + 8 + 1, 0.1),
      out(batch, NAN), cot(batch, 1.0), grad(params.size()), xGrad(x.size());
  std::vector<unsigned char> workspace(1 << 16);
  ASSERT_EQ(ntp_partials(k, x.data(), params.data(), out.data(), batch), NTP_OK)
      << ntp_last_error();
  EXPECT_FALSE(std::isnan(out[0]));
  auto refused = [](const char *function) {
    return std::string(function) +
           " is not supported by this kernel: it was compiled without the "
           "reverse-mode entry points";
  };
  EXPECT_EQ(ntp_partials_save(k, x.data(), params.data(), out.data(),
                              workspace.data(), batch),
            NTP_ERROR_UNSUPPORTED);
  EXPECT_EQ(std::string(ntp_last_error()), refused("ntp_partials_save"));
  EXPECT_EQ(ntp_partials_backward_saved(k, x.data(), params.data(), cot.data(),
                                        grad.data(), xGrad.data(),
                                        workspace.data(), batch),
            NTP_ERROR_UNSUPPORTED);
  EXPECT_EQ(std::string(ntp_last_error()),
            refused("ntp_partials_backward_saved"));
  EXPECT_EQ(ntp_partials_backward(k, x.data(), params.data(), cot.data(),
                                  grad.data(), xGrad.data(), batch),
            NTP_ERROR_UNSUPPORTED);
  EXPECT_EQ(std::string(ntp_last_error()), refused("ntp_partials_backward"));
  int64_t bytes = 0;
  EXPECT_EQ(ntp_workspace_size(k, batch, &bytes), NTP_ERROR_UNSUPPORTED);
}

} // namespace
