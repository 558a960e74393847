//===- GatedRaysBackwardTest.cpp - Gated networks' fast reverse mode ------===//
//
// The reverse mode generated from a gated network's multi-direction or
// collapsed forward (lib/Transforms/RaysBackward.cpp's gated blocks,
// ntp.gate_rays_vjp), through the runtime, as RaysBackwardTest.cpp does for
// plain networks: the modified MLP (U, V from the input or its Fourier
// features, a gate after every hidden activation, adaptive slopes on some)
// compiled twice, the reverse mode following the forward's lowering and
// forced per-ray (ntp.partials_reverse_lowering), and the gradients of
// L = sum c out with respect to every parameter (B, W_u, b_u, W_v, b_v, the
// layers' W, b, slopes) and x compared
//   - with each other (save + backward_saved and the recomputing backward):
//     f64 <= 1e-12, f32 <= 1e-4 relative to the largest |gradient|;
//   - in f64 with 4th-order central differences of the independent
//     reference's L in long double (test/reference/PartialsReference.h,
//     gated layers there): <= 1e-10, PartialsLayersTest.cpp's bound for
//     typed layers (RaysBackwardTest.cpp's 1e-11 is for plain networks: with
//     Fourier features the differences' own error reaches 1.6e-11 while the
//     two reverse modes agree to 3e-16).
// Requests: the collapsed Laplacian (with f and the first partials) and
// biharmonic, multi-direction mixed partials up to total order 3 or 4.
// The worst errors are printed.
//
//===----------------------------------------------------------------------===//

#include "CompiledKernel.h"
#include "PartialsReference.h"
#include "PartialsTestUtil.h"
#include "ntp/Compiler/Compiler.h"
#include "ntp/Support/Partials.h"
#include "ntp/runtime.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <random>

namespace {

using ntp::test::CompiledKernel;
using ntp::test::Ld;
using ntp::test::record;
using ntp::test::relativeError;
using ntp::test::Rows;
using ntp::test::worst;
namespace art = ntp::artifact;

struct Case {
  int d;
  std::vector<int> widths; // d, hidden..., q
  std::vector<std::string> acts;
  bool fourier = false, slopes = false;
  Rows rows;
  std::string lowering; // collapsed or multi-direction
  std::string name;
};

void PrintTo(const Case &c, std::ostream *os) { *os << c.name; }

/// f, the first partials and the Laplacian (or the biharmonic).
Rows collapsedRows(int d, bool biharmonic) {
  Rows rows;
  rows.push_back(std::vector<int32_t>(d, 0));
  for (int l = 0; l < d; ++l) {
    rows.push_back(std::vector<int32_t>(d, 0));
    rows.back()[l] = 1;
  }
  rows.push_back(ntp::test::operatorRow(
      biharmonic ? ntp::partials::kBiharmonic : ntp::partials::kLaplacian, d));
  return rows;
}

/// Every multi-index of total order 1..n in d inputs.
Rows mixedRows(int d, int n) {
  Rows rows;
  std::vector<int32_t> a(d, 0);
  std::function<void(int, int)> rec = [&](int l, int left) {
    if (l == d) {
      if (left < n)
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
  return rows;
}

std::vector<Case> cases() {
  std::vector<Case> all;
  auto add = [&](int d, std::vector<int> hidden, std::vector<std::string> acts,
                 bool fourier, bool slopes, Rows rows, std::string lowering,
                 std::string tag) {
    Case c;
    c.d = d;
    c.widths = {d};
    c.widths.insert(c.widths.end(), hidden.begin(), hidden.end());
    c.widths.push_back(tag == "q2" ? 2 : 1);
    c.acts = std::move(acts);
    c.fourier = fourier;
    c.slopes = slopes;
    c.rows = std::move(rows);
    c.lowering = lowering;
    c.name = (lowering == "collapsed" ? "collapsed" : "multi") +
             std::string("_d") + std::to_string(d) + "_" + c.acts[0] +
             (fourier ? "_fourier" : "") + (slopes ? "_slopes" : "") + "_" +
             tag;
    all.push_back(std::move(c));
  };
  // The collapsed Laplacian, d = 1..4, with and without Fourier features.
  add(1, {5, 5}, {"tanh", "tanh"}, false, false, collapsedRows(1, false),
      "collapsed", "laplacian");
  add(2, {5, 5}, {"tanh", "sin"}, false, false, collapsedRows(2, false),
      "collapsed", "laplacian");
  add(3, {6, 6}, {"silu", "tanh"}, false, true, collapsedRows(3, false),
      "collapsed", "laplacian");
  add(2, {5, 5}, {"tanh", "tanh"}, true, false, collapsedRows(2, false),
      "collapsed", "laplacian");
  add(4, {5, 5, 5}, {"gelu", "tanh", "sigmoid"}, true, false,
      collapsedRows(4, false), "collapsed", "q2");
  add(3, {6}, {"softplus"}, false, false, collapsedRows(3, false), "collapsed",
      "onelayer");
  // The collapsed biharmonic (rays of order 3, the order-4 sum collapsed).
  add(2, {5, 5}, {"tanh", "tanh"}, false, false, collapsedRows(2, true),
      "collapsed", "biharmonic");
  add(2, {4, 4}, {"sin", "tanh"}, true, false, collapsedRows(2, true),
      "collapsed", "biharmonic");
  // Multi-direction: mixed partials.
  add(2, {5, 5}, {"tanh", "tanh"}, false, false, mixedRows(2, 4),
      "multi-direction", "order4");
  add(2, {5, 5}, {"tanh", "sin"}, true, false, mixedRows(2, 3),
      "multi-direction", "order3");
  add(3, {6, 6}, {"silu", "gelu"}, false, true, mixedRows(3, 2),
      "multi-direction", "q2");
  add(2, {5}, {"sin"}, true, false,
      {{1, 1},
       {2, 0},
       {0, 0},
       ntp::test::operatorRow(ntp::partials::kLaplacian, 2)},
      "multi-direction", "mixedlap");
  return all;
}

art::LayerKinds kindsOf(const Case &c) {
  art::LayerKinds kinds;
  kinds.gated = true;
  size_t hidden = c.widths.size() - 2;
  kinds.slopes.assign(hidden, art::Slope::None);
  kinds.residual.assign(hidden, false);
  if (c.slopes) {
    kinds.slopes[0] = art::Slope::Neuron;
    if (hidden > 1)
      kinds.slopes[1] = art::Slope::Layer;
  }
  if (c.fourier)
    kinds.fourier = 2;
  return kinds;
}

std::string activationList(const Case &c) {
  std::string s;
  for (size_t i = 0; i < c.acts.size(); ++i)
    s += (i ? "," : "") + c.acts[i];
  return s;
}

std::unique_ptr<CompiledKernel> compile(const Case &c, bool f64,
                                        const std::string &reverse,
                                        std::string *chosen,
                                        std::string *reverseSummary) {
  ntp::MlpDescription description =
      ntp::test::partialsDescription(c.widths, activationList(c), c.rows, f64);
  description.kinds = kindsOf(c);
  description.partialsLowering = c.lowering;
  description.partialsReverseLowering = reverse;
  std::string error;
  auto kernel = ntp::test::compilePartialsKernel(description, true, &error,
                                                 chosen, reverseSummary);
  EXPECT_TRUE(kernel) << error;
  return kernel;
}

/// Random parameters in the documented order (B, W_u, b_u, W_v, b_v, then
/// per layer W, b, [slopes]).
std::vector<Ld> randomParams(const Case &c, const art::LayerKinds &kinds,
                             unsigned seed, bool f32) {
  std::mt19937_64 rng(seed);
  auto round = [&](double v) { return f32 ? Ld(float(v)) : Ld(v); };
  std::uniform_real_distribution<double> unit(-1, 1);
  std::vector<Ld> p;
  int d = c.d;
  for (int64_t i = 0; i < kinds.fourier * d; ++i)
    p.push_back(round(0.4 * unit(rng)));
  int in = static_cast<int>(kinds.firstInputWidth(d));
  for (int i = 0; i < 2 * (c.widths[1] * in + c.widths[1]); ++i)
    p.push_back(round(1.2 / std::sqrt(double(in)) * unit(rng)));
  for (size_t l = 1; l < c.widths.size(); ++l) {
    int fanIn = l == 1 ? in : c.widths[l - 1];
    for (int i = 0; i < c.widths[l] * fanIn + c.widths[l]; ++i)
      p.push_back(round(1.2 / std::sqrt(double(fanIn)) * unit(rng)));
    if (l + 1 < c.widths.size())
      for (int64_t i = 0; i < kinds.slopeCount(l - 1, c.widths[l]); ++i)
        p.push_back(round(1 + 0.3 * unit(rng)));
  }
  EXPECT_EQ(int64_t(p.size()),
            ntp_ref::numParams(c.widths, ntp::test::referenceLayers(kinds)));
  return p;
}

template <class T> struct Run {
  std::vector<T> grad, xGrad, savedGrad, savedXGrad, out;
};

/// The recomputing backward and save + backward_saved of kernel k.
template <class T>
Run<T> run(ntp_kernel *k, const std::vector<T> &x, const std::vector<T> &params,
           const std::vector<T> &cot, int64_t batch) {
  Run<T> r;
  r.grad.assign(params.size(), T(NAN));
  r.xGrad.assign(x.size(), T(NAN));
  r.savedGrad = r.grad;
  r.savedXGrad = r.xGrad;
  r.out.assign(cot.size(), T(NAN));
  EXPECT_EQ(ntp_partials_backward(k, x.data(), params.data(), cot.data(),
                                  r.grad.data(), r.xGrad.data(), batch),
            NTP_OK)
      << ntp_last_error();
  int64_t bytes = 0;
  EXPECT_EQ(ntp_workspace_size(k, batch, &bytes), NTP_OK);
  std::vector<char> workspace(bytes);
  EXPECT_EQ(ntp_partials_save(k, x.data(), params.data(), r.out.data(),
                              workspace.data(), batch),
            NTP_OK)
      << ntp_last_error();
  EXPECT_EQ(ntp_partials_backward_saved(k, x.data(), params.data(), cot.data(),
                                        r.savedGrad.data(), r.savedXGrad.data(),
                                        workspace.data(), batch),
            NTP_OK)
      << ntp_last_error();
  return r;
}

template <class T> void checkCase(const Case &c, bool differences) {
  constexpr bool f64 = sizeof(T) == 8;
  const int64_t batch = 11; // a partial last tile
  int q = c.widths.back();
  art::LayerKinds kinds = kindsOf(c);
  unsigned seed = 2000 + c.d * 13 + c.rows.size();
  std::vector<Ld> params = randomParams(c, kinds, seed, !f64);
  std::mt19937 rng(seed + 1);
  std::uniform_real_distribution<double> unit(-1, 1);
  auto round = [&](double v) { return f64 ? Ld(v) : Ld(float(v)); };
  std::vector<Ld> x(batch * c.d), cot(c.rows.size() * batch * q);
  for (Ld &v : x)
    v = round(unit(rng));
  for (Ld &v : cot)
    v = round(unit(rng));

  std::string chosen, followed, forcedChosen, perRay;
  auto fast = compile(c, f64, "auto", &chosen, &followed);
  auto slow = compile(c, f64, "per-ray", &forcedChosen, &perRay);
  ASSERT_TRUE(fast && slow);
  EXPECT_EQ(chosen.rfind(c.lowering + ":", 0), 0u) << chosen;
  // The reverse mode follows the fast forward; forcing per-ray still works.
  EXPECT_EQ(followed.rfind(c.lowering + ":", 0), 0u) << followed;
  EXPECT_EQ(perRay.rfind("per-ray", 0), 0u) << perRay;

  std::vector<T> xt(x.begin(), x.end()), pt(params.begin(), params.end()),
      ct(cot.begin(), cot.end());
  Run<T> a = run(fast->get(), xt, pt, ct, batch);
  Run<T> b = run(slow->get(), xt, pt, ct, batch);
  std::string label =
      std::string(f64 ? "gated f64 " : "gated f32 ") + c.lowering;
  double bound = f64 ? 1e-12 : 1e-4;
  auto toLd = [](const std::vector<T> &v) {
    return std::vector<Ld>(v.begin(), v.end());
  };
  double e = std::max(relativeError(a.savedGrad, toLd(b.savedGrad)),
                      relativeError(a.grad, toLd(b.grad)));
  double ex = std::max(relativeError(a.savedXGrad, toLd(b.savedXGrad)),
                       relativeError(a.xGrad, toLd(b.xGrad)));
  EXPECT_LE(e, bound) << "params_grad against the per-ray reverse mode";
  EXPECT_LE(ex, bound) << "x_grad against the per-ray reverse mode";
  record(label + " params_grad vs per-ray", e);
  record(label + " x_grad vs per-ray", ex);
  double saved = std::max(relativeError(a.savedGrad, toLd(a.grad)),
                          relativeError(a.savedXGrad, toLd(a.xGrad)));
  EXPECT_LE(saved, f64 ? 1e-13 : 1e-5) << "backward_saved against backward";
  record(label + " saved vs recomputed", saved);
  double outs = relativeError(a.out, toLd(b.out));
  EXPECT_LE(outs, f64 ? 1e-13 : 1e-5) << "the saves' out";
  record(label + " save out vs per-ray", outs);

  if (!differences)
    return;
  auto loss = [&](const std::vector<Ld> &p, const std::vector<Ld> &xs) {
    std::vector<Ld> out = ntp_ref::partials(
        c.widths,
        [&] {
          std::vector<ntp_ref::Activation> acts;
          for (const std::string &name : c.acts)
            acts.push_back(ntp_ref::parseActivation(name));
          return acts;
        }(),
        ntp::test::referenceLayers(kinds), p, xs, batch,
        ntp::test::referenceRows(c.rows));
    Ld sum = 0;
    for (size_t i = 0; i < out.size(); ++i)
      sum += cot[i] * out[i];
    return sum;
  };
  // The step: 2e-4 as the other partials tests; the biharmonic's loss has
  // large fifth derivatives in B (with Fourier features the differences'
  // truncation error, ~h^4 f^(5) / 30, reached 3.7e-10 at 2e-4 while the
  // two reverse modes agreed to 1e-15), so it takes 5e-5 (long double
  // rounding stays ~1e-15 there).
  bool biharmonic = false;
  for (const auto &row : c.rows)
    biharmonic |= ntp::partials::totalOrder(row) == 4 &&
                  std::count(row.begin(), row.end(), -4) > 0;
  std::vector<Ld> refGrad, refX;
  ntp::test::lossGradientsByDifferences(
      params, x, loss, biharmonic ? 5e-5L : 2e-4L, refGrad, refX);
  double er = relativeError(a.savedGrad, refGrad),
         erx = relativeError(a.savedXGrad, refX);
  EXPECT_LE(er, 1e-10) << "params_grad against the reference's differences";
  EXPECT_LE(erx, 1e-10) << "x_grad against the reference's differences";
  record(label + " params_grad vs differences", er);
  record(label + " x_grad vs differences", erx);
}

class GatedRaysBackward : public ::testing::TestWithParam<Case> {};

TEST_P(GatedRaysBackward, F64AgainstPerRayAndDifferences) {
  checkCase<double>(GetParam(), /*differences=*/true);
}

TEST_P(GatedRaysBackward, F32AgainstPerRay) {
  checkCase<float>(GetParam(), /*differences=*/false);
}

INSTANTIATE_TEST_SUITE_P(Lowerings, GatedRaysBackward,
                         ::testing::ValuesIn(cases()),
                         [](const ::testing::TestParamInfo<Case> &info) {
                           return info.param.name;
                         });

/// The worst errors of the cases run.
class PrintWorst : public ::testing::Environment {
public:
  void TearDown() override {
    for (const auto &[what, e] : worst())
      std::printf("worst %-48s %.1e\n", what.c_str(), e);
  }
};

const auto *const printer =
    ::testing::AddGlobalTestEnvironment(new PrintWorst());

} // namespace
