//===- GatedTest.cpp - The modified MLP's gated layer, end to end ---------===//
//
// Gated networks (issue 14: U = s(W_u X + b_u), V = s(W_v X + b_v), per
// hidden layer Z = s(a (W H + b)) and H = U + Z (V - U)), with and without a
// Fourier embedding and adaptive slopes, every activation, orders 0..16,
// compiled through the library path and run by the runtime: the jets against
// the independent long-double reference (test/reference: normalized Taylor
// coefficients, its own forward and reverse pass of the gate), the gradient
// of every parameter (W_u, b_u, W_v, b_v, the layers' W, b and slopes, B)
// against the reference's reverse pass and, one parameter at a time,
// against central differences of the reference's forward, the points'
// gradient against differences, the training path against the recomputing
// backward, f32 against f64, the NVPTX lowering by its host emulation (both
// mappings), and bad networks refused with one sentence.
//
//===----------------------------------------------------------------------===//

#include "CompiledKernel.h"
#include "GpuEmulation.h"
#include "GradientCheck.h"
#include "TaylorReference.h"

#include "ntp/Compiler/Compiler.h"
#include "ntp/Compiler/KernelFacts.h"
#include "ntp/JIT/Jit.h"
#include "ntp/runtime.h"

#include "mlir/Parser/Parser.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
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

/// One gated network.
struct Case {
  std::string name;
  std::vector<int> widths;
  std::string activation;
  std::vector<int> slopes; // 0 none, 1 layer, 2 neuron (ntp_ref::Layers)
  int order;
  int fourier = 0;
};

void PrintTo(const Case &c, std::ostream *os) { *os << c.name; }

ntp::MlpDescription describe(const Case &c, bool isF64) {
  ntp::MlpDescription d;
  d.layers.assign(c.widths.begin(), c.widths.end());
  d.activation = c.activation;
  d.order = c.order;
  d.isF64 = isF64;
  for (int s : c.slopes)
    d.kinds.slopes.push_back(static_cast<art::Slope>(s));
  d.kinds.fourier = c.fourier;
  d.kinds.gated = true;
  return d;
}

ntp_ref::Layers refLayers(const Case &c) {
  ntp_ref::Layers layers{c.slopes, {}, c.fourier};
  layers.gated = true;
  return layers;
}

/// The width X has (2m after a Fourier embedding).
int xWidth(const Case &c) { return c.fourier ? 2 * c.fourier : c.widths[0]; }

/// What each parameter is, in the documented order: B, W_u, b_u, W_v, b_v,
/// then per layer W_l, b_l, [a_l].
std::vector<std::string> paramKinds(const Case &c) {
  std::vector<std::string> kinds;
  auto add = [&](const std::string &name, int64_t n) {
    kinds.insert(kinds.end(), size_t(n), name);
  };
  int h = c.widths[1];
  add("B", int64_t(c.fourier) * c.widths[0]);
  add("W_u", int64_t(h) * xWidth(c));
  add("b_u", h);
  add("W_v", int64_t(h) * xWidth(c));
  add("b_v", h);
  for (size_t l = 1; l < c.widths.size(); ++l) {
    int in = l == 1 ? xWidth(c) : c.widths[l - 1];
    add("W_" + std::to_string(l), int64_t(c.widths[l]) * in);
    add("b_" + std::to_string(l), c.widths[l]);
    if (l + 1 < c.widths.size() && !c.slopes.empty() && c.slopes[l - 1])
      add("a_" + std::to_string(l), c.slopes[l - 1] == 1 ? 1 : c.widths[l]);
  }
  return kinds;
}

/// PyTorch's Linear init for every W and b (fan-in of their input), B of
/// order 1, slopes near 1.
std::vector<double> randomParams(const Case &c, unsigned seed, bool f32) {
  std::mt19937_64 rng(seed);
  auto round = [&](double d) { return f32 ? double(float(d)) : d; };
  std::vector<double> p;
  for (const std::string &kind : paramKinds(c)) {
    double bound = 1;
    if (kind[0] == 'W' || kind[0] == 'b') {
      int in = kind.size() > 2 &&
                       (kind[2] == 'u' || kind[2] == 'v' || kind[2] == '1')
                   ? xWidth(c)
                   : c.widths[1];
      bound = 1 / std::sqrt(double(in));
    }
    std::uniform_real_distribution<double> u(-bound, bound), slope(0.6, 1.6);
    p.push_back(round(kind[0] == 'a' ? slope(rng) : u(rng)));
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

/// "1.23e-14": a measured error, as --gtest_output records it.
std::string scientific(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%.2e", value);
  return text;
}

/// The bound of the plain MLP's tests: 1e-12 to order 12, 1e-11 beyond.
double bound(int order) { return order <= 12 ? 1e-12 : 1e-11; }

/// Every activation appears in some case; orders 0..16.
std::vector<Case> cases() {
  return {
      {"tanh_n4", {1, 8, 8, 1}, "tanh", {}, 4},
      {"silu_3layers_n6", {2, 6, 6, 6, 1}, "silu", {}, 6},
      {"slopes_sin_tanh_gelu_n9",
       {2, 5, 5, 5, 2},
       "sin,tanh,gelu",
       {1, 0, 2},
       9},
      {"fourier_tanh_n5", {1, 6, 6, 1}, "tanh", {}, 5, 3},
      {"fourier_slopes_n12", {2, 5, 5, 1}, "tanh,silu", {2, 1}, 12, 2},
      {"one_layer_gelu_tanh_n3", {3, 4, 2}, "gelu_tanh", {}, 3},
      {"sigmoid_order0", {1, 4, 4, 1}, "sigmoid", {2, 2}, 0},
      {"softplus_order1", {1, 4, 4, 1}, "softplus", {}, 1},
      {"identity_exp_n7", {2, 4, 4, 1}, "identity,exp", {0, 1}, 7},
      {"cos_sigmoid_n8", {1, 5, 5, 5, 1}, "cos,sigmoid,softplus", {}, 8, 2},
      {"tanh_n16", {1, 5, 5, 1}, "tanh", {2, 0}, 16},
  };
}

class GatedTest : public ::testing::TestWithParam<Case> {};

TEST_P(GatedTest, ForwardMatchesReference) {
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
  double error = relativeError(out, ref);
  EXPECT_LE(error, bound(c.order));
  RecordProperty("forward_relative_error", scientific(error));
}

TEST_P(GatedTest, GradientsMatchReferenceAndDifferences) {
  const Case &c = GetParam();
  auto kernel = CompiledKernel::compile(describe(c, true));
  ASSERT_TRUE(kernel);
  auto acts = ntp_ref::parseActivationList(
      c.activation, static_cast<int>(c.widths.size()) - 2);
  const int64_t batch = 19;
  Problem p(c, batch, 300 + c.order, false);
  const int64_t P = static_cast<int64_t>(p.params.size());
  std::vector<std::string> kinds = paramKinds(c);
  ASSERT_EQ(int64_t(kinds.size()), P);
  std::vector<double> grad(P), xGrad(p.x.size());
  ASSERT_EQ(ntp_backward_full(kernel->get(), p.x.data(), p.v.data(),
                              p.params.data(), p.cotangent.data(), grad.data(),
                              xGrad.data(), batch),
            NTP_OK)
      << ntp_last_error();

  // (1) The reference's reverse pass, every parameter.
  std::vector<Ld> refGrad = ntp_ref::jetParamGradient(
      c.widths, acts, refLayers(c), c.order, ld(p.params), ld(p.x), ld(p.v),
      batch, ld(p.cotangent));
  double error = relativeError(grad, refGrad);
  EXPECT_LE(error, bound(c.order));
  RecordProperty("gradient_relative_error", scientific(error));
  // Each kind of parameter on its own scale (a small b_v gradient must not
  // hide behind a large W_1 one).
  for (const std::string &kind : {std::string("W_u"), std::string("b_u"),
                                  std::string("W_v"), std::string("b_v")}) {
    std::vector<double> mine;
    std::vector<Ld> theirs;
    for (int64_t i = 0; i < P; ++i)
      if (kinds[i] == kind) {
        mine.push_back(grad[i]);
        theirs.push_back(refGrad[i]);
      }
    EXPECT_LE(relativeError(mine, theirs), 10 * bound(c.order)) << kind;
  }

  // (2) Every parameter alone against a central difference of the
  // reference's forward.
  auto loss = [&](const std::vector<Ld> &params, const std::vector<Ld> &x) {
    std::vector<Ld> out = ntp_ref::jet(c.widths, acts, refLayers(c), c.order,
                                       params, x, ld(p.v), batch);
    Ld sum = 0;
    for (size_t i = 0; i < out.size(); ++i)
      sum += Ld(p.cotangent[i]) * out[i];
    return sum;
  };
  Ld gradScale = 0;
  for (double g : grad)
    gradScale = std::max(gradScale, Ld(std::fabs(g)));
  for (int64_t i = 0; i < P; ++i) {
    Ld fd = centralDifference(
        [&](Ld t) {
          std::vector<Ld> moved = ld(p.params);
          moved[i] += t;
          return loss(moved, ld(p.x));
        },
        2e-5L);
    EXPECT_NEAR(grad[i], double(fd), 1e-8 * double(std::max(Ld(1), gradScale)))
        << kinds[i] << " (parameter " << i << ")";
  }
  // (3) The gradient with respect to the points.
  std::vector<Ld> refXGrad = pointGradientByDifferences(
      p.x, [&](const std::vector<Ld> &x) { return loss(ld(p.params), x); });
  EXPECT_LE(relativeError(xGrad, refXGrad), 1e-8) << "x_grad";

  // (4) The training path (saved jets) agrees with the recomputing one.
  expectTrainingPathAgrees(kernel->get(), p.x, p.v, p.params, p.cotangent,
                           batch, grad, xGrad);
}

TEST_P(GatedTest, F32MatchesF64) {
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

INSTANTIATE_TEST_SUITE_P(Gated, GatedTest, ::testing::ValuesIn(cases()),
                         [](const auto &info) { return info.param.name; });

/// NVPTX: the gated ops through the GPU pipeline, run by its host emulation
/// (one GPU block per tile; both thread mappings), against the reference.
class GatedGpuEmulationTest
    : public ::testing::TestWithParam<std::tuple<Case, std::string>> {};

ntp::NvptxTargetOptions gpuOptions(const std::string &mapping, bool backward) {
  return ntp::test::emulatedTarget(mapping, 4, backward);
}

TEST_P(GatedGpuEmulationTest, ForwardMatchesReference) {
  const auto &[c, mapping] = GetParam();
  ntp::test::TempKernel temp("ntp-gated-gpu");
  ASSERT_FALSE(temp.dir.empty());
  ASSERT_TRUE(ntp::test::compileEmulation(
      describe(c, true), gpuOptions(mapping, false), temp.path));
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
  EXPECT_LE(relativeError(out, ref), bound(c.order));
  ntp_kernel_free(kernel);
}

/// The reverse mode on NVPTX, emulated in the runtime's launch sequence
/// (forward-save, backward-saved with a gradient column per sample and a
/// partial sum per block, the reduction), against the reference.
TEST_P(GatedGpuEmulationTest, GradientsMatchReference) {
  const auto &[c, mapping] = GetParam();
  ntp::MlpDescription description = describe(c, true);
  description.name = "ntp_kernel";
  ntp::test::TempKernel temp("ntp-gated-gpu");
  ASSERT_FALSE(temp.dir.empty());
  ntp::NvptxTargetOptions gpu = gpuOptions(mapping, true);
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
  std::optional<int64_t> perBlock = art::workspaceElementsPerTile(
      layers, c.order, samplesPerBlock, description.kinds);
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
  EXPECT_LE(relativeError(grad, refGrad), bound(c.order));
  std::vector<Ld> ref = ntp_ref::jet(c.widths, acts, refLayers(c), c.order,
                                     ld(p.params), ld(p.x), ld(p.v), batch);
  EXPECT_LE(relativeError(out, ref), bound(c.order));
}

INSTANTIATE_TEST_SUITE_P(
    Gated, GatedGpuEmulationTest,
    ::testing::Combine(
        ::testing::Values(
            Case{"tanh_n5", {1, 6, 6, 6, 1}, "tanh", {}, 5},
            Case{"fourier_slopes_n4", {2, 5, 5, 1}, "silu,tanh", {1, 2}, 4, 3}),
        ::testing::Values(std::string("sample"), std::string("lanes"))),
    [](const auto &info) {
      return std::get<0>(info.param).name + "_" + std::get<1>(info.param);
    });

/// With equal branches (W_u = W_v, b_u = b_v) every gate is U whatever Z
/// is: the network is the plain one-hidden-layer MLP d-h-q with W_1 = W_u.
TEST(GatedSemantics, EqualBranchesAreThePlainNetwork) {
  Case gated{"gated", {2, 6, 6, 6, 1}, "tanh", {}, 5};
  auto kGated = CompiledKernel::compile(describe(gated, true));
  auto kPlain =
      CompiledKernel::compile(std::vector<int>{2, 6, 1}, "tanh", 5, true);
  ASSERT_TRUE(kGated && kPlain);
  Problem p(gated, 9, 11, false);
  std::vector<std::string> kinds = paramKinds(gated);
  std::vector<double> params = p.params, plain;
  // b_v := b_u, W_v := W_u; the plain network: W_u, b_u, W_out, b_out.
  for (size_t i = 0, u = 0; i < kinds.size(); ++i) {
    if (kinds[i] == "W_u" || kinds[i] == "b_u")
      plain.push_back(params[i]);
    if (kinds[i] == "W_v" || kinds[i] == "b_v")
      params[i] = plain[u++];
    if (kinds[i] == "W_4" || kinds[i] == "b_4")
      plain.push_back(params[i]);
  }
  ASSERT_EQ(plain.size(), size_t(2 * 6 + 6 + 6 + 1));
  std::vector<double> a(6 * 9), b(6 * 9);
  ASSERT_EQ(ntp_forward(kGated->get(), p.x.data(), p.v.data(), params.data(),
                        a.data(), 9),
            NTP_OK);
  ASSERT_EQ(ntp_forward(kPlain->get(), p.x.data(), p.v.data(), plain.data(),
                        b.data(), 9),
            NTP_OK);
  // u + z * 0 is u exactly; the same affine and activation ops remain.
  EXPECT_LE(relativeError(a, b), 1e-15);
}

/// The artifact describes its gates: the ntp.mlp line (which parses back),
/// the parameter count with W_u, b_u, W_v, b_v, the manifest key.
TEST(GatedSemantics, KernelDescribesItsLayers) {
  Case c{"d", {2, 6, 6, 1}, "silu", {2, 0}, 3, 4};
  ntp::MlpDescription d = describe(c, true);
  d.name = "modified";
  auto kernel = CompiledKernel::compile(d);
  ASSERT_TRUE(kernel);
  char text[512];
  int64_t length = 0;
  ASSERT_EQ(ntp_kernel_description(kernel->get(), text, sizeof text, &length),
            NTP_OK);
  EXPECT_STREQ(text, "ntp.mlp @modified layers [2, 6, 6, 1] activation "
                     "\"silu\" fourier 4 gated slopes [\"neuron\", \"none\"] "
                     "order 3 : f64");
  ntp_kernel_info info;
  ASSERT_EQ(ntp_kernel_info_get(kernel->get(), &info), NTP_OK);
  // B [4, 2]; W_u [6, 8], b_u; W_v, b_v; W_1 [6, 8], b_1, 6 slopes; W_2,
  // b_2; W_3, b_3.
  EXPECT_EQ(info.num_params,
            8 + 2 * (48 + 6) + (48 + 6 + 6) + (36 + 6) + (6 + 1));
  // The description compiles to the same network (the JIT's way in).
  mlir::DialectRegistry registry;
  ntp::registerNtpCompilerDialects(registry);
  mlir::MLIRContext context(registry);
  mlir::OwningOpRef<mlir::ModuleOp> parsed =
      mlir::parseSourceString<mlir::ModuleOp>(text, &context);
  ASSERT_TRUE(parsed);
  // The JIT's spec spells the same ntp.mlp.
  ntp::MlpSpec spec;
  spec.layers = {2, 6, 6, 1};
  spec.activation = "silu";
  spec.order = 3;
  spec.dtype = ntp::Dtype::F64;
  spec.fourier = 4;
  spec.gated = true;
  spec.slopes = {"neuron", "none"};
  EXPECT_EQ(ntp::mlpText(spec),
            "ntp.mlp @ntp_kernel layers [2, 6, 6, 1] activation \"silu\" "
            "fourier 4 gated slopes [\"neuron\", \"none\"] order 3 : f64\n");
}

/// The cache key tells a gated kernel from the plain one of the same widths.
TEST(GatedSemantics, CacheKeyNamesTheGates) {
  ntp::NetworkDescription network;
  network.name = "k";
  network.layers = {1, 8, 8, 1};
  network.activation = "tanh";
  network.order = 3;
  ntp::KernelTarget target;
  art::KernelManifest plain, gated;
  std::string error;
  ASSERT_TRUE(ntp::describeKernel(network, target, plain, error)) << error;
  network.kinds.gated = true;
  ASSERT_TRUE(ntp::describeKernel(network, target, gated, error)) << error;
  std::string key = ntp::kernelKeyText(gated);
  EXPECT_NE(key.find("\ngated=1\n"), std::string::npos) << key;
  EXPECT_EQ(ntp::kernelKeyText(plain).find("gated"), std::string::npos);
  EXPECT_EQ(gated.numParams, plain.numParams + 2 * (8 + 8));
}

/// Bad gated networks: one sentence each, from the library path and the
/// dialect.
TEST(GatedSemantics, BadNetworksAreRefused) {
  mlir::DialectRegistry registry;
  ntp::registerNtpCompilerDialects(registry);
  mlir::MLIRContext context(registry);
  std::string message;
  context.getDiagEngine().registerHandler([&](mlir::Diagnostic &diag) {
    message = diag.str();
    return mlir::success();
  });
  Case widths{"w", {1, 6, 5, 1}, "tanh", {}, 2};
  EXPECT_FALSE(ntp::buildMlpModule(context, describe(widths, true)));
  EXPECT_EQ(message, "'ntp.mlp' op a gated layer's branches differ in width: "
                     "U and V have the first hidden width 6 but hidden layer "
                     "2 has width 5; every hidden layer of a gated network "
                     "has the width of U and V");
  Case none{"n", {2, 1}, "tanh", {}, 2};
  EXPECT_FALSE(ntp::buildMlpModule(context, describe(none, true)));
  EXPECT_EQ(message, "'ntp.mlp' op a gated network needs at least one hidden "
                     "layer (U and V gate the hidden layers)");
  ntp::MlpDescription residual =
      describe({"r", {1, 6, 6, 1}, "tanh", {}, 2}, true);
  residual.kinds.residual = {false, true};
  EXPECT_FALSE(ntp::buildMlpModule(context, residual));
  EXPECT_EQ(message, "'ntp.mlp' op a gated network has no residual layers: "
                     "each hidden layer's output is already the gate U + Z "
                     "(V - U)");
  // A gated partials kernel is valid (issue 14 item 2; it runs per ray).
  ntp::MlpDescription partials =
      describe({"p", {2, 4, 1}, "tanh", {}, 2}, true);
  partials.partials = {{2, 0}};
  EXPECT_TRUE(ntp::buildMlpModule(context, partials));
  // Through the dialect: the keyword takes no value.
  mlir::OwningOpRef<mlir::ModuleOp> parsed =
      mlir::parseSourceString<mlir::ModuleOp>(
          "ntp.mlp @g layers [1, 6, 4, 1] activation \"tanh\" gated order 2 "
          ": f64",
          &context);
  EXPECT_FALSE(parsed);
  EXPECT_NE(message.find("a gated layer's branches differ in width"),
            std::string::npos)
      << message;
}
} // namespace
