//===- GpuEmulationTest.cpp - The GPU kernels' logic against the reference ===//
//
// No GPU here or in CI: ntp-gpu-emulation-pipeline turns the CUDA kernel
// that ntp-gpu-kernel builds (both mappings: a thread per sample, a warp per
// sample) into a host kernel that runs the launch grid block by block and,
// within a block, the code between barriers thread by thread. Its jets are
// compared with the long-double reference evaluator, with the CPU kernels'
// tolerances. This checks what the GPU lowering decides (which thread does
// which neuron and sample, the shared buffers, the barriers, the clamped
// samples of the last block); NVVM, PTX and the driver are checked elsewhere
// (ptxas acceptance, the fake driver) and on a GPU (test/gpu).
//
// The reverse mode (GpuBackwardEmulationTest): the emulated forward-save,
// backward-saved (per-sample gradient columns, each block's sum into a
// partials row) and reduce kernels, called in the runtime's launch sequence,
// against the reference's own reverse pass (params_grad) and central
// differences of its forward (x_grad), at BackwardTest.cpp's bounds; batches
// end inside a block and span several blocks.
//
//===----------------------------------------------------------------------===//
#include "GpuEmulation.h"
#include "GradientCheck.h"
#include "TaylorReference.h"

#include "ntp/Compiler/Compiler.h"
#include "ntp/runtime.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <dlfcn.h>
#include <limits>
#include <optional>
#include <random>
#include <string>
#include <unistd.h>
#include <vector>

namespace {

using ntp::test::centralDifference;
using ntp::test::EmulatedReverse;
using ntp::test::Ld;
using ntp::test::TempKernel;

struct Case {
  std::vector<int> widths;
  std::string activation;
  int order;
  bool isF64;
  std::string mapping; // sample | lanes
  int64_t samplesPerBlock = 4;
};

std::string name(const Case &c) {
  std::string act = c.activation;
  std::replace(act.begin(), act.end(), ',', '_');
  std::string s = c.mapping + "_" + act + "_o" + std::to_string(c.order) +
                  (c.isF64 ? "_f64" : "_f32");
  for (int w : c.widths)
    s += "_" + std::to_string(w);
  return s;
}

/// The test's name, e.g. layers_1_24_24_24_1_tanh_order9_f32_lanes_block4
/// (name() above seeds the inputs, so it stays as it is).
std::string testName(const Case &c) {
  std::string s = "layers";
  for (int w : c.widths)
    s += "_" + std::to_string(w);
  std::string act = c.activation;
  std::replace(act.begin(), act.end(), ',', '_');
  return s + "_" + act + "_order" + std::to_string(c.order) +
         (c.isF64 ? "_f64_" : "_f32_") + c.mapping + "_block" +
         std::to_string(c.samplesPerBlock);
}

/// What gtest (and ctest's test list) print for GetParam().
void PrintTo(const Case &c, std::ostream *os) {
  *os << "layers ";
  for (size_t i = 0; i < c.widths.size(); ++i)
    *os << (i ? "-" : "") << c.widths[i];
  *os << ", " << c.activation << ", order " << c.order
      << (c.isF64 ? ", f64, " : ", f32, ") << c.mapping << " mapping, "
      << c.samplesPerBlock << " samples per block";
}

/// The CPU kernels' bounds (EndToEndTest.cpp): relative to each order's
/// largest reference value.
double tolerance(bool isF64, int k) {
  if (isF64)
    return k <= 12 ? 1e-12 : 1e-11;
  return k <= 10 ? 1e-4 : 2e-3;
}

/// The NVPTX options of `c` (its mapping and block shape).
ntp::NvptxTargetOptions emulatedTarget(const Case &c, bool backward) {
  return ntp::test::emulatedTarget(c.mapping, c.samplesPerBlock, backward);
}

/// The host emulation of `c`'s CUDA kernel (with the reverse mode if
/// `backward`), compiled to `path`.
::testing::AssertionResult compileEmulation(const Case &c, bool backward,
                                            const std::string &path) {
  ntp::MlpDescription description;
  description.layers.assign(c.widths.begin(), c.widths.end());
  description.activation = c.activation;
  description.order = c.order;
  description.isF64 = c.isF64;
  return ntp::test::compileEmulation(description, emulatedTarget(c, backward),
                                     path);
}

class GpuEmulationTest : public ::testing::TestWithParam<Case> {};

TEST_P(GpuEmulationTest, MatchesTheReference) {
  const Case &c = GetParam();
  TempKernel temp;
  ASSERT_FALSE(temp.dir.empty());
  ASSERT_TRUE(compileEmulation(c, /*backward=*/false, temp.path));
  ntp_kernel *kernel = nullptr;
  ASSERT_EQ(ntp_kernel_load(temp.path.c_str(), &kernel), NTP_OK)
      << ntp_last_error();

  int d = c.widths.front(), q = c.widths.back();
  std::mt19937_64 rng(std::hash<std::string>()(name(c)));
  auto rounded = [&](Ld value) -> Ld {
    return c.isF64 ? Ld(double(value)) : Ld(float(value));
  };
  auto random = [&](size_t n, double lo, double hi) {
    std::uniform_real_distribution<double> u(lo, hi);
    std::vector<Ld> values(n);
    for (Ld &e : values)
      e = rounded(u(rng));
    return values;
  };
  std::vector<Ld> params = random(ntp_ref::numParams(c.widths), -1.0, 1.0);
  std::vector<Ld> v = random(d, -1.0, 1.0);
  const std::vector<ntp_ref::Activation> act = ntp_ref::parseActivationList(
      c.activation, static_cast<int>(c.widths.size()) - 2);
  std::vector<Ld> maxDiff(c.order + 1, 0), maxRef(c.order + 1, 0);
  // Batches that end inside a block (clamped samples), fill blocks exactly,
  // and span several.
  for (int64_t batch : {int64_t(1), c.samplesPerBlock + 1, int64_t(37)}) {
    std::vector<Ld> x = random(batch * d, -2.0, 2.0);
    std::vector<Ld> ref =
        ntp_ref::jet(c.widths, act, c.order, params, x, v, batch);
    size_t outCount = size_t(c.order + 1) * batch * q;
    std::vector<Ld> out(outCount);
    auto run = [&](auto zero) {
      using T = decltype(zero);
      std::vector<T> xs(x.begin(), x.end()), vs(v.begin(), v.end()),
          ps(params.begin(), params.end());
      // Guard elements past the end must stay untouched.
      std::vector<T> os(outCount + 8, std::numeric_limits<T>::quiet_NaN());
      ASSERT_EQ(ntp_forward(kernel, xs.data(), vs.data(), ps.data(), os.data(),
                            batch),
                NTP_OK)
          << ntp_last_error();
      for (size_t i = outCount; i < os.size(); ++i)
        ASSERT_TRUE(std::isnan(os[i])) << "wrote past the output";
      std::copy(os.begin(), os.begin() + outCount, out.begin());
    };
    if (c.isF64)
      run(double());
    else
      run(float());
    for (int k = 0; k <= c.order; ++k)
      for (int64_t i = k * batch * q; i < (k + 1) * batch * q; ++i) {
        Ld diff = std::isnan(out[i]) ? std::numeric_limits<Ld>::infinity()
                                     : std::fabs(out[i] - ref[i]);
        maxDiff[k] = std::max(maxDiff[k], diff);
        maxRef[k] = std::max(maxRef[k], std::fabs(ref[i]));
      }
  }
  for (int k = 0; k <= c.order; ++k) {
    double err =
        maxRef[k] == 0 ? double(maxDiff[k]) : double(maxDiff[k] / maxRef[k]);
    RecordProperty("err_k" + std::to_string(k), std::to_string(err));
    EXPECT_LE(err, tolerance(c.isF64, k)) << "order " << k;
  }
  ntp_kernel_free(kernel);
}

std::vector<Case> cases() {
  std::vector<Case> all;
  for (std::string mapping : {"sample", "lanes"}) {
    // The PINN network at the orders the GPU checks time, both dtypes.
    for (int order : {0, 1, 2, 5, 9})
      for (bool isF64 : {false, true})
        all.push_back({{1, 24, 24, 24, 1}, "tanh", order, isF64, mapping});
    // Wider than a warp (two neurons per lane), several inputs and outputs,
    // other activations, order 12.
    all.push_back({{2, 40, 3}, "sin", 4, true, mapping});
    all.push_back({{3, 33, 17, 2}, "softplus", 6, true, mapping});
    all.push_back({{1, 8, 8, 1}, "sigmoid", 12, true, mapping});
    all.push_back({{2, 5, 1}, "exp", 3, false, mapping});
    all.push_back({{1, 16, 1}, "identity", 3, true, mapping});
    all.push_back({{2, 12, 1}, "cos", 5, true, mapping});
    all.push_back({{1, 20, 20, 1}, "silu", 9, false, mapping});
    all.push_back({{1, 20, 20, 1}, "gelu", 9, true, mapping});
    all.push_back({{1, 20, 20, 1}, "gelu", 5, false, mapping});
    all.push_back({{3, 9, 2}, "gelu_tanh", 7, true, mapping});
    // One activation per hidden layer, and orders past 16.
    all.push_back(
        {{1, 12, 12, 12, 1}, "silu,identity,gelu_tanh", 6, true, mapping});
    all.push_back({{1, 8, 8, 1}, "tanh,sin", 24, true, mapping});
  }
  // One sample per block and a full 32-warp block in the lanes mapping.
  all.push_back({{1, 24, 24, 1}, "tanh", 5, true, "lanes", 1});
  all.push_back({{1, 24, 24, 1}, "tanh", 5, true, "lanes", 32});
  return all;
}

class GpuBackwardEmulationTest : public ::testing::TestWithParam<Case> {};

TEST_P(GpuBackwardEmulationTest, GradientsMatchTheReference) {
  const Case &c = GetParam();
  TempKernel temp;
  ASSERT_FALSE(temp.dir.empty());
  int64_t samplesPerBlock =
      emulatedTarget(c, /*backward=*/true).samplesPerLaunchBlock();
  ASSERT_TRUE(compileEmulation(c, /*backward=*/true, temp.path));
  EmulatedReverse reverse(temp.path);
  ASSERT_TRUE(reverse.loaded());

  int d = c.widths.front(), q = c.widths.back();
  std::vector<int64_t> layers(c.widths.begin(), c.widths.end());
  int64_t numParams = ntp_ref::numParams(c.widths);
  std::mt19937_64 rng(std::hash<std::string>()("bwd" + name(c)));
  auto rounded = [&](Ld value) -> Ld {
    return c.isF64 ? Ld(double(value)) : Ld(float(value));
  };
  auto random = [&](size_t n, double lo, double hi) {
    std::uniform_real_distribution<double> u(lo, hi);
    std::vector<Ld> values(n);
    for (Ld &e : values)
      e = rounded(u(rng));
    return values;
  };
  std::vector<Ld> params;
  for (size_t l = 1; l < c.widths.size(); ++l) {
    double bound = 1 / std::sqrt(double(c.widths[l - 1]));
    std::vector<Ld> layer =
        random(c.widths[l] * c.widths[l - 1] + c.widths[l], -bound, bound);
    params.insert(params.end(), layer.begin(), layer.end());
  }
  std::vector<Ld> v = random(d, -1.0, 1.0);
  ntp_ref::Activation act = ntp_ref::parseActivation(c.activation);
  // One sample, several blocks ending inside the last, and for the lanes
  // mapping more blocks than one reduction row.
  std::vector<int64_t> batches = {1, samplesPerBlock + 1,
                                  2 * samplesPerBlock + 3};
  if (samplesPerBlock < 16)
    batches.push_back(37);
  double paramsErr = 0, xErr = 0;
  for (int64_t batch : batches) {
    std::vector<Ld> x = random(batch * d, -2.0, 2.0);
    std::vector<Ld> cot = random(size_t(c.order + 1) * batch * q, -1.0, 1.0);
    std::vector<Ld> refGrad = ntp_ref::jetParamGradient(
        c.widths, act, c.order, params, x, v, batch, cot);
    // x_grad: the loss is a sum over samples; sample b's inputs move only
    // its own terms, so differentiate a batch of one.
    std::vector<Ld> refXGrad(x.size());
    if (c.isF64)
      for (int64_t b = 0; b < batch; ++b) {
        std::vector<Ld> cotB;
        for (int k = 0; k <= c.order; ++k)
          for (int j = 0; j < q; ++j)
            cotB.push_back(cot[(k * batch + b) * q + j]);
        for (int i = 0; i < d; ++i) {
          auto loss = [&](Ld t) {
            std::vector<Ld> point(x.begin() + b * d, x.begin() + (b + 1) * d);
            point[i] += t;
            std::vector<Ld> out =
                ntp_ref::jet(c.widths, act, c.order, params, point, v, 1);
            Ld sum = 0;
            for (size_t e = 0; e < out.size(); ++e)
              sum += cotB[e] * out[e];
            return sum;
          };
          refXGrad[b * d + i] = centralDifference(loss, 2e-5L);
        }
      }
    int64_t blocks = batch / samplesPerBlock + (batch % samplesPerBlock != 0);
    std::optional<int64_t> perBlock = ntp::artifact::workspaceElementsPerTile(
        layers, c.order, samplesPerBlock);
    ASSERT_TRUE(perBlock);
    auto run = [&](auto zero) {
      using T = decltype(zero);
      T nan = std::numeric_limits<T>::quiet_NaN();
      std::vector<T> xs(x.begin(), x.end()), vs(v.begin(), v.end()),
          ps(params.begin(), params.end()), cs(cot.begin(), cot.end());
      std::vector<T> out(size_t(c.order + 1) * batch * q, nan),
          jets(size_t(blocks * *perBlock), nan),
          columns(size_t(numParams * batch), nan),
          partials(size_t(blocks * numParams), nan),
          xGrad(size_t(batch * d), nan), grad(size_t(numParams), nan);
      // The runtime's launch sequence (Dispatch.cpp): forward-save, then
      // backward-saved over the same grid, then the reduction, a thread
      // per parameter.
      reverse.forwardSave(xs, vs, ps, out, jets, batch, blocks);
      reverse.backwardSaved(xs, vs, ps, cs, columns, xGrad, jets, partials,
                            batch, blocks);
      reverse.reduce(partials, grad, blocks);
      // Every partials row is written (no stale rows reach the sum).
      for (T value : partials)
        ASSERT_FALSE(std::isnan(value))
            << "a partials row is NaN: unwritten, or summed before its "
               "columns were written";
      std::vector<Ld> g(grad.begin(), grad.end()),
          xg(xGrad.begin(), xGrad.end());
      for (Ld value : g)
        ASSERT_FALSE(std::isnan(value)) << "params_grad not written";
      paramsErr = std::max(paramsErr, ntp::test::relativeError(g, refGrad));
      if (c.isF64)
        xErr = std::max(xErr, ntp::test::relativeError(xg, refXGrad));
    };
    if (c.isF64)
      run(double());
    else
      run(float());
  }
  char text[64];
  std::snprintf(text, sizeof(text), "%.3e", paramsErr);
  RecordProperty("params_grad_err", text);
  std::snprintf(text, sizeof(text), "%.3e", xErr);
  RecordProperty("x_grad_err", text);
  // BackwardTest.cpp's bounds: params_grad 1e-12 against the reference's
  // reverse pass, x_grad 1e-8 against central differences (f64); f32 1e-4.
  EXPECT_LE(paramsErr, c.isF64 ? 1e-12 : 1e-4) << "params_grad";
  if (c.isF64)
    EXPECT_LE(xErr, 1e-8) << "x_grad";
}

std::vector<Case> backwardCases() {
  std::vector<Case> all;
  for (std::string mapping : {"sample", "lanes"}) {
    for (int order : {0, 2, 5, 9})
      all.push_back({{1, 24, 24, 24, 1}, "tanh", order, true, mapping});
    all.push_back({{1, 24, 24, 24, 1}, "tanh", 9, false, mapping});
    all.push_back({{2, 40, 3}, "sin", 4, true, mapping});
    all.push_back({{3, 33, 17, 2}, "softplus", 6, true, mapping});
    all.push_back({{1, 8, 8, 1}, "sigmoid", 12, true, mapping});
    all.push_back({{2, 5, 1}, "exp", 3, false, mapping});
  }
  all.push_back({{1, 24, 24, 1}, "tanh", 5, true, "lanes", 1});
  all.push_back({{1, 24, 24, 1}, "tanh", 5, true, "lanes", 32});
  return all;
}

INSTANTIATE_TEST_SUITE_P(Kernels, GpuBackwardEmulationTest,
                         ::testing::ValuesIn(backwardCases()),
                         [](const ::testing::TestParamInfo<Case> &info) {
                           return testName(info.param);
                         });

INSTANTIATE_TEST_SUITE_P(Kernels, GpuEmulationTest,
                         ::testing::ValuesIn(cases()),
                         [](const ::testing::TestParamInfo<Case> &info) {
                           return testName(info.param);
                         });

} // namespace
