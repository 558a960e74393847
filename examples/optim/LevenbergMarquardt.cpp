//===- LevenbergMarquardt.cpp - Levenberg-Marquardt, M < P form -----------===//
//
//===----------------------------------------------------------------------===//
#include "optim/LevenbergMarquardt.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace optim {

LmResult levenbergMarquardt(Vec &z, long maxIterations, const LmOptions &o,
                            const LmHooks &hooks) {
  LmResult result;
  Vec r, J, rt, a, y, zt(z.size()), d(z.size(), 1.0);
  double f = hooks.residuals(z, r, &J), mu = -1, nu = 2;
  const size_t P = z.size();
  for (long it = 0; it < maxIterations && !(hooks.stop && hooks.stop()); ++it) {
    const size_t M = r.size();
    // Marquardt's scaling, i.e. LM on J D^-1.
    if (o.scale > 0) {
      Vec norm2(P, 0.0);
      for (size_t i = 0; i < M; ++i)
        for (size_t c = 0; c < P; ++c)
          norm2[c] += J[i * P + c] * J[i * P + c];
      double mean = 0;
      for (size_t c = 0; c + 1 < P; ++c)
        mean += norm2[c] / (P - 1);
      for (size_t c = o.scale == 1 ? P - 1 : 0; c < P; ++c)
        d[c] = std::sqrt(std::max(norm2[c], 1e-12 * mean) / mean);
      for (size_t i = 0; i < M; ++i)
        for (size_t c = 0; c < P; ++c)
          J[i * P + c] /= d[c];
    }
    Vec gram = gramRows(J, M, P, o.threads);
    if (mu < 0) {
      for (size_t i = 0; i < M; ++i)
        mu = std::max(mu, 1e-6 * gram[i * M + i]);
    }
    bool accepted = false;
    while (!accepted && mu < 1e30) {
      a = gram, y = r;
      for (size_t i = 0; i < M; ++i)
        a[i * M + i] += mu;
      if (!choleskySolve(a, y, M)) {
        mu *= nu, nu *= 2;
        continue;
      }
      // delta = -D^-1 J^T y; the model's residual r + J delta is mu y.
      Vec delta(P, 0.0);
      for (size_t i = 0; i < M; ++i)
        for (size_t c = 0; c < P; ++c)
          delta[c] -= y[i] * J[i * P + c];
      for (size_t c = 0; c < P; ++c)
        zt[c] = z[c] + delta[c] / d[c];
      // Predicted decrease |r|^2 - |r - v|^2, v = J J^T y = -J delta
      // (not f - mu^2 |y|^2: that cancels once mu is large).
      double pred = 0;
      for (size_t i = 0; i < M; ++i) {
        double v = dot(&gram[i * M], y.data(), M);
        pred += (2 * r[i] - v) * v;
      }
      double ft = hooks.residuals(zt, rt, nullptr), rho = (f - ft) / pred;
      if (rho > 0 && ft < f) {
        accepted = true;
        z = zt;
        mu *= std::max(1.0 / 3, 1 - std::pow(2 * rho - 1, 3));
        nu = 2;
      } else {
        mu *= nu, nu *= 2;
      }
    }
    if (!accepted) {
      std::printf("lm: no decrease at step %ld, loss %.6e\n",
                  o.stepBase + result.steps, f);
      result.stalled = true;
      break;
    }
    f = hooks.residuals(z, r, &J);
    ++result.steps;
    if (hooks.after)
      hooks.after(z);
  }
  result.f = f;
  return result;
}

} // namespace optim
