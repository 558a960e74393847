//===- TaylorSeries.cpp - Taylor series of the reference's activations ---===//
//
// Part of the reference evaluator (TaylorReference.cpp): the normalized
// Taylor coefficients of each activation of a series a, through the ODE
// u' = w(t) a'(t) with w the series of sigma'(a) (see TaylorReference.cpp's
// header), Cauchy products, and the hand-written adjoint of each.
//
//===----------------------------------------------------------------------===//
#include "TaylorSeries.h"

#include <cmath>
#include <vector>

namespace ntp_ref::detail {

namespace {

constexpr Ld kSqrt2OverPi = 0.797884560802865355879892119868763737L;
constexpr Ld kGeluCubic = 0.044715L;

/// k u_k += sum_{j=1..k} j a_j w_{k-j}: coefficient k of the solution of
/// u' = w a' given coefficients < k of w.
Ld odeCoefficient(const Ld *a, const Ld *w, int k) {
  Ld acc = 0;
  for (int j = 1; j <= k; ++j)
    acc += j * a[j] * w[k - j];
  return acc / k;
}

/// Adjoint of odeCoefficient(a, w, k) with output adjoint ubar.
void odeCoefficientAdjoint(const Ld *a, const Ld *w, int k, Ld ubar, Ld *abar,
                           Ld *wbar) {
  for (int j = 1; j <= k; ++j) {
    const Ld c = static_cast<Ld>(j) / k * ubar;
    abar[j] += c * w[k - j];
    wbar[k - j] += c * a[j];
  }
}

/// Sum_{i=0..k} u_i u_{k-i}: coefficient k of u^2.
Ld squareCoefficient(const Ld *u, int k) {
  Ld acc = 0;
  for (int i = 0; i <= k; ++i)
    acc += u[i] * u[k - i];
  return acc;
}

/// Sigmoid series s and its derivative factor w = s (1 - s) of series a.
void sigmoidSeries(const Ld *a, Ld *s, Ld *w, int n) {
  // s (1 - s) as s(a) * s(-a) keeps full relative precision for large |a|.
  const Ld sp = 1 / (1 + expl(-a[0])), sm = 1 / (1 + expl(a[0]));
  s[0] = sp;
  w[0] = sp * sm;
  for (int k = 1; k <= n; ++k) {
    s[k] = odeCoefficient(a, w, k);
    w[k] = s[k] - squareCoefficient(s, k);
  }
}

/// Adjoint of sigmoidSeries; sbar and wbar are consumed (overwritten).
void sigmoidSeriesAdjoint(const Ld *a, const Ld *s, const Ld *w, Ld *sbar,
                          Ld *wbar, Ld *abar, int n) {
  for (int k = n; k >= 1; --k) {
    // w_k = s_k - sum_i s_i s_{k-i}; each s_m appears twice in the sum.
    for (int m = 0; m <= k; ++m)
      sbar[m] -= 2 * s[k - m] * wbar[k];
    sbar[k] += wbar[k];
    odeCoefficientAdjoint(a, w, k, sbar[k], abar, wbar);
  }
  // s0' = w0, w0' = w0 (1 - 2 s0).
  abar[0] += w[0] * sbar[0] + w[0] * (1 - 2 * s[0]) * wbar[0];
}

/// Coefficient k of the product series of a and b.
Ld productCoefficient(const Ld *a, const Ld *b, int k) {
  Ld acc = 0;
  for (int i = 0; i <= k; ++i)
    acc += a[i] * b[k - i];
  return acc;
}

} // namespace

/// Adjoint of u = a * b (Cauchy product, coefficients 0..n) with output
/// adjoint ubar scaled by `scale`.
void productAdjoint(const Ld *a, const Ld *b, const Ld *ubar, Ld scale,
                    Ld *abar, Ld *bbar, int n) {
  for (int k = 0; k <= n; ++k)
    for (int i = 0; i <= k; ++i) {
      abar[i] += scale * ubar[k] * b[k - i];
      bbar[k - i] += scale * ubar[k] * a[i];
    }
}

namespace {

/// u = tanh(a) and w = 1 - u^2 (= sech^2 a) of series a.
void tanhSeries(const Ld *a, Ld *u, Ld *w, int n) {
  u[0] = tanhl(a[0]);
  const Ld ch = coshl(a[0]);
  w[0] = 1 / (ch * ch); // sech^2 avoids cancellation in 1 - tanh^2
  for (int k = 1; k <= n; ++k) {
    u[k] = odeCoefficient(a, w, k);
    w[k] = -squareCoefficient(u, k);
  }
}

/// Adjoint of tanhSeries; ubar is consumed, wbar is scratch (zeros).
void tanhSeriesAdjoint(const Ld *a, const Ld *u, const Ld *w, Ld *ubar,
                       Ld *wbar, Ld *abar, int n) {
  for (int k = n; k >= 1; --k) {
    // w_k = -sum_i u_i u_{k-i}.
    for (int m = 0; m <= k; ++m)
      ubar[m] -= 2 * u[k - m] * wbar[k];
    odeCoefficientAdjoint(a, w, k, ubar[k], abar, wbar);
  }
  // u0' = w0, w0' = -2 u0 w0.
  abar[0] += w[0] * ubar[0] - 2 * u[0] * w[0] * wbar[0];
}

} // namespace

/// Applies the activation to the series a (length n + 1) of one neuron.
void activationSeries(Activation act, const Ld *a, Ld *u, Ld *aux1, Ld *aux2,
                      Ld *aux3, int n) {
  switch (act) {
  case Activation::Identity:
    for (int k = 0; k <= n; ++k)
      u[k] = a[k];
    return;
  case Activation::Tanh:
    tanhSeries(a, u, aux1, n);
    return;
  case Activation::Sigmoid:
    sigmoidSeries(a, u, aux1, n);
    return;
  case Activation::Sin: {
    Ld *c = aux1;
    u[0] = sinl(a[0]);
    c[0] = cosl(a[0]);
    for (int k = 1; k <= n; ++k) {
      u[k] = odeCoefficient(a, c, k);
      c[k] = -odeCoefficient(a, u, k);
    }
    return;
  }
  case Activation::Exp:
    u[0] = expl(a[0]);
    for (int k = 1; k <= n; ++k)
      u[k] = odeCoefficient(a, u, k);
    return;
  case Activation::Softplus: {
    // log(1 + e^a) = max(a, 0) + log1p(e^-|a|) never overflows.
    u[0] = (a[0] > 0 ? a[0] : 0) + log1pl(expl(-fabsl(a[0])));
    sigmoidSeries(a, aux1, aux2, n);
    for (int k = 1; k <= n; ++k)
      u[k] = odeCoefficient(a, aux1, k);
    return;
  }
  case Activation::Cos: {
    Ld *sn = aux1;
    u[0] = cosl(a[0]);
    sn[0] = sinl(a[0]);
    for (int k = 1; k <= n; ++k) {
      u[k] = -odeCoefficient(a, sn, k);
      sn[k] = odeCoefficient(a, u, k);
    }
    return;
  }
  case Activation::Silu:
    sigmoidSeries(a, aux1, aux2, n);
    for (int k = 0; k <= n; ++k)
      u[k] = productCoefficient(a, aux1, k);
    return;
  case Activation::Gelu: {
    Ld *cdf = aux1, *pdf = aux2, *g = aux3;
    // Phi(a0) by erfc: no cancellation for negative a0.
    cdf[0] = erfcl(-a[0] / sqrtl(2.0L)) / 2;
    g[0] = -a[0] * a[0] / 2;
    pdf[0] = expl(g[0]) / sqrtl(2 * 3.141592653589793238462643383279503L);
    for (int k = 1; k <= n; ++k) {
      g[k] = -squareCoefficient(a, k) / 2;
      pdf[k] = odeCoefficient(g, pdf, k); // phi = c exp(g): phi' = g' phi
      cdf[k] = odeCoefficient(a, pdf, k); // Phi' = phi a'
    }
    for (int k = 0; k <= n; ++k)
      u[k] = productCoefficient(a, cdf, k);
    return;
  }
  case Activation::GeluTanh: {
    Ld *z = aux3;
    std::vector<Ld> sq(n + 1);
    for (int k = 0; k <= n; ++k)
      sq[k] = squareCoefficient(a, k);
    for (int k = 0; k <= n; ++k)
      z[k] = kSqrt2OverPi *
             (a[k] + kGeluCubic * productCoefficient(sq.data(), a, k));
    tanhSeries(z, aux1, aux2, n);
    for (int k = 0; k <= n; ++k)
      u[k] = (a[k] + productCoefficient(a, aux1, k)) / 2;
    return;
  }
  }
}

/// Adjoint of activationSeries: adds to abar the pullback of ubar. ubar is
/// used as scratch and left modified.
void activationSeriesAdjoint(Activation act, const Ld *a, const Ld *u,
                             const Ld *aux1, const Ld *aux2, const Ld *aux3,
                             Ld *ubar, Ld *abar, int n) {
  std::vector<Ld> bar1(n + 1, 0), bar2(n + 1, 0), bar3(n + 1, 0);
  switch (act) {
  case Activation::Identity:
    for (int k = 0; k <= n; ++k)
      abar[k] += ubar[k];
    return;
  case Activation::Tanh:
    tanhSeriesAdjoint(a, u, aux1, ubar, bar1.data(), abar, n);
    return;
  case Activation::Sigmoid:
    sigmoidSeriesAdjoint(a, u, aux1, ubar, bar1.data(), abar, n);
    return;
  case Activation::Sin: {
    const Ld *c = aux1;
    Ld *cbar = bar1.data();
    for (int k = n; k >= 1; --k) {
      // Forward step k computed u_k and c_k from coefficients < k only.
      odeCoefficientAdjoint(a, c, k, ubar[k], abar, cbar);
      odeCoefficientAdjoint(a, u, k, -cbar[k], abar, ubar);
    }
    abar[0] += c[0] * ubar[0] - u[0] * cbar[0];
    return;
  }
  case Activation::Exp:
    for (int k = n; k >= 1; --k)
      odeCoefficientAdjoint(a, u, k, ubar[k], abar, ubar);
    abar[0] += u[0] * ubar[0];
    return;
  case Activation::Softplus: {
    // u depends on s, s does not depend on u: undo u first, then s.
    Ld *sbar = bar1.data(), *wbar = bar2.data();
    for (int k = n; k >= 1; --k)
      odeCoefficientAdjoint(a, aux1, k, ubar[k], abar, sbar);
    abar[0] += aux1[0] * ubar[0]; // softplus' = sigmoid
    sigmoidSeriesAdjoint(a, aux1, aux2, sbar, wbar, abar, n);
    return;
  }
  case Activation::Cos: {
    const Ld *sn = aux1;
    Ld *snbar = bar1.data();
    for (int k = n; k >= 1; --k) {
      odeCoefficientAdjoint(a, u, k, snbar[k], abar, ubar);
      odeCoefficientAdjoint(a, sn, k, -ubar[k], abar, snbar);
    }
    abar[0] += -sn[0] * ubar[0] + u[0] * snbar[0];
    return;
  }
  case Activation::Silu: {
    Ld *sbar = bar1.data(), *wbar = bar2.data();
    productAdjoint(a, aux1, ubar, 1, abar, sbar, n);
    sigmoidSeriesAdjoint(a, aux1, aux2, sbar, wbar, abar, n);
    return;
  }
  case Activation::Gelu: {
    const Ld *cdf = aux1, *pdf = aux2, *g = aux3;
    Ld *cdfbar = bar1.data(), *pdfbar = bar2.data(), *gbar = bar3.data();
    productAdjoint(a, cdf, ubar, 1, abar, cdfbar, n);
    for (int k = n; k >= 1; --k) {
      odeCoefficientAdjoint(a, pdf, k, cdfbar[k], abar, pdfbar);
      odeCoefficientAdjoint(g, pdf, k, pdfbar[k], gbar, pdfbar);
    }
    // g_k = -sum_i a_i a_{k-i} / 2 for k >= 1 (g_0 enters through phi_0).
    for (int k = 1; k <= n; ++k)
      for (int m = 0; m <= k; ++m)
        abar[m] -= gbar[k] * a[k - m];
    // Phi_0' = phi_0, phi_0' = -a_0 phi_0.
    abar[0] += pdf[0] * cdfbar[0] - a[0] * pdf[0] * pdfbar[0];
    return;
  }
  case Activation::GeluTanh: {
    const Ld *t = aux1, *w = aux2, *z = aux3;
    Ld *tbar = bar1.data(), *wbar = bar2.data(), *zbar = bar3.data();
    for (int k = 0; k <= n; ++k)
      abar[k] += ubar[k] / 2;
    productAdjoint(a, t, ubar, 0.5L, abar, tbar, n);
    tanhSeriesAdjoint(z, t, w, tbar, wbar, zbar, n);
    // z = c (a + alpha a^3): dz_k / da_m = c (delta_km + 3 alpha (a^2)_{k-m}).
    std::vector<Ld> sq(n + 1);
    for (int k = 0; k <= n; ++k)
      sq[k] = squareCoefficient(a, k);
    for (int k = 0; k <= n; ++k) {
      abar[k] += kSqrt2OverPi * zbar[k];
      for (int m = 0; m <= k; ++m)
        abar[m] += 3 * kSqrt2OverPi * kGeluCubic * zbar[k] * sq[k - m];
    }
    return;
  }
  }
}

} // namespace ntp_ref::detail
