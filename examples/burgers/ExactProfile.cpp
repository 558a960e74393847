//===- ExactProfile.cpp - The exact self-similar Burgers profiles ---------===//
//
//===----------------------------------------------------------------------===//
#include "ExactProfile.h"

#include <algorithm>
#include <cmath>

namespace burgers {

using Vec = std::vector<double>;

double binom(int n, int r) {
  double c = 1;
  for (int i = 1; i <= r; ++i)
    c = c * (n - r + i) / i;
  return c;
}

// X = -U - U^p, p = 2k+3. Newton (safeguarded by bisection) for U, then the
// Taylor series of the inverse function by fixed-point reversion gives
// U^(0..n).
Vec exactJet(double x, int k, int n) {
  int p = 2 * k + 3;
  auto X = [&](double u) { return -u - std::pow(u, p); };
  double a = -2, b = 2, u = -x; // X is decreasing: U in [a, b]
  for (int it = 0; it < 200; ++it) {
    double f = X(u) - x, df = -1 - p * std::pow(u, p - 1);
    if (f > 0)
      a = u;
    else
      b = u;
    double next = u - f / df;
    if (!(next > a && next < b))
      next = (a + b) / 2;
    if (std::fabs(next - u) <= 1e-14 * std::max(1.0, std::fabs(u))) {
      u = next;
      break;
    }
    u = next;
  }
  // X(u + e) - x = sum_{i>=1} c_i e^i; solve for e(dx) as a series.
  Vec c(p + 1, 0.0);
  c[1] = -1 - p * std::pow(u, p - 1);
  for (int i = 2; i <= p; ++i)
    c[i] = -binom(p, i) * std::pow(u, p - i);
  Vec e(n + 1, 0.0);
  for (int it = 0; it <= n; ++it) {
    Vec next(n + 1, 0.0), pw = e; // pw = e^i, truncated at order n
    next[1] = 1;
    for (int i = 2; i <= p; ++i) {
      Vec q(n + 1, 0.0);
      for (int r = 0; r <= n; ++r)
        for (int s = 0; r + s <= n; ++s)
          q[r + s] += pw[r] * e[s];
      pw = q;
      for (int r = 0; r <= n; ++r)
        next[r] -= c[i] * pw[r];
    }
    for (double &v : next)
      v /= c[1];
    e = next;
  }
  Vec jet(n + 1);
  double fact = 1;
  jet[0] = u;
  for (int i = 1; i <= n; ++i)
    jet[i] = (fact *= i) * e[i];
  return jet;
}

} // namespace burgers
