//===- OptimTest.cpp - The example optimizers on known minima -------------===//
//
// Adam and L-BFGS minimise the Rosenbrock function (minimum 0 at (1, 1));
// Levenberg-Marquardt fits an exponential to exact data with fewer residuals
// than unknowns (the M < P form it is written for): |r| must reach 0.
//
//===----------------------------------------------------------------------===//
#include "optim/Adam.h"
#include "optim/Lbfgs.h"
#include "optim/LevenbergMarquardt.h"

#include <gtest/gtest.h>

#include <cmath>

using namespace optim;

namespace {

// f = (1 - x)^2 + 100 (y - x^2)^2.
double rosenbrock(const Vec &z, Vec &g) {
  double x = z[0], y = z[1];
  g.assign(2, 0.0);
  g[0] = -2 * (1 - x) - 400 * x * (y - x * x);
  g[1] = 200 * (y - x * x);
  return (1 - x) * (1 - x) + 100 * (y - x * x) * (y - x * x);
}

TEST(LinearAlgebra, CholeskySolvesSpdSystem) {
  // A = [[4, 2], [2, 3]], b = A (1, -2).
  Vec a = {4, 2, 2, 3}, b = {0, -4};
  ASSERT_TRUE(choleskySolve(a, b, 2));
  EXPECT_NEAR(b[0], 1, 1e-15);
  EXPECT_NEAR(b[1], -2, 1e-15);
  Vec indefinite = {1, 2, 2, 1}, c = {1, 1};
  EXPECT_FALSE(choleskySolve(indefinite, c, 2));
}

TEST(LinearAlgebra, GramIsJJt) {
  // 5 x 3, so the four-row blocking has a remainder.
  Vec j(15);
  for (size_t i = 0; i < j.size(); ++i)
    j[i] = std::sin(double(i) + 1);
  Vec g = gramRows(j, 5, 3);
  for (size_t r = 0; r < 5; ++r)
    for (size_t c = 0; c < 5; ++c)
      EXPECT_DOUBLE_EQ(g[r * 5 + c], dot(&j[r * 3], &j[c * 3], 3));
}

TEST(LinearAlgebra, GramOfALargeMatrixIsJJtOnAnyThreadCount) {
  // 23 x 1001: remainders in the blocks of 4 x 2 rows and in the 4-wide
  // lanes; the vector kernel where the CPU has AVX2 (an FMA rounds once, so
  // against a long double sum: relative 1e-13).
  const size_t m = 23, p = 1001;
  Vec j(m * p);
  for (size_t i = 0; i < j.size(); ++i)
    j[i] = std::sin(0.37 * double(i) + 1);
  Vec g = gramRows(j, m, p);
  for (size_t r = 0; r < m; ++r)
    for (size_t c = 0; c < m; ++c) {
      long double exact = 0, size = 0;
      for (size_t k = 0; k < p; ++k) {
        exact += (long double)j[r * p + k] * j[c * p + k];
        size += std::fabs((long double)j[r * p + k] * j[c * p + k]);
      }
      EXPECT_LE(std::fabs(g[r * m + c] - (double)exact), 1e-13 * (double)size)
          << r << ", " << c;
      EXPECT_EQ(g[r * m + c], g[c * m + r]);
    }
  for (int threads : {2, 3, 7})
    EXPECT_EQ(gramRows(j, m, p, threads), g) << threads << " threads";
}

TEST(Adam, MinimisesRosenbrock) {
  Vec z = {-1.2, 1}, g;
  double f = rosenbrock(z, g);
  AdamOptions o;
  o.lr = 1e-2;
  o.decay = Decay::Cosine;
  o.lrEnd = 1e-4;
  AdamHooks hooks;
  hooks.eval = rosenbrock;
  long calls = 0;
  hooks.after = [&](double) { ++calls; };
  long steps = adam(z, f, g, 20000, o, hooks);
  EXPECT_EQ(steps, 20000);
  EXPECT_EQ(calls, 20000);
  EXPECT_LT(f, 1e-6);
  EXPECT_NEAR(z[0], 1, 1e-2);
  EXPECT_NEAR(z[1], 1, 2e-2);
}

TEST(Adam, StopsWhenAsked) {
  Vec z = {-1.2, 1}, g;
  double f = rosenbrock(z, g);
  AdamHooks hooks;
  hooks.eval = rosenbrock;
  long calls = 0;
  hooks.after = [&](double) { ++calls; };
  hooks.stop = [&] { return calls == 7; };
  EXPECT_EQ(adam(z, f, g, 100, AdamOptions(), hooks), 7);
}

TEST(Adam, LearningRateSchedules) {
  AdamOptions o;
  o.lr = 1, o.lrEnd = 0.01;
  EXPECT_DOUBLE_EQ(adamLearningRate(o, 5, 10), 1);
  o.decay = Decay::Cosine;
  EXPECT_DOUBLE_EQ(adamLearningRate(o, 1, 10), 1);
  EXPECT_NEAR(adamLearningRate(o, 6, 10), (1 + 0.01) / 2, 1e-15);
  o.decay = Decay::Exp;
  EXPECT_NEAR(adamLearningRate(o, 6, 10), 0.1, 1e-15);
  Decay d;
  EXPECT_TRUE(parseDecay("cosine", d));
  EXPECT_EQ(d, Decay::Cosine);
  EXPECT_FALSE(parseDecay("linear", d));
}

TEST(Lbfgs, MinimisesRosenbrock) {
  Vec z = {-1.2, 1}, g;
  double f = rosenbrock(z, g);
  LbfgsOptions o;
  o.history = 5;
  LbfgsHooks hooks;
  hooks.eval = rosenbrock;
  LbfgsResult r = lbfgs(z, f, g, 200, o, hooks);
  EXPECT_LT(f, 1e-20);
  EXPECT_NEAR(z[0], 1, 1e-9);
  EXPECT_NEAR(z[1], 1, 1e-9);
  EXPECT_GT(r.steps, 10);
  EXPECT_GE(r.evaluations, r.steps);
}

TEST(Lbfgs, StrongWolfeMeetsBothConditions) {
  // f(t) = (t - 3)^2 along d = 1 from 0: f = 9, g.d = -6.
  auto phi = [](double t) {
    LinePoint p;
    p.t = t, p.f = (t - 3) * (t - 3), p.g = {2 * (t - 3)}, p.gtd = p.g[0];
    return p;
  };
  LinePoint p = strongWolfe(phi, 1, {1.0}, 9, {-6.0}, -6);
  EXPECT_LE(p.f, 9 + 1e-4 * p.t * -6);
  EXPECT_LE(std::fabs(p.gtd), 0.9 * 6);
}

// y_i = a exp(b t_i) + c at 3 points, unknowns (a, b, c, e) where e enters
// no residual (M = 3 < P = 4): the minimum-norm steps must still reach
// |r| = 0.
double expResiduals(const Vec &z, Vec &r, Vec *J) {
  const double ts[] = {0, 0.5, 1};
  r.clear();
  if (J)
    J->clear();
  for (double t : ts) {
    double y = 2 * std::exp(-1.5 * t) + 0.5, e = std::exp(z[1] * t);
    r.push_back(z[0] * e + z[2] - y);
    if (J)
      J->insert(J->end(), {e, z[0] * t * e, 1, 0});
  }
  return dot(r, r);
}

TEST(LevenbergMarquardt, FitsUnderdeterminedModel) {
  Vec z = {1, 0, 0, 7};
  LmHooks hooks;
  hooks.residuals = expResiduals;
  long calls = 0;
  hooks.after = [&](const Vec &) { ++calls; };
  LmResult r = levenbergMarquardt(z, 200, LmOptions(), hooks);
  EXPECT_LT(r.f, 1e-24);
  EXPECT_EQ(calls, r.steps);
  EXPECT_EQ(z[3], 7); // no residual depends on it: never moved
  Vec res;
  EXPECT_LT(expResiduals(z, res, nullptr), 1e-24);
}

TEST(LevenbergMarquardt, ScaledColumnsStillConverge) {
  for (int scale : {1, 2}) {
    Vec z = {1, 0, 0, 7};
    LmHooks hooks;
    hooks.residuals = expResiduals;
    LmOptions o;
    o.scale = scale;
    LmResult r = levenbergMarquardt(z, 200, o, hooks);
    EXPECT_LT(r.f, 1e-24) << "scale " << scale;
  }
}

} // namespace
