//===- PartialsLayersTest.cpp - Partials kernels with typed layers --------===//
//
// Partials kernels (issue 12) of networks with typed layers (issue 14 item
// 2): adaptive slopes per layer and per neuron, residual layers, the
// Fourier-feature embedding, one activation per hidden layer, on random
// networks, and the modified MLP's gates. Forward (ntp_partials) with the
// per-ray, multi-direction and collapsed lowerings against the independent
// multivariate Taylor reference (test/reference/PartialsReference.h, typed
// layers there in long double):
// d = 1..4, total orders up to 6 (f64) and 4 (f32), the error of issue 12
// item 5 (request p: max |ntp - ref| / max(max |ref_p|, 1e-10 * M_n), M_n
// the largest |ref| of total order n), bounds f64 1e-10, f32 1e-3. The
// reverse mode (ntp_partials_backward, _save, _backward_saved): every
// parameter's gradient (W, b, slopes, B) and x's against 4th-order central
// differences of the reference's loss in long double, f64 bound 1e-10
// (max-norm relative). The worst errors are printed.
//
//===----------------------------------------------------------------------===//

#include "CompiledKernel.h"
#include "PartialsReference.h"
#include "PartialsTestUtil.h"
#include "ntp/Compiler/Compiler.h"
#include "ntp/Support/Partials.h"
#include "ntp/runtime.h"

#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/BuiltinOps.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <functional>
#include <map>
#include <random>

namespace {

using ntp::test::CompiledKernel;
using ntp::test::Ld;
using ntp::test::maxOrderOf;
using ntp::test::record;
using ntp::test::relativeError;
using ntp::test::Rows;
using ntp::test::worst;
namespace art = ntp::artifact;

const char *kActivations[] = {"tanh", "sigmoid",  "sin", "identity",
                              "exp",  "softplus", "cos", "silu",
                              "gelu", "gelu_tanh"};

/// A random typed network: widths, one activation per hidden layer, kinds.
struct Net {
  std::vector<int> widths;
  std::vector<std::string> acts;
  art::LayerKinds kinds;

  std::string activationList() const {
    std::string s;
    for (size_t i = 0; i < acts.size(); ++i)
      s += (i ? "," : "") + acts[i];
    return s;
  }
  ntp_ref::Layers refLayers() const {
    return ntp::test::referenceLayers(kinds);
  }
  std::vector<ntp_ref::Activation> refActs() const {
    std::vector<ntp_ref::Activation> a;
    for (const std::string &name : acts)
      a.push_back(ntp_ref::parseActivation(name));
    return a;
  }
  std::string describe() const {
    std::string s = "layers";
    for (int w : widths)
      s += " " + std::to_string(w);
    s += " act " + activationList();
    if (!kinds.slopesText().empty())
      s += " slopes " + kinds.slopesText();
    if (!kinds.residualText().empty())
      s += " residual " + kinds.residualText();
    if (kinds.fourier)
      s += " fourier " + std::to_string(kinds.fourier);
    return s;
  }
};

/// Every kind appears across seeds: slopes (none / layer / neuron) on
/// random hidden layers, residual layers where widths allow, a Fourier
/// embedding of 1..3 frequencies on every other network.
Net randomNet(int d, unsigned seed) {
  std::mt19937 rng(seed);
  Net net;
  int hidden = 1 + static_cast<int>(rng() % 3);
  int width = 4 + static_cast<int>(rng() % 3);
  net.widths.push_back(d);
  for (int l = 0; l < hidden; ++l)
    net.widths.push_back(l == 0 && rng() % 2 ? width + 1 : width);
  net.widths.push_back(1 + static_cast<int>(rng() % 2));
  for (int l = 0; l < hidden; ++l) {
    net.acts.push_back(kActivations[rng() % std::size(kActivations)]);
    net.kinds.slopes.push_back(static_cast<art::Slope>(rng() % 3));
    net.kinds.residual.push_back(l > 0 && net.widths[l] == net.widths[l + 1] &&
                                 rng() % 3 != 0);
  }
  // At least one typed layer in every network.
  if (seed % 2 == 0)
    net.kinds.fourier = 1 + static_cast<int64_t>(rng() % 3);
  if (net.kinds.empty())
    net.kinds.slopes[0] = art::Slope::Neuron;
  return net;
}

/// Random parameters in the documented order (B, [W_u, b_u, W_v, b_v], then
/// per layer W, b, [slopes]): weights ~ U(-1.2, 1.2) / sqrt(fan-in), slopes
/// near 1, B ~ U(-0.4, 0.4).
std::vector<Ld> randomParams(const Net &net, unsigned seed, bool f32) {
  std::mt19937_64 rng(seed);
  auto round = [&](double v) { return f32 ? Ld(float(v)) : Ld(v); };
  std::uniform_real_distribution<double> unit(-1, 1);
  std::vector<Ld> p;
  int d = net.widths.front();
  int64_t m = net.kinds.fourier;
  for (int64_t i = 0; i < m * d; ++i)
    p.push_back(round(0.4 * unit(rng)));
  // The modified MLP's U and V: W [h, in], b [h] each.
  if (net.kinds.gated) {
    int in = static_cast<int>(net.kinds.firstInputWidth(d));
    double bound = 1.2 / std::sqrt(double(in));
    for (int i = 0; i < 2 * (net.widths[1] * in + net.widths[1]); ++i)
      p.push_back(round(bound * unit(rng)));
  }
  for (size_t l = 1; l < net.widths.size(); ++l) {
    int in = l == 1 ? static_cast<int>(net.kinds.firstInputWidth(d))
                    : net.widths[l - 1];
    double bound = 1.2 / std::sqrt(double(in));
    for (int i = 0; i < net.widths[l] * in + net.widths[l]; ++i)
      p.push_back(round(bound * unit(rng)));
    if (l + 1 < net.widths.size())
      for (int64_t i = 0; i < net.kinds.slopeCount(l - 1, net.widths[l]); ++i)
        p.push_back(round(1 + 0.3 * unit(rng)));
  }
  EXPECT_EQ(int64_t(p.size()), ntp_ref::numParams(net.widths, net.refLayers()));
  return p;
}

/// Every multi-index of total order <= n in d inputs, then the Laplacian
/// (and the biharmonic from order 4).
Rows allRows(int d, int n) {
  Rows rows;
  std::vector<int32_t> a(d, 0);
  std::function<void(int, int)> rec = [&](int l, int left) {
    if (l == d) {
      rows.push_back(a);
      return;
    }
    for (int v = 0; v <= left; ++v) {
      a[l] = v;
      rec(l + 1, left - v);
    }
    a[l] = 0;
  };
  rec(0, n);
  ntp::partials::Row row;
  std::string error;
  if (n >= 2 &&
      ntp::partials::operatorRow(ntp::partials::kLaplacian, {}, d, row, error))
    rows.push_back(row);
  if (n >= 4 &&
      ntp::partials::operatorRow(ntp::partials::kBiharmonic, {}, d, row, error))
    rows.push_back(row);
  return rows;
}

/// What the collapsed lowering applies to: f, the first partials and the
/// Laplacian (or, with `biharmonic`, the biharmonic).
Rows collapsedRows(int d, bool biharmonic) {
  Rows rows;
  rows.push_back(std::vector<int32_t>(d, 0));
  for (int l = 0; l < d; ++l) {
    rows.push_back(std::vector<int32_t>(d, 0));
    rows.back()[l] = 1;
  }
  ntp::partials::Row row;
  std::string error;
  EXPECT_TRUE(ntp::partials::operatorRow(biharmonic ? ntp::partials::kBiharmonic
                                                    : ntp::partials::kLaplacian,
                                         {}, d, row, error))
      << error;
  rows.push_back(row);
  return rows;
}

/// The kernel (forward only unless `backward`); `chosen` receives the
/// forward's lowering summary.
std::unique_ptr<CompiledKernel> compileNet(const Net &net, const Rows &rows,
                                           bool f64, bool backward,
                                           const std::string &lowering,
                                           std::string *chosen = nullptr,
                                           std::string *errorOut = nullptr) {
  ntp::MlpDescription description = ntp::test::partialsDescription(
      net.widths, net.activationList(), rows, f64);
  description.kinds = net.kinds;
  description.partialsLowering = lowering;
  return ntp::test::compilePartialsKernel(description, backward, errorOut,
                                          chosen);
}

std::vector<Ld> reference(const Net &net, const std::vector<Ld> &params,
                          const std::vector<Ld> &x, int64_t batch,
                          const Rows &rows) {
  return ntp_ref::partials(net.widths, net.refActs(), net.refLayers(), params,
                           x, batch, ntp::test::referenceRows(rows));
}

/// The forward of `lowering` against the reference (issue 12 item 5's
/// error); returns the worst.
double checkForward(const Net &net, const Rows &rows, bool f64,
                    const std::string &lowering, unsigned seed) {
  SCOPED_TRACE(net.describe() + (f64 ? " f64 " : " f32 ") + lowering + " " +
               ntp::partials::formatRows(rows));
  std::string chosen;
  auto kernel =
      compileNet(net, rows, f64, /*backward=*/false, lowering, &chosen);
  if (!kernel) {
    ADD_FAILURE() << "no kernel";
    return 1;
  }
  EXPECT_EQ(chosen.substr(0, lowering.size()), lowering) << chosen;
  const int64_t batch = 11; // a partial last tile
  int d = net.widths.front(), q = net.widths.back();
  std::vector<Ld> params = randomParams(net, seed, !f64);
  std::mt19937 rng(seed + 1);
  std::uniform_real_distribution<double> unit(-1, 1);
  std::vector<Ld> x(batch * d);
  for (Ld &v : x)
    v = f64 ? Ld(unit(rng)) : Ld(float(unit(rng)));
  std::vector<Ld> ref = reference(net, params, x, batch, rows);
  std::vector<Ld> got(ref.size());
  EXPECT_EQ(ntp::test::runPartials(kernel->get(), f64, params, x, batch, got),
            NTP_OK)
      << ntp_last_error();
  std::map<int64_t, Ld> largest;
  std::vector<Ld> rowMax(rows.size(), 0);
  for (size_t p = 0; p < rows.size(); ++p) {
    for (int64_t i = 0; i < batch * q; ++i)
      rowMax[p] = std::max(rowMax[p], std::fabs(ref[p * batch * q + i]));
    Ld &m = largest[ntp::partials::totalOrder(rows[p])];
    m = std::max(m, rowMax[p]);
  }
  double bound = f64 ? 1e-10 : 1e-3, worstHere = 0;
  for (size_t p = 0; p < rows.size(); ++p) {
    int64_t order = ntp::partials::totalOrder(rows[p]);
    Ld denom = std::max(rowMax[p], 1e-10L * largest[order]);
    Ld err = 0;
    for (int64_t i = 0; i < batch * q; ++i)
      err = std::max(
          err, std::fabs(got[p * batch * q + i] - ref[p * batch * q + i]));
    double rel = denom > 0 ? double(err / denom) : double(err);
    EXPECT_LE(rel, bound) << "request " << p << " ("
                          << ntp::partials::formatRows({rows[p]})
                          << "), total order " << order;
    record(std::string(net.kinds.gated ? "gated " : "") +
               (f64 ? "f64 " : "f32 ") + lowering + " order " +
               std::to_string(order),
           rel);
    worstHere = std::max(worstHere, rel);
  }
  return worstHere;
}

class PartialsLayersForward : public ::testing::TestWithParam<const char *> {};

// Random typed networks, d = 1..4, every multi-index up to total order 6
// (d <= 2), 5 (d = 3) or 4 (d = 4) with the Laplacian and the biharmonic;
// f32 to order 4.
TEST_P(PartialsLayersForward, RandomNetworksAgainstReference) {
  std::string lowering = GetParam();
  unsigned seed = 10;
  for (int d = 1; d <= 4; ++d)
    for (int variant = 0; variant < 2; ++variant, ++seed) {
      Net net = randomNet(d, seed);
      if (lowering == "collapsed") {
        for (bool biharmonic : {false, true}) {
          checkForward(net, collapsedRows(d, biharmonic), true, lowering, seed);
          checkForward(net, collapsedRows(d, biharmonic), false, lowering,
                       seed);
        }
        continue;
      }
      int n = d <= 2 ? 6 : d == 3 ? 5 : 4;
      checkForward(net, allRows(d, n), true, lowering, seed);
      checkForward(net, allRows(d, 4), false, lowering, seed);
    }
}

INSTANTIATE_TEST_SUITE_P(
    Lowerings, PartialsLayersForward,
    ::testing::Values("per-ray", "multi-direction", "collapsed",
                      "multivariate"),
    [](const ::testing::TestParamInfo<const char *> &info) {
      std::string name = info.param;
      for (char &c : name)
        if (c == '-')
          c = '_';
      return name;
    });

// Every kind alone, every activation once, so that a failure names it.
TEST(PartialsLayersForwardKinds, EachKindAlone) {
  unsigned seed = 200;
  for (const char *act : kActivations) {
    for (int kind = 0; kind < 4; ++kind, ++seed) {
      Net net;
      net.widths = {2, 5, 5, 1};
      net.acts = {act, act};
      net.kinds.slopes = {art::Slope::None, art::Slope::None};
      net.kinds.residual = {false, false};
      if (kind == 0)
        net.kinds.slopes = {art::Slope::Layer, art::Slope::None};
      if (kind == 1)
        net.kinds.slopes = {art::Slope::Neuron, art::Slope::Neuron};
      if (kind == 2)
        net.kinds.residual = {false, true};
      if (kind == 3)
        net.kinds.fourier = 2;
      for (const char *lowering : {"per-ray", "multi-direction"})
        checkForward(net, allRows(2, 4), true, lowering, seed);
      checkForward(net, collapsedRows(2, false), true, "collapsed", seed);
    }
  }
}

/// The reverse mode (recomputing and saved) against central differences of
/// the reference's loss, every parameter and every x coordinate.
void checkBackward(const Net &net, const Rows &rows,
                   const std::string &lowering, unsigned seed) {
  SCOPED_TRACE(net.describe() + " " + lowering + " " +
               ntp::partials::formatRows(rows));
  std::string chosen;
  auto kernel =
      compileNet(net, rows, true, /*backward=*/true, lowering, &chosen);
  ASSERT_TRUE(kernel);
  // The forward entry keeps the forced lowering beside the per-ray reverse.
  EXPECT_EQ(chosen.substr(0, lowering.size()), lowering) << chosen;
  const int64_t batch = 5;
  int d = net.widths.front(), q = net.widths.back();
  std::vector<Ld> params = randomParams(net, seed, false);
  std::mt19937 rng(seed + 7);
  std::uniform_real_distribution<double> unit(-1, 1);
  std::vector<Ld> x(batch * d), cot(rows.size() * batch * q);
  for (Ld &v : x)
    v = unit(rng);
  for (Ld &v : cot)
    v = unit(rng);
  auto loss = [&](const std::vector<Ld> &p, const std::vector<Ld> &xs) {
    std::vector<Ld> out = reference(net, p, xs, batch, rows);
    Ld sum = 0;
    for (size_t i = 0; i < out.size(); ++i)
      sum += cot[i] * out[i];
    return sum;
  };
  std::vector<Ld> refGrad, refX;
  ntp::test::lossGradientsByDifferences(params, x, loss, 2e-4L, refGrad, refX);
  std::vector<double> p(params.begin(), params.end()), xs(x.begin(), x.end()),
      c(cot.begin(), cot.end());
  std::vector<double> grad(p.size(), NAN), xGrad(xs.size(), NAN);
  ASSERT_EQ(ntp_partials_backward(kernel->get(), xs.data(), p.data(), c.data(),
                                  grad.data(), xGrad.data(), batch),
            NTP_OK)
      << ntp_last_error();
  double e = relativeError(grad, refGrad), ex = relativeError(xGrad, refX);
  EXPECT_LE(e, 1e-10) << "params_grad";
  EXPECT_LE(ex, 1e-10) << "x_grad";
  std::string what =
      (net.kinds.gated ? "gated f64 backward " : "f64 backward ") + lowering;
  record(what + " params_grad", e);
  record(what + " x_grad", ex);
  // Each parameter kind on its own scale: the slopes' and B's entries
  // against the largest of their kind.
  int64_t fourier = net.kinds.fourier * d;
  if (fourier > 0) {
    std::vector<double> g(grad.begin(), grad.begin() + fourier);
    std::vector<Ld> r(refGrad.begin(), refGrad.begin() + fourier);
    double eb = relativeError(g, r);
    EXPECT_LE(eb, 1e-10) << "B's gradient";
    record("f64 backward " + lowering + " B", eb);
  }
  // The training path: save, then backward_saved, the same numbers.
  int64_t bytes = 0;
  ASSERT_EQ(ntp_workspace_size(kernel->get(), batch, &bytes), NTP_OK)
      << ntp_last_error();
  std::vector<char> workspace(bytes);
  std::vector<double> out(cot.size(), NAN), out2(cot.size(), NAN);
  ASSERT_EQ(ntp_partials_save(kernel->get(), xs.data(), p.data(), out.data(),
                              workspace.data(), batch),
            NTP_OK)
      << ntp_last_error();
  ASSERT_EQ(
      ntp_partials(kernel->get(), xs.data(), p.data(), out2.data(), batch),
      NTP_OK)
      << ntp_last_error();
  std::vector<Ld> outLd(out.begin(), out.end());
  EXPECT_LE(relativeError(out2, outLd), 1e-12) << "save's out vs forward's";
  std::vector<double> grad2(p.size(), NAN), xGrad2(xs.size(), NAN);
  ASSERT_EQ(ntp_partials_backward_saved(kernel->get(), xs.data(), p.data(),
                                        c.data(), grad2.data(), xGrad2.data(),
                                        workspace.data(), batch),
            NTP_OK)
      << ntp_last_error();
  std::vector<Ld> gradLd(grad.begin(), grad.end()),
      xGradLd(xGrad.begin(), xGrad.end());
  double saved =
      std::max(relativeError(grad2, gradLd), relativeError(xGrad2, xGradLd));
  EXPECT_LE(saved, 1e-13) << "backward_saved against backward";
  record("f64 saved vs recomputed", saved);
}

// Random typed networks, d = 1..4, orders up to 4, every forward lowering
// beside the per-ray reverse mode.
TEST(PartialsLayersBackward, RandomNetworksAgainstDifferences) {
  unsigned seed = 300;
  for (int d = 1; d <= 4; ++d)
    for (int variant = 0; variant < 2; ++variant, ++seed) {
      Net net = randomNet(d, seed);
      Rows rows = d <= 2 ? allRows(d, 4) : allRows(d, 2);
      checkBackward(net, rows, variant ? "multi-direction" : "per-ray", seed);
      checkBackward(net, collapsedRows(d, d <= 2), "collapsed", seed);
    }
}

// The multivariate forward (ntp.activate_poly) reversed from itself
// (ntp.activate_poly_vjp, RaysBackward.cpp): gradients, save /
// backward_saved, and save's out against the multivariate forward's, on
// random typed networks (slopes, residual layers, Fourier features) and a
// plain one.
TEST(PartialsLayersBackward, MultivariateForward) {
  unsigned seed = 350;
  for (int d = 1; d <= 3; ++d, ++seed) {
    Net net = randomNet(d, seed);
    checkBackward(net, d <= 2 ? allRows(d, 4) : allRows(d, 2), "multivariate",
                  seed);
  }
  Net plain;
  plain.widths = {3, 6, 6, 1};
  plain.acts = {"tanh", "tanh"};
  checkBackward(plain, collapsedRows(3, true), "multivariate", seed);
}

// Each kind alone (slopes per layer and neuron, residual, Fourier, all).
TEST(PartialsLayersBackward, EachKind) {
  unsigned seed = 400;
  for (int kind = 0; kind < 5; ++kind, ++seed) {
    Net net;
    net.widths = {2, 5, 5, 2};
    net.acts = {"tanh", kActivations[seed % std::size(kActivations)]};
    net.kinds.slopes = {art::Slope::None, art::Slope::None};
    net.kinds.residual = {false, false};
    if (kind == 0 || kind == 4)
      net.kinds.slopes = {art::Slope::Layer, art::Slope::Neuron};
    if (kind == 1)
      net.kinds.slopes = {art::Slope::Neuron, art::Slope::Layer};
    if (kind == 2 || kind == 4)
      net.kinds.residual = {false, true};
    if (kind == 3 || kind == 4)
      net.kinds.fourier = 3;
    checkBackward(net, allRows(2, 3), "per-ray", seed);
  }
}

// The modified MLP's gates per ray: the forward against the reference and
// the reverse mode against differences, with slopes and a Fourier
// embedding.
TEST(PartialsLayersGated, PerRayAgainstReference) {
  unsigned seed = 500;
  for (int d = 1; d <= 3; ++d, ++seed) {
    Net net;
    net.widths = {d, 5, 5, 2};
    net.acts = {"tanh", kActivations[seed % std::size(kActivations)]};
    net.kinds.gated = true;
    net.kinds.slopes = {art::Slope::Neuron, art::Slope::Layer};
    if (d != 2)
      net.kinds.fourier = 2;
    checkForward(net, allRows(d, d <= 2 ? 5 : 4), true, "per-ray", seed);
    checkForward(net, allRows(d, 4), false, "per-ray", seed);
    checkBackward(net, d == 1 ? allRows(1, 4) : allRows(d, 2), "per-ray", seed);
  }
  // One gated layer, a plain one-layer modified MLP.
  Net one;
  one.widths = {2, 6, 1};
  one.acts = {"sin"};
  one.kinds.gated = true;
  checkBackward(one, allRows(2, 3), "per-ray", seed);
}

/// A gated network of d inputs for the fast lowerings: tanh, or tanh and a
/// second activation; slopes and a Fourier embedding on some.
Net gatedNet(int d, int variant) {
  Net net;
  net.widths = {d, 5, 5, 2};
  net.acts = variant == 0   ? std::vector<std::string>{"tanh", "tanh"}
             : variant == 1 ? std::vector<std::string>{"silu", "tanh"}
                            : std::vector<std::string>{"tanh", "sin"};
  net.kinds.gated = true;
  if (variant == 1)
    net.kinds.slopes = {art::Slope::Layer, art::Slope::Neuron};
  if (variant == 2)
    net.kinds.fourier = 2;
  return net;
}

// The gates on the ray layout (ntp.gate_rays), multi-direction: every
// multi-index up to total order 4 (the mixed partials) with the Laplacian
// and the biharmonic, d = 1..4, f64 and f32, against the reference.
TEST(PartialsLayersGated, MultiDirectionAgainstReference) {
  unsigned seed = 600;
  for (int d = 1; d <= 4; ++d)
    for (int variant = 0; variant < 3; ++variant, ++seed) {
      if (d == 4 && variant == 2)
        continue;
      Net net = gatedNet(d, variant);
      checkForward(net, allRows(d, 4), true, "multi-direction", seed);
      checkForward(net, allRows(d, 4), false, "multi-direction", seed);
    }
}

// The modified MLP lowered multivariate (ntp.gate_poly, the Cauchy product
// over the monomials): every multi-index up to total order 4 (3 at d = 3)
// with the Laplacian and the biharmonic, d = 1..3, f64 and f32, with slopes
// and a Fourier embedding, against the reference; the reverse mode (per ray
// beside it) against differences, and the choice by count.
TEST(PartialsLayersGated, MultivariateAgainstReference) {
  unsigned seed = 650;
  for (int d = 1; d <= 3; ++d)
    for (int variant = 0; variant < 3; ++variant, ++seed) {
      Net net = gatedNet(d, variant);
      Rows rows = allRows(d, d <= 2 ? 4 : 3);
      checkForward(net, rows, true, "multivariate", seed);
      checkForward(net, rows, false, "multivariate", seed);
    }
  for (int variant = 0; variant < 3; ++variant, ++seed)
    checkBackward(gatedNet(2, variant), allRows(2, 3), "multivariate", seed);
  // All partials of order <= 4 in 3 variables: 35 rows per neuron against
  // 15 rays of order 4, as for plain networks of this width (at width 5 the
  // activations' share makes multi-direction cheaper).
  Net net;
  net.widths = {3, 16, 16, 1};
  net.acts = {"tanh", "tanh"};
  net.kinds.gated = true;
  std::string chosen;
  ASSERT_TRUE(compileNet(net, allRows(3, 4), true, false, "auto", &chosen));
  EXPECT_EQ(chosen.substr(0, 13), "multivariate:") << chosen;
}

// Collapsed: the Laplacian (and f, the first partials), and the biharmonic
// (its order-4 sum collapsed), d = 1..4, f64 and f32.
TEST(PartialsLayersGated, CollapsedAgainstReference) {
  unsigned seed = 700;
  for (int d = 1; d <= 4; ++d)
    for (int variant = 0; variant < 3; ++variant, ++seed) {
      Net net = gatedNet(d, variant);
      for (bool f64 : {true, false})
        checkForward(net, collapsedRows(d, false), f64, "collapsed", seed);
      if (d <= 3)
        checkForward(net, collapsedRows(d, true), true, "collapsed", seed);
    }
}

// The operator alone, where the top layer computes only the rows the
// combine weighs ({ntp.needed_rows}: the collapsed row, or the rays' top
// orders multi-direction) and so does the activation feeding it, after
// each kind: slopes, a residual last hidden layer (its activation writes
// every row), a Fourier embedding, the modified MLP (a gate before the top;
// U and V read the seed once per call) and it after a Fourier embedding.
TEST(PartialsLayersForwardKinds, OperatorAlone) {
  unsigned seed = 800;
  for (int kind = 0; kind < 5; ++kind, ++seed) {
    Net net;
    if (kind >= 3) {
      net = gatedNet(3, kind == 3 ? 0 : 2);
    } else {
      net.widths = {3, 5, 5, 2};
      net.acts = {"tanh", "silu"};
      net.kinds.slopes = {art::Slope::None, art::Slope::None};
      net.kinds.residual = {false, false};
      if (kind == 0)
        net.kinds.slopes = {art::Slope::Neuron, art::Slope::Layer};
      if (kind == 1)
        net.kinds.residual = {false, true};
      if (kind == 2)
        net.kinds.fourier = 2;
    }
    ntp::partials::Row lap, bi;
    std::string error;
    ASSERT_TRUE(ntp::partials::operatorRow(ntp::partials::kLaplacian, {}, 3,
                                           lap, error))
        << error;
    ASSERT_TRUE(ntp::partials::operatorRow(ntp::partials::kBiharmonic, {}, 3,
                                           bi, error))
        << error;
    for (const char *lowering : {"collapsed", "multi-direction"}) {
      checkForward(net, {lap}, true, lowering, seed);
      checkForward(net, {lap}, false, lowering, seed);
    }
    checkForward(net, {bi}, true, "collapsed", seed);
  }
}

// auto counts the gates in every lowering; a gated kernel with a fast
// forward gets its reverse mode from it (ntp.gate_rays_vjp;
// ntp_partials_backward, _save, _backward_saved against differences; save's
// out equals the forward's; GatedRaysBackwardTest.cpp compares it with the
// per-ray reverse mode).
TEST(PartialsLayersGated, FastForwardWithReverseMode) {
  unsigned seed = 800;
  for (int d = 1; d <= 3; ++d, ++seed) {
    Net net = gatedNet(d, d - 1);
    checkBackward(net, collapsedRows(d, false), "collapsed", seed);
    checkBackward(net, d <= 2 ? allRows(d, 3) : allRows(d, 2),
                  "multi-direction", seed);
  }
  Net net = gatedNet(3, 0);
  std::string chosen;
  ASSERT_TRUE(
      compileNet(net, collapsedRows(3, false), true, false, "auto", &chosen));
  EXPECT_EQ(chosen.substr(0, 10), "collapsed:") << chosen;
}

// What still refuses a gated network is the lowering's own rule (here:
// collapsed needs an operator); the message is in
// test/Transforms/decompose-mlp-partials-layers-invalid.mlir.
TEST(PartialsLayersGated, RulesThatStillRefuse) {
  Net net = gatedNet(2, 0);
  std::string error;
  EXPECT_FALSE(compileNet(net, allRows(2, 2), true, false, "collapsed", nullptr,
                          &error));
  // The forced lowerings of the same network with a Laplacian compile.
  for (const char *lowering : {"multi-direction", "collapsed"})
    EXPECT_TRUE(
        compileNet(net, collapsedRows(2, false), true, false, lowering));
}

struct PrintWorst : public ::testing::Environment {
  void TearDown() override {
    std::printf("partials with typed layers: worst relative errors (this "
                "run)\n");
    for (const auto &[what, error] : worst())
      std::printf("  %-48s %.2e\n", what.c_str(), error);
  }
};
const auto *printer =
    ::testing::AddGlobalTestEnvironment(new PrintWorst); // NOLINT

} // namespace
