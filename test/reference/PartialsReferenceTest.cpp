//===- PartialsReferenceTest.cpp - Checks of the mixed-partials reference -===//
//
// Closed forms of one-neuron networks (exp, sin, tanh), the multinomial
// expansion of the univariate jet (d^k/dt^k f(x + t v) = sum_{|a| = k}
// k!/a! v^a D^a f) on deep random networks of every activation, and the
// operators against their definitions.
//
//===----------------------------------------------------------------------===//
#include "PartialsReference.h"

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <random>
#include <stdexcept>
#include <string>

namespace {

using ntp_ref::Activation;
using Ld = long double;

std::vector<std::vector<int>> multiIndices(int d, int n) {
  std::vector<std::vector<int>> all;
  std::vector<int> a(d, 0);
  std::function<void(int, int)> rec = [&](int l, int left) {
    if (l + 1 == d) {
      a[l] = left;
      all.push_back(a);
      return;
    }
    for (int v = left; v >= 0; --v) {
      a[l] = v;
      rec(l + 1, left - v);
    }
  };
  rec(0, n);
  return all;
}

Ld factorial(int n) { return n <= 1 ? 1 : n * factorial(n - 1); }

/// Every request of total order 0..n over d = 3 inputs (multiIndices).
std::vector<std::vector<int>> requestsUpTo(int n) {
  std::vector<std::vector<int>> requests;
  for (int k = 0; k <= n; ++k)
    for (const auto &a : multiIndices(3, k))
      requests.push_back(a);
  return requests;
}

/// The multinomial identity on a network of d = 3 inputs and 2 outputs:
/// jet (the univariate reference's jet of order n along v) equals, at every
/// order k, sample b and output j, sum_{|a| = k} k!/a! v^a parts[a] (parts:
/// the mixed partials of `requests`), within `tolerance` * max(1, |jet|);
/// failures name `context` then the order.
void expectMultinomialSums(const std::vector<Ld> &parts,
                           const std::vector<std::vector<int>> &requests,
                           const std::vector<Ld> &jet, const std::vector<Ld> &v,
                           int n, int batch, double tolerance,
                           const std::string &context) {
  for (int k = 0; k <= n; ++k)
    for (int b = 0; b < batch; ++b)
      for (int j = 0; j < 2; ++j) {
        Ld sum = 0;
        for (size_t p = 0; p < requests.size(); ++p) {
          const auto &a = requests[p];
          if (a[0] + a[1] + a[2] != k)
            continue;
          Ld coefficient = factorial(k);
          for (int l = 0; l < 3; ++l)
            coefficient *=
                std::pow(v[l], static_cast<Ld>(a[l])) / factorial(a[l]);
          sum += coefficient * parts[(p * batch + b) * 2 + j];
        }
        Ld expect = jet[(k * batch + b) * 2 + j];
        EXPECT_NEAR((double)sum, (double)expect,
                    tolerance * std::max<double>(1, std::fabs((double)expect)))
            << context << "order " << k;
      }
}

/// f(x) = c * sigma(w.x + b) + b2 with d = 3.
struct OneNeuron {
  std::vector<Ld> w = {0.7L, -0.4L, 0.25L};
  Ld b = 0.1L, c = 1.3L, b2 = -0.2L;
  std::vector<Ld> params() const { return {w[0], w[1], w[2], b, c, b2}; }
  Ld y(const std::vector<Ld> &x) const {
    return w[0] * x[0] + w[1] * x[1] + w[2] * x[2] + b;
  }
  Ld wPower(const std::vector<int> &a) const {
    Ld p = 1;
    for (int l = 0; l < 3; ++l)
      p *= std::pow(w[l], static_cast<Ld>(a[l]));
    return p;
  }
};

void checkOneNeuron(Activation act, int maxOrder,
                    const std::function<Ld(Ld, int)> &derivative) {
  OneNeuron net;
  std::vector<Ld> x = {0.3L, -0.5L, 0.9L};
  std::vector<std::vector<int>> requests = requestsUpTo(maxOrder);
  std::vector<Ld> out =
      ntp_ref::partials({3, 1, 1}, act, net.params(), x, 1, requests);
  for (size_t p = 0; p < requests.size(); ++p) {
    int n = 0;
    for (int e : requests[p])
      n += e;
    Ld expect = net.c * derivative(net.y(x), n) * net.wPower(requests[p]) +
                (n == 0 ? net.b2 : 0);
    EXPECT_NEAR(static_cast<double>(out[p]), static_cast<double>(expect),
                1e-15 * std::max<double>(1, std::fabs((double)expect)))
        << "request " << p << " order " << n;
  }
}

TEST(PartialsReference, ExpClosedFormToOrder6) {
  checkOneNeuron(Activation::Exp, 6, [](Ld y, int) { return std::exp(y); });
}

TEST(PartialsReference, SinClosedFormToOrder6) {
  checkOneNeuron(Activation::Sin, 6, [](Ld y, int n) {
    return std::sin(y + n * 1.5707963267948966192313216916397514L);
  });
}

TEST(PartialsReference, TanhClosedFormToOrder3) {
  checkOneNeuron(Activation::Tanh, 3, [](Ld y, int n) {
    Ld t = std::tanh(y), s = 1 - t * t;
    switch (n) {
    case 0:
      return t;
    case 1:
      return s;
    case 2:
      return -2 * t * s;
    default:
      return s * (6 * t * t - 2);
    }
  });
}

TEST(PartialsReference, OperatorsOfOneNeuron) {
  // Laplacian of c exp(w.x + b) is c exp(y) |w|^2 (over a subset: the
  // subset's |w|^2); the biharmonic c exp(y) |w|^4.
  OneNeuron net;
  std::vector<Ld> x = {0.3L, -0.5L, 0.9L};
  auto out = ntp_ref::partials({3, 1, 1}, Activation::Exp, net.params(), x, 1,
                               {{-2, -2, -2}, {-2, 0, -2}, {-4, -4, -4}});
  Ld e = net.c * std::exp(net.y(x));
  Ld w2 = net.w[0] * net.w[0] + net.w[1] * net.w[1] + net.w[2] * net.w[2];
  Ld w2sub = w2 - net.w[1] * net.w[1];
  EXPECT_NEAR((double)out[0], (double)(e * w2), 1e-15);
  EXPECT_NEAR((double)out[1], (double)(e * w2sub), 1e-15);
  EXPECT_NEAR((double)out[2], (double)(e * w2 * w2), 1e-15);
}

class PartialsReferenceDeep : public ::testing::TestWithParam<Activation> {};

// On a deep random network, the univariate reference's jet along random v
// must equal the multinomial sum of the mixed partials, at every order.
TEST_P(PartialsReferenceDeep, MatchesUnivariateJetsByMultinomialSum) {
  Activation act = GetParam();
  std::mt19937 rng(42 + static_cast<int>(act));
  std::uniform_real_distribution<double> u(-1, 1);
  std::vector<int> widths = {3, 5, 4, 2};
  std::vector<Ld> params(ntp_ref::numParams(widths));
  for (Ld &p : params)
    p = u(rng) * 0.8;
  const int n = 5, batch = 3;
  std::vector<Ld> x(batch * 3);
  for (Ld &v : x)
    v = u(rng);
  std::vector<std::vector<int>> requests = requestsUpTo(n);
  std::vector<Ld> parts =
      ntp_ref::partials(widths, act, params, x, batch, requests);
  for (int trial = 0; trial < 3; ++trial) {
    std::vector<Ld> v = {u(rng), u(rng), u(rng)};
    std::vector<Ld> jet = ntp_ref::jet(widths, act, n, params, x, v, batch);
    expectMultinomialSums(parts, requests, jet, v, n, batch, 1e-14, "");
  }
  // The operators are the sums they name.
  std::vector<Ld> ops = ntp_ref::partials(widths, act, params, x, batch,
                                          {{-2, -2, 0}, {-4, -4, -4}});
  auto at = [&](std::vector<int> a, int b, int j) {
    for (size_t p = 0; p < requests.size(); ++p)
      if (requests[p] == a)
        return parts[(p * batch + b) * 2 + j];
    return Ld(NAN);
  };
  for (int b = 0; b < batch; ++b)
    for (int j = 0; j < 2; ++j) {
      Ld lap = at({2, 0, 0}, b, j) + at({0, 2, 0}, b, j);
      Ld bih =
          at({4, 0, 0}, b, j) + at({0, 4, 0}, b, j) + at({0, 0, 4}, b, j) +
          2 * (at({2, 2, 0}, b, j) + at({2, 0, 2}, b, j) + at({0, 2, 2}, b, j));
      EXPECT_NEAR((double)ops[(0 * batch + b) * 2 + j], (double)lap, 1e-15);
      EXPECT_NEAR((double)ops[(1 * batch + b) * 2 + j], (double)bih,
                  1e-14 * std::max<double>(1, std::fabs((double)bih)));
    }
}

INSTANTIATE_TEST_SUITE_P(AllActivations, PartialsReferenceDeep,
                         ::testing::Values(Activation::Tanh,
                                           Activation::Sigmoid, Activation::Sin,
                                           Activation::Identity,
                                           Activation::Exp,
                                           Activation::Softplus));

// Typed layers (issue 14): the same multinomial identity against the
// univariate reference's typed jets (TaylorReference.cpp, whose typed layers
// share nothing with the multivariate arithmetic here): slopes per layer and
// per neuron, residual layers, the Fourier embedding, the modified MLP's
// gates, one activation per hidden layer.
TEST(PartialsReference, TypedLayersMatchUnivariateJetsByMultinomialSum) {
  struct Net {
    std::vector<int> widths;
    std::vector<Activation> acts;
    ntp_ref::Layers layers;
  };
  std::vector<Net> nets(4);
  nets[0] = {{3, 5, 5, 2}, {Activation::Tanh, Activation::Silu}, {}};
  nets[0].layers.slopes = {2, 1};
  nets[0].layers.residual = {false, true};
  nets[1] = {{3, 4, 2}, {Activation::Sigmoid}, {}};
  nets[1].layers.fourier = 3;
  nets[2] = {{3, 4, 4, 2}, {Activation::Sin, Activation::Tanh}, {}};
  nets[2].layers.gated = true;
  nets[2].layers.slopes = {0, 2};
  nets[3] = {{3, 5, 5, 2}, {Activation::GeluTanh, Activation::Softplus}, {}};
  nets[3].layers.fourier = 2;
  nets[3].layers.slopes = {1, 0};
  nets[3].layers.residual = {false, true};
  for (size_t t = 0; t < nets.size(); ++t) {
    const Net &net = nets[t];
    std::mt19937 rng(7 + static_cast<int>(t));
    std::uniform_real_distribution<double> u(-1, 1);
    std::vector<Ld> params(ntp_ref::numParams(net.widths, net.layers));
    for (Ld &p : params)
      p = u(rng) * 0.6;
    const int n = 4, batch = 2;
    std::vector<Ld> x(batch * 3);
    for (Ld &v : x)
      v = u(rng);
    std::vector<std::vector<int>> requests = requestsUpTo(n);
    std::vector<Ld> parts = ntp_ref::partials(net.widths, net.acts, net.layers,
                                              params, x, batch, requests);
    for (int trial = 0; trial < 2; ++trial) {
      std::vector<Ld> v = {u(rng), u(rng), u(rng)};
      std::vector<Ld> jet = ntp_ref::jet(net.widths, net.acts, net.layers, n,
                                         params, x, v, batch);
      expectMultinomialSums(parts, requests, jet, v, n, batch, 1e-13,
                            "network " + std::to_string(t) + " ");
    }
  }
}

TEST(PartialsReference, RefusesMalformedRequests) {
  OneNeuron net;
  std::vector<Ld> x = {0, 0, 0};
  EXPECT_THROW(ntp_ref::partials({3, 1, 1}, Activation::Tanh, net.params(), x,
                                 1, {{1, 1}}),
               std::invalid_argument);
  EXPECT_THROW(ntp_ref::partials({3, 1, 1}, Activation::Tanh, net.params(), x,
                                 1, {{1, -1, 0}}),
               std::invalid_argument);
  EXPECT_THROW(ntp_ref::partials({3, 1, 1}, Activation::Tanh, net.params(),
                                 {0, 0}, 1, {{1, 0, 0}}),
               std::invalid_argument);
}

} // namespace
