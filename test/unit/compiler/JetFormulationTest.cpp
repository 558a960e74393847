//===- JetFormulationTest.cpp - Taylor vs Faa di Bruno jet formulations ---===//
//
// The Taylor-recurrence formulation of the activation jet against the Faa di
// Bruno one, both evaluated in long double, for every activation, orders
// 0..maxFaaDiBrunoOrder() (at least 16) and live input orders {1, 2, n+1};
// plus the choice Auto makes (Taylor alone past that order).
//
//===----------------------------------------------------------------------===//

#include "ntp/Support/ActivationJet.h"
#include "ntp/Support/ActivationRules.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

namespace {

using Ld = long double;
using Kind = ntp::JetExpression::Kind;
using ntp::JetFormulation;

using ntp::evaluatePrimitive;

/// Every node of `g` in long double; also |node| evaluated with absolute
/// values of every operand (the error scale of the rounding).
void evaluate(const ntp::JetExpressionGraph &g, const ntp::ActivationRule &r,
              const std::vector<Ld> &inputs, std::vector<Ld> &v,
              std::vector<Ld> &abs) {
  const auto &nodes = g.getNodes();
  v.assign(nodes.size(), 0);
  abs.assign(nodes.size(), 0);
  for (size_t i = 0; i < nodes.size(); ++i) {
    const ntp::JetExpression &n = nodes[i];
    switch (n.kind) {
    case Kind::Input:
      v[i] = inputs[n.index];
      break;
    case Kind::Primitive:
      v[i] = evaluatePrimitive(r.getPrimitives()[n.index], inputs[0]);
      break;
    case Kind::Constant:
      v[i] = n.value;
      break;
    case Kind::Add:
      v[i] = v[n.lhs] + v[n.rhs];
      abs[i] = abs[n.lhs] + abs[n.rhs];
      continue;
    case Kind::Mul:
      v[i] = v[n.lhs] * v[n.rhs];
      abs[i] = abs[n.lhs] * abs[n.rhs];
      continue;
    case Kind::Fma:
      v[i] = v[n.lhs] * v[n.rhs] + v[n.acc];
      abs[i] = abs[n.lhs] * abs[n.rhs] + abs[n.acc];
      continue;
    }
    abs[i] = std::fabs(v[i]);
  }
}

class JetFormulationSupportTest : public ::testing::TestWithParam<std::string> {
};

TEST_P(JetFormulationSupportTest, TaylorMatchesFaaDiBruno) {
  const ntp::ActivationRule &r = *ntp::lookupActivation(GetParam());
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> base(-2.0, 2.0), coef(-1.0, 1.0);
  Ld worst = 0;
  for (unsigned n = 0; n <= r.maxFaaDiBrunoOrder(); ++n) {
    for (unsigned live : {1u, 2u, n + 1}) {
      if (live > n + 1)
        continue;
      auto fdb =
          ntp::expandActivationJet(r, n, live, JetFormulation::FaaDiBruno);
      auto taylor =
          ntp::expandActivationJet(r, n, live, JetFormulation::Taylor);
      ASSERT_EQ(fdb.formulation, JetFormulation::FaaDiBruno);
      ASSERT_EQ(taylor.formulation, JetFormulation::Taylor);
      ASSERT_EQ(taylor.outputs.size(), n + 1);
      for (int trial = 0; trial < 4; ++trial) {
        std::vector<Ld> y(n + 1, 0.0L);
        y[0] = base(rng);
        for (unsigned i = 1; i < live; ++i)
          y[i] = coef(rng);
        std::vector<Ld> vf, af, vt, at;
        evaluate(fdb.graph, r, y, vf, af);
        evaluate(taylor.graph, r, y, vt, at);
        for (unsigned m = 0; m <= n; ++m) {
          Ld want = vf[fdb.outputs[m]], got = vt[taylor.outputs[m]];
          // Both sides round in long double (eps 1e-19, ~n^2..n^4 ops); the
          // Taylor side also holds 1/k and 1/(j-1)! rounded to double
          // (2^-53 each, a few per chain of order m): scaled by the larger
          // sum of |terms|.
          Ld scale = std::max(af[fdb.outputs[m]], at[taylor.outputs[m]]);
          if (scale == 0) {
            EXPECT_EQ(got, 0.0L) << "n=" << n << " live=" << live;
            continue;
          }
          Ld rel = std::fabs(got - want) / scale;
          worst = std::max(worst, rel);
          EXPECT_LE(rel, 1e-15L)
              << GetParam() << " n=" << n << " live=" << live << " m=" << m
              << ": taylor " << static_cast<double>(got) << " vs fdb "
              << static_cast<double>(want);
        }
      }
    }
  }
  char text[32];
  std::snprintf(text, sizeof text, "%.3g", static_cast<double>(worst));
  RecordProperty("worst_relative_error", text);
}

TEST_P(JetFormulationSupportTest, TaylorVjpMatchesFaaDiBruno) {
  const ntp::ActivationRule &r = *ntp::lookupActivation(GetParam());
  std::mt19937_64 rng(11);
  std::uniform_real_distribution<double> base(-2.0, 2.0), coef(-1.0, 1.0);
  for (unsigned n = 0; n <= 12; ++n) {
    for (unsigned live : {1u, 2u, n + 1}) {
      if (live > n + 1)
        continue;
      auto fdb = ntp::differentiateActivationJet(r, n, live,
                                                 JetFormulation::FaaDiBruno);
      auto taylor =
          ntp::differentiateActivationJet(r, n, live, JetFormulation::Taylor);
      ASSERT_EQ(taylor.inputCotangents.size(), live);
      std::vector<Ld> in(2 * (n + 1), 0.0L);
      in[0] = base(rng);
      for (unsigned i = 1; i < live; ++i)
        in[i] = coef(rng);
      for (unsigned m = 0; m <= n; ++m)
        in[n + 1 + m] = coef(rng);
      std::vector<Ld> vf, af, vt, at;
      evaluate(fdb.graph, r, in, vf, af);
      evaluate(taylor.graph, r, in, vt, at);
      for (unsigned k = 0; k < live; ++k) {
        Ld want = vf[fdb.inputCotangents[k]],
           got = vt[taylor.inputCotangents[k]];
        Ld scale =
            std::max(af[fdb.inputCotangents[k]], at[taylor.inputCotangents[k]]);
        if (scale == 0)
          continue;
        EXPECT_LE(std::fabs(got - want) / scale, 1e-15L)
            << GetParam() << " n=" << n << " live=" << live << " k=" << k;
      }
    }
  }
}

TEST_P(JetFormulationSupportTest, AutoPicksFewerFlops) {
  const ntp::ActivationRule &r = *ntp::lookupActivation(GetParam());
  for (unsigned n = 0; n <= ntp::kMaxOrder; ++n) {
    for (unsigned live : {2u, n + 1}) {
      if (live > n + 1)
        continue;
      if (n > r.maxAutoFaaDiBrunoOrder()) {
        // Faà di Bruno is not exact (or not accurate) there: the
        // recurrence alone.
        auto chosen =
            ntp::expandActivationJet(r, n, live, JetFormulation::Auto);
        EXPECT_EQ(chosen.formulation, JetFormulation::Taylor) << "n=" << n;
        auto vjp =
            ntp::differentiateActivationJet(r, n, live, JetFormulation::Auto);
        EXPECT_EQ(vjp.formulation, JetFormulation::Taylor) << "n=" << n;
        continue;
      }
      auto fdb =
          ntp::expandActivationJet(r, n, live, JetFormulation::FaaDiBruno);
      auto taylor =
          ntp::expandActivationJet(r, n, live, JetFormulation::Taylor);
      auto chosen = ntp::expandActivationJet(r, n, live, JetFormulation::Auto);
      int64_t f = fdb.graph.cost(fdb.outputs).flops(),
              t = taylor.graph.cost(taylor.outputs).flops();
      EXPECT_EQ(chosen.formulation,
                t < f ? JetFormulation::Taylor : JetFormulation::FaaDiBruno)
          << "n=" << n << " live=" << live;
      EXPECT_EQ(chosen.graph.cost(chosen.outputs).flops(), std::min(f, t));
    }
  }
}

INSTANTIATE_TEST_SUITE_P(AllActivations, JetFormulationSupportTest,
                         ::testing::ValuesIn(ntp::activationNames()),
                         [](const auto &info) { return info.param; });

TEST(JetFormulationSupport, TanhAutoPicksTaylorAtHighOrders) {
  const ntp::ActivationRule &r = *ntp::lookupActivation("tanh");
  for (unsigned n : {9u, 16u}) {
    auto e = ntp::expandActivationJet(r, n, n + 1);
    EXPECT_EQ(e.formulation, JetFormulation::Taylor) << "n=" << n;
  }
}

TEST(JetFormulationSupport, AutoConsidersFaaDiBrunoWhereItIsAccurate) {
  // Past order 16 only well-conditioned rules keep Faà di Bruno in the
  // automatic choice; forced, it goes to maxFaaDiBrunoOrder().
  for (const char *name :
       {"tanh", "sigmoid", "softplus", "silu", "gelu", "gelu_tanh"})
    EXPECT_EQ(ntp::lookupActivation(name)->maxAutoFaaDiBrunoOrder(), 16u)
        << name;
  for (const char *name : {"sin", "cos", "exp", "identity"})
    EXPECT_EQ(ntp::lookupActivation(name)->maxAutoFaaDiBrunoOrder(),
              unsigned(ntp::kMaxOrder))
        << name;
}

TEST(JetFormulationSupport, Names) {
  for (JetFormulation f : {JetFormulation::FaaDiBruno, JetFormulation::Taylor,
                           JetFormulation::Auto})
    EXPECT_EQ(ntp::parseJetFormulation(ntp::jetFormulationName(f)), f);
  EXPECT_FALSE(ntp::parseJetFormulation("bell").has_value());
}

} // namespace
