//===- RaysBackwardTest.cpp - Reverse mode of the ray lowerings -----------===//
//
// The reverse mode generated from a multi-direction or collapsed forward
// (lib/Transforms/RaysBackward.cpp, ntp.activate_rays_vjp), through the
// runtime: for each case the same network and request compiled twice, the
// reverse mode following the forward's lowering and forced per-ray
// (ntp.partials_reverse_lowering), and the gradients of L = sum c out with
// respect to every parameter and x compared
//   - with each other (save + backward_saved and the recomputing backward):
//     f64 <= 1e-12, f32 <= 1e-4 relative to the largest |gradient|;
//   - with 4th-order central differences of the independent reference's L
//     in long double (test/reference/PartialsReference.h): f64 <= 1e-11,
//     the differences' own error is ~1e-13.
// Activations tanh, sin, silu, gelu, softplus, sigmoid; d = 1..6; the
// Laplacian over all inputs and over a subset beside other requests, the
// biharmonic (collapsed order 4), mixed partials (multi-direction). The
// worst errors are printed.
//
//===----------------------------------------------------------------------===//

#include "CompiledKernel.h"
#include "PartialsReference.h"
#include "ntp/Compiler/Compiler.h"
#include "ntp/Support/Partials.h"
#include "ntp/runtime.h"

#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/BuiltinOps.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <random>

namespace {

using ntp::test::CompiledKernel;
using Ld = long double;
using Rows = std::vector<std::vector<int32_t>>;

std::unique_ptr<CompiledKernel>
compileKernel(const std::vector<int> &widths, const std::string &act,
              const Rows &rows, bool f64, const std::string &lowering,
              const std::string &reverse, std::string *reverseSummary) {
  ntp::MlpDescription description;
  description.layers.assign(widths.begin(), widths.end());
  description.activation = act;
  description.isF64 = f64;
  description.partials = rows;
  for (const auto &row : rows)
    description.order =
        std::max<int64_t>(description.order, ntp::partials::totalOrder(row));
  description.partialsLowering = lowering;
  description.partialsReverseLowering = reverse;
  ntp::CompileOptions options;
  options.backward = true;
  return CompiledKernel::compile(
      description, options, /*errorOut=*/nullptr, [&](mlir::ModuleOp module) {
        *reverseSummary = ntp::test::kernelLowering(module, /*reverse=*/true);
      });
}

ntp::partials::Row op(int32_t kind, int d, std::vector<int64_t> subset = {}) {
  ntp::partials::Row row;
  std::string error;
  EXPECT_TRUE(ntp::partials::operatorRow(kind, subset, d, row, error)) << error;
  return row;
}

/// rows: the multi-indices, then the operators (the order of out's
/// requests, which the reference follows).
struct Case {
  std::string activation;
  int d;
  std::vector<int> hidden;
  Rows rows;
  std::string lowering; // collapsed or multi-direction
  /// Where set, how the reverse mode's summary starts (blocks beside the
  /// forward rather than its own).
  std::string reverse = "";
};

/// How ctest names a case: its fields, not its bytes (which hold pointers
/// and would change the test names from build to build).
void PrintTo(const Case &c, std::ostream *os) {
  *os << c.activation << " d=" << c.d << " " << c.lowering << " "
      << c.rows.size() << " requests";
}

std::vector<Case> cases() {
  using ntp::partials::kBiharmonic;
  using ntp::partials::kLaplacian;
  std::vector<Case> all;
  // The Laplacian over all inputs, collapsed (rays of order 1, one row of
  // order 2), d = 1..6.
  const char *acts[] = {"tanh", "sin", "silu", "gelu", "softplus", "sigmoid"};
  for (int d = 1; d <= 6; ++d)
    all.push_back({acts[d - 1], d, {6, 5}, {op(kLaplacian, d)}, "collapsed"});
  all.push_back({"tanh", 3, {5, 4}, {op(kLaplacian, 3)}, "collapsed"});
  // Over a subset, beside f and a first partial (the heat operator).
  all.push_back({"tanh",
                 4,
                 {6, 5},
                 {{0, 0, 0, 0}, {0, 0, 0, 1}, op(kLaplacian, 4, {0, 2})},
                 "collapsed"});
  all.push_back(
      {"silu", 3, {5}, {{0, 0, 1}, op(kLaplacian, 3, {0, 1})}, "collapsed"});
  // The biharmonic: rays of order 3, one collapsed row of order 4.
  all.push_back({"tanh", 2, {6, 5}, {op(kBiharmonic, 2)}, "collapsed"});
  all.push_back(
      {"softplus", 3, {5, 4}, {{1, 0, 0}, op(kBiharmonic, 3)}, "collapsed"});
  // Multi-direction: mixed partials, the Laplacian's rays uncollapsed.
  all.push_back(
      {"tanh", 2, {6, 5}, {{1, 1}, {2, 0}, {0, 0}}, "multi-direction"});
  all.push_back({"sin", 3, {5, 4}, {{1, 1, 1}, {0, 2, 1}}, "multi-direction"});
  all.push_back(
      {"gelu", 4, {6}, {{0, 1, 0, 0}, op(kLaplacian, 4)}, "multi-direction"});
  all.push_back({"sigmoid", 2, {5, 4}, {{2, 2}, {4, 0}}, "multi-direction"});
  return all;
}

std::map<std::string, double> &worst() {
  static std::map<std::string, double> w;
  return w;
}
void record(const std::string &what, double e) {
  double &w = worst()[what];
  w = std::max(w, e);
}

template <class A, class B>
double relativeError(const std::vector<A> &a, const std::vector<B> &b) {
  Ld err = 0, scale = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    err = std::max(err, std::fabs(Ld(a[i]) - Ld(b[i])));
    scale = std::max(scale, std::fabs(Ld(b[i])));
  }
  return scale > 0 ? double(err / scale) : double(err);
}

template <class F> Ld centralDifference(F f, Ld h) {
  return (8 * (f(h) - f(-h)) - (f(2 * h) - f(-2 * h))) / (12 * h);
}

struct Gradients {
  std::vector<Ld> params, x;
};

template <class T> struct Run {
  std::vector<T> grad, xGrad, savedGrad, savedXGrad, out;
};

/// save + backward_saved and the recomputing backward of kernel k.
template <class T>
Run<T> run(ntp_kernel *k, const std::vector<T> &x, const std::vector<T> &params,
           const std::vector<T> &cot, size_t outCount, int64_t batch) {
  Run<T> r;
  r.grad.assign(params.size(), T(NAN));
  r.xGrad.assign(x.size(), T(NAN));
  r.savedGrad = r.grad;
  r.savedXGrad = r.xGrad;
  r.out.assign(outCount, T(NAN));
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
  const int64_t batch = 11, q = 1;
  std::vector<int> widths = {c.d};
  widths.insert(widths.end(), c.hidden.begin(), c.hidden.end());
  widths.push_back(q);
  std::mt19937_64 rng(1000 + c.d * 7 + c.rows.size());
  auto round = [&](double v) { return f64 ? Ld(v) : Ld(float(v)); };
  std::vector<Ld> params, x, cot;
  for (size_t l = 1; l < widths.size(); ++l) {
    double bound = 1.2 / std::sqrt(double(widths[l - 1]));
    std::uniform_real_distribution<double> u(-bound, bound);
    for (int i = 0; i < widths[l] * widths[l - 1] + widths[l]; ++i)
      params.push_back(round(u(rng)));
  }
  std::uniform_real_distribution<double> unit(-1, 1);
  for (int64_t i = 0; i < batch * c.d; ++i)
    x.push_back(round(unit(rng)));
  size_t outCount = c.rows.size() * batch * q;
  for (size_t i = 0; i < outCount; ++i)
    cot.push_back(round(unit(rng)));

  std::string followed, perRay;
  auto fast = compileKernel(widths, c.activation, c.rows, f64, c.lowering,
                            "auto", &followed);
  auto slow = compileKernel(widths, c.activation, c.rows, f64, c.lowering,
                            "per-ray", &perRay);
  ASSERT_TRUE(fast && slow);
  EXPECT_EQ(followed.rfind(c.reverse.empty() ? c.lowering + ":" : c.reverse, 0),
            0u)
      << followed;
  EXPECT_EQ(perRay.rfind("per-ray", 0), 0u) << perRay;

  std::vector<T> xt(x.begin(), x.end()), pt(params.begin(), params.end()),
      ct(cot.begin(), cot.end());
  Run<T> a = run(fast->get(), xt, pt, ct, outCount, batch);
  Run<T> b = run(slow->get(), xt, pt, ct, outCount, batch);
  std::string label = std::string(f64 ? "f64 " : "f32 ") + c.lowering;
  double bound = f64 ? 1e-12 : 1e-4;
  double e = std::max(relativeError(a.savedGrad, b.savedGrad),
                      relativeError(a.grad, b.grad));
  double ex = std::max(relativeError(a.savedXGrad, b.savedXGrad),
                       relativeError(a.xGrad, b.xGrad));
  EXPECT_LE(e, bound) << "params_grad against the per-ray reverse mode";
  EXPECT_LE(ex, bound) << "x_grad against the per-ray reverse mode";
  record(label + " params_grad vs per-ray", e);
  record(label + " x_grad vs per-ray", ex);
  double saved = std::max(relativeError(a.savedGrad, a.grad),
                          relativeError(a.savedXGrad, a.xGrad));
  EXPECT_LE(saved, f64 ? 1e-14 : 1e-6) << "backward_saved against backward";
  record(label + " saved vs recomputed", saved);
  double outs = relativeError(a.out, b.out);
  EXPECT_LE(outs, f64 ? 1e-13 : 1e-5) << "the saves' out";
  record(label + " save out vs per-ray", outs);

  if (!differences)
    return;
  std::vector<std::vector<int>> refRows;
  for (const auto &row : c.rows)
    refRows.emplace_back(row.begin(), row.end());
  ntp_ref::Activation act = ntp_ref::parseActivation(c.activation);
  auto loss = [&](const std::vector<Ld> &p, const std::vector<Ld> &points) {
    std::vector<Ld> out =
        ntp_ref::partials(widths, act, p, points, batch, refRows);
    Ld sum = 0;
    for (size_t i = 0; i < out.size(); ++i)
      sum += cot[i] * out[i];
    return sum;
  };
  const Ld h = 2e-4L;
  Gradients ref;
  for (size_t i = 0; i < params.size(); ++i)
    ref.params.push_back(centralDifference(
        [&](Ld t) {
          std::vector<Ld> moved = params;
          moved[i] += t;
          return loss(moved, x);
        },
        h));
  for (size_t i = 0; i < x.size(); ++i)
    ref.x.push_back(centralDifference(
        [&](Ld t) {
          std::vector<Ld> moved = x;
          moved[i] += t;
          return loss(params, moved);
        },
        h));
  double er = relativeError(a.savedGrad, ref.params),
         erx = relativeError(a.savedXGrad, ref.x);
  double refBound = f64 ? 1e-11 : 1e-4;
  EXPECT_LE(er, refBound) << "params_grad against the reference's differences";
  EXPECT_LE(erx, refBound) << "x_grad against the reference's differences";
  record(label + " params_grad vs differences", er);
  record(label + " x_grad vs differences", erx);
}

class RaysBackward : public ::testing::TestWithParam<Case> {};

TEST_P(RaysBackward, F64AgainstPerRayAndDifferences) {
  checkCase<double>(GetParam(), /*differences=*/true);
}

TEST_P(RaysBackward, F32AgainstPerRay) {
  checkCase<float>(GetParam(), /*differences=*/false);
}

std::string caseName(const ::testing::TestParamInfo<Case> &info) {
  std::string name =
      info.param.activation + "_d" + std::to_string(info.param.d) + "_" +
      (info.param.lowering == "collapsed" ? "collapsed" : "multi") + "_" +
      std::to_string(info.index);
  return name;
}

INSTANTIATE_TEST_SUITE_P(Lowerings, RaysBackward, ::testing::ValuesIn(cases()),
                         caseName);

/// A forward block too large for the recomputing reverse's stack bound (the
/// Laplacian in 32 inputs, 256 wide: one collapsed block of 34 rows): the
/// reverse mode comes from smaller blocks beside the forward (three), its
/// gradients against the per-ray reverse mode's (which the cases above
/// check against the reference; its differences at this width would take
/// minutes).
TEST(RaysBackwardBeside, SmallerBlocksWhereTheForwardsDoNotFit) {
  using ntp::partials::kLaplacian;
  Case c{"tanh",          32,
         {256, 256, 256}, {op(kLaplacian, 32)},
         "collapsed",     "collapsed: 3 blocks of rows 15,15,8"};
  checkCase<double>(c, /*differences=*/false);
}

/// The worst errors of the cases run.
class PrintWorst : public ::testing::Environment {
public:
  void TearDown() override {
    for (const auto &[what, e] : worst())
      std::printf("worst %-40s %.1e\n", what.c_str(), e);
  }
};

const auto *const printer =
    ::testing::AddGlobalTestEnvironment(new PrintWorst());

} // namespace
