//===- Lbfgs.cpp - L-BFGS with PyTorch's strong Wolfe line search ---------===//
//
//===----------------------------------------------------------------------===//
#include "optim/Lbfgs.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <deque>

namespace optim {

namespace {

// Minimiser of the cubic through (x1, f1, g1), (x2, f2, g2), clamped to
// [lo, hi] (PyTorch's _cubic_interpolate).
double cubic(double x1, double f1, double g1, double x2, double f2, double g2,
             double lo, double hi) {
  double d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2);
  double d2sq = d1 * d1 - g1 * g2;
  if (d2sq < 0)
    return (lo + hi) / 2;
  double d2 = std::sqrt(d2sq), t;
  if (x1 <= x2)
    t = x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2));
  else
    t = x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2));
  return std::min(std::max(t, lo), hi);
}

} // namespace

LinePoint strongWolfe(const std::function<LinePoint(double)> &phi, double t,
                      const Vec &d, double f, const Vec &g, double gtd) {
  const double c1 = 1e-4, c2 = 0.9, tolChange = 1e-9;
  const int maxLs = 25;
  double dNorm = 0;
  for (double v : d)
    dNorm = std::max(dNorm, std::fabs(v));
  LinePoint prev{0, f, gtd, g, {}}, cur = phi(t);
  LinePoint br[2];
  int ls = 0;
  bool done = false, bracketed = false;
  while (ls < maxLs) {
    if (cur.f > f + c1 * t * gtd || (ls > 1 && cur.f >= prev.f)) {
      br[0] = prev, br[1] = cur, bracketed = true;
      break;
    }
    if (std::fabs(cur.gtd) <= -c2 * gtd) {
      br[0] = br[1] = cur, done = true;
      break;
    }
    if (cur.gtd >= 0) {
      br[0] = prev, br[1] = cur, bracketed = true;
      break;
    }
    double tNew = cubic(prev.t, prev.f, prev.gtd, t, cur.f, cur.gtd,
                        t + 0.01 * (t - prev.t), t * 10);
    prev = std::move(cur);
    t = tNew;
    cur = phi(t);
    ++ls;
  }
  if (!bracketed && !done)
    br[0] = LinePoint{0, f, gtd, g, {}}, br[1] = cur;
  if (done)
    return br[0];
  // Zoom.
  bool insufficient = false;
  int low = br[0].f <= br[1].f ? 0 : 1, high = 1 - low;
  while (ls < maxLs) {
    double bmin = std::min(br[0].t, br[1].t), bmax = std::max(br[0].t, br[1].t);
    if ((bmax - bmin) * dNorm < tolChange)
      break;
    t = cubic(br[0].t, br[0].f, br[0].gtd, br[1].t, br[1].f, br[1].gtd, bmin,
              bmax);
    double eps = 0.1 * (bmax - bmin);
    if (std::min(bmax - t, t - bmin) < eps) {
      if (insufficient || t >= bmax || t <= bmin) {
        t = std::fabs(t - bmax) < std::fabs(t - bmin) ? bmax - eps : bmin + eps;
        insufficient = false;
      } else {
        insufficient = true;
      }
    } else {
      insufficient = false;
    }
    cur = phi(t);
    ++ls;
    if (cur.f > f + c1 * t * gtd || cur.f >= br[low].f) {
      br[high] = std::move(cur);
      low = br[0].f <= br[1].f ? 0 : 1, high = 1 - low;
    } else {
      if (std::fabs(cur.gtd) <= -c2 * gtd)
        done = true;
      else if (cur.gtd * (br[high].t - br[low].t) >= 0)
        br[high] = br[low];
      br[low] = std::move(cur);
    }
    if (done)
      break;
  }
  return br[low];
}

LbfgsResult lbfgs(Vec &z, double &f, Vec &g, long maxIterations,
                  const LbfgsOptions &o, const LbfgsHooks &hooks) {
  LbfgsResult result;
  const size_t history = o.history;
  const bool weighted = o.weightedIndex >= 0;
  const size_t wIdx = weighted ? size_t(o.weightedIndex) : 0;
  double w = 1;
  std::deque<Vec> S, Y;
  std::deque<double> rho;
  Vec d(z.size()), zt(z.size()), alpha(history);
  int failures = 0;
  auto step = [&] { return o.stepBase + result.steps; };
  for (long it = 0; it < maxIterations && !(hooks.stop && hooks.stop()); ++it) {
    if (o.restartEvery > 0 && it > 0 && it % o.restartEvery == 0)
      S.clear(), Y.clear(), rho.clear();
    if (weighted && w != o.weight && f < o.weightBelow) {
      w = o.weight;
      S.clear(), Y.clear(), rho.clear();
      std::printf("lbfgs: %s weight %g from step %ld\n", o.weightedName.c_str(),
                  w, step());
    }
    // Two-loop recursion: d = -H g.
    for (size_t i = 0; i < z.size(); ++i)
      d[i] = -g[i];
    for (size_t j = S.size(); j-- > 0;) {
      alpha[j] = rho[j] * dot(S[j], d);
      for (size_t i = 0; i < d.size(); ++i)
        d[i] -= alpha[j] * Y[j][i];
    }
    double gamma = 1;
    if (!S.empty()) {
      const Vec &yb = Y.back();
      double yDy = dot(yb, yb) + (w - 1) * yb[wIdx] * yb[wIdx];
      gamma = 1 / (rho.back() * yDy);
    }
    for (double &x : d)
      x *= gamma;
    d[wIdx] *= w;
    for (size_t j = 0; j < S.size(); ++j) {
      double beta = rho[j] * dot(Y[j], d);
      for (size_t i = 0; i < d.size(); ++i)
        d[i] += (alpha[j] - beta) * S[j][i];
    }
    double gtd = dot(g, d);
    if (!(gtd < 0)) { // not a descent direction: restart from -g
      S.clear(), Y.clear(), rho.clear();
      for (size_t i = 0; i < z.size(); ++i)
        d[i] = -g[i];
      gtd = dot(g, d);
    }
    double t = 1;
    if (S.empty()) { // first step: torch's min(1, 1/|g|_1)
      double l1 = 0;
      for (double x : g)
        l1 += std::fabs(x);
      t = std::min(1.0, 1 / l1);
    }
    auto phi = [&](double tt) {
      for (size_t i = 0; i < z.size(); ++i)
        zt[i] = z[i] + tt * d[i];
      LinePoint p{tt, 0, 0, Vec(), Vec()};
      p.f = hooks.eval(zt, p.g);
      if (hooks.save)
        p.aux = hooks.save();
      p.gtd = dot(p.g, d);
      ++result.evaluations;
      return p;
    };
    LinePoint p = strongWolfe(phi, t, d, f, g, gtd);
    // Once f's differences sink into its rounding noise, neither the strong
    // Wolfe search nor Armijo backtracking can accept a step even along -g.
    // Then use Hager-Zhang's approximate Wolfe test, which relies on the
    // slope: 0.9 g.d <= g(t).d <= -0.8 g.d and f(t) <= f + 1e-10 |f|, found
    // by bisection in log t.
    bool approx = false;
    if (!(p.f < f)) {
      double epsF = 1e-10 * std::fabs(f), tl = 0, th = 0;
      double tt = t;
      for (int bt = 0; bt < 60; ++bt) {
        LinePoint q = phi(tt);
        bool fOk = q.f <= f + epsF;
        if (fOk && q.gtd >= 0.9 * gtd && q.gtd <= -0.8 * gtd) {
          p = std::move(q), approx = true;
          break;
        }
        if (fOk && q.gtd < 0.9 * gtd)
          tl = tt; // still descending steeply: longer
        else
          th = tt; // overshot (slope up or f up): shorter
        tt = th == 0 ? tt * 10 : (tl == 0 ? tt * 0.1 : std::sqrt(tl * th));
      }
    }
    if (!approx && !(p.f < f)) { // no progress: forget the curvature, retry
      std::printf("lbfgs: line search failed at step %ld: loss %.6e, "
                  "t %.3e, g.d %.3e, |d| %.3e, f(t) - f %.3e, %zu pairs\n",
                  step(), f, p.t, gtd, std::sqrt(dot(d, d)), p.f - f, S.size());
      if (failures == 0 && o.probeOnFailure)
        for (double h : {1e-2, 1e-4, 1e-6, 1e-8}) {
          double fp = phi(h).f, fm = phi(-h).f;
          std::printf("  h %.0e: f(h)-f %.3e f(-h)-f %.3e fd %.4e vs "
                      "g.d %.4e\n",
                      h, fp - f, fm - f, (fp - fm) / (2 * h), gtd);
        }
      S.clear(), Y.clear(), rho.clear();
      if (++failures >= o.maxFailures) {
        std::printf("lbfgs: no progress in %d restarts, stopping at "
                    "step %ld\n",
                    o.maxFailures, step());
        result.stalled = true;
        break;
      }
      continue;
    }
    failures = 0;
    Vec s(z.size()), y(z.size());
    for (size_t i = 0; i < z.size(); ++i) {
      s[i] = p.t * d[i];
      y[i] = p.g[i] - g[i];
      z[i] += s[i];
    }
    // Keep the pair when its curvature is positive relative to |y|^2.
    double ys = dot(y, s);
    if (ys > o.pairTolerance * dot(y, y)) {
      if (S.size() == history)
        S.pop_front(), Y.pop_front(), rho.pop_front();
      S.push_back(std::move(s)), Y.push_back(std::move(y));
      rho.push_back(1 / ys);
    }
    g = std::move(p.g);
    f = p.f;
    if (hooks.restore)
      hooks.restore(p.aux);
    ++result.steps;
    if (hooks.after)
      hooks.after(f);
  }
  return result;
}

} // namespace optim
