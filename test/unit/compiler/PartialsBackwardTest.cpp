//===- PartialsBackwardTest.cpp - Reverse mode of partials kernels --------===//
//
// The generated reverse mode of partials kernels (issue 12 item 4), through
// the runtime (ntp_partials_backward, ntp_partials_save,
// ntp_partials_backward_saved), against the independent multivariate Taylor
// reference (test/reference/PartialsReference.h): the gradients of
// L = sum_{p,b,j} c[p][b][j] out[p][b][j] with respect to every parameter
// and every point coordinate are compared with 4th-order central differences
// of the reference's L in long double, one coordinate at a time (the
// reference has no reverse pass of its own; its forward shares no code with
// the compiler), and along random parameter directions with a second step
// size. Every activation, d = 1..4, total
// orders up to 4, mixed partials, the Laplacian and the biharmonic. Bounds
// (max-norm relative error of the whole gradient): f64 1e-11, f32 1e-4 (the
// f32 kernel against the reference at its rounded inputs; measured 2.5e-14
// and 1.1e-6 at most). The training
// path (save, then backward_saved) must give the same numbers as the
// recomputing backward, and either gradient may be null. The worst errors
// are printed.
//
//===----------------------------------------------------------------------===//

#include "CompiledKernel.h"
#include "GradientCheck.h"
#include "PartialsReference.h"
#include "PartialsTestUtil.h"
#include "ntp/Compiler/Compiler.h"
#include "ntp/Support/Partials.h"
#include "ntp/runtime.h"

#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/MLIRContext.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <random>
#include <unistd.h>

namespace {

using ntp::test::centralDifference;
using ntp::test::CompiledKernel;
using ntp::test::Ld;
using ntp::test::record;
using ntp::test::relativeError;
using ntp::test::Rows;
using ntp::test::worst;

/// A partials kernel (a jet kernel when `rows` is empty), compiled and
/// loaded. `lowering` forces the forward's ntp.partials_lowering (""; the
/// count's choice); `chosen` and `reverse` receive the module's summaries of
/// the forward's and the reverse mode's lowerings.
std::unique_ptr<CompiledKernel>
compileKernel(const std::vector<int> &widths, const std::string &act,
              const Rows &rows, bool f64, bool backward = true,
              const std::string &lowering = "", std::string *chosen = nullptr,
              std::string *reverse = nullptr) {
  ntp::MlpDescription description =
      ntp::test::partialsDescription(widths, act, rows, f64);
  if (rows.empty())
    description.order = 2; // a jet kernel
  description.partialsLowering = lowering;
  return ntp::test::compilePartialsKernel(description, backward,
                                          /*errorOut=*/nullptr, chosen,
                                          reverse);
}

ntp::partials::Row op(int32_t kind, int d, std::vector<int64_t> subset = {}) {
  return ntp::test::operatorRow(kind, d, std::move(subset));
}

struct Case {
  std::string activation;
  int d;
  std::vector<int> hidden;
  int q;
  Rows rows;
};

void PrintTo(const Case &c, std::ostream *os) {
  *os << c.activation << " d=" << c.d << " "
      << ntp::partials::formatRows(c.rows);
}

std::vector<Case> cases() {
  using ntp::partials::kBiharmonic;
  using ntp::partials::kLaplacian;
  return {
      {"tanh", 1, {6, 5}, 1, {{4}, {2}, {1}, {0}}},
      {"sin", 2, {6, 5}, 2, {{2, 1}, {1, 1}, {0, 0}, op(kLaplacian, 2)}},
      {"silu", 3, {6}, 1, {{1, 1, 0}, {0, 0, 0}, op(kLaplacian, 3)}},
      {"gelu", 4, {5, 4}, 1, {{0, 0, 0, 1}, op(kLaplacian, 4, {0, 1, 2})}},
      {"softplus", 2, {6, 5}, 1, {{2, 2}, {0, 0}, op(kBiharmonic, 2)}},
      {"exp", 3, {5}, 1, {{2, 1, 1}, {4, 0, 0}, {0, 0, 1}}},
      {"sigmoid", 2, {5, 4}, 1, {{1, 0}, {0, 2}, op(kLaplacian, 2)}},
      {"cos", 1, {6, 4}, 2, {{3}, {0}}},
      {"identity", 2, {4}, 1, {{1, 1}, {0, 1}, {0, 0}}},
      {"gelu_tanh", 3, {5, 4}, 1, {{1, 1, 1}, {0, 0, 0}, op(kLaplacian, 3)}},
      {"tanh",
       4,
       {6, 5},
       1,
       {{0, 0, 0, 0}, op(kLaplacian, 4), op(kBiharmonic, 4, {0, 1})}},
  };
}

/// One problem: the kernel's widths, request, random parameters, points and
/// output cotangent (rounded to the kernel's type), and the reference loss.
struct Problem {
  std::vector<int> widths;
  ntp_ref::Activation act;
  std::vector<std::vector<int>> refRows;
  int64_t batch;
  std::vector<Ld> params, x, cotangent;

  Problem(const Case &c, int64_t batch, unsigned seed, bool f32)
      : batch(batch) {
    widths.push_back(c.d);
    widths.insert(widths.end(), c.hidden.begin(), c.hidden.end());
    widths.push_back(c.q);
    act = ntp_ref::parseActivation(c.activation);
    for (const auto &row : c.rows)
      refRows.emplace_back(row.begin(), row.end());
    std::mt19937_64 rng(seed);
    auto round = [&](double v) { return f32 ? Ld(float(v)) : Ld(v); };
    for (size_t l = 1; l < widths.size(); ++l) {
      double bound = 1.2 / std::sqrt(double(widths[l - 1]));
      std::uniform_real_distribution<double> u(-bound, bound);
      for (int i = 0; i < widths[l] * widths[l - 1] + widths[l]; ++i)
        params.push_back(round(u(rng)));
    }
    std::uniform_real_distribution<double> unit(-1, 1);
    for (int64_t i = 0; i < batch * c.d; ++i)
      x.push_back(round(unit(rng)));
    for (int64_t i = 0; i < int64_t(c.rows.size()) * batch * c.q; ++i)
      cotangent.push_back(round(unit(rng)));
  }

  Ld loss(const std::vector<Ld> &p, const std::vector<Ld> &points) const {
    std::vector<Ld> out =
        ntp_ref::partials(widths, act, p, points, batch, refRows);
    Ld sum = 0;
    for (size_t i = 0; i < out.size(); ++i)
      sum += cotangent[i] * out[i];
    return sum;
  }

  /// The gradient of the loss by central differences, one coordinate of
  /// params (then of x) at a time.
  void referenceGradients(std::vector<Ld> &paramsGrad,
                          std::vector<Ld> &xGrad) const {
    auto lossOf = [&](const std::vector<Ld> &p, const std::vector<Ld> &points) {
      return loss(p, points);
    };
    ntp::test::lossGradientsByDifferences(params, x, lossOf, 2e-4L, paramsGrad,
                                          xGrad);
  }
};

template <class T> std::vector<T> as(const std::vector<Ld> &v) {
  return std::vector<T>(v.begin(), v.end());
}

/// The largest difference of two outs [P, batch, q], each request p
/// relative to max(max |b_p|, 1e-10 * max |b|) (an identically zero partial
/// is judged against the others' size).
template <class T>
double forwardAgainstSave(const std::vector<T> &a, const std::vector<T> &b,
                          size_t requests) {
  size_t per = b.size() / requests;
  double global = 0, worst = 0;
  for (T e : b)
    global = std::max(global, double(std::fabs(e)));
  for (size_t p = 0; p < requests; ++p) {
    double err = 0, scale = 1e-10 * global;
    for (size_t i = p * per; i < (p + 1) * per; ++i) {
      err = std::max(err, double(std::fabs(a[i] - b[i])));
      scale = std::max(scale, double(std::fabs(b[i])));
    }
    worst = std::max(worst, scale > 0 ? err / scale : err);
  }
  return worst;
}

template <class T>
void checkCase(const Case &c, ntp_kernel *k, const Problem &p, double bound,
               const std::string &label) {
  const int64_t P = static_cast<int64_t>(p.params.size());
  const int64_t batch = p.batch;
  std::vector<T> x = as<T>(p.x), params = as<T>(p.params),
                 cot = as<T>(p.cotangent);
  std::vector<T> grad(P, T(NAN)), xGrad(x.size(), T(NAN));
  ASSERT_EQ(ntp_partials_backward(k, x.data(), params.data(), cot.data(),
                                  grad.data(), xGrad.data(), batch),
            NTP_OK)
      << ntp_last_error();

  std::vector<Ld> refGrad, refXGrad;
  p.referenceGradients(refGrad, refXGrad);
  double e = relativeError(grad, refGrad), ex = relativeError(xGrad, refXGrad);
  EXPECT_LE(e, bound) << "params_grad";
  EXPECT_LE(ex, bound) << "x_grad";
  record(label + " params_grad", e);
  record(label + " x_grad", ex);

  // Along random parameter directions with another step size: <grad, u>
  // against the derivative of L(params + t u).
  std::mt19937_64 rng(11);
  std::normal_distribution<double> normal;
  for (int trial = 0; trial < 2; ++trial) {
    std::vector<Ld> u(P);
    Ld predicted = 0, norm = 0;
    for (int64_t i = 0; i < P; ++i) {
      u[i] = normal(rng);
      predicted += Ld(grad[i]) * u[i];
      norm += std::fabs(Ld(grad[i]) * u[i]);
    }
    Ld fd = centralDifference(
        [&](Ld t) {
          std::vector<Ld> moved = p.params;
          for (int64_t i = 0; i < P; ++i)
            moved[i] += t * u[i];
          return p.loss(moved, p.x);
        },
        5e-5L);
    double rel = double(std::fabs(fd - predicted) / std::max(norm, Ld(1e-30)));
    EXPECT_LE(rel, bound) << "<grad, u> " << double(predicted) << " vs "
                          << double(fd);
    record(label + " directional", rel);
  }

  // Either gradient alone: the same numbers.
  std::vector<T> gradOnly(P), xOnly(x.size());
  ASSERT_EQ(ntp_partials_backward(k, x.data(), params.data(), cot.data(),
                                  gradOnly.data(), nullptr, batch),
            NTP_OK)
      << ntp_last_error();
  ASSERT_EQ(ntp_partials_backward(k, x.data(), params.data(), cot.data(),
                                  nullptr, xOnly.data(), batch),
            NTP_OK)
      << ntp_last_error();
  EXPECT_EQ(gradOnly, grad);
  EXPECT_EQ(xOnly, xGrad);

  // The training path: save, then the backward from the workspace.
  int64_t bytes = 0;
  ASSERT_EQ(ntp_workspace_size(k, batch, &bytes), NTP_OK) << ntp_last_error();
  std::vector<char> workspace(bytes);
  const size_t outCount = c.rows.size() * batch * c.q;
  std::vector<T> out(outCount, T(NAN)), out2(outCount, T(NAN));
  ASSERT_EQ(ntp_partials_save(k, x.data(), params.data(), out.data(),
                              workspace.data(), batch),
            NTP_OK)
      << ntp_last_error();
  ASSERT_EQ(ntp_partials(k, x.data(), params.data(), out2.data(), batch),
            NTP_OK);
  // The forward may be lowered multi-direction or collapsed while the save
  // runs the per-ray rays of the reverse mode: the same exact weights, so
  // the same out within rounding.
  double rounding = forwardAgainstSave(out2, out, c.rows.size());
  EXPECT_LE(rounding, sizeof(T) == 8 ? 1e-13 : 1e-5)
      << "ntp_partials_save must compute ntp_partials' out";
  record(label + " forward vs save", rounding);
  std::vector<T> grad2(P, T(NAN)), xGrad2(x.size(), T(NAN));
  ASSERT_EQ(ntp_partials_backward_saved(k, x.data(), params.data(), cot.data(),
                                        grad2.data(), xGrad2.data(),
                                        workspace.data(), batch),
            NTP_OK)
      << ntp_last_error();
  std::vector<Ld> gradLd(grad.begin(), grad.end()),
      xGradLd(xGrad.begin(), xGrad.end());
  double saved =
      std::max(relativeError(grad2, gradLd), relativeError(xGrad2, xGradLd));
  EXPECT_LE(saved, sizeof(T) == 8 ? 1e-14 : 1e-6)
      << "backward_saved against backward";
  record(label + " saved vs recomputed", saved);
  // The checked variants, with the workspace's size.
  ASSERT_EQ(ntp_partials_save_checked(k, x.data(), params.data(), out.data(),
                                      workspace.data(), bytes, batch),
            NTP_OK)
      << ntp_last_error();
  std::fill(grad2.begin(), grad2.end(), T(NAN));
  ASSERT_EQ(ntp_partials_backward_saved_checked(
                k, x.data(), params.data(), cot.data(), grad2.data(), nullptr,
                workspace.data(), bytes, batch),
            NTP_OK)
      << ntp_last_error();
  EXPECT_LE(relativeError(grad2, gradLd), sizeof(T) == 8 ? 1e-14 : 1e-6);
}

class PartialsBackward : public ::testing::TestWithParam<Case> {};

TEST_P(PartialsBackward, F64AgainstReferenceDifferences) {
  const Case &c = GetParam();
  Problem p(c, /*batch=*/11, 500 + c.d, /*f32=*/false);
  auto kernel = compileKernel(p.widths, c.activation, c.rows, true);
  ASSERT_TRUE(kernel);
  checkCase<double>(c, kernel->get(), p, 1e-11, "f64");
}

std::string caseName(const ::testing::TestParamInfo<Case> &info) {
  std::string name = info.param.activation + "_d" +
                     std::to_string(info.param.d) + "_" +
                     std::to_string(info.index);
  std::replace(name.begin(), name.end(), ',', '_');
  return name;
}

INSTANTIATE_TEST_SUITE_P(Gradcheck, PartialsBackward,
                         ::testing::ValuesIn(cases()), caseName);

TEST(PartialsBackwardF32, AgainstReferenceAtRoundedInputs) {
  std::vector<Case> f32 = {cases()[1], cases()[4], cases()[10]};
  for (const Case &c : f32) {
    SCOPED_TRACE(c.activation + " d=" + std::to_string(c.d));
    Problem p(c, /*batch=*/21, 900 + c.d, /*f32=*/true);
    auto kernel = compileKernel(p.widths, c.activation, c.rows, false);
    ASSERT_TRUE(kernel);
    checkCase<float>(c, kernel->get(), p, 1e-4, "f32");
  }
}

/// A kernel compiled with the reverse mode keeps the forward lowering the
/// count (or the user) chooses for ntp_partials; its save and backward follow
/// it (RaysBackward.cpp; RaysBackwardTest.cpp compares them with the per-ray
/// reverse mode). Each lowering, forced: the module says which
/// lowering the forward and the reverse mode use, the forward matches the
/// reference, the save's out the forward's within rounding, and the
/// gradients the reference's differences (checkCase).
TEST(PartialsBackwardLowerings, FastForwardBesidePerRayReverse) {
  using ntp::partials::kBiharmonic;
  using ntp::partials::kLaplacian;
  std::vector<Case> lowered = {
      {"tanh", 3, {6, 5}, 1, {{0, 0, 1}, {0, 0, 0}, op(kLaplacian, 3, {0, 1})}},
      {"silu", 2, {5}, 2, {{1, 1}, op(kBiharmonic, 2)}},
  };
  for (const Case &c : lowered) {
    for (const char *lowering :
         {"", "per-ray", "multi-direction", "collapsed", "multivariate"}) {
      SCOPED_TRACE(c.activation + " d=" + std::to_string(c.d) + " lowering '" +
                   lowering + "'");
      Problem p(c, /*batch=*/13, 700 + c.d, /*f32=*/false);
      std::string chosen, reverse;
      auto kernel =
          compileKernel(p.widths, c.activation, c.rows, true,
                        /*backward=*/true, lowering, &chosen, &reverse);
      ASSERT_TRUE(kernel);
      // The forward is the lowering asked for (auto: the one a forward-only
      // kernel gets), the reverse mode per-ray.
      std::string expected = lowering;
      if (expected.empty()) {
        std::string alone, none;
        auto forwardOnly = compileKernel(p.widths, c.activation, c.rows, true,
                                         /*backward=*/false, "", &alone, &none);
        ASSERT_TRUE(forwardOnly);
        EXPECT_EQ(chosen, alone);
        EXPECT_EQ(none, "") << "a forward-only kernel has no reverse mode";
      } else {
        EXPECT_TRUE(chosen.rfind(expected + ":", 0) == 0 ||
                    chosen.rfind(expected + ";", 0) == 0)
            << chosen;
      }
      // The reverse mode follows a multi-direction, collapsed or
      // multivariate forward (RaysBackward.cpp; ntp.activate_poly_vjp for
      // the multivariate one); beside a per-ray one it is per-ray.
      if (chosen.rfind("per-ray", 0) == 0)
        EXPECT_EQ(reverse.rfind("per-ray;", 0), 0u) << reverse;
      else
        EXPECT_EQ(reverse, chosen);
      std::vector<double> x = as<double>(p.x), params = as<double>(p.params);
      std::vector<double> out(c.rows.size() * p.batch * c.q, NAN);
      ASSERT_EQ(ntp_partials(kernel->get(), x.data(), params.data(), out.data(),
                             p.batch),
                NTP_OK)
          << ntp_last_error();
      std::vector<Ld> ref =
          ntp_ref::partials(p.widths, p.act, p.params, p.x, p.batch, p.refRows);
      std::vector<double> refOut(ref.begin(), ref.end());
      double e = forwardAgainstSave(out, refOut, c.rows.size());
      EXPECT_LE(e, 1e-10) << "forward against the reference";
      record(std::string("f64 forward ") + (*lowering ? lowering : "auto"), e);
      checkCase<double>(c, kernel->get(), p, 1e-11,
                        std::string("f64 ") + (*lowering ? lowering : "auto"));
    }
  }
}

/// Bad calls: one sentence and a nonzero status, never a crash.
TEST(PartialsBackwardErrors, ClearErrors) {
  const std::vector<int> widths = {2, 4, 1};
  auto partials = compileKernel(widths, "tanh", {{1, 1}, {0, 0}}, /*f64=*/true);
  ASSERT_TRUE(partials);
  ntp_kernel *k = partials->get();
  const int64_t P = 17, batch = 3;
  std::vector<double> x(batch * 2, 0.1), v(2, 1), params(P, 0.2),
      cot(2 * batch, 1), grad(P), xGrad(x.size()), out(2 * batch);
  auto lastError = [] { return std::string(ntp_last_error()); };

  // A partials kernel refuses the jet reverse mode, naming its own calls.
  EXPECT_EQ(ntp_backward(k, x.data(), v.data(), params.data(), cot.data(),
                         grad.data(), batch),
            NTP_ERROR_INVALID_ARGUMENT);
  EXPECT_NE(lastError().find("call ntp_partials_backward"), std::string::npos)
      << lastError();
  EXPECT_EQ(ntp_backward_full(k, x.data(), v.data(), params.data(), cot.data(),
                              grad.data(), xGrad.data(), batch),
            NTP_ERROR_INVALID_ARGUMENT);
  EXPECT_NE(lastError().find("ntp_backward_full is for jet kernels"),
            std::string::npos)
      << lastError();
  int64_t bytes = 0;
  ASSERT_EQ(ntp_workspace_size(k, batch, &bytes), NTP_OK);
  std::vector<char> ws(bytes);
  EXPECT_EQ(ntp_forward_save(k, x.data(), v.data(), params.data(), out.data(),
                             ws.data(), batch),
            NTP_ERROR_INVALID_ARGUMENT);
  EXPECT_NE(lastError().find("call ntp_partials_save"), std::string::npos)
      << lastError();
  EXPECT_EQ(ntp_backward_saved(k, x.data(), v.data(), params.data(), cot.data(),
                               grad.data(), nullptr, ws.data(), batch),
            NTP_ERROR_INVALID_ARGUMENT);
  EXPECT_NE(lastError().find("call ntp_partials_backward"), std::string::npos)
      << lastError();

  // Bad arguments.
  EXPECT_EQ(ntp_partials_backward(nullptr, x.data(), params.data(), cot.data(),
                                  grad.data(), nullptr, batch),
            NTP_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(lastError(), "kernel is null");
  EXPECT_EQ(ntp_partials_backward(k, x.data(), params.data(), cot.data(),
                                  nullptr, nullptr, batch),
            NTP_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(lastError(),
            "params_grad and x_grad are both null; nothing to compute");
  EXPECT_EQ(ntp_partials_backward(k, x.data(), params.data(), nullptr,
                                  grad.data(), nullptr, batch),
            NTP_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(lastError(), "out_cotangent is null but batch is 3");
  EXPECT_EQ(ntp_partials_backward(k, x.data(), nullptr, cot.data(), grad.data(),
                                  nullptr, batch),
            NTP_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(lastError(), "params is null");
  EXPECT_EQ(ntp_partials_backward(k, x.data(), params.data(), cot.data(),
                                  grad.data(), nullptr, -2),
            NTP_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(ntp_partials_backward_saved(k, x.data(), params.data(), cot.data(),
                                        grad.data(), nullptr, nullptr, batch),
            NTP_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(lastError(), "workspace is null but batch is 3");
  // A workspace saved for another batch, or too small for this one.
  ASSERT_EQ(
      ntp_partials_save(k, x.data(), params.data(), out.data(), ws.data(), 2),
      NTP_OK)
      << lastError();
  EXPECT_EQ(ntp_partials_backward_saved(k, x.data(), params.data(), cot.data(),
                                        grad.data(), nullptr, ws.data(), batch),
            NTP_ERROR_INVALID_ARGUMENT);
  EXPECT_NE(lastError().find("was saved for batch 2, not 3"), std::string::npos)
      << lastError();
  EXPECT_EQ(ntp_partials_save_checked(k, x.data(), params.data(), out.data(),
                                      ws.data(), 8, batch),
            NTP_ERROR_INVALID_ARGUMENT);
  EXPECT_NE(lastError().find("(ntp_workspace_size)"), std::string::npos)
      << lastError();
  EXPECT_EQ(ntp_partials_backward_saved_checked(k, x.data(), params.data(),
                                                cot.data(), grad.data(),
                                                nullptr, ws.data(), -1, batch),
            NTP_ERROR_INVALID_ARGUMENT);
  // batch 0: the gradient of an empty sum is written as zeros.
  std::fill(grad.begin(), grad.end(), 7.0);
  EXPECT_EQ(ntp_partials_backward(k, nullptr, params.data(), nullptr,
                                  grad.data(), nullptr, 0),
            NTP_OK)
      << lastError();
  EXPECT_EQ(grad, std::vector<double>(P, 0.0));

  // A jet kernel refuses the partials reverse mode, naming its own calls.
  auto jet = compileKernel(widths, "tanh", {}, /*f64=*/true);
  ASSERT_TRUE(jet);
  EXPECT_EQ(ntp_partials_backward(jet->get(), x.data(), params.data(),
                                  cot.data(), grad.data(), nullptr, batch),
            NTP_ERROR_INVALID_ARGUMENT);
  EXPECT_NE(lastError().find("call ntp_backward_full"), std::string::npos)
      << lastError();
  EXPECT_EQ(ntp_partials_save(jet->get(), x.data(), params.data(), out.data(),
                              ws.data(), batch),
            NTP_ERROR_INVALID_ARGUMENT);
  EXPECT_NE(lastError().find("call ntp_forward_save"), std::string::npos)
      << lastError();
  EXPECT_EQ(ntp_partials_backward_saved(jet->get(), x.data(), params.data(),
                                        cot.data(), grad.data(), nullptr,
                                        ws.data(), batch),
            NTP_ERROR_INVALID_ARGUMENT);
  EXPECT_NE(lastError().find("call ntp_backward_saved"), std::string::npos)
      << lastError();

  // A partials kernel compiled without the reverse mode.
  auto forwardOnly = compileKernel(widths, "tanh", {{1, 1}, {0, 0}}, true,
                                   /*backward=*/false);
  ASSERT_TRUE(forwardOnly);
  EXPECT_EQ(ntp_partials_backward(forwardOnly->get(), x.data(), params.data(),
                                  cot.data(), grad.data(), nullptr, batch),
            NTP_ERROR_UNSUPPORTED);
  EXPECT_EQ(lastError(), "ntp_partials_backward is not supported by this "
                         "kernel: it was compiled without the reverse-mode "
                         "entry points");
  EXPECT_EQ(ntp_workspace_size(forwardOnly->get(), batch, &bytes),
            NTP_ERROR_UNSUPPORTED);
}

/// Many threads: the chunks' parameter gradients are summed once each.
TEST(PartialsBackwardThreads, OneOrManyThreads) {
  const std::vector<int> widths = {2, 8, 8, 1};
  Rows rows = {{2, 0}, {1, 1}, {0, 0}};
  auto kernel = compileKernel(widths, "tanh", rows, true);
  ASSERT_TRUE(kernel);
  Case c{"tanh", 2, {8, 8}, 1, rows};
  Problem p(c, 1000, 3, false);
  auto x = as<double>(p.x), params = as<double>(p.params),
       cot = as<double>(p.cotangent);
  std::vector<double> serial(params.size()), parallel(params.size()),
      xSerial(x.size()), xParallel(x.size());
  ASSERT_EQ(ntp_set_num_threads(1), NTP_OK);
  ASSERT_EQ(ntp_partials_backward(kernel->get(), x.data(), params.data(),
                                  cot.data(), serial.data(), xSerial.data(),
                                  1000),
            NTP_OK);
  ASSERT_EQ(ntp_set_num_threads(4), NTP_OK);
  ASSERT_EQ(ntp_partials_backward(kernel->get(), x.data(), params.data(),
                                  cot.data(), parallel.data(), xParallel.data(),
                                  1000),
            NTP_OK);
  ntp_set_num_threads(0);
  std::vector<Ld> ref(serial.begin(), serial.end());
  EXPECT_LE(relativeError(parallel, ref), 1e-13);
  EXPECT_EQ(xParallel, xSerial); // per sample: no reduction across threads
}

class PrintWorst : public ::testing::Environment {
public:
  void TearDown() override {
    std::printf("partials backward: worst relative error (this run)\n"
                "| what | worst |\n|---|---|\n");
    for (auto &[what, error] : worst())
      std::printf("| %s | %.2e |\n", what.c_str(), error);
  }
};
const auto *const kPrintWorst =
    ::testing::AddGlobalTestEnvironment(new PrintWorst);

} // namespace
