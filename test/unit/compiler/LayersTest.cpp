//===- LayersTest.cpp - Typed layers end to end, against the reference ----===//
//
// Networks with adaptive slopes (one per layer or per neuron) and residual
// connections (issue 14), compiled through the library path and run by the
// runtime: the jets against the independent long-double reference
// (test/reference, its own forward and reverse pass through the same layer
// kinds), the gradients (weights, biases and slopes) against the
// reference's reverse pass and against central differences of its forward,
// the training path (forward_save + backward_saved) against the recomputing
// backward, f32 against f64, and the kernel's self-description.
//
//===----------------------------------------------------------------------===//

#include "CompiledKernel.h"
#include "GpuEmulation.h"
#include "GradientCheck.h"
#include "TaylorReference.h"

#include "ntp/Compiler/Compiler.h"
#include "ntp/runtime.h"

#include "mlir/Parser/Parser.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <dlfcn.h>
#include <limits>
#include <random>
#include <string>
#include <tuple>
#include <unistd.h>
#include <vector>

namespace {

using ntp::test::centralDifference;
using ntp::test::CompiledKernel;
using ntp::test::EmulatedReverse;
using ntp::test::expectDirectionalDerivatives;
using ntp::test::expectTrainingPathAgrees;
using ntp::test::ld;
using ntp::test::Ld;
using ntp::test::pointGradientByDifferences;
using ntp::test::relativeError;
namespace art = ntp::artifact;

/// One typed network: widths, activations, slope kinds and residual flags
/// per hidden layer, an order.
struct Case {
  std::string name;
  std::vector<int> widths;
  std::string activation;
  std::vector<int> slopes;    // 0 none, 1 layer, 2 neuron (ntp_ref::Layers)
  std::vector<bool> residual; // empty: none
  int order;
  int fourier = 0; // frequencies of a Fourier-feature embedding
};

void PrintTo(const Case &c, std::ostream *os) { *os << c.name; }

std::string caseName(const ::testing::TestParamInfo<Case> &info) {
  return info.param.name;
}

ntp::MlpDescription describe(const Case &c, bool isF64) {
  ntp::MlpDescription d;
  d.layers.assign(c.widths.begin(), c.widths.end());
  d.activation = c.activation;
  d.order = c.order;
  d.isF64 = isF64;
  for (int s : c.slopes)
    d.kinds.slopes.push_back(static_cast<art::Slope>(s));
  d.kinds.residual = c.residual;
  d.kinds.fourier = c.fourier;
  return d;
}

ntp_ref::Layers refLayers(const Case &c) {
  return {c.slopes, c.residual, c.fourier};
}

/// Inputs of affine layer l (2m after a Fourier embedding).
int inWidth(const Case &c, size_t l) {
  return l == 1 && c.fourier ? 2 * c.fourier : c.widths[l - 1];
}

/// Parameters: PyTorch's Linear init for W and b, slopes near 1 (they
/// start at 1 in adaptive-activation codes; perturbed so that a slope
/// mixed up with another shows).
std::vector<double> randomParams(const Case &c, unsigned seed, bool f32) {
  std::mt19937_64 rng(seed);
  auto round = [&](double d) { return f32 ? double(float(d)) : d; };
  std::vector<double> p;
  // B of a Fourier embedding: frequencies of order 1.
  std::uniform_real_distribution<double> frequency(-1, 1);
  for (int i = 0; i < c.fourier * c.widths[0]; ++i)
    p.push_back(round(frequency(rng)));
  for (size_t l = 1; l < c.widths.size(); ++l) {
    double bound = 1 / std::sqrt(double(inWidth(c, l)));
    std::uniform_real_distribution<double> u(-bound, bound);
    for (int i = 0; i < c.widths[l] * inWidth(c, l) + c.widths[l]; ++i)
      p.push_back(round(u(rng)));
    if (l + 1 < c.widths.size() && !c.slopes.empty() && c.slopes[l - 1]) {
      std::uniform_real_distribution<double> slope(0.6, 1.6);
      int count = c.slopes[l - 1] == 1 ? 1 : c.widths[l];
      for (int i = 0; i < count; ++i)
        p.push_back(round(slope(rng)));
    }
  }
  return p;
}

struct Problem {
  std::vector<double> params, x, v, cotangent;
  int64_t batch;
  Problem(const Case &c, int64_t batch, unsigned seed, bool f32)
      : params(randomParams(c, seed, f32)), batch(batch) {
    std::mt19937_64 rng(seed + 1);
    std::uniform_real_distribution<double> unit(-1, 1);
    auto round = [&](double d) { return f32 ? double(float(d)) : d; };
    for (int64_t i = 0; i < batch * c.widths.front(); ++i)
      x.push_back(round(1.5 * unit(rng)));
    for (int i = 0; i < c.widths.front(); ++i)
      v.push_back(round(unit(rng)));
    for (int64_t i = 0; i < (c.order + 1) * batch * c.widths.back(); ++i)
      cotangent.push_back(round(unit(rng)));
  }
};

std::vector<Case> cases() {
  return {
      {"slope_layer_tanh_n4", {1, 8, 8, 1}, "tanh", {1, 1}, {}, 4},
      {"slope_neuron_silu_n6", {2, 6, 5, 1}, "silu", {2, 2}, {}, 6},
      {"slope_mixed_n9", {1, 7, 6, 5, 2}, "sin,tanh,gelu", {1, 0, 2}, {}, 9},
      {"residual_tanh_n5", {1, 8, 8, 8, 1}, "tanh", {}, {0, 1, 1}, 5},
      {"residual_slopes_n12",
       {2, 6, 6, 6, 1},
       "tanh,silu,sin",
       {2, 1, 2},
       {0, 1, 1},
       12},
      {"residual_gelu_tanh_n3",
       {3, 5, 5, 4, 4, 2},
       "gelu_tanh,cos,sigmoid,tanh",
       {0, 2, 1, 0},
       {0, 1, 0, 1},
       3},
      {"slope_order0", {1, 4, 1}, "tanh", {2}, {}, 0},
      {"residual_order1", {1, 4, 4, 1}, "softplus", {1, 1}, {0, 1}, 1},
      // Past order 16 (the Taylor recurrence).
      {"residual_slopes_n20", {1, 5, 5, 1}, "tanh", {2, 2}, {0, 1}, 20},
      // Fourier features (B trainable, first in params).
      {"fourier_tanh_n4", {1, 8, 1}, "tanh", {}, {}, 4, 3},
      {"fourier_2d_n9", {2, 7, 6, 1}, "silu,tanh", {}, {}, 9, 4},
      {"fourier_all_n6",
       {2, 6, 6, 6, 2},
       "tanh,sin,gelu",
       {2, 0, 1},
       {0, 1, 1},
       6,
       5},
      {"fourier_linear_n2", {3, 2}, "tanh", {}, {}, 2, 2},
      {"fourier_n16", {1, 5, 1}, "tanh", {}, {}, 16, 2},
  };
}

class LayersTest : public ::testing::TestWithParam<Case> {};

TEST_P(LayersTest, ForwardMatchesReference) {
  const Case &c = GetParam();
  auto kernel = CompiledKernel::compile(describe(c, true));
  ASSERT_TRUE(kernel);
  auto acts = ntp_ref::parseActivationList(
      c.activation, static_cast<int>(c.widths.size()) - 2);
  const int64_t batch = 21; // not a multiple of the tile
  Problem p(c, batch, 100 + c.order, false);
  ntp_kernel_info info;
  ASSERT_EQ(ntp_kernel_info_get(kernel->get(), &info), NTP_OK);
  ASSERT_EQ(info.num_params, ntp_ref::numParams(c.widths, refLayers(c)));
  ASSERT_EQ(int64_t(p.params.size()), info.num_params);
  std::vector<double> out((c.order + 1) * batch * c.widths.back());
  ASSERT_EQ(ntp_forward(kernel->get(), p.x.data(), p.v.data(), p.params.data(),
                        out.data(), batch),
            NTP_OK)
      << ntp_last_error();
  std::vector<Ld> ref = ntp_ref::jet(c.widths, acts, refLayers(c), c.order,
                                     ld(p.params), ld(p.x), ld(p.v), batch);
  // The plain MLP's bounds: 1e-12 up to order 12, 1e-11 beyond.
  EXPECT_LE(relativeError(out, ref), c.order <= 12 ? 1e-12 : 1e-11);
}

TEST_P(LayersTest, GradientsMatchReferenceAndDifferences) {
  const Case &c = GetParam();
  auto kernel = CompiledKernel::compile(describe(c, true));
  ASSERT_TRUE(kernel);
  auto acts = ntp_ref::parseActivationList(
      c.activation, static_cast<int>(c.widths.size()) - 2);
  const int64_t batch = 19;
  Problem p(c, batch, 300 + c.order, false);
  const int64_t P = static_cast<int64_t>(p.params.size());
  std::vector<double> grad(P), xGrad(p.x.size());
  ASSERT_EQ(ntp_backward_full(kernel->get(), p.x.data(), p.v.data(),
                              p.params.data(), p.cotangent.data(), grad.data(),
                              xGrad.data(), batch),
            NTP_OK)
      << ntp_last_error();

  // (1) The reference's reverse pass (slopes included).
  std::vector<Ld> refGrad = ntp_ref::jetParamGradient(
      c.widths, acts, refLayers(c), c.order, ld(p.params), ld(p.x), ld(p.v),
      batch, ld(p.cotangent));
  EXPECT_LE(relativeError(grad, refGrad), c.order <= 12 ? 1e-12 : 1e-11);

  auto loss = [&](const std::vector<Ld> &params, const std::vector<Ld> &x) {
    std::vector<Ld> out = ntp_ref::jet(c.widths, acts, refLayers(c), c.order,
                                       params, x, ld(p.v), batch);
    Ld sum = 0;
    for (size_t i = 0; i < out.size(); ++i)
      sum += Ld(p.cotangent[i]) * out[i];
    return sum;
  };
  // (2) Each slope's gradient alone against a central difference of the
  // reference forward, then random directions through all parameters.
  // Each slope and each entry of B alone against a central difference.
  std::vector<int64_t> slopeIndices;
  {
    int64_t at = 0;
    for (int64_t i = 0; i < int64_t(c.fourier) * c.widths[0]; ++i)
      slopeIndices.push_back(at++);
    for (size_t l = 1; l < c.widths.size(); ++l) {
      at += int64_t(c.widths[l]) * inWidth(c, l) + c.widths[l];
      if (l + 1 < c.widths.size() && !c.slopes.empty() && c.slopes[l - 1]) {
        int count = c.slopes[l - 1] == 1 ? 1 : c.widths[l];
        for (int i = 0; i < count; ++i)
          slopeIndices.push_back(at + i);
        at += count;
      }
    }
    ASSERT_EQ(at, P);
  }
  for (int64_t i : slopeIndices) {
    Ld fd = centralDifference(
        [&](Ld t) {
          std::vector<Ld> moved = ld(p.params);
          moved[i] += t;
          return loss(moved, ld(p.x));
        },
        2e-5L);
    EXPECT_NEAR(grad[i], double(fd), 1e-8 * std::max(1.0, std::fabs(grad[i])))
        << "slope or B parameter " << i;
  }
  expectDirectionalDerivatives(
      grad, p.params,
      [&](const std::vector<Ld> &params) { return loss(params, ld(p.x)); }, 2);
  // (3) The gradient with respect to the points.
  std::vector<Ld> refXGrad = pointGradientByDifferences(
      p.x, [&](const std::vector<Ld> &x) { return loss(ld(p.params), x); });
  EXPECT_LE(relativeError(xGrad, refXGrad), 1e-8) << "x_grad";

  // (4) The training path (saved jets) agrees with the recomputing one.
  expectTrainingPathAgrees(kernel->get(), p.x, p.v, p.params, p.cotangent,
                           batch, grad, xGrad);
}

TEST_P(LayersTest, F32MatchesF64) {
  const Case &c = GetParam();
  if (c.order > 12)
    GTEST_SKIP() << "f32 past order 12 is bounded elsewhere";
  auto k32 = CompiledKernel::compile(describe(c, false));
  auto k64 = CompiledKernel::compile(describe(c, true));
  ASSERT_TRUE(k32 && k64);
  const int64_t batch = 37;
  Problem p(c, batch, 500 + c.order, true);
  ntp::test::expectF32MatchesF64(k32->get(), k64->get(), p.x, p.v, p.params,
                                 p.cotangent, batch);
}

INSTANTIATE_TEST_SUITE_P(Typed, LayersTest, ::testing::ValuesIn(cases()),
                         caseName);

/// NVPTX: the same ops through the GPU pipeline, run by its host emulation
/// (one GPU block per tile; both thread mappings), against the reference.
class LayersGpuEmulationTest
    : public ::testing::TestWithParam<std::tuple<Case, std::string>> {};

TEST_P(LayersGpuEmulationTest, ForwardMatchesReference) {
  const auto &[c, mapping] = GetParam();
  ntp::test::TempKernel temp("ntp-layers-gpu");
  ASSERT_FALSE(temp.dir.empty());
  ASSERT_TRUE(ntp::test::compileEmulation(
      describe(c, true), ntp::test::emulatedTarget(mapping, 4, false),
      temp.path));
  ntp_kernel *kernel = nullptr;
  ASSERT_EQ(ntp_kernel_load(temp.path.c_str(), &kernel), NTP_OK)
      << ntp_last_error();
  auto acts = ntp_ref::parseActivationList(
      c.activation, static_cast<int>(c.widths.size()) - 2);
  const int64_t batch = 9;
  Problem p(c, batch, 700 + c.order, false);
  std::vector<double> out((c.order + 1) * batch * c.widths.back());
  ASSERT_EQ(ntp_forward(kernel, p.x.data(), p.v.data(), p.params.data(),
                        out.data(), batch),
            NTP_OK)
      << ntp_last_error();
  std::vector<Ld> ref = ntp_ref::jet(c.widths, acts, refLayers(c), c.order,
                                     ld(p.params), ld(p.x), ld(p.v), batch);
  EXPECT_LE(relativeError(out, ref), 1e-12);
  ntp_kernel_free(kernel);
}

/// The reverse mode on NVPTX, emulated: forward-save, backward-saved (a
/// gradient column per sample, a partial sum per block) and the reduction,
/// in the runtime's launch sequence, against the reference's reverse pass.
TEST_P(LayersGpuEmulationTest, GradientsMatchReference) {
  const auto &[c, mapping] = GetParam();
  ntp::MlpDescription description = describe(c, true);
  description.name = "ntp_kernel";
  ntp::test::TempKernel temp("ntp-layers-gpu");
  ASSERT_FALSE(temp.dir.empty());
  ntp::NvptxTargetOptions gpu = ntp::test::emulatedTarget(mapping, 4, true);
  int64_t samplesPerBlock = gpu.samplesPerLaunchBlock();
  ASSERT_TRUE(ntp::test::compileEmulation(description, gpu, temp.path));
  EmulatedReverse reverse(temp.path);
  ASSERT_TRUE(reverse.loaded());

  auto acts = ntp_ref::parseActivationList(
      c.activation, static_cast<int>(c.widths.size()) - 2);
  const int64_t batch = 2 * samplesPerBlock + 3;
  Problem p(c, batch, 900 + c.order, false);
  const int64_t P = static_cast<int64_t>(p.params.size());
  std::vector<int64_t> layers(c.widths.begin(), c.widths.end());
  art::LayerKinds kinds = describe(c, true).kinds;
  std::optional<int64_t> perBlock =
      art::workspaceElementsPerTile(layers, c.order, samplesPerBlock, kinds);
  ASSERT_TRUE(perBlock);
  int64_t blocks = (batch + samplesPerBlock - 1) / samplesPerBlock;
  const double nan = std::numeric_limits<double>::quiet_NaN();
  std::vector<double> out(p.cotangent.size(), nan),
      jets(size_t(blocks * *perBlock), nan), columns(size_t(P * batch), nan),
      partials(size_t(blocks * P), nan), xGrad(p.x.size(), nan),
      grad(size_t(P), nan);
  reverse.forwardSave(p.x, p.v, p.params, out, jets, batch, blocks);
  reverse.backwardSaved(p.x, p.v, p.params, p.cotangent, columns, xGrad, jets,
                        partials, batch, blocks);
  reverse.reduce(partials, grad, blocks);
  std::vector<Ld> refGrad = ntp_ref::jetParamGradient(
      c.widths, acts, refLayers(c), c.order, ld(p.params), ld(p.x), ld(p.v),
      batch, ld(p.cotangent));
  for (double g : grad)
    ASSERT_FALSE(std::isnan(g)) << "params_grad not written";
  EXPECT_LE(relativeError(grad, refGrad), 1e-12);
  std::vector<Ld> ref = ntp_ref::jet(c.widths, acts, refLayers(c), c.order,
                                     ld(p.params), ld(p.x), ld(p.v), batch);
  EXPECT_LE(relativeError(out, ref), 1e-12);
}

INSTANTIATE_TEST_SUITE_P(
    Typed, LayersGpuEmulationTest,
    ::testing::Combine(
        ::testing::Values(
            Case{"slopes_residual_n5", {1, 6, 6, 1}, "tanh", {2, 1}, {0, 1}, 5},
            Case{"fourier_all_n4",
                 {2, 5, 5, 1},
                 "silu,tanh",
                 {1, 2},
                 {0, 1},
                 4,
                 3}),
        ::testing::Values(std::string("sample"), std::string("lanes"))),
    [](const auto &info) {
      return std::get<0>(info.param).name + "_" + std::get<1>(info.param);
    });

/// A slope of 1 everywhere and no residual is the plain MLP: the same jet
/// from the same weights (the slope entries dropped).
TEST(LayersSemantics, UnitSlopesAreThePlainNetwork) {
  Case typed{"typed", {2, 6, 5, 1}, "tanh", {2, 1}, {}, 5};
  Case plain{"plain", {2, 6, 5, 1}, "tanh", {}, {}, 5};
  auto kTyped = CompiledKernel::compile(describe(typed, true));
  auto kPlain = CompiledKernel::compile(describe(plain, true));
  ASSERT_TRUE(kTyped && kPlain);
  Problem p(plain, 9, 11, false);
  std::vector<double> typedParams;
  for (size_t l = 1, at = 0; l < plain.widths.size(); ++l) {
    size_t n = size_t(plain.widths[l]) * plain.widths[l - 1] + plain.widths[l];
    typedParams.insert(typedParams.end(), p.params.begin() + at,
                       p.params.begin() + at + n);
    at += n;
    if (l == 1)
      typedParams.insert(typedParams.end(), 6, 1.0); // per neuron
    if (l == 2)
      typedParams.push_back(1.0); // per layer
  }
  std::vector<double> a(6 * 9), b(6 * 9);
  ASSERT_EQ(ntp_forward(kTyped->get(), p.x.data(), p.v.data(),
                        typedParams.data(), a.data(), 9),
            NTP_OK);
  ASSERT_EQ(ntp_forward(kPlain->get(), p.x.data(), p.v.data(), p.params.data(),
                        b.data(), 9),
            NTP_OK);
  EXPECT_EQ(a, b);
}

/// The artifact describes its typed layers: the description is the ntp.mlp
/// line (which ntp-opt parses back), the parameter count includes slopes.
TEST(LayersSemantics, KernelDescribesItsLayers) {
  Case c{"d", {2, 6, 6, 1}, "silu,tanh", {2, 1}, {0, 1}, 3};
  ntp::MlpDescription d = describe(c, true);
  d.name = "typed";
  auto kernel = CompiledKernel::compile(d);
  ASSERT_TRUE(kernel);
  char text[512];
  int64_t length = 0;
  ASSERT_EQ(ntp_kernel_description(kernel->get(), text, sizeof text, &length),
            NTP_OK);
  EXPECT_STREQ(text, "ntp.mlp @typed layers [2, 6, 6, 1] activation "
                     "[\"silu\", \"tanh\"] slopes [\"neuron\", \"layer\"] "
                     "residual [false, true] order 3 : f64");
  ntp_kernel_info info;
  ASSERT_EQ(ntp_kernel_info_get(kernel->get(), &info), NTP_OK);
  EXPECT_EQ(info.num_params, 2 * 6 + 6 + 6 + 6 * 6 + 6 + 1 + 6 + 1);
}

/// Bad typed layers: one sentence each from the library path.
TEST(LayersSemantics, BadLayersAreRefused) {
  mlir::DialectRegistry registry;
  ntp::registerNtpCompilerDialects(registry);
  mlir::MLIRContext context(registry);
  context.allowUnregisteredDialects(false);
  std::string message;
  context.getDiagEngine().registerHandler([&](mlir::Diagnostic &diag) {
    message = diag.str();
    return mlir::success();
  });
  Case residualWidths{"r", {1, 6, 5, 1}, "tanh", {}, {0, 1}, 2};
  EXPECT_FALSE(ntp::buildMlpModule(context, describe(residualWidths, true)));
  EXPECT_EQ(message, "'ntp.mlp' op residual hidden layer 2 maps width 6 to "
                     "5; a residual layer H + F(H) needs equal widths");
  Case slopeCount{"s", {1, 6, 5, 1}, "tanh", {2}, {}, 2};
  EXPECT_FALSE(ntp::buildMlpModule(context, describe(slopeCount, true)));
  EXPECT_EQ(message, "'ntp.mlp' op expects one slope kind per hidden layer: 2 "
                     "hidden layers, 1 slopes");
  // A partials kernel takes typed layers (issue 14 item 2).
  ntp::MlpDescription partials =
      describe({"p", {2, 4, 1}, "tanh", {1}, {}, 2}, true);
  partials.partials = {{2, 0}};
  EXPECT_TRUE(ntp::buildMlpModule(context, partials));
  // Through the dialect: `fourier 0` is refused by the verifier.
  mlir::OwningOpRef<mlir::ModuleOp> parsed =
      mlir::parseSourceString<mlir::ModuleOp>(
          "ntp.mlp @f layers [1, 6, 1] activation \"tanh\" fourier 0 order 2 "
          ": f64",
          &context);
  EXPECT_FALSE(parsed);
  EXPECT_EQ(message, "'ntp.mlp' op a Fourier embedding needs 1..32768 "
                     "frequencies (its width 2m at most kMaxWidth), got 0");
}

} // namespace
