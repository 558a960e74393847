//===- TaylorReferenceLayersTest.cpp - The reference's typed layers -------===//
//
// The reference evaluator's typed layers (Fourier features, adaptive slopes,
// residual layers, the modified MLP's gates) against closed forms and
// derivatives written out by hand, and their reverse pass against central
// differences of the typed forward (see TaylorReferenceTest.cpp).
//
//===----------------------------------------------------------------------===//
#include "TaylorReference.h"
#include "TaylorReferenceTestUtil.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <stdexcept>
#include <vector>

namespace {

using namespace ntp_ref_test;

// Typed layers against closed forms.

// Fourier features of one frequency, no hidden layer: f(x) = w_s sin(2 pi B
// x) + w_c cos(2 pi B x) + b, whose k-th derivative along v is
// (2 pi B v)^k (w_s sin(z + k pi / 2) + w_c cos(z + k pi / 2)).
TEST(TaylorReference, FourierFeaturesClosedForm) {
  const Ld B = 0.37L, ws = 0.8L, wc = -1.3L, bias = 0.25L, x = 0.6L, v = 0.9L;
  ntp_ref::Layers layers;
  layers.fourier = 1;
  const std::vector<int> w = {1, 1};
  ASSERT_EQ(ntp_ref::numParams(w, layers), 4);
  const Vec p = {B, ws, wc, bias};
  const int order = 7;
  const Vec out = ntp_ref::jet(w, {}, layers, order, p, {x}, {v}, 1);
  const Ld pi = 3.141592653589793238462643383279502884L;
  const Ld z = 2 * pi * B * x, rate = 2 * pi * B * v;
  for (int k = 0; k <= order; ++k) {
    const Ld phase = z + k * pi / 2;
    const Ld expected =
        std::pow(rate, Ld(k)) * (ws * std::sin(phase) + wc * std::cos(phase)) +
        (k == 0 ? bias : 0);
    EXPECT_TRUE(close(out[k], expected, 1e-16L)) << "order " << k;
  }
}

// An identity hidden layer with a slope a: f = w2 a (w1 x + b1) + b2, and a
// residual tanh layer: f = w3 (h + tanh(a2 (w2 h + b2))) + b3 with h the
// first layer's output; orders 0..2 by hand.
TEST(TaylorReference, SlopesAndResidualByHand) {
  ntp_ref::Layers slope;
  slope.slopes = {1};
  const std::vector<int> w = {1, 1, 1};
  ASSERT_EQ(ntp_ref::numParams(w, slope), 5);
  const Vec p = {0.7L, 0.1L, 1.9L, -0.4L, 0.3L}; // W1 b1 a W2 b2
  const Vec out =
      ntp_ref::jet(w, {Activation::Identity}, slope, 2, p, {0.5L}, {2.0L}, 1);
  EXPECT_TRUE(
      close(out[0], -0.4L * 1.9L * (0.7L * 0.5L + 0.1L) + 0.3L, 1e-18L));
  EXPECT_TRUE(close(out[1], -0.4L * 1.9L * 0.7L * 2.0L, 1e-18L));
  EXPECT_EQ(out[2], 0);

  ntp_ref::Layers residual;
  residual.slopes = {0, 1};
  residual.residual = {false, true};
  const std::vector<int> w2 = {1, 1, 1, 1};
  // W1 b1 | W2 b2 a2 | W3 b3, identity first layer so that h = W1 x + b1.
  const Vec q = {0.6L, -0.2L, 0.9L, 0.15L, 1.4L, 1.1L, 0.05L};
  const Vec o = ntp_ref::jet(w2, {Activation::Identity, Activation::Tanh},
                             residual, 2, q, {0.3L}, {1.0L}, 1);
  const Ld h = 0.6L * 0.3L - 0.2L, dh = 0.6L;
  const Ld a = 1.4L * (0.9L * h + 0.15L), da = 1.4L * 0.9L * dh;
  const Ld t = std::tanh(a), dt = 1 - t * t;
  EXPECT_TRUE(close(o[0], 1.1L * (h + t) + 0.05L, 1e-17L));
  EXPECT_TRUE(close(o[1], 1.1L * (dh + dt * da), 1e-17L));
  EXPECT_TRUE(close(o[2], 1.1L * (-2 * t * dt * da * da), 1e-16L));
}

/// jetParamGradient of a random problem (seeded `seed`: parameters, two
/// points, v, the cotangent of an order-4 jet) against 4th-order central
/// differences of the loss <c, jet> in long double, every parameter.
void expectGradientMatchesDifferences(const std::vector<int> &w,
                                      const std::vector<Activation> &acts,
                                      const ntp_ref::Layers &layers,
                                      unsigned seed) {
  std::mt19937_64 rng(seed);
  const Vec p = randomVec(rng, ntp_ref::numParams(w, layers));
  const Vec x = randomVec(rng, 2), v = randomVec(rng, 1);
  const int order = 4;
  const Vec c = randomVec(rng, (order + 1) * 2);
  const Vec g =
      ntp_ref::jetParamGradient(w, acts, layers, order, p, x, v, 2, c);
  auto loss = [&](const Vec &params) {
    const Vec out = ntp_ref::jet(w, acts, layers, order, params, x, v, 2);
    Ld sum = 0;
    for (size_t i = 0; i < out.size(); ++i)
      sum += c[i] * out[i];
    return sum;
  };
  const Ld h = 1e-5L;
  for (size_t i = 0; i < p.size(); ++i) {
    Vec up = p, down = p, up2 = p, down2 = p;
    up[i] += h;
    down[i] -= h;
    up2[i] += 2 * h;
    down2[i] -= 2 * h;
    const Ld fd =
        (8 * (loss(up) - loss(down)) - (loss(up2) - loss(down2))) / (12 * h);
    EXPECT_TRUE(close(g[i], fd, 1e-9L)) << "param " << i;
  }
}

// The typed reverse pass is the gradient of the typed forward: central
// differences in long double, every parameter (B, W, b, slopes).
TEST(TaylorReference, TypedGradientMatchesDifferences) {
  ntp_ref::Layers layers;
  layers.fourier = 2;
  layers.slopes = {2, 1};
  layers.residual = {false, true};
  const std::vector<int> w = {1, 3, 3, 1};
  const std::vector<Activation> acts = {Activation::Silu, Activation::Tanh};
  expectGradientMatchesDifferences(w, acts, layers, 3);
}

// A gated network of width 1 with identity activations: U = a x + b,
// V = c x + e, Z = p x + r, H = U + Z (V - U), f = w H + s. Along x + t v
// H is quadratic in t: its first derivative is U' + Z' (V - U) + Z (V' -
// U'), its second 2 Z' (V' - U'), its third 0. Parameters: W_u b_u W_v b_v
// W_1 b_1 W_2 b_2.
TEST(TaylorReference, GatedLayerByHand) {
  ntp_ref::Layers gated;
  gated.gated = true;
  const std::vector<int> w = {1, 1, 1};
  ASSERT_EQ(ntp_ref::numParams(w, gated), 8);
  const Ld a = 0.7L, b = 0.1L, c = -1.3L, e = 0.4L, p = 0.9L, r = -0.2L,
           wo = 1.7L, s = 0.3L, x = 0.5L, v = 2.0L;
  const Vec params = {a, b, c, e, p, r, wo, s};
  const Vec out =
      ntp_ref::jet(w, {Activation::Identity}, gated, 3, params, {x}, {v}, 1);
  const Ld U = a * x + b, V = c * x + e, Z = p * x + r;
  const Ld dU = a * v, dV = c * v, dZ = p * v;
  EXPECT_TRUE(close(out[0], wo * (U + Z * (V - U)) + s, 1e-18L));
  EXPECT_TRUE(close(out[1], wo * (dU + dZ * (V - U) + Z * (dV - dU)), 1e-18L));
  EXPECT_TRUE(close(out[2], wo * 2 * dZ * (dV - dU), 1e-18L));
  EXPECT_EQ(out[3], 0);
  // Unequal hidden widths and residual layers are refused.
  ntp_ref::Layers residual = gated;
  residual.residual = {false, true};
  EXPECT_THROW(ntp_ref::numParams({1, 2, 2, 1}, residual),
               std::invalid_argument);
  EXPECT_THROW(ntp_ref::numParams({1, 2, 3, 1}, gated), std::invalid_argument);
}

// The gated reverse pass (U's and V's cotangents summed over the layers)
// is the gradient of the gated forward: central differences, every
// parameter (B, W_u, b_u, W_v, b_v, W, b, slopes).
TEST(TaylorReference, GatedGradientMatchesDifferences) {
  ntp_ref::Layers layers;
  layers.fourier = 2;
  layers.slopes = {2, 0, 1};
  layers.gated = true;
  const std::vector<int> w = {1, 3, 3, 3, 1};
  const std::vector<Activation> acts = {Activation::Tanh, Activation::Silu,
                                        Activation::Sin};
  expectGradientMatchesDifferences(w, acts, layers, 5);
}

} // namespace
