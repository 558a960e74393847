//===- EndToEndClosedFormTest.cpp - Compiled kernels vs closed forms ------===//
//
// One-neuron networks (tanh, sin) against their derivatives written here,
// linear and identity networks whose high orders are exactly zero, and
// batch 0, compiled through the library path in f32 and f64.
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
// Closed forms through the compiler
//===----------------------------------------------------------------------===//

class ClosedFormTest : public ::testing::TestWithParam<bool> {};

std::string dtypeName(const ::testing::TestParamInfo<bool> &info) {
  return info.param ? "f64" : "f32";
}

TEST_P(ClosedFormTest, TanhNeuron) {
  // f(x) = tanh(x), v = 1: f' = 1 - t^2, f'' = -2t(1 - t^2),
  // f''' = (1 - t^2)(6t^2 - 2).
  const bool isF64 = GetParam();
  std::string error;
  auto kernel = LoadedKernel::compile({1, 1, 1}, "tanh", 3, isF64, error);
  ASSERT_TRUE(kernel) << error;
  std::vector<Ld> x;
  for (double p = -3.0; p <= 3.0; p += 0.25)
    x.push_back(roundTo(isF64, p));
  const int64_t batch = static_cast<int64_t>(x.size());
  std::vector<Ld> out;
  ASSERT_TRUE(run(kernel->get(), isF64, x, {1.0L}, {1.0L, 0.0L, 1.0L, 0.0L}, 3,
                  1, batch, out, error))
      << error;
  const Ld tol = isF64 ? 1e-14L : 2e-6L;
  for (int64_t b = 0; b < batch; ++b) {
    Ld t = std::tanh(x[b]);
    Ld expected[4] = {t, 1 - t * t, -2 * t * (1 - t * t),
                      (1 - t * t) * (6 * t * t - 2)};
    for (int k = 0; k <= 3; ++k)
      EXPECT_NEAR(static_cast<double>(out[k * batch + b]),
                  static_cast<double>(expected[k]), static_cast<double>(tol))
          << "x = " << static_cast<double>(x[b]) << ", order " << k;
  }
}

TEST_P(ClosedFormTest, TanhPrimitiveAcrossItsRange) {
  // The vectorized tanh itself (ApproximateMath.cpp; f64: expm1 by argument
  // reduction, exactly +-1 past |x| = 20), order 0 of tanh(x): relative
  // error against long double at both ends of every branch (the reduction's
  // k = 0 / k = -1 boundary at |x| = ln2 / 4, the clamp, tiny and huge
  // arguments, zeros) and on a dense sweep of [-25, 25].
  const bool isF64 = GetParam();
  std::string error;
  auto kernel = LoadedKernel::compile({1, 1, 1}, "tanh", 0, isF64, error);
  ASSERT_TRUE(kernel) << error;
  std::vector<Ld> x;
  // ln2 / 4 and ln2 / 2: where the reduction's k turns -1 and -2.
  const double ln2 = std::log(2.0);
  const double special[] = {0.0,  -0.0,   1e-300, 1e-30, 1e-8,    4e-4,
                            1e-3, 0.1,    0.3,    0.5,   1.0,     2.0,
                            5.0,  8.1835, 10.0,   18.0,  19.06,   20.0,
                            20.5, 25.0,   100.0,  1e300, ln2 / 4, ln2 / 2};
  for (double p : special)
    for (double sign : {1.0, -1.0})
      x.push_back(roundTo(isF64, sign * p));
  for (double p = -25.0; p <= 25.0; p += 0.01171875)
    x.push_back(roundTo(isF64, p));
  const int64_t batch = static_cast<int64_t>(x.size());
  std::vector<Ld> out;
  ASSERT_TRUE(run(kernel->get(), isF64, x, {1.0L}, {1.0L, 0.0L, 1.0L, 0.0L}, 0,
                  1, batch, out, error))
      << error;
  // f64: measured at most 2.5 ulp (mpmath, 320000 random arguments), which
  // is up to 5.6e-16 relative; on these arguments at most 2.71e-16 (both
  // the Taylor and the minimax expm1 polynomial).
  const Ld tol = isF64 ? 3.5e-16L : 2e-6L;
  for (int64_t b = 0; b < batch; ++b) {
    Ld expected = std::tanh(x[b]);
    Ld got = out[b];
    if (expected == 0) {
      EXPECT_EQ(got, 0.0L) << "x = " << static_cast<double>(x[b]);
      continue;
    }
    EXPECT_LE(std::fabs(got - expected) / std::fabs(expected), tol)
        << "x = " << static_cast<double>(x[b]) << ": "
        << static_cast<double>(got);
  }
}

TEST_P(ClosedFormTest, SinNeuron) {
  // f(x) = a sin(w x + c) + e along v: f^(k) = a (w v)^k sin(w x + c +
  // k pi/2) for k >= 1.
  const bool isF64 = GetParam();
  const int order = 10;
  const Ld w = 1.5L, c = 0.25L, a = -0.75L, e = 0.5L, v = 0.8L;
  std::string error;
  auto kernel = LoadedKernel::compile({1, 1, 1}, "sin", order, isF64, error);
  ASSERT_TRUE(kernel) << error;
  std::vector<Ld> x;
  for (double p = -2.0; p <= 2.0; p += 0.125)
    x.push_back(roundTo(isF64, p));
  const int64_t batch = static_cast<int64_t>(x.size());
  std::vector<Ld> out;
  ASSERT_TRUE(run(kernel->get(), isF64, x, {v}, {w, c, a, e}, order, 1, batch,
                  out, error))
      << error;
  const Ld pi = 3.141592653589793238462643383279502884L;
  for (int64_t b = 0; b < batch; ++b)
    for (int k = 0; k <= order; ++k) {
      Ld expected = a * std::pow(w * v, static_cast<Ld>(k)) *
                        std::sin(w * x[b] + c + k * pi / 2) +
                    (k == 0 ? e : 0);
      // |expected| <= 0.75 * 1.2^10 ~ 4.6.
      const Ld tol = isF64 ? 1e-13L : 1e-5L;
      EXPECT_NEAR(static_cast<double>(out[k * batch + b]),
                  static_cast<double>(expected), static_cast<double>(tol))
          << "x = " << static_cast<double>(x[b]) << ", order " << k;
    }
}

TEST_P(ClosedFormTest, LinearNetworkHasExactlyZeroHighOrders) {
  // One affine layer (no activation): out_0 = W x + b, out_1 = W v, and
  // every higher order is exactly 0 (structural zeros, W * 0 = 0).
  const bool isF64 = GetParam();
  const std::vector<int> widths = {3, 2};
  const int order = 6;
  std::string error;
  auto kernel = LoadedKernel::compile(widths, "tanh", order, isF64, error);
  ASSERT_TRUE(kernel) << error;
  std::mt19937_64 rng(5);
  std::vector<Ld> params = randomParams(widths, isF64, rng);
  std::vector<Ld> v = randomVector(3, -1.0, 1.0, isF64, rng);
  const int64_t batch = 37;
  std::vector<Ld> x = randomVector(batch * 3, -2.0, 2.0, isF64, rng);
  std::vector<Ld> out;
  ASSERT_TRUE(
      run(kernel->get(), isF64, x, v, params, order, 2, batch, out, error))
      << error;
  const Ld tol = isF64 ? 1e-15L : 1e-6L;
  for (int64_t b = 0; b < batch; ++b)
    for (int j = 0; j < 2; ++j) {
      Ld value = params[6 + j], slope = 0;
      for (int i = 0; i < 3; ++i) {
        value += params[j * 3 + i] * x[b * 3 + i];
        slope += params[j * 3 + i] * v[i];
      }
      EXPECT_NEAR(static_cast<double>(out[(0 * batch + b) * 2 + j]),
                  static_cast<double>(value), static_cast<double>(tol));
      EXPECT_NEAR(static_cast<double>(out[(1 * batch + b) * 2 + j]),
                  static_cast<double>(slope), static_cast<double>(tol));
      for (int k = 2; k <= order; ++k)
        EXPECT_EQ(out[(k * batch + b) * 2 + j], 0.0L)
            << "order " << k << ", sample " << b << ", output " << j;
    }
}

TEST_P(ClosedFormTest, IdentityActivationHasExactlyZeroHighOrders) {
  // A deep network with the identity activation is affine too.
  const bool isF64 = GetParam();
  const std::vector<int> widths = {2, 8, 8, 3};
  const int order = 5;
  std::string error;
  auto kernel = LoadedKernel::compile(widths, "identity", order, isF64, error);
  ASSERT_TRUE(kernel) << error;
  std::mt19937_64 rng(6);
  std::vector<Ld> params = randomParams(widths, isF64, rng);
  std::vector<Ld> v = randomVector(2, -1.0, 1.0, isF64, rng);
  const int64_t batch = 20;
  std::vector<Ld> x = randomVector(batch * 2, -2.0, 2.0, isF64, rng);
  std::vector<Ld> out;
  ASSERT_TRUE(
      run(kernel->get(), isF64, x, v, params, order, 3, batch, out, error))
      << error;
  for (int k = 2; k <= order; ++k)
    for (int64_t i = 0; i < batch * 3; ++i)
      EXPECT_EQ(out[k * batch * 3 + i], 0.0L) << "order " << k;
}

TEST_P(ClosedFormTest, BatchZeroIsANoOp) {
  const bool isF64 = GetParam();
  std::string error;
  auto kernel = LoadedKernel::compile({2, 4, 1}, "tanh", 2, isF64, error);
  ASSERT_TRUE(kernel) << error;
  // Real buffers filled with a sentinel: nothing may be read or written.
  std::vector<double> x(8, 7.0), v(2, 7.0), out(8, 7.0);
  std::vector<double> params(ntp_ref::numParams({2, 4, 1}), 7.0);
  std::vector<double> before = out;
  // Element counts for batch 0: x and out are empty.
  EXPECT_EQ(ntp_forward_checked(
                kernel->get(), x.data(), 0, v.data(), 2, params.data(),
                static_cast<int64_t>(params.size()), out.data(), 0, 0),
            NTP_OK)
      << ntp_last_error();
  EXPECT_EQ(out, before);
  EXPECT_EQ(ntp_forward(kernel->get(), x.data(), v.data(), params.data(),
                        out.data(), 0),
            NTP_OK)
      << ntp_last_error();
  EXPECT_EQ(out, before);
}

INSTANTIATE_TEST_SUITE_P(Dtypes, ClosedFormTest, ::testing::Bool(), dtypeName);
} // namespace
