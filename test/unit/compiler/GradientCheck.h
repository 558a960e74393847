//===- GradientCheck.h - Gradient checks of the compiled kernels -*- C++
//-*-===//
//
// For the compiler's end-to-end tests of the reverse mode (BackwardTest,
// LayersTest, GatedTest, the GPU emulation tests): relative errors, central
// differences in long double, the directional and per-point checks against
// a reference loss, the training path (forward_save + backward_saved)
// against the recomputing backward, and f32 kernels against f64 ones.
//
//===----------------------------------------------------------------------===//
#ifndef NTP_TEST_UNIT_COMPILER_GRADIENTCHECK_H
#define NTP_TEST_UNIT_COMPILER_GRADIENTCHECK_H

#include "ntp/runtime.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <utility>
#include <vector>

namespace ntp::test {

using Ld = long double;

/// A random problem for a plain network's jet kernel: parameters (PyTorch
/// init), points, direction and cotangent, all exactly representable in the
/// kernel's dtype (f32 when `roundToFloat`).
struct JetProblem {
  std::vector<int> widths;
  int order;
  int64_t batch;
  std::vector<double> params, x, v, cotangent;

  JetProblem(std::vector<int> w, int order, int64_t batch, unsigned seed,
             bool roundToFloat)
      : widths(std::move(w)), order(order), batch(batch) {
    std::mt19937_64 rng(seed);
    auto round = [&](double d) { return roundToFloat ? double(float(d)) : d; };
    for (size_t l = 1; l < widths.size(); ++l) {
      double bound = 1 / std::sqrt(double(widths[l - 1]));
      std::uniform_real_distribution<double> u(-bound, bound);
      for (int i = 0; i < widths[l] * widths[l - 1] + widths[l]; ++i)
        params.push_back(round(u(rng)));
    }
    std::uniform_real_distribution<double> unit(-1, 1);
    for (int64_t i = 0; i < batch * widths.front(); ++i)
      x.push_back(round(2 * unit(rng)));
    for (int i = 0; i < widths.front(); ++i)
      v.push_back(round(unit(rng)));
    for (int64_t i = 0; i < (order + 1) * batch * widths.back(); ++i)
      cotangent.push_back(round(unit(rng)));
  }
};

/// `d` in long double (the reference's type).
inline std::vector<Ld> ld(const std::vector<double> &d) {
  return std::vector<Ld>(d.begin(), d.end());
}

/// max |a - b| / max |b| over the entries [begin, end) (max |a - b| when b
/// is zero there); a NaN in `a` is an infinite error.
template <class A, class B>
double relativeError(const std::vector<A> &a, const std::vector<B> &b,
                     size_t begin, size_t end) {
  Ld err = 0, scale = 0;
  for (size_t i = begin; i < end; ++i) {
    err =
        std::max(err, std::isnan(Ld(a[i])) ? std::numeric_limits<Ld>::infinity()
                                           : std::fabs(Ld(a[i]) - Ld(b[i])));
    scale = std::max(scale, std::fabs(Ld(b[i])));
  }
  return scale > 0 ? double(err / scale) : double(err);
}

/// relativeError over every entry of `a`.
template <class A, class B>
double relativeError(const std::vector<A> &a, const std::vector<B> &b) {
  return relativeError(a, b, 0, a.size());
}

/// d/dt f(t) at 0 by 4th-order central differences (Richardson): the
/// truncation error is O(h^4) and long double keeps the rounding error near
/// 1e-19 / h, so the check resolves relative errors far below 1e-8.
template <class F> Ld centralDifference(F f, Ld h) {
  return (8 * (f(h) - f(-h)) - (f(2 * h) - f(-2 * h))) / (12 * h);
}

/// The gradient of loss(x) by a central difference per point.
template <class Loss>
std::vector<Ld> pointGradientByDifferences(const std::vector<double> &x,
                                           Loss loss, Ld h = 2e-5L) {
  std::vector<Ld> gradient(x.size());
  for (size_t i = 0; i < x.size(); ++i)
    gradient[i] = centralDifference(
        [&](Ld t) {
          std::vector<Ld> moved = ld(x);
          moved[i] += t;
          return loss(moved);
        },
        h);
  return gradient;
}

/// `grad` (of loss(params) at `params`) along `trials` random normal
/// directions u (seeded 7): <grad, u> against a central difference of the
/// loss, relative to sum |grad_i u_i|, within `bound`.
template <class Loss>
void expectDirectionalDerivatives(const std::vector<double> &grad,
                                  const std::vector<double> &params, Loss loss,
                                  int trials, double bound = 1e-8) {
  const int64_t P = static_cast<int64_t>(params.size());
  std::mt19937_64 rng(7);
  std::normal_distribution<double> normal;
  for (int trial = 0; trial < trials; ++trial) {
    std::vector<Ld> u(P);
    Ld predicted = 0, norm = 0;
    for (int64_t i = 0; i < P; ++i) {
      u[i] = normal(rng);
      predicted += Ld(grad[i]) * u[i];
      norm += std::fabs(Ld(grad[i]) * u[i]);
    }
    Ld fd = centralDifference(
        [&](Ld t) {
          std::vector<Ld> moved = ld(params);
          for (int64_t i = 0; i < P; ++i)
            moved[i] += t * u[i];
          return loss(moved);
        },
        2e-5L);
    EXPECT_LE(double(std::fabs(fd - predicted) / std::max(norm, Ld(1e-30))),
              bound)
        << "<c, J u> = " << double(predicted) << ", central difference "
        << double(fd);
  }
}

/// The training path (forward_save, then backward_saved from the saved
/// jets) computes the forward's jet and, within 1e-14, the recomputing
/// backward's `grad` and `xGrad` (ntp_backward_full on the same problem).
inline void expectTrainingPathAgrees(
    ntp_kernel *kernel, const std::vector<double> &x,
    const std::vector<double> &v, const std::vector<double> &params,
    const std::vector<double> &cotangent, int64_t batch,
    const std::vector<double> &grad, const std::vector<double> &xGrad) {
  int64_t bytes = 0;
  ASSERT_EQ(ntp_workspace_size(kernel, batch, &bytes), NTP_OK);
  std::vector<double> workspace(bytes / sizeof(double));
  std::vector<double> out(cotangent.size()), out2(out.size()),
      grad2(grad.size()), xGrad2(x.size());
  ASSERT_EQ(ntp_forward_save(kernel, x.data(), v.data(), params.data(),
                             out.data(), workspace.data(), batch),
            NTP_OK);
  ASSERT_EQ(ntp_forward(kernel, x.data(), v.data(), params.data(), out2.data(),
                        batch),
            NTP_OK);
  EXPECT_EQ(out, out2) << "forward_save must compute the same jet";
  ASSERT_EQ(ntp_backward_saved(kernel, x.data(), v.data(), params.data(),
                               cotangent.data(), grad2.data(), xGrad2.data(),
                               workspace.data(), batch),
            NTP_OK);
  EXPECT_LE(relativeError(grad2, grad), 1e-14);
  EXPECT_LE(relativeError(xGrad2, xGrad), 1e-14);
}

/// The f32 kernel `k32` against the f64 kernel `k64` on the same problem
/// (f32-exact inputs): the jets and the parameter gradients within 1e-4.
inline void expectF32MatchesF64(ntp_kernel *k32, ntp_kernel *k64,
                                const std::vector<double> &x,
                                const std::vector<double> &v,
                                const std::vector<double> &params,
                                const std::vector<double> &cotangent,
                                int64_t batch) {
  std::vector<float> x32(x.begin(), x.end()), v32(v.begin(), v.end()),
      params32(params.begin(), params.end()),
      cot32(cotangent.begin(), cotangent.end());
  std::vector<double> out64(cotangent.size()), g64(params.size());
  std::vector<float> out32(out64.size()), g32(g64.size());
  ASSERT_EQ(
      ntp_forward(k64, x.data(), v.data(), params.data(), out64.data(), batch),
      NTP_OK);
  ASSERT_EQ(ntp_forward(k32, x32.data(), v32.data(), params32.data(),
                        out32.data(), batch),
            NTP_OK);
  EXPECT_LE(relativeError(out32, out64), 1e-4);
  ASSERT_EQ(ntp_backward(k64, x.data(), v.data(), params.data(),
                         cotangent.data(), g64.data(), batch),
            NTP_OK);
  ASSERT_EQ(ntp_backward(k32, x32.data(), v32.data(), params32.data(),
                         cot32.data(), g32.data(), batch),
            NTP_OK);
  EXPECT_LE(relativeError(g32, g64), 1e-4);
}

} // namespace ntp::test

#endif // NTP_TEST_UNIT_COMPILER_GRADIENTCHECK_H
