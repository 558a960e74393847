//===- SupportTest.cpp - Tests of the compile-time jet algebra ------------===//
//
// Checks ntp's exact compile-time algebra (lib/Support) against independent
// sources: Pascal's triangle built here, the long-double Taylor reference
// evaluator (test/reference) for activation derivatives, and a brute-force
// Faa di Bruno sum over integer partitions written here for the expansion
// DAG. No expected value is computed by the code under test; the values of
// the primitives the polynomials are evaluated at come from Primitives.def
// (ntp::evaluatePrimitive), itself checked against closed forms written here.
//
//===----------------------------------------------------------------------===//

#include "TaylorReference.h"

#include "ntp/Support/ActivationJet.h"
#include "ntp/Support/ActivationRules.h"
#include "ntp/Support/Combinatorics.h"

#include <gtest/gtest.h>

#include <cfloat>
#include <cmath>
#include <cstdint>
#include <functional>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <vector>

namespace {

using Ld = long double;
using Kind = ntp::JetExpression::Kind;

constexpr Ld kTwoPow53 = 9007199254740992.0L;

/// Highest order whose derivative polynomials the in-process tests ask
/// for (every activation's maxFaaDiBrunoOrder() is at least 16);
/// CoefficientsAreExactInDouble tests up to that limit in a child process.
constexpr int kTestedOrder = 16;

const ntp::ActivationRule &rule(const std::string &name) {
  const ntp::ActivationRule *r = ntp::lookupActivation(name);
  if (!r)
    throw std::runtime_error("no activation " + name);
  return *r;
}

using ntp::evaluatePrimitive;

std::vector<Ld> primitiveValues(const ntp::ActivationRule &r, Ld y) {
  std::vector<Ld> values;
  for (ntp::Primitive p : r.getPrimitives())
    values.push_back(evaluatePrimitive(p, y));
  return values;
}

/// sigma^(k)(y_i) for k = 0..order from the reference evaluator: the network
/// f(x) = 1 * sigma(1 * x + 0) + 0 at x = y_i along v = 1 has jet
/// d^k f / dx^k = sigma^(k)(y_i). Result[k][i].
std::vector<std::vector<Ld>> referenceDerivatives(const std::string &act,
                                                  int order,
                                                  const std::vector<Ld> &ys) {
  const int64_t batch = static_cast<int64_t>(ys.size());
  std::vector<Ld> out =
      ntp_ref::jet({1, 1, 1}, ntp_ref::parseActivation(act), order,
                   {1.0L, 0.0L, 1.0L, 0.0L}, ys, {1.0L}, batch);
  std::vector<std::vector<Ld>> result(order + 1, std::vector<Ld>(batch));
  for (int k = 0; k <= order; ++k)
    for (int64_t i = 0; i < batch; ++i)
      result[k][i] = out[k * batch + i];
  return result;
}

/// sum_i |c_i| |m_i(values)| over the monomials c_i m_i of p: the scale of
/// the rounding error of evaluating p in monomial form (the derivative
/// polynomials alternate in sign, so p itself can be far smaller).
Ld absoluteValue(const ntp::Polynomial &p, const std::vector<Ld> &values) {
  Ld sum = 0;
  for (const auto &[exponents, c] : p.terms()) {
    Ld term = std::fabs(static_cast<Ld>(c));
    for (size_t i = 0; i < exponents.size(); ++i)
      term *= std::pow(std::fabs(values[i]), static_cast<Ld>(exponents[i]));
    sum += term;
  }
  return std::ldexp(sum, p.getScaleLog2());
}

std::vector<std::string> allActivations() { return ntp::activationNames(); }

std::string paramName(const ::testing::TestParamInfo<std::string> &info) {
  return info.param;
}

//===----------------------------------------------------------------------===//
// Binomial coefficients
//===----------------------------------------------------------------------===//

TEST(Binomial, MatchesPascalsTriangle) {
  // Up to n = 61 every C(n, k) and the algorithm's intermediate products fit
  // in int64; the compiler needs only n <= kMaxOrder.
  constexpr int kMaxN = 61;
  std::vector<std::vector<uint64_t>> pascal(kMaxN + 1);
  for (int n = 0; n <= kMaxN; ++n) {
    pascal[n].assign(n + 1, 1);
    for (int k = 1; k < n; ++k)
      pascal[n][k] = pascal[n - 1][k - 1] + pascal[n - 1][k];
  }
  for (int n = 0; n <= kMaxN; ++n) {
    for (int k = 0; k <= n; ++k)
      ASSERT_EQ(static_cast<uint64_t>(ntp::binomial(n, k)), pascal[n][k])
          << "C(" << n << ", " << k << ")";
    EXPECT_EQ(ntp::binomial(n, -1), 0) << "n = " << n;
    EXPECT_EQ(ntp::binomial(n, n + 1), 0) << "n = " << n;
  }
}

TEST(BinomialDeathTest, OverflowIsFatal) {
  // C(68, 34) ~ 2.8e19 does not fit in int64: a fatal error, not a wrap.
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(ntp::binomial(68, 34), "overflow");
}

//===----------------------------------------------------------------------===//
// Activation derivative polynomials
//===----------------------------------------------------------------------===//

class ActivationRuleTest : public ::testing::TestWithParam<std::string> {};

TEST_P(ActivationRuleTest, DerivativePolynomialsMatchReference) {
  // Relative agreement with the reference (beyond polynomial cancellation);
  // any wrong integer coefficient is off by >= 1 times a monomial.
  constexpr Ld kRelTol = 1e-13L;
  const ntp::ActivationRule &r = rule(GetParam());
  const int order = std::min<int>(ntp::kMaxOrder, kTestedOrder);
  std::mt19937_64 rng(1234);
  std::uniform_real_distribution<double> dist(-3.0, 3.0);
  std::vector<Ld> ys(64);
  for (Ld &y : ys)
    y = dist(rng);
  ys.push_back(0.0L); // odd/even structure at 0
  std::vector<std::vector<Ld>> ref =
      referenceDerivatives(GetParam(), order, ys);

  // The gelus' primitives hold irrational constants rounded to double:
  // relative 2^-53 of the scale of each order.
  const bool roundedConstants =
      GetParam() == "gelu" || GetParam() == "gelu_tanh";
  for (int k = 0; k <= order; ++k) {
    const ntp::Polynomial &p = r.derivative(k);
    ASSERT_EQ(p.getNumVariables(), r.getPrimitives().size());
    Ld maxErr = 0, maxRef = 0, maxErrOverBound = 0, scale = 0;
    for (size_t i = 0; i < ys.size(); ++i)
      scale = std::max(scale, std::fabs(ref[k][i]));
    for (size_t i = 0; i < ys.size(); ++i) {
      std::vector<Ld> values = primitiveValues(r, ys[i]);
      Ld value = p.evaluate(values);
      Ld err = std::fabs(value - ref[k][i]);
      // Each side is long double (eps ~1e-19): allow a relative error plus
      // the cancellation of evaluating an alternating polynomial in monomial
      // form (tanh: |coefficients| up to 1e10 at k = 12 near t = 1).
      Ld bound = kRelTol * std::fabs(ref[k][i]) +
                 64 * LDBL_EPSILON * absoluteValue(p, values) +
                 (roundedConstants ? 1e-14L * scale : 0);
      maxErrOverBound = std::max(maxErrOverBound, err / bound);
      maxErr = std::max(maxErr, err);
      maxRef = std::max(maxRef, std::fabs(ref[k][i]));
    }
    if (maxRef == 0) {
      // identity: sigma^(k) = 0 for k >= 2 must be the zero polynomial.
      EXPECT_TRUE(p.isZero()) << "k = " << k;
      continue;
    }
    EXPECT_LE(maxErrOverBound, 1.0L)
        << GetParam() << " k = " << k
        << ": max |P_k - ref| = " << static_cast<double>(maxErr)
        << ", max |ref| = " << static_cast<double>(maxRef);
  }
}

/// Checks, for k = 0..maxFaaDiBrunoOrder(), that every integer coefficient of
/// sigma^(k) (a power of two aside) and every constant of the Faà di Bruno
/// expansion has magnitude <= 2^53, so the emitted double is exact, and
/// that the Taylor expansion at kMaxOrder has only finite constants; prints
/// the first violation to stderr and exits 1, else exits 0. Runs in a child
/// process (EXPECT_EXIT) because ntp reports int64 overflow as a fatal error.
[[noreturn]] void checkCoefficientsAndExit(const ntp::ActivationRule &r) {
  const unsigned limit = r.maxFaaDiBrunoOrder();
  for (unsigned k = 0; k <= limit; ++k) {
    int64_t m = r.derivative(k).maxAbsCoefficient();
    if (static_cast<Ld>(m) > kTwoPow53) {
      fprintf(stderr, "%s: k = %u has coefficient %lld > 2^53\n",
              r.getName().c_str(), k, static_cast<long long>(m));
      exit(1);
    }
  }
  ntp::ActivationJetExpansion e = ntp::expandActivationJet(
      r, limit, limit + 1, ntp::JetFormulation::FaaDiBruno);
  // Its constants are those coefficients times a power of two (exact, even
  // above 2^53: checked above), the binomials C(m-1, i-1) <= C(31, 15) < 2^53
  // and 0, 1 (no constant folding of two constants happens in it).
  for (const ntp::JetExpression &node : e.graph.getNodes())
    if (node.kind == Kind::Constant && !std::isfinite(node.value)) {
      fprintf(stderr, "%s: expansion constant %g is not exact\n",
              r.getName().c_str(), node.value);
      exit(1);
    }
  ntp::ActivationJetExpansion t = ntp::expandActivationJet(
      r, ntp::kMaxOrder, ntp::kMaxOrder + 1, ntp::JetFormulation::Taylor);
  for (const ntp::JetExpression &node : t.graph.getNodes())
    if (node.kind == Kind::Constant && !std::isfinite(node.value)) {
      fprintf(stderr, "%s: Taylor constant %g is not finite\n",
              r.getName().c_str(), node.value);
      exit(1);
    }
  exit(0);
}

TEST_P(ActivationRuleTest, CoefficientsAreExactInDouble) {
  // Faà di Bruno is used only up to maxFaaDiBrunoOrder(), where every
  // coefficient is an integer a double holds exactly.
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  const ntp::ActivationRule &r = rule(GetParam());
  EXPECT_EXIT(checkCoefficientsAndExit(r), ::testing::ExitedWithCode(0), "")
      << "orders up to maxFaaDiBrunoOrder = " << r.maxFaaDiBrunoOrder();
}

TEST_P(ActivationRuleTest, FaaDiBrunoCoversOrdersTo16) {
  // Every order accepted before orders went past 16 keeps both
  // formulations (and so the cost model's choice between them).
  EXPECT_GE(rule(GetParam()).maxFaaDiBrunoOrder(), 16u);
  EXPECT_LE(rule(GetParam()).maxFaaDiBrunoOrder(),
            static_cast<unsigned>(ntp::kMaxOrder));
}

TEST_P(ActivationRuleTest, TaylorMatchesReferenceUpToMaxOrder) {
  // Orders 0..kMaxOrder of the Taylor expansion, evaluated in long double,
  // against the reference evaluator; the error is scaled by the sum of
  // |terms| (rounding of the 1/k, 1/(j-1)! and m! constants to double,
  // relative 2^-53 each, a few dozen per chain at order 32).
  const ntp::ActivationRule &r = rule(GetParam());
  const int order = static_cast<int>(ntp::kMaxOrder);
  std::vector<Ld> ys = {-2.5L, -0.7L, 0.0L, 0.3L, 1.9L};
  std::vector<std::vector<Ld>> ref =
      referenceDerivatives(GetParam(), order, ys);
  ntp::ActivationJetExpansion t =
      ntp::expandActivationJet(r, order, 2, ntp::JetFormulation::Taylor);
  const auto &nodes = t.graph.getNodes();
  for (size_t i = 0; i < ys.size(); ++i) {
    // y = (y_i, 1, 0, ...): z_k = sigma^(k)(y_i).
    std::vector<Ld> v(nodes.size()), a(nodes.size());
    for (size_t n = 0; n < nodes.size(); ++n) {
      const ntp::JetExpression &e = nodes[n];
      switch (e.kind) {
      case Kind::Input:
        v[n] = e.index == 0 ? ys[i] : (e.index == 1 ? 1.0L : 0.0L);
        break;
      case Kind::Primitive:
        v[n] = evaluatePrimitive(r.getPrimitives()[e.index], ys[i]);
        break;
      case Kind::Constant:
        v[n] = e.value;
        break;
      case Kind::Add:
        v[n] = v[e.lhs] + v[e.rhs];
        a[n] = a[e.lhs] + a[e.rhs];
        continue;
      case Kind::Mul:
        v[n] = v[e.lhs] * v[e.rhs];
        a[n] = a[e.lhs] * a[e.rhs];
        continue;
      case Kind::Fma:
        v[n] = v[e.lhs] * v[e.rhs] + v[e.acc];
        a[n] = a[e.lhs] * a[e.rhs] + a[e.acc];
        continue;
      }
      a[n] = std::fabs(v[n]);
    }
    for (int k = 0; k <= order; ++k) {
      Ld got = v[t.outputs[k]], want = ref[k][i],
         scale = std::max<Ld>(a[t.outputs[k]], std::fabs(want));
      if (scale == 0) {
        EXPECT_EQ(got, 0.0L) << GetParam() << " k = " << k;
        continue;
      }
      EXPECT_LE(std::fabs(got - want) / scale, 1e-14L)
          << GetParam() << " y = " << static_cast<double>(ys[i]) << " k = " << k
          << ": " << static_cast<double>(got) << " vs "
          << static_cast<double>(want);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(AllActivations, ActivationRuleTest,
                         ::testing::ValuesIn(allActivations()), paramName);

/// Coefficients (index = exponent) of the k-th derivative of tanh (as a
/// polynomial in t = tanh) or sigmoid (in s = sigmoid), by the recurrences
/// P_{k+1} = (1 - t^2) P_k' and Q_{k+1} = (s - s^2) Q_k', in 128-bit
/// integers so that orders past the int64 range are representable.
std::vector<__int128> independentPolynomial(bool tanh, int k) {
  std::vector<__int128> p = {0, 1};
  for (int i = 0; i < k; ++i) {
    std::vector<__int128> next(p.size() + 1, 0);
    for (size_t e = 1; e < p.size(); ++e) {
      __int128 d = p[e] * static_cast<__int128>(e); // coefficient of u^(e-1)
      if (tanh) {
        next[e - 1] += d;
        next[e + 1] -= d;
      } else {
        next[e] += d;
        next[e + 1] -= d;
      }
    }
    p = next;
  }
  return p;
}

__int128 maxAbs(const std::vector<__int128> &p) {
  __int128 m = 0;
  for (__int128 c : p)
    m = std::max(m, c < 0 ? -c : c);
  return m;
}

TEST(ActivationRule, FaaDiBrunoLimitMatchesIndependentRecurrence) {
  // The last order whose derivative polynomial has only coefficients a
  // double holds exactly (odd part <= 2^53: the common power of two is
  // the polynomial's scale), computed independently: tanh's; sigmoid^(k) =
  // 2^-(k+1) P_k(tanh(y/2)) shares tanh's, softplus^(k) = sigmoid^(k-1).
  int tanhLimit = -1;
  for (int k = 0; k <= ntp::kMaxOrder; ++k) {
    std::vector<__int128> p = independentPolynomial(true, k);
    int shift = 128;
    for (__int128 c : p)
      for (int s = 0; c != 0 && s < shift; ++s)
        if ((c >> s) & 1)
          shift = s;
    if ((maxAbs(p) >> shift) > static_cast<__int128>(1) << 53)
      break;
    tanhLimit = k;
  }
  RecordProperty("faa_di_bruno_limit_tanh", tanhLimit);
  EXPECT_EQ(tanhLimit, 20);
  EXPECT_EQ(rule("tanh").maxFaaDiBrunoOrder(), unsigned(tanhLimit));
  EXPECT_EQ(rule("sigmoid").maxFaaDiBrunoOrder(), unsigned(tanhLimit));
  EXPECT_EQ(rule("softplus").maxFaaDiBrunoOrder(), unsigned(tanhLimit + 1));
  for (const char *exact : {"sin", "cos", "exp", "identity"})
    EXPECT_EQ(rule(exact).maxFaaDiBrunoOrder(), unsigned(ntp::kMaxOrder))
        << exact;
}

/// exponents -> exact value (integer coefficient times 2^scale).
std::map<std::vector<unsigned>, Ld> values(const ntp::Polynomial &p) {
  std::map<std::vector<unsigned>, Ld> v;
  for (const auto &[exponents, c] : p.terms())
    v[exponents] = std::ldexp(static_cast<Ld>(c), p.getScaleLog2());
  return v;
}

TEST(ActivationRule, TanhAndSigmoidMatchIndependentRecurrence) {
  // Exact coefficient-by-coefficient agreement: tanh^(k) = P_k(t) and, for
  // k >= 1, sigmoid^(k) = 2^-(k+1) P_k(u) with u = tanh(y/2).
  for (bool tanh : {true, false}) {
    const ntp::ActivationRule &r = rule(tanh ? "tanh" : "sigmoid");
    for (int k = 1; k <= std::min<int>(ntp::kMaxOrder, kTestedOrder); ++k) {
      std::vector<__int128> p = independentPolynomial(true, k);
      std::map<std::vector<unsigned>, Ld> expected;
      for (size_t e = 0; e < p.size(); ++e)
        if (p[e] != 0)
          expected[{static_cast<unsigned>(e)}] =
              std::ldexp(static_cast<Ld>(p[e]), tanh ? 0 : -(k + 1));
      EXPECT_TRUE(values(r.derivative(k)) == expected)
          << (tanh ? "tanh" : "sigmoid") << " k = " << k;
    }
  }
}

/// The table of primitives (Primitives.def), evaluated in long double, against
/// closed forms written out here.
TEST(Primitives, DefinitionsMatchClosedForms) {
  using ntp::Primitive;
  for (Ld y : {-30.0L, -2.5L, -0.3L, 0.0L, 1e-8L, 0.7L, 3.0L, 30.0L}) {
    auto near = [&](Primitive p, Ld expected) {
      EXPECT_NEAR(evaluatePrimitive(p, y), expected,
                  1e-17L * std::max<Ld>(1, std::fabs(expected)))
          << ntp::primitiveName(p) << " at " << static_cast<double>(y);
    };
    near(Primitive::Identity, y);
    near(Primitive::Tanh, std::tanh(y));
    near(Primitive::TanhHalf, std::tanh(y / 2));
    near(Primitive::Sin, std::sin(y));
    near(Primitive::Cos, std::cos(y));
    near(Primitive::Exp, std::exp(y));
    near(Primitive::Softplus, std::log1p(std::exp(y)));
    // Their constants (1/sqrt 2, sqrt(2/pi), ...) are rounded to double.
    auto close = [&](Primitive p, Ld expected) {
      EXPECT_NEAR(evaluatePrimitive(p, y), expected,
                  2e-15L * std::max<Ld>(1, std::fabs(expected)))
          << ntp::primitiveName(p) << " at " << static_cast<double>(y);
    };
    const Ld pi = 3.14159265358979323846264338L;
    const Ld u = std::sqrt(2 / pi) * (y + 0.044715L * y * y * y);
    close(Primitive::NormalCdf, std::erfc(-y / std::sqrt(2.0L)) / 2);
    close(Primitive::NormalPdf, std::exp(-y * y / 2) / std::sqrt(2 * pi));
    close(Primitive::GeluTanh, std::tanh(u));
    close(Primitive::GeluSech2, 1 / (std::cosh(u) * std::cosh(u)));
    close(Primitive::GeluC1, std::sqrt(2 / pi));
    close(Primitive::GeluC2, 3 * 0.044715L * std::sqrt(2 / pi));
  }
  EXPECT_STREQ(ntp::primitiveName(Primitive::TanhHalf), "tanh(y/2)");
  EXPECT_STREQ(ntp::primitiveName(Primitive::Softplus), "softplus");
}

TEST(ActivationRule, KnownPolynomials) {
  // Hand-derived: tanh'' = -2t + 2t^3; with u = tanh(y/2),
  // sigmoid = (1 + u) / 2 and sigmoid'' = (-u + u^3) / 4; sin''' = -cos.
  using Values = std::map<std::vector<unsigned>, Ld>;
  EXPECT_EQ(values(rule("tanh").derivative(2)), (Values{{{1}, -2}, {{3}, 2}}));
  EXPECT_EQ(values(rule("sigmoid").derivative(0)),
            (Values{{{0}, 0.5L}, {{1}, 0.5L}}));
  EXPECT_EQ(values(rule("sigmoid").derivative(2)),
            (Values{{{1}, -0.25L}, {{3}, 0.25L}}));
  EXPECT_EQ(values(rule("sin").derivative(3)), (Values{{{0, 1}, -1}}));
  EXPECT_EQ(ntp::lookupActivation("no-such-activation"), nullptr);
}

//===----------------------------------------------------------------------===//
// The Faa di Bruno expansion DAG
//===----------------------------------------------------------------------===//

/// Evaluates every node of the DAG in long double. Nodes must be in
/// topological order (operands before users), which code generation relies
/// on too.
std::vector<Ld> evaluateGraph(const ntp::JetExpressionGraph &g,
                              const std::vector<Ld> &inputs,
                              const std::vector<Ld> &primitives,
                              unsigned liveInputs) {
  const std::vector<ntp::JetExpression> &nodes = g.getNodes();
  std::vector<Ld> v(nodes.size());
  for (size_t i = 0; i < nodes.size(); ++i) {
    const ntp::JetExpression &n = nodes[i];
    auto operand = [&](int id) -> Ld {
      EXPECT_GE(id, 0);
      EXPECT_LT(id, static_cast<int>(i)) << "DAG not topologically ordered";
      return v[id];
    };
    switch (n.kind) {
    case Kind::Input:
      // Structural zeros must never be read.
      EXPECT_LT(n.index, static_cast<int>(liveInputs));
      v[i] = inputs.at(n.index);
      break;
    case Kind::Primitive:
      v[i] = primitives.at(n.index);
      break;
    case Kind::Constant:
      v[i] = n.value;
      break;
    case Kind::Add:
      v[i] = operand(n.lhs) + operand(n.rhs);
      break;
    case Kind::Mul:
      v[i] = operand(n.lhs) * operand(n.rhs);
      break;
    case Kind::Fma:
      v[i] = operand(n.lhs) * operand(n.rhs) + operand(n.acc);
      break;
    }
  }
  return v;
}

/// Calls f(multiplicities) for every integer partition of m, multiplicities[j]
/// being the number of parts equal to j (j = 1..m).
void forEachPartition(int m,
                      const std::function<void(const std::vector<int> &)> &f) {
  std::vector<int> mult(m + 1, 0);
  std::function<void(int, int)> rec = [&](int remaining, int largest) {
    if (remaining == 0) {
      f(mult);
      return;
    }
    for (int j = std::min(remaining, largest); j >= 1; --j) {
      ++mult[j];
      rec(remaining - j, j);
      --mult[j];
    }
  };
  rec(m, m);
}

Ld factorial(int n) {
  Ld r = 1;
  for (int i = 2; i <= n; ++i)
    r *= i;
  return r;
}

/// Brute-force Faa di Bruno: z_m = sum over partitions of m (p_j parts of
/// size j, k = sum p_j parts) of m! / prod(p_j! (j!)^p_j) * sigma^(k)(y_0) *
/// prod y_j^p_j. `sigma[k]` = sigma^(k)(y_0). Also returns, per order, the
/// sum of the absolute values of the terms with sigma^(k) replaced by
/// `sigmaScale[k]` (the scale of rounding errors).
void bruteForceJet(const std::vector<Ld> &y, const std::vector<Ld> &sigma,
                   const std::vector<Ld> &sigmaScale, std::vector<Ld> &z,
                   std::vector<Ld> &scale) {
  const int n = static_cast<int>(y.size()) - 1;
  z.assign(n + 1, 0);
  scale.assign(n + 1, 0);
  z[0] = sigma[0];
  scale[0] = sigmaScale[0];
  for (int m = 1; m <= n; ++m) {
    forEachPartition(m, [&](const std::vector<int> &mult) {
      Ld coefficient = factorial(m);
      Ld product = 1;
      int k = 0;
      for (int j = 1; j <= m; ++j) {
        coefficient /= factorial(mult[j]) * std::pow(factorial(j), mult[j]);
        product *= std::pow(y[j], static_cast<Ld>(mult[j]));
        k += mult[j];
      }
      Ld term = coefficient * sigma[k] * product;
      z[m] += term;
      scale[m] += std::fabs(coefficient * sigmaScale[k] * product);
    });
  }
}

class FaaDiBrunoTest : public ::testing::TestWithParam<std::string> {};

TEST_P(FaaDiBrunoTest, MatchesBruteForcePartitions) {
  const ntp::ActivationRule &r = rule(GetParam());
  // The gelus' primitives hold irrational constants (1/sqrt 2, sqrt(2/pi),
  // 0.044715 sqrt(2/pi)) rounded to double, as the kernels do: relative
  // 2^-53 in the primitive's argument, where the reference is long double.
  const Ld tolerance =
      GetParam() == "gelu" || GetParam() == "gelu_tanh" ? 2e-15L : 1e-16L;
  std::mt19937_64 rng(42);
  std::uniform_real_distribution<double> base(-2.0, 2.0), coef(-1.0, 1.0);
  Ld worst = 0;
  for (unsigned n = 0; n <= 10; ++n) {
    std::vector<unsigned> lives = {1, 2, n + 1};
    for (unsigned live : lives) {
      if (live > n + 1)
        continue;
      ntp::ActivationJetExpansion e = ntp::expandActivationJet(r, n, live);
      ASSERT_EQ(e.outputs.size(), n + 1);
      for (int trial = 0; trial < 8; ++trial) {
        std::vector<Ld> y(n + 1, 0.0L);
        y[0] = base(rng);
        for (unsigned i = 1; i < live; ++i)
          y[i] = coef(rng);
        // sigma^(k)(y_0) from the reference evaluator, not from ntp.
        std::vector<Ld> sigma;
        std::vector<std::vector<Ld>> d =
            referenceDerivatives(GetParam(), n, {y[0]});
        for (unsigned k = 0; k <= n; ++k)
          sigma.push_back(d[k][0]);
        // Error scale of sigma^(k): the DAG evaluates its polynomial in
        // monomial form, which cancels (see absoluteValue).
        std::vector<Ld> sigmaScale;
        for (unsigned k = 0; k <= n; ++k)
          sigmaScale.push_back(std::max(
              std::fabs(sigma[k]),
              absoluteValue(r.derivative(k), primitiveValues(r, y[0]))));
        std::vector<Ld> expected, scale;
        bruteForceJet(y, sigma, sigmaScale, expected, scale);

        std::vector<Ld> values =
            evaluateGraph(e.graph, y, primitiveValues(r, y[0]), live);
        for (unsigned m = 0; m <= n; ++m) {
          Ld got = values[e.outputs[m]];
          Ld err = std::fabs(got - expected[m]);
          if (scale[m] == 0) {
            EXPECT_EQ(got, 0.0L) << "n=" << n << " live=" << live << " m=" << m;
            continue;
          }
          // Errors relative to the sum of |terms|: long double rounding of
          // both sides (eps ~1e-19, a few hundred operations) plus the
          // reference's own Taylor recurrences.
          Ld rel = err / scale[m];
          worst = std::max(worst, rel);
          EXPECT_LE(rel, tolerance)
              << GetParam() << " n=" << n << " live=" << live << " m=" << m
              << ": dag " << static_cast<double>(got) << " vs brute force "
              << static_cast<double>(expected[m]);
        }
      }
    }
  }
  std::ostringstream os;
  os << static_cast<double>(worst);
  RecordProperty("worst_relative_error", os.str());
}

TEST_P(FaaDiBrunoTest, StructuralZerosReduceCost) {
  const ntp::ActivationRule &r = rule(GetParam());
  for (unsigned n = 2; n <= 12; ++n) {
    ntp::ActivationJetExpansion dense = ntp::expandActivationJet(r, n, n + 1);
    ntp::ActivationJetExpansion sparse = ntp::expandActivationJet(r, n, 2);
    int64_t denseFlops = dense.graph.cost(dense.outputs).flops();
    int64_t sparseFlops = sparse.graph.cost(sparse.outputs).flops();
    if (GetParam() == "identity") {
      // sigma^(k) = 0 for k >= 2: z_m = y_m in both cases, no arithmetic.
      EXPECT_LE(sparseFlops, denseFlops) << "n = " << n;
      continue;
    }
    // With y_2.. = 0 only B_{m,m} = y_1^m survives.
    EXPECT_LT(sparseFlops, denseFlops) << "n = " << n;
  }
}

INSTANTIATE_TEST_SUITE_P(AllActivations, FaaDiBrunoTest,
                         ::testing::ValuesIn(allActivations()), paramName);

TEST(FaaDiBruno, TanhOrder9Counts) {
  // The sharing claim, recorded for the report: the paper's per-term
  // evaluation touches sum_{m<=9} p(m) = 81 Bell terms per neuron, each a
  // product of several factors; the hash-consed DAG shares sub-products.
  const ntp::ActivationRule &r = rule("tanh");
  for (unsigned live : {2u, 10u}) {
    ntp::ActivationJetExpansion e = ntp::expandActivationJet(r, 9, live);
    ntp::JetExpansionCost c = e.graph.cost(e.outputs);
    std::string prefix = "tanh_n9_live" + std::to_string(live) + "_";
    RecordProperty(prefix + "adds", std::to_string(c.adds));
    RecordProperty(prefix + "muls", std::to_string(c.muls));
    RecordProperty(prefix + "fmas", std::to_string(c.fmas));
    RecordProperty(prefix + "flops", std::to_string(c.flops()));
    EXPECT_EQ(c.primitives, 1) << "tanh needs only tanh(y_0)";
    EXPECT_GT(c.flops(), 0);

    // Naive per-term cost, as the paper evaluates it: every monomial of
    // every sigma^(k) polynomial on its own (one multiply per factor, one
    // multiply by the coefficient, one add), and per Bell term of each
    // partition one multiply per factor (coefficient, sigma^(k), each y_j)
    // and one add. The shared DAG must beat it.
    int64_t naive = 0;
    for (int k = 0; k <= 9; ++k)
      for (const auto &[exponents, c] : r.derivative(k).terms()) {
        (void)c;
        naive += 2;
        for (unsigned e : exponents)
          naive += e;
      }
    for (int m = 1; m <= 9; ++m)
      forEachPartition(m, [&](const std::vector<int> &mult) {
        bool zero = false;
        int factors = 2;
        for (int j = 1; j <= m; ++j) {
          factors += mult[j];
          zero |= mult[j] > 0 && j >= static_cast<int>(live);
        }
        if (!zero)
          naive += factors;
      });
    RecordProperty(prefix + "naive_bell_flops", std::to_string(naive));
    EXPECT_LT(c.flops(), naive) << "live = " << live;
  }
}

} // namespace
