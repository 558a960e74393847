//===- BackwardTest.cpp - Generated backward kernels, gradient-checked ----===//
//
// Like PyTorch's gradcheck, but stricter and against an independent oracle:
// for random networks (every activation, orders 0..12, f64) the gradients of
// L = <c, out> computed by the generated reverse-mode kernels are compared
// with (1) the reference evaluator's own reverse pass (long double Taylor
// arithmetic, test/reference) and (2) central differences of the reference's
// forward in long double along random directions. f32 kernels are compared
// with f64 ones. The workspace path (forward_save + backward_saved) must
// agree with the recomputing backward.
//
//===----------------------------------------------------------------------===//

#include "CompiledKernel.h"
#include "GradientCheck.h"
#include "TaylorReference.h"

#include "ntp/Compiler/Compiler.h"
#include "ntp/runtime.h"

#include "mlir/IR/MLIRContext.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <memory>
#include <random>
#include <string>
#include <unistd.h>
#include <vector>

namespace {

using ntp::test::CompiledKernel;
using ntp::test::expectDirectionalDerivatives;
using ntp::test::expectTrainingPathAgrees;
using ntp::test::ld;
using ntp::test::Ld;
using ntp::test::pointGradientByDifferences;
using ntp::test::relativeError;

int64_t numParams(const std::vector<int> &w) {
  int64_t n = 0;
  for (size_t l = 1; l < w.size(); ++l)
    n += int64_t(w[l]) * w[l - 1] + w[l];
  return n;
}

/// A random problem (JetProblem) and its loss by the reference.
struct Problem : ntp::test::JetProblem {
  using JetProblem::JetProblem;

  /// <c, jet(params, x)> in long double, by the reference.
  Ld loss(const std::vector<Ld> &p, const std::vector<Ld> &points,
          const std::vector<ntp_ref::Activation> &act) const {
    std::vector<Ld> out =
        ntp_ref::jet(widths, act, order, p, points, ld(v), batch);
    Ld sum = 0;
    for (size_t i = 0; i < out.size(); ++i)
      sum += Ld(cotangent[i]) * out[i];
    return sum;
  }
};

template <class T> std::vector<T> cast(const std::vector<double> &d) {
  return std::vector<T>(d.begin(), d.end());
}

struct Case {
  std::string activation;
  int order;
  std::vector<int> widths;
};

void PrintTo(const Case &c, std::ostream *os) {
  *os << c.activation << " order " << c.order;
}

std::string caseName(const ::testing::TestParamInfo<Case> &info) {
  std::string name = info.param.activation;
  std::replace(name.begin(), name.end(), ',', '_');
  name += "_n" + std::to_string(info.param.order) + "_w";
  for (size_t i = 0; i < info.param.widths.size(); ++i)
    name += (i ? "x" : "") + std::to_string(info.param.widths[i]);
  return name;
}

std::vector<Case> cases() {
  const std::vector<std::vector<int>> shapes = {
      {1, 8, 1}, {2, 6, 5, 1}, {3, 7, 7, 2}, {1, 5, 4, 3, 1}, {2, 3}};
  std::vector<Case> result;
  int shape = 0;
  for (const std::string &act :
       {"tanh", "sigmoid", "sin", "identity", "exp", "softplus", "cos", "silu",
        "gelu", "gelu_tanh"})
    for (int order : {0, 1, 2, 3, 5, 7, 9, 12})
      result.push_back({act, order, shapes[shape++ % shapes.size()]});
  // One activation per hidden layer, identity (a linear layer) among them.
  result.push_back({"silu,tanh", 4, {2, 6, 5, 1}});
  result.push_back({"gelu,identity,cos", 7, {1, 5, 4, 3, 1}});
  result.push_back({"gelu_tanh,sigmoid", 12, {3, 7, 7, 2}});
  // Orders past 16 (the Taylor recurrence).
  result.push_back({"tanh", 20, {1, 6, 5, 1}});
  result.push_back({"silu,gelu", 24, {1, 5, 4, 1}});
  result.push_back({"sin", 32, {1, 4, 1}});
  return result;
}

class BackwardTest : public ::testing::TestWithParam<Case> {};

TEST_P(BackwardTest, MatchesReferenceGradients) {
  const Case &c = GetParam();
  auto act = ntp_ref::parseActivationList(
      c.activation, static_cast<int>(c.widths.size()) - 2);
  auto kernel = CompiledKernel::compile(c.widths, c.activation, c.order, true);
  ASSERT_TRUE(kernel);
  const int64_t batch = 19; // not a multiple of the tile: padding lanes
  Problem p(c.widths, c.order, batch, 1000 + c.order, false);
  const int64_t P = numParams(c.widths);
  std::vector<double> grad(P), xGrad(p.x.size());
  ASSERT_EQ(ntp_backward_full(kernel->get(), p.x.data(), p.v.data(),
                              p.params.data(), p.cotangent.data(), grad.data(),
                              xGrad.data(), batch),
            NTP_OK)
      << ntp_last_error();

  // (1) The reference's own reverse pass, exact in long double.
  std::vector<Ld> refGrad =
      ntp_ref::jetParamGradient(c.widths, act, c.order, ld(p.params), ld(p.x),
                                ld(p.v), batch, ld(p.cotangent));
  // Past order 12, like the forward's bounds: 1e-11 (measured 1.6e-12 for
  // tanh at order 20).
  EXPECT_LE(relativeError(grad, refGrad), c.order <= 12 ? 1e-12 : 1e-11)
      << "params_grad";

  // (2) Directional derivatives against central differences of the
  // reference forward, along random parameter directions u.
  expectDirectionalDerivatives(
      grad, p.params,
      [&](const std::vector<Ld> &params) {
        return p.loss(params, ld(p.x), act);
      },
      3);

  // (3) The gradient with respect to x, by central differences per point.
  std::vector<Ld> refXGrad =
      pointGradientByDifferences(p.x, [&](const std::vector<Ld> &x) {
        return p.loss(ld(p.params), x, act);
      });
  EXPECT_LE(relativeError(xGrad, refXGrad), 1e-8) << "x_grad";

  // (4) The training path gives the same numbers without recomputing.
  expectTrainingPathAgrees(kernel->get(), p.x, p.v, p.params, p.cotangent,
                           batch, grad, xGrad);
}

INSTANTIATE_TEST_SUITE_P(Gradcheck, BackwardTest, ::testing::ValuesIn(cases()),
                         caseName);

/// f32 kernels against f64 kernels on the same (f32-exact) inputs.
class BackwardF32Test : public ::testing::TestWithParam<Case> {};

TEST_P(BackwardF32Test, MatchesF64) {
  const Case &c = GetParam();
  auto k32 = CompiledKernel::compile(c.widths, c.activation, c.order, false);
  auto k64 = CompiledKernel::compile(c.widths, c.activation, c.order, true);
  ASSERT_TRUE(k32 && k64);
  const int64_t batch = 37;
  Problem p(c.widths, c.order, batch, 2000 + c.order, true);
  const int64_t P = numParams(c.widths);
  std::vector<double> g64(P);
  std::vector<float> g32(P);
  auto x = cast<float>(p.x), v = cast<float>(p.v),
       params = cast<float>(p.params), cot = cast<float>(p.cotangent);
  ASSERT_EQ(ntp_backward(k64->get(), p.x.data(), p.v.data(), p.params.data(),
                         p.cotangent.data(), g64.data(), batch),
            NTP_OK);
  ASSERT_EQ(ntp_backward(k32->get(), x.data(), v.data(), params.data(),
                         cot.data(), g32.data(), batch),
            NTP_OK);
  EXPECT_LE(relativeError(g32, g64), 1e-4);
}

std::vector<Case> f32Cases() {
  std::vector<Case> result;
  for (const std::string &act :
       {"tanh", "sigmoid", "sin", "identity", "exp", "softplus", "cos", "silu",
        "gelu", "gelu_tanh", "silu,gelu_tanh"})
    for (int order : {0, 3, 6, 9})
      result.push_back({act, order, {1, 12, 12, 1}});
  return result;
}

INSTANTIATE_TEST_SUITE_P(Precision, BackwardF32Test,
                         ::testing::ValuesIn(f32Cases()), caseName);

/// Bad calls: one sentence and a nonzero status, never a crash.
TEST(BackwardErrors, ClearErrors) {
  auto kernel = CompiledKernel::compile({1, 4, 1}, "tanh", 2, true);
  ASSERT_TRUE(kernel);
  std::vector<double> x(5, 0.1), v(1, 1), params(13, 0.2), cot(15, 1), grad(13),
      xGrad(5), ws(1024);
  ntp_kernel *k = kernel->get();
  EXPECT_EQ(ntp_backward(nullptr, x.data(), v.data(), params.data(), cot.data(),
                         grad.data(), 5),
            NTP_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(ntp_backward(k, x.data(), v.data(), params.data(), cot.data(),
                         nullptr, 5),
            NTP_ERROR_INVALID_ARGUMENT);
  EXPECT_STREQ(ntp_last_error(), "params_grad is null");
  EXPECT_EQ(ntp_backward(k, x.data(), v.data(), params.data(), nullptr,
                         grad.data(), 5),
            NTP_ERROR_INVALID_ARGUMENT);
  EXPECT_STREQ(ntp_last_error(), "out_cotangent is null but batch is 5");
  EXPECT_EQ(ntp_backward(k, x.data(), v.data(), params.data(), cot.data(),
                         grad.data(), -1),
            NTP_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(ntp_backward_full(k, x.data(), v.data(), params.data(), cot.data(),
                              nullptr, nullptr, 5),
            NTP_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(ntp_backward_saved(k, x.data(), v.data(), params.data(), cot.data(),
                               grad.data(), nullptr, nullptr, 5),
            NTP_ERROR_INVALID_ARGUMENT);
  EXPECT_STREQ(ntp_last_error(), "workspace is null but batch is 5");
  int64_t bytes = 0;
  EXPECT_EQ(ntp_workspace_size(k, -3, &bytes), NTP_ERROR_INVALID_ARGUMENT);
  // batch 0: the gradient of an empty sum is written as zeros.
  std::fill(grad.begin(), grad.end(), 7.0);
  EXPECT_EQ(ntp_backward(k, nullptr, v.data(), params.data(), nullptr,
                         grad.data(), 0),
            NTP_OK);
  EXPECT_EQ(grad, std::vector<double>(13, 0.0));

  auto forwardOnly = CompiledKernel::compile({1, 4, 1}, "tanh", 2, true,
                                             /*backward=*/false);
  ASSERT_TRUE(forwardOnly);
  EXPECT_EQ(ntp_backward(forwardOnly->get(), x.data(), v.data(), params.data(),
                         cot.data(), grad.data(), 5),
            NTP_ERROR_UNSUPPORTED);
  EXPECT_STREQ(ntp_last_error(),
               "ntp_backward is not supported by this kernel: it was "
               "compiled without the reverse-mode entry points");
  EXPECT_EQ(ntp_workspace_size(forwardOnly->get(), 5, &bytes),
            NTP_ERROR_UNSUPPORTED);
}

/// Many threads: the per-thread partial gradients are summed exactly once.
TEST(BackwardThreads, SameResultWithOneOrManyThreads) {
  auto kernel = CompiledKernel::compile({1, 16, 16, 1}, "tanh", 5, true);
  ASSERT_TRUE(kernel);
  Problem p({1, 16, 16, 1}, 5, 1000, 3, false);
  std::vector<double> serial(numParams(p.widths)), parallel(serial.size());
  ASSERT_EQ(ntp_set_num_threads(1), NTP_OK);
  ASSERT_EQ(ntp_backward(kernel->get(), p.x.data(), p.v.data(), p.params.data(),
                         p.cotangent.data(), serial.data(), 1000),
            NTP_OK);
  ASSERT_EQ(ntp_set_num_threads(4), NTP_OK);
  ASSERT_EQ(ntp_backward(kernel->get(), p.x.data(), p.v.data(), p.params.data(),
                         p.cotangent.data(), parallel.data(), 1000),
            NTP_OK);
  ntp_set_num_threads(0);
  // Summation order differs between chunkings: equal up to rounding.
  EXPECT_LE(relativeError(parallel, serial), 1e-13);
}

} // namespace
