//===- EndToEndHighOrderTest.cpp - Orders past 16 against the reference ---===//
//
// Compiled kernels at orders past 16 (the Taylor recurrence, up to
// kMaxOrder = 32) against the long-double Taylor reference, and the error
// curve up to kMaxOrder, printed and held to its bounds.
//
//===----------------------------------------------------------------------===//
#include "EndToEndKernel.h"
#include "TaylorReference.h"

#include "ntp/Compiler/Compiler.h"
#include "ntp/runtime.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

namespace {

using namespace ntp::e2e_test;

//===----------------------------------------------------------------------===//
// Orders past 16 (the Taylor recurrence, up to kMaxOrder = 32)
//===----------------------------------------------------------------------===//

/// The stated bounds past order 16 (f64), where the Taylor recurrence alone
/// is used past each activation's maxFaaDiBrunoOrder(). Measured (see the
/// README's error curve) and rounded up with a margin.
double highOrderTolerance(bool isF64, int k) {
  // Measured (1-16-16-1 and 1-24-24-24-1, PyTorch's init, 3 seeds): f64
  // <= 5.5e-15, f32 <= 2.8e-6 at orders 17..32.
  if (k <= 16)
    return tolerance(isF64, "", k);
  return isF64 ? 1e-12 : 1e-4;
}

struct HighOrderCase {
  std::string activation;
  bool isF64;
  int order;
};

void PrintTo(const HighOrderCase &c, std::ostream *os) {
  *os << c.activation << (c.isF64 ? " f64" : " f32") << " order " << c.order;
}

class HighOrderTest : public ::testing::TestWithParam<HighOrderCase> {};

/// Max relative error per order (pooled over the batch) of one compiled
/// network against the reference; NaN/overflow counts as infinite.
std::vector<double> measuredErrors(const std::vector<int> &widths,
                                   const std::string &activation, int order,
                                   bool isF64, uint64_t seed,
                                   std::string &error,
                                   std::vector<double> *maxAbs = nullptr) {
  std::unique_ptr<LoadedKernel> kernel =
      LoadedKernel::compile(widths, activation, order, isF64, error);
  if (!kernel)
    return {};
  std::mt19937_64 rng(seed);
  std::vector<Ld> params = randomParams(widths, isF64, rng);
  std::vector<Ld> v = randomVector(widths.front(), -1.0, 1.0, isF64, rng);
  const int64_t batch = 37;
  std::vector<Ld> x =
      randomVector(batch * widths.front(), -2.0, 2.0, isF64, rng);
  std::vector<Ld> ref =
      ntp_ref::jet(widths,
                   ntp_ref::parseActivationList(
                       activation, static_cast<int>(widths.size()) - 2),
                   order, params, x, v, batch);
  std::vector<Ld> out;
  if (!run(kernel->get(), isF64, x, v, params, order, widths.back(), batch, out,
           error))
    return {};
  std::vector<Ld> errors =
      errorsPerOrder(out, ref, order, batch * widths.back());
  if (maxAbs) {
    const int64_t perOrder = batch * widths.back();
    maxAbs->assign(order + 1, 0);
    for (int k = 0; k <= order; ++k)
      for (int64_t i = k * perOrder; i < (k + 1) * perOrder; ++i)
        (*maxAbs)[k] =
            std::max((*maxAbs)[k], static_cast<double>(std::fabs(ref[i])));
  }
  std::vector<double> result;
  for (Ld e : errors)
    result.push_back(static_cast<double>(e < 0 ? -e : e));
  return result;
}

TEST_P(HighOrderTest, MatchesReference) {
  const HighOrderCase &c = GetParam();
  std::string error;
  std::vector<double> errors =
      measuredErrors({1, 16, 16, 1}, c.activation, c.order, c.isF64, 31, error);
  ASSERT_FALSE(errors.empty()) << error;
  for (int k = 0; k <= c.order; ++k)
    EXPECT_LE(errors[k], highOrderTolerance(c.isF64, k))
        << c.activation << " order " << k;
}

std::vector<HighOrderCase> highOrderCases() {
  std::vector<HighOrderCase> cases;
  for (const std::string &act : {"tanh", "sigmoid", "sin", "cos", "silu",
                                 "gelu", "gelu_tanh", "softplus", "exp"})
    for (int order : {20, 32})
      for (bool isF64 : {true, false})
        cases.push_back({act, isF64, order});
  return cases;
}

INSTANTIATE_TEST_SUITE_P(
    Orders, HighOrderTest, ::testing::ValuesIn(highOrderCases()),
    [](const ::testing::TestParamInfo<HighOrderCase> &info) {
      return info.param.activation + (info.param.isF64 ? "_f64" : "_f32") +
             "_n" + std::to_string(info.param.order);
    });

/// The error curve up to kMaxOrder (README "Orders past 16"): the worst
/// relative error per order of a 1-24-24-24-1 network per activation and
/// dtype, three seeds, printed as a table, with the largest |out[k]| (f32
/// overflows past 3.4e38; see the README for the limit), held to the bounds
/// above.
TEST(ErrorCurve, PrintsUpToMaxOrder) {
  const int order = 32;
  const std::vector<std::string> acts = {"tanh", "sin", "silu", "gelu",
                                         "gelu_tanh"};
  std::map<std::pair<std::string, bool>, std::vector<double>> worst;
  std::map<std::string, std::vector<double>> largest;
  for (const std::string &act : acts)
    for (bool isF64 : {true, false})
      for (uint64_t seed : {11, 12, 13}) {
        std::string error;
        std::vector<double> maxAbs;
        std::vector<double> e = measuredErrors({1, 24, 24, 24, 1}, act, order,
                                               isF64, seed, error, &maxAbs);
        std::vector<double> &l = largest[act];
        l.resize(maxAbs.size(), 0);
        for (size_t k = 0; k < maxAbs.size(); ++k)
          l[k] = std::max(l[k], maxAbs[k]);
        ASSERT_FALSE(e.empty()) << error;
        std::vector<double> &w = worst[{act, isF64}];
        w.resize(e.size(), 0);
        for (size_t k = 0; k < e.size(); ++k)
          w[k] = std::max(w[k], std::isnan(e[k]) ? INFINITY : e[k]);
      }
  printf("\nworst relative error vs the reference, 1-24-24-24-1, 3 seeds\n");
  printf("  k");
  for (const std::string &act : acts)
    printf(" | %9.9s f64 | %9.9s f32", act.c_str(), act.c_str());
  printf("\n");
  for (int k = 0; k <= order; ++k) {
    printf("%3d", k);
    for (const std::string &act : acts)
      printf(" | %13.1e | %13.1e", worst[{act, true}][k],
             worst[{act, false}][k]);
    printf("\n");
  }
  // How close to f32's range (3.4e38) the jets come: max |d^k f|.
  printf("max |out[k]|");
  for (int k : {8, 16, 24, 32})
    printf("  k=%d:", k);
  printf("\n");
  for (const std::string &act : acts) {
    printf("%-10s", act.c_str());
    for (int k : {8, 16, 24, 32})
      printf("  %.1e", largest[act][k]);
    printf("\n");
  }
  for (const std::string &act : acts)
    for (bool isF64 : {true, false})
      for (int k = 0; k <= order; ++k)
        EXPECT_LE((worst[{act, isF64}][k]), highOrderTolerance(isF64, k))
            << act << (isF64 ? " f64" : " f32") << " order " << k;
}
} // namespace
