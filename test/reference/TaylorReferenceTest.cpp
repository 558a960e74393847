//===- TaylorReferenceTest.cpp - Checks of the reference evaluator --------===//
//
// Every expected value here comes from closed-form derivatives, the chain
// rule written out by hand, or finite differences, never from the evaluator's
// own recurrences, so a wrong recurrence makes these tests fail. Typed
// layers: TaylorReferenceLayersTest.cpp.
//
//===----------------------------------------------------------------------===//
#include "TaylorReference.h"
#include "TaylorReferenceTestUtil.h"

#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <ostream>
#include <random>
#include <stdexcept>
#include <string>
#include <tuple>
#include <vector>

namespace {

using namespace ntp_ref_test;

const Activation kAllActivations[] = {Activation::Tanh, Activation::Sigmoid,
                                      Activation::Sin,  Activation::Identity,
                                      Activation::Exp,  Activation::Softplus,
                                      Activation::Cos,  Activation::Silu,
                                      Activation::Gelu, Activation::GeluTanh};

std::string name(Activation act) {
  switch (act) {
  case Activation::Tanh:
    return "tanh";
  case Activation::Sigmoid:
    return "sigmoid";
  case Activation::Sin:
    return "sin";
  case Activation::Identity:
    return "identity";
  case Activation::Exp:
    return "exp";
  case Activation::Softplus:
    return "softplus";
  case Activation::Cos:
    return "cos";
  case Activation::Silu:
    return "silu";
  case Activation::Gelu:
    return "gelu";
  case Activation::GeluTanh:
    return "gelu_tanh";
  }
  return "?";
}

} // namespace

namespace ntp_ref {
// Readable parameter values in test names and failure messages.
void PrintTo(Activation act, std::ostream *os) { *os << name(act); }
} // namespace ntp_ref

namespace {

using namespace ntp_ref_test;
/// Index into the jet output.
size_t at(int k, int64_t b, int j, int64_t batch, int q) {
  return static_cast<size_t>((k * batch + b) * q + j);
}

/// sigma^(m)(a) for m = 0..4 in closed form.
std::array<Ld, 5> sigmaDerivatives(Activation act, Ld a) {
  switch (act) {
  case Activation::Tanh: {
    const Ld t = tanhl(a), s2 = 1 - t * t;
    return {t, s2, -2 * t * s2, -2 * s2 * (1 - 3 * t * t),
            8 * t * s2 * (2 - 3 * t * t)};
  }
  case Activation::Sigmoid: {
    const Ld s = 1 / (1 + expl(-a)), q = s * (1 - s);
    return {s, q, q * (1 - 2 * s), q * (1 - 6 * s + 6 * s * s),
            q * (1 - 2 * s) * (1 - 12 * s + 12 * s * s)};
  }
  case Activation::Sin:
    return {sinl(a), cosl(a), -sinl(a), -cosl(a), sinl(a)};
  case Activation::Identity:
    return {a, 1, 0, 0, 0};
  case Activation::Exp:
    return {expl(a), expl(a), expl(a), expl(a), expl(a)};
  case Activation::Softplus: {
    const Ld s = 1 / (1 + expl(-a)), q = s * (1 - s);
    return {log1pl(expl(a)), s, q, q * (1 - 2 * s),
            q * (1 - 6 * s + 6 * s * s)};
  }
  case Activation::Cos:
    return {cosl(a), -sinl(a), -cosl(a), sinl(a), cosl(a)};
  case Activation::Silu: {
    // (a s)^(n) = a s^(n) + n s^(n-1).
    const Ld s = 1 / (1 + expl(-a)), q = s * (1 - s);
    const Ld d[5] = {s, q, q * (1 - 2 * s), q * (1 - 6 * s + 6 * s * s),
                     q * (1 - 2 * s) * (1 - 12 * s + 12 * s * s)};
    return {a * d[0], a * d[1] + d[0], a * d[2] + 2 * d[1], a * d[3] + 3 * d[2],
            a * d[4] + 4 * d[3]};
  }
  case Activation::Gelu: {
    // Phi^(1) = phi, Phi^(2) = -a phi, Phi^(3) = (a^2 - 1) phi,
    // Phi^(4) = (3 a - a^3) phi.
    const Ld phi = expl(-a * a / 2) / sqrtl(2 * 3.14159265358979323846264338L);
    const Ld d[5] = {erfcl(-a / sqrtl(2.0L)) / 2, phi, -a * phi,
                     (a * a - 1) * phi, (3 * a - a * a * a) * phi};
    return {a * d[0], a * d[1] + d[0], a * d[2] + 2 * d[1], a * d[3] + 3 * d[2],
            a * d[4] + 4 * d[3]};
  }
  case Activation::GeluTanh: {
    // T = tanh(z(a)), z = c (a + alpha a^3), by Faa di Bruno up to 4.
    const Ld c = sqrtl(2 / 3.14159265358979323846264338L), al = 0.044715L;
    const Ld z1 = c * (1 + 3 * al * a * a), z2 = 6 * c * al * a,
             z3 = 6 * c * al;
    const Ld t = tanhl(c * (a + al * a * a * a)), s2 = 1 - t * t;
    const Ld t1 = s2, t2 = -2 * t * s2, t3 = -2 * s2 * (1 - 3 * t * t),
             t4 = 8 * t * s2 * (2 - 3 * t * t);
    const Ld d[5] = {t, t1 * z1, t2 * z1 * z1 + t1 * z2,
                     t3 * z1 * z1 * z1 + 3 * t2 * z1 * z2 + t1 * z3,
                     t4 * z1 * z1 * z1 * z1 + 6 * t3 * z1 * z1 * z2 +
                         t2 * (3 * z2 * z2 + 4 * z1 * z3)};
    // f = a (1 + T) / 2.
    return {a * (1 + d[0]) / 2, (1 + d[0] + a * d[1]) / 2,
            (a * d[2] + 2 * d[1]) / 2, (a * d[3] + 3 * d[2]) / 2,
            (a * d[4] + 4 * d[3]) / 2};
  }
  }
  return {};
}

// One neuron f(x) = w2 sigma(w1 x + b1) + b2, d = q = 1, v = 1, evaluated at
// several points so the batch layout is exercised too.
const std::vector<int> kOneNeuron = {1, 1, 1};
const Vec kPoints = {-1.3L, -0.2L, 0, 0.45L, 1.1L};

Vec oneNeuronJet(Activation act, int order, Ld w1, Ld b1, Ld w2, Ld b2) {
  return ntp_ref::jet(kOneNeuron, act, order, {w1, b1, w2, b2}, kPoints, {1},
                      static_cast<int64_t>(kPoints.size()));
}

TEST(TaylorReference, ParseActivation) {
  for (Activation act : kAllActivations)
    EXPECT_EQ(ntp_ref::parseActivation(name(act)), act);
  EXPECT_THROW(ntp_ref::parseActivation("relu"), std::invalid_argument);
  EXPECT_THROW(ntp_ref::parseActivation("Tanh"), std::invalid_argument);
  EXPECT_THROW(ntp_ref::parseActivation(""), std::invalid_argument);
}

TEST(TaylorReference, NumParams) {
  EXPECT_EQ(ntp_ref::numParams({1, 1, 1}), 4);
  EXPECT_EQ(ntp_ref::numParams({3, 4, 2}), 3 * 4 + 4 + 4 * 2 + 2);
  EXPECT_EQ(ntp_ref::numParams({5, 7}), 5 * 7 + 7);
  EXPECT_THROW(ntp_ref::numParams({3}), std::invalid_argument);
  EXPECT_THROW(ntp_ref::numParams({3, 0, 2}), std::invalid_argument);
}

TEST(TaylorReference, RejectsInconsistentSizes) {
  const std::vector<int> w = {2, 3, 1};
  const Vec p(ntp_ref::numParams(w), 0.5L), x(4, 0.1L), v(2, 1);
  const Vec c(3 * 2 * 1, 1);
  EXPECT_NO_THROW(ntp_ref::jet(w, Activation::Tanh, 2, p, x, v, 2));
  EXPECT_NO_THROW(
      ntp_ref::jetParamGradient(w, Activation::Tanh, 2, p, x, v, 2, c));
  Vec shortP(p.begin(), p.end() - 1);
  EXPECT_THROW(ntp_ref::jet(w, Activation::Tanh, 2, shortP, x, v, 2),
               std::invalid_argument);
  EXPECT_THROW(ntp_ref::jet(w, Activation::Tanh, 2, p, x, v, 3),
               std::invalid_argument);
  EXPECT_THROW(ntp_ref::jet(w, Activation::Tanh, 2, p, x, Vec(3, 1), 2),
               std::invalid_argument);
  EXPECT_THROW(ntp_ref::jet(w, Activation::Tanh, -1, p, x, v, 2),
               std::invalid_argument);
  EXPECT_THROW(ntp_ref::jet(w, Activation::Tanh, 2, p, x, v, -1),
               std::invalid_argument);
  EXPECT_THROW(ntp_ref::jet({2}, Activation::Tanh, 2, p, x, v, 2),
               std::invalid_argument);
  EXPECT_THROW(ntp_ref::jetParamGradient(w, Activation::Tanh, 2, p, x, v, 2,
                                         Vec(c.size() + 1, 1)),
               std::invalid_argument);
}

TEST(TaylorReference, EmptyBatch) {
  const std::vector<int> w = {2, 3, 1};
  const Vec p(ntp_ref::numParams(w), 0.5L);
  EXPECT_TRUE(ntp_ref::jet(w, Activation::Tanh, 3, p, {}, {1, 1}, 0).empty());
  EXPECT_EQ(
      ntp_ref::jetParamGradient(w, Activation::Tanh, 3, p, {}, {1, 1}, 0, {}),
      Vec(p.size(), 0));
}

TEST(TaylorReference, TanhClosedFormOrders0To3) {
  const Ld w1 = 0.9L, b1 = -0.3L, w2 = 1.7L, b2 = 0.25L;
  const Vec out = oneNeuronJet(Activation::Tanh, 3, w1, b1, w2, b2);
  const int64_t n = kPoints.size();
  for (int64_t b = 0; b < n; ++b) {
    const Ld t = tanhl(w1 * kPoints[b] + b1), s2 = 1 - t * t;
    const Ld expected[] = {w2 * t + b2, w2 * w1 * s2,
                           w2 * -2 * w1 * w1 * t * s2,
                           w2 * -2 * w1 * w1 * w1 * s2 * (1 - 3 * t * t)};
    for (int k = 0; k <= 3; ++k)
      EXPECT_TRUE(close(out[at(k, b, 0, n, 1)], expected[k], 1e-16L))
          << "k=" << k << " b=" << b;
  }
}

TEST(TaylorReference, SigmoidClosedFormOrders0To2) {
  const Ld w1 = -1.4L, b1 = 0.6L, w2 = 0.8L, b2 = -0.1L;
  const Vec out = oneNeuronJet(Activation::Sigmoid, 2, w1, b1, w2, b2);
  const int64_t n = kPoints.size();
  for (int64_t b = 0; b < n; ++b) {
    const Ld s = 1 / (1 + expl(-(w1 * kPoints[b] + b1)));
    const Ld expected[] = {w2 * s + b2, w2 * w1 * s * (1 - s),
                           w2 * w1 * w1 * s * (1 - s) * (1 - 2 * s)};
    for (int k = 0; k <= 2; ++k)
      EXPECT_TRUE(close(out[at(k, b, 0, n, 1)], expected[k], 1e-16L))
          << "k=" << k << " b=" << b;
  }
}

TEST(TaylorReference, ExpClosedFormUpToOrder20) {
  for (Ld w1 : {0.8L, -1.25L, 1.5L}) {
    const Ld b1 = 0.2L, w2 = -0.7L, b2 = 0.3L;
    const Vec out = oneNeuronJet(Activation::Exp, 20, w1, b1, w2, b2);
    const int64_t n = kPoints.size();
    for (int64_t b = 0; b < n; ++b) {
      const Ld e = expl(w1 * kPoints[b] + b1);
      for (int k = 0; k <= 20; ++k) {
        const Ld expected = w2 * powl(w1, k) * e + (k == 0 ? b2 : 0);
        // Relative: the k-th term is a product of k factors.
        EXPECT_TRUE(near(out[at(k, b, 0, n, 1)], expected,
                         1e-16L * (1 + fabsl(expected))))
            << "w1=" << static_cast<double>(w1) << " k=" << k << " b=" << b;
      }
    }
  }
}

TEST(TaylorReference, SinClosedFormUpToOrder20) {
  for (Ld w1 : {1.3L, -0.6L}) {
    const Ld b1 = 0.4L, w2 = 1.1L, b2 = -0.5L;
    const Vec out = oneNeuronJet(Activation::Sin, 20, w1, b1, w2, b2);
    const int64_t n = kPoints.size();
    for (int64_t b = 0; b < n; ++b) {
      const Ld a = w1 * kPoints[b] + b1;
      // sin(a + k pi/2) cycles through sin, cos, -sin, -cos; selecting the
      // branch avoids rounding pi.
      const Ld cycle[] = {sinl(a), cosl(a), -sinl(a), -cosl(a)};
      for (int k = 0; k <= 20; ++k) {
        const Ld scale = fabsl(w2) * powl(fabsl(w1), k);
        const Ld expected = w2 * powl(w1, k) * cycle[k % 4] + (k == 0 ? b2 : 0);
        EXPECT_TRUE(
            near(out[at(k, b, 0, n, 1)], expected, 1e-16L * (1 + scale)))
            << "w1=" << static_cast<double>(w1) << " k=" << k << " b=" << b;
      }
    }
  }
}

TEST(TaylorReference, CosClosedFormUpToOrder20) {
  const Ld w1 = -1.2L, b1 = 0.3L, w2 = 0.8L, b2 = 0.1L;
  const Vec out = oneNeuronJet(Activation::Cos, 20, w1, b1, w2, b2);
  const int64_t n = kPoints.size();
  for (int64_t b = 0; b < n; ++b) {
    const Ld a = w1 * kPoints[b] + b1;
    const Ld cycle[] = {cosl(a), -sinl(a), -cosl(a), sinl(a)};
    for (int k = 0; k <= 20; ++k) {
      const Ld scale = fabsl(w2) * powl(fabsl(w1), k);
      const Ld expected = w2 * powl(w1, k) * cycle[k % 4] + (k == 0 ? b2 : 0);
      EXPECT_TRUE(near(out[at(k, b, 0, n, 1)], expected, 1e-16L * (1 + scale)))
          << "k=" << k << " b=" << b;
    }
  }
}

// Exact GELU: Phi^(k) = (-1)^(k-1) He_{k-1}(a) phi(a) for k >= 1 (He the
// probabilists' Hermite polynomials), gelu^(k) = a Phi^(k) + k Phi^(k-1).
TEST(TaylorReference, GeluMatchesHermiteFormUpToOrder20) {
  const Ld w1 = 0.9L, b1 = -0.2L, w2 = 1.3L, b2 = 0.05L;
  const Vec out = oneNeuronJet(Activation::Gelu, 20, w1, b1, w2, b2);
  const int64_t n = kPoints.size();
  for (int64_t b = 0; b < n; ++b) {
    const Ld a = w1 * kPoints[b] + b1;
    const Ld phi = expl(-a * a / 2) / sqrtl(2 * 3.14159265358979323846264338L);
    std::vector<Ld> he = {1, a}; // He_0, He_1, ...
    for (int m = 1; m < 21; ++m)
      he.push_back(a * he[m] - m * he[m - 1]);
    std::vector<Ld> cdf = {erfcl(-a / sqrtl(2.0L)) / 2};
    for (int k = 1; k <= 20; ++k)
      cdf.push_back((k % 2 ? 1 : -1) * he[k - 1] * phi);
    Ld factorial = 1;
    for (int k = 0; k <= 20; ++k) {
      factorial *= k > 0 ? k : 1;
      const Ld gk = a * cdf[k] + (k > 0 ? k * cdf[k - 1] : 0);
      const Ld expected = w2 * powl(w1, k) * gk + (k == 0 ? b2 : 0);
      // |He_k| grows like sqrt(k!): the scale of the cancellation.
      const Ld scale = fabsl(w2) * powl(fabsl(w1), k) * sqrtl(factorial) * 4;
      EXPECT_TRUE(near(out[at(k, b, 0, n, 1)], expected, 1e-16L * (1 + scale)))
          << "k=" << k << " b=" << b;
    }
  }
}

// silu against the product rule on the sigmoid jet: d^k (a(x) s(a(x))) =
// a s^(k) + k w1 s^(k-1) with a = w1 x + b1.
TEST(TaylorReference, SiluIsProductWithSigmoidUpToOrder20) {
  const Ld w1 = 0.75L, b1 = 0.1L;
  const Vec si = oneNeuronJet(Activation::Silu, 20, w1, b1, 1, 0);
  const Vec sg = oneNeuronJet(Activation::Sigmoid, 20, w1, b1, 1, 0);
  const int64_t n = kPoints.size();
  Ld factorial = 1;
  for (int k = 0; k <= 20; ++k) {
    factorial *= k > 0 ? k : 1;
    const Ld scale = factorial * powl(w1, k);
    for (int64_t b = 0; b < n; ++b) {
      const Ld a = w1 * kPoints[b] + b1;
      const Ld expected = a * sg[at(k, b, 0, n, 1)] +
                          (k > 0 ? k * w1 * sg[at(k - 1, b, 0, n, 1)] : 0);
      EXPECT_TRUE(near(si[at(k, b, 0, n, 1)], expected, 1e-15L * scale))
          << "k=" << k << " b=" << b;
    }
  }
}

TEST(TaylorReference, PerLayerActivations) {
  const std::vector<int> w = {1, 3, 2, 1};
  std::mt19937_64 rng(5);
  const Vec p = randomVec(rng, ntp_ref::numParams(w));
  const Vec x = {0.3L}, v = {1};
  const Vec mixed =
      ntp_ref::jet(w, {Activation::Silu, Activation::Cos}, 3, p, x, v, 1);
  const Vec same =
      ntp_ref::jet(w, {Activation::Cos, Activation::Cos}, 3, p, x, v, 1);
  const Vec all = ntp_ref::jet(w, Activation::Cos, 3, p, x, v, 1);
  EXPECT_EQ(same, all);
  EXPECT_NE(mixed, all);
  // Order 0 against the composition written out.
  const Ld *W1 = p.data(), *b1 = W1 + 3, *W2 = b1 + 3, *b2 = W2 + 6,
           *W3 = b2 + 2, *b3 = W3 + 2;
  Ld h1[3], y = b3[0];
  for (int i = 0; i < 3; ++i) {
    const Ld a = W1[i] * x[0] + b1[i];
    h1[i] = a / (1 + expl(-a));
  }
  for (int i = 0; i < 2; ++i) {
    Ld a = b2[i];
    for (int m = 0; m < 3; ++m)
      a += W2[i * 3 + m] * h1[m];
    y += W3[i] * cosl(a);
  }
  EXPECT_TRUE(close(mixed[0], y, 1e-17L));
  EXPECT_THROW(
      ntp_ref::jet(w, std::vector<Activation>{Activation::Cos}, 3, p, x, v, 1),
      std::invalid_argument);
}

// Higher orders of tanh, sigmoid and softplus have no short closed form, but
// exact identities tie them together up to order 20:
//   w2 tanh(a) + b2 = 2 w2 sigmoid(2 a) + (b2 - w2),
//   d/dx [w2 softplus(w1 x + b1)] = w1 w2 sigmoid(w1 x + b1).
TEST(TaylorReference, TanhMatchesScaledSigmoidUpToOrder20) {
  const Ld w1 = 0.7L, b1 = 0.15L, w2 = 1.2L, b2 = 0.4L;
  const Vec th = oneNeuronJet(Activation::Tanh, 20, w1, b1, w2, b2);
  const Vec sg =
      oneNeuronJet(Activation::Sigmoid, 20, 2 * w1, 2 * b1, 2 * w2, b2 - w2);
  const int64_t n = kPoints.size();
  Ld factorial = 1;
  for (int k = 0; k <= 20; ++k) {
    factorial *= k > 0 ? k : 1;
    // tanh^(k) grows like k! (2/pi)^(k+1) (poles at +-i pi/2).
    const Ld scale = fabsl(w2) * factorial * powl(w1, k);
    for (int64_t b = 0; b < n; ++b)
      EXPECT_TRUE(
          near(th[at(k, b, 0, n, 1)], sg[at(k, b, 0, n, 1)], 1e-15L * scale))
          << "k=" << k << " b=" << b;
  }
}

TEST(TaylorReference, SoftplusDerivativeIsSigmoidUpToOrder20) {
  const Ld w1 = -0.9L, b1 = 0.35L, w2 = 0.6L, b2 = 0.2L;
  const Vec sp = oneNeuronJet(Activation::Softplus, 20, w1, b1, w2, b2);
  const Vec sg = oneNeuronJet(Activation::Sigmoid, 19, w1, b1, w1 * w2, 0);
  const int64_t n = kPoints.size();
  Ld factorial = 1;
  for (int k = 0; k <= 19; ++k) {
    factorial *= k > 0 ? k : 1;
    const Ld scale = fabsl(w2) * factorial * powl(fabsl(w1), k + 1);
    for (int64_t b = 0; b < n; ++b)
      EXPECT_TRUE(near(sp[at(k + 1, b, 0, n, 1)], sg[at(k, b, 0, n, 1)],
                       1e-15L * scale))
          << "k=" << k << " b=" << b;
  }
  for (int64_t b = 0; b < n; ++b)
    EXPECT_TRUE(close(sp[at(0, b, 0, n, 1)],
                      w2 * log1pl(expl(w1 * kPoints[b] + b1)) + b2, 1e-16L));
}

TEST(TaylorReference, SoftplusAndSigmoidStableForLargeArguments) {
  // softplus(a) = a + log1p(e^-a) and sigmoid'(a) ~ e^-|a| must not lose
  // relative precision (or overflow) far from the origin.
  const Vec sp = ntp_ref::jet(kOneNeuron, Activation::Softplus, 2, {1, 0, 1, 0},
                              {60, -60}, {1}, 2);
  EXPECT_TRUE(close(sp[at(0, 0, 0, 2, 1)], 60 + expl(-60), 1e-18L));
  EXPECT_TRUE(near(sp[at(0, 1, 0, 2, 1)], expl(-60), 1e-18L * expl(-60)));
  EXPECT_TRUE(near(sp[at(2, 0, 0, 2, 1)], expl(-60), 1e-15L * expl(-60)));
  const Vec sg = ntp_ref::jet(kOneNeuron, Activation::Sigmoid, 1, {1, 0, 1, 0},
                              {80}, {1}, 1);
  EXPECT_TRUE(near(sg[1], expl(-80), 1e-15L * expl(-80)));
}

TEST(TaylorReference, IdentityNetworkIsAffine) {
  const std::vector<int> w = {3, 4, 2};
  std::mt19937_64 rng(7);
  const Vec p = randomVec(rng, ntp_ref::numParams(w));
  const int64_t batch = 2;
  const Vec x = randomVec(rng, batch * 3), v = randomVec(rng, 3);
  const int order = 5;
  const Vec out = ntp_ref::jet(w, Activation::Identity, order, p, x, v, batch);
  const Ld *W1 = p.data(), *b1 = W1 + 12, *W2 = b1 + 4, *b2 = W2 + 8;
  for (int64_t b = 0; b < batch; ++b)
    for (int j = 0; j < 2; ++j) {
      Ld value = b2[j], slope = 0;
      for (int i = 0; i < 4; ++i) {
        Ld hidden = b1[i], dir = 0;
        for (int m = 0; m < 3; ++m) {
          hidden += W1[i * 3 + m] * x[b * 3 + m];
          dir += W1[i * 3 + m] * v[m];
        }
        value += W2[j * 4 + i] * hidden;
        slope += W2[j * 4 + i] * dir;
      }
      EXPECT_TRUE(close(out[at(0, b, j, batch, 2)], value, 1e-17L));
      EXPECT_TRUE(close(out[at(1, b, j, batch, 2)], slope, 1e-17L));
      for (int k = 2; k <= order; ++k)
        EXPECT_EQ(out[at(k, b, j, batch, 2)], 0) << "k=" << k;
    }
}

// Two hidden layers, checked against the chain rule written out by hand:
// a1(t) is linear in t, so h1^(k) = sigma^(k)(a1) (W1 v)^k; a2 = W2 h1 + b2,
// and h2 = sigma(a2(t)) follows Faa di Bruno's formula for k <= 4.
class CompositeTest : public ::testing::TestWithParam<Activation> {};

TEST_P(CompositeTest, MatchesHandWrittenChainRuleUpToOrder4) {
  const Activation act = GetParam();
  const std::vector<int> w = {2, 3, 3, 2};
  std::mt19937_64 rng(11 + static_cast<int>(act));
  const Vec p = randomVec(rng, ntp_ref::numParams(w));
  const int64_t batch = 3;
  const Vec x = randomVec(rng, batch * 2), v = randomVec(rng, 2);
  const int order = 4;
  const Vec out = ntp_ref::jet(w, act, order, p, x, v, batch);
  const Ld *W1 = p.data(), *b1 = W1 + 6, *W2 = b1 + 3, *b2 = W2 + 9,
           *W3 = b2 + 3, *b3 = W3 + 6;
  for (int64_t b = 0; b < batch; ++b) {
    // h1d[i][k] = d^k/dt^k h1_i.
    Ld h1d[3][5];
    for (int i = 0; i < 3; ++i) {
      Ld a = b1[i], alpha = 0;
      for (int m = 0; m < 2; ++m) {
        a += W1[i * 2 + m] * x[b * 2 + m];
        alpha += W1[i * 2 + m] * v[m];
      }
      const std::array<Ld, 5> s = sigmaDerivatives(act, a);
      for (int k = 0; k <= 4; ++k)
        h1d[i][k] = s[k] * powl(alpha, k);
    }
    Ld h2d[3][5];
    for (int i = 0; i < 3; ++i) {
      Ld g[5] = {b2[i], 0, 0, 0, 0};
      for (int m = 0; m < 3; ++m)
        for (int k = 0; k <= 4; ++k)
          g[k] += W2[i * 3 + m] * h1d[m][k];
      const std::array<Ld, 5> s = sigmaDerivatives(act, g[0]);
      h2d[i][0] = s[0];
      h2d[i][1] = s[1] * g[1];
      h2d[i][2] = s[2] * g[1] * g[1] + s[1] * g[2];
      h2d[i][3] =
          s[3] * g[1] * g[1] * g[1] + 3 * s[2] * g[1] * g[2] + s[1] * g[3];
      h2d[i][4] = s[4] * g[1] * g[1] * g[1] * g[1] +
                  6 * s[3] * g[1] * g[1] * g[2] +
                  s[2] * (3 * g[2] * g[2] + 4 * g[1] * g[3]) + s[1] * g[4];
    }
    for (int j = 0; j < 2; ++j)
      for (int k = 0; k <= order; ++k) {
        Ld expected = k == 0 ? b3[j] : 0;
        for (int i = 0; i < 3; ++i)
          expected += W3[j * 3 + i] * h2d[i][k];
        EXPECT_TRUE(close(out[at(k, b, j, batch, 2)], expected, 1e-16L))
            << name(act) << " k=" << k << " b=" << b << " j=" << j;
      }
  }
}

// jet along s v is s^k times the jet along v: t -> x + t s v is a
// reparametrization of t -> x + t v.
TEST_P(CompositeTest, DirectionScaling) {
  const Activation act = GetParam();
  const std::vector<int> w = {3, 4, 4, 2};
  std::mt19937_64 rng(23 + static_cast<int>(act));
  const Vec p = randomVec(rng, ntp_ref::numParams(w));
  const int64_t batch = 2;
  const Vec x = randomVec(rng, batch * 3), v = randomVec(rng, 3);
  const int order = 8;
  const Vec base = ntp_ref::jet(w, act, order, p, x, v, batch);
  for (Ld s : {1.7L, -0.75L}) {
    Vec sv = v;
    for (Ld &e : sv)
      e *= s;
    const Vec scaled = ntp_ref::jet(w, act, order, p, x, sv, batch);
    for (int k = 0; k <= order; ++k)
      for (int64_t b = 0; b < batch; ++b)
        for (int j = 0; j < 2; ++j) {
          const Ld expected = powl(s, k) * base[at(k, b, j, batch, 2)];
          EXPECT_TRUE(close(scaled[at(k, b, j, batch, 2)], expected, 1e-15L))
              << name(act) << " s=" << static_cast<double>(s) << " k=" << k;
        }
  }
}

INSTANTIATE_TEST_SUITE_P(AllActivations, CompositeTest,
                         ::testing::ValuesIn(kAllActivations),
                         [](const auto &info) { return name(info.param); });

// The hand-written adjoint against central finite differences of jet().
class GradientTest
    : public ::testing::TestWithParam<std::tuple<Activation, int>> {};

TEST_P(GradientTest, MatchesCentralFiniteDifferences) {
  // Plain variables: C++17 lambdas cannot capture structured bindings.
  const Activation act = std::get<0>(GetParam());
  const int order = std::get<1>(GetParam());
  const std::vector<int> w = {2, 3, 3, 2};
  std::mt19937_64 rng(31 + 7 * static_cast<int>(act) + order);
  const Vec p = randomVec(rng, ntp_ref::numParams(w));
  const int64_t batch = 2;
  const Vec x = randomVec(rng, batch * 2), v = randomVec(rng, 2);
  const Vec c = randomVec(rng, (order + 1) * batch * 2);
  const Vec grad = ntp_ref::jetParamGradient(w, act, order, p, x, v, batch, c);
  ASSERT_EQ(grad.size(), p.size());

  auto objective = [&](const Vec &params) {
    const Vec out = ntp_ref::jet(w, act, order, params, x, v, batch);
    Ld sum = 0;
    for (size_t i = 0; i < out.size(); ++i)
      sum += c[i] * out[i];
    return sum;
  };
  Vec fd(p.size());
  Ld scale = 1;
  for (size_t i = 0; i < p.size(); ++i) {
    const Ld h = 1e-6L * fmaxl(1, fabsl(p[i]));
    Vec plus = p, minus = p;
    plus[i] += h;
    minus[i] -= h;
    // Divide by the step actually taken, not the nominal one.
    fd[i] = (objective(plus) - objective(minus)) / (plus[i] - minus[i]);
    scale = fmaxl(scale, fabsl(fd[i]));
  }
  for (size_t i = 0; i < p.size(); ++i)
    EXPECT_TRUE(near(grad[i], fd[i], 1e-10L * scale))
        << name(act) << " order=" << order << " param " << i;
}

INSTANTIATE_TEST_SUITE_P(
    AllActivations, GradientTest,
    ::testing::Combine(::testing::ValuesIn(kAllActivations),
                       ::testing::Values(0, 1, 4, 7)),
    [](const auto &info) {
      return name(std::get<0>(info.param)) + "_order" +
             std::to_string(std::get<1>(info.param));
    });

// The gradient is linear in the cotangent and sums over batch points: the
// gradient for two points is the sum of the one-point gradients.
TEST(TaylorReference, GradientSumsOverBatch) {
  const std::vector<int> w = {2, 3, 1};
  std::mt19937_64 rng(5);
  const Vec p = randomVec(rng, ntp_ref::numParams(w));
  const Vec x = randomVec(rng, 4), v = randomVec(rng, 2);
  const int order = 3;
  const Vec c = randomVec(rng, (order + 1) * 2);
  const Vec both =
      ntp_ref::jetParamGradient(w, Activation::Sin, order, p, x, v, 2, c);
  Vec sum(p.size(), 0);
  for (int64_t b = 0; b < 2; ++b) {
    Vec xb(x.begin() + 2 * b, x.begin() + 2 * b + 2), cb(order + 1);
    for (int k = 0; k <= order; ++k)
      cb[k] = c[k * 2 + b];
    const Vec g =
        ntp_ref::jetParamGradient(w, Activation::Sin, order, p, xb, v, 1, cb);
    for (size_t i = 0; i < p.size(); ++i)
      sum[i] += g[i];
  }
  for (size_t i = 0; i < p.size(); ++i)
    EXPECT_TRUE(close(both[i], sum[i], 1e-17L)) << "param " << i;
}

} // namespace
