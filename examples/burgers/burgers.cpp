//===- burgers.cpp - Self-similar Burgers profiles with ntp kernels -------===//
//
// Trains U_theta (1-24-24-24-1 tanh, f64, output x 1.15) and lambda for the
// k-th smooth self-similar Burgers profile (paper, Section IV-C, Appendix A):
//   R = -lambda U + ((1 + lambda) X + U) U' = 0 on [-2, 2],
//   loss = (U(-2) - 1)^2 + (U(2) + 1)^2 + 0.3 MSE(R) + 0.3 MSE(R')
//          + 0.2 MSE(R^(2k+3) on [-0.075, 0.075]).
// Every derivative of U and every parameter gradient comes from ntp kernels
// (jets + generated backward); R's derivatives follow from U's jets by the
// Leibniz rule here. Adam, then L-BFGS with a strong Wolfe line search.
//
//===----------------------------------------------------------------------===//
#include "ntp/JIT/Jit.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <random>
#include <string>
#include <sys/stat.h>
#include <vector>

namespace {

using Vec = std::vector<double>;
constexpr double kScale = 1.15; // the network's output scale

struct Options {
  int k = 0;
  long adamSteps = 15000, lbfgsSteps = 200000; // stops early on stalls
  std::string out = "burgers-out";
  unsigned seed = 0;
  int threads = 1;
  double checkLambda = 0; // > 0: exit 1 unless |lambda - exact| <= this
  int printEvery = 500;
  bool gradCheck = false;
  int history = 30;          // L-BFGS curvature pairs
  long restartEvery = 1000;  // > 0: drop the L-BFGS history every N steps
  double sScale = 1;         // L-BFGS H0 weight of s; 0: (2/(hi-lo))^2
  double sScaleBelow = 1e-6; // ... used once the loss is below this
  int polishCycles = 0;      // Adam(polishLr) + L-BFGS rounds after a stall
  long polishSteps = 5000;
  double polishLr = 1e-6;
  int odd = -1; // U(X) = 1.15 (N(X) - N(-X)) / 2; -1: odd unless k = 1
  double adamLr = 1.5e-4, adamLrEnd = 0; // decay from adamLr to adamLrEnd
  std::string adamDecay = "none";        // none, cosine, exp
  // Loss weights: boundary, MSE(R), MSE(R'), MSE(R^(2k+3)); lbfgsWHigh > 0
  // replaces the last one from the L-BFGS phase on.
  double w[4] = {1, 0.3, 0.3, 0.2};
  double lbfgsWHigh = 0;
  // The high-order weight rises over the first highRamp Adam steps from
  // highRampFrom times it, geometrically (0: linearly from 0); -1: 12000 for
  // k >= 3, else none.
  long highRamp = -1;
  double highRampFrom = 1e-10;
  long lmSteps = -1;       // Levenberg-Marquardt iterations; -1: lbfgs/10
  double fixLambda = 0;    // > 0: lambda held at this value (diagnostics)
  int adamHoldLambda = -1; // lambda held at its start in Adam; -1: k >= 2
  int lmScale = 0;         // LM damping scaled by column norms: 1 s, 2 all
  double maxSeconds = 540; // > 0: stop training after this many seconds
};

double binom(int n, int r) {
  double c = 1;
  for (int i = 1; i <= r; ++i)
    c = c * (n - r + i) / i;
  return c;
}

// The ODE residual's m-th derivative at one point from U's jet u[0..m+1]:
// R^(m) = -lambda U^(m) + sum_j C(m,j) A^(j) U^(m-j+1), A = (1+lambda)X + U.
// With g != 0 also adds g dR^(m)/dU^(i) to du[i] and g dR^(m)/dlambda to *dl.
double residual(int m, const double *u, double x, double lambda, double g,
                double *du, double *dl) {
  auto a = [&](int j) {
    return j == 0 ? (1 + lambda) * x + u[0]
                  : (j == 1 ? 1 + lambda + u[1] : u[j]);
  };
  double r = -lambda * u[m];
  for (int j = 0; j <= m; ++j)
    r += binom(m, j) * a(j) * u[m - j + 1];
  if (g != 0) {
    du[m] -= g * lambda;
    for (int j = 0; j <= m; ++j) {
      double c = g * binom(m, j);
      du[j] += c * u[m - j + 1]; // through A^(j)
      du[m - j + 1] += c * a(j); // through U^(m-j+1)
    }
    // A^(0) and A^(1) depend on lambda: x and 1 (times C(m,1) = m).
    *dl += g * (-u[m] + x * u[m + 1] + m * u[m]);
  }
  return r;
}

// A set of points with the network's jets N^(0..order) there (`out`, as
// the kernel writes them) and their cotangents. With `odd`, U(X) = kScale
// (N(X) - N(-X)) / 2, so U^(i)(X) = kScale/2 (N^(i)(X) - (-1)^i N^(i)(-X)).
// The point sets are symmetric (x[n-1-b] = -x[b] exactly), so one kernel
// call on them gives N's jets at both X and -X.
struct Points {
  Vec x, out, cot;
  int order = 0;
  int64_t n = 0;
  bool odd = false;

  Points(int order, Vec points, bool odd)
      : x(std::move(points)), order(order), odd(odd) {
    n = static_cast<int64_t>(x.size());
    out.resize((order + 1) * n);
    cot.resize(out.size());
  }
  // U^(i) at point b from the network's jet.
  double u(int i, int64_t b) const {
    if (!odd)
      return kScale * out[i * n + b];
    double sign = i % 2 ? -1 : 1; // (-1)^i
    return kScale / 2 * (out[i * n + b] - sign * out[i * n + n - 1 - b]);
  }
  // Adds c * dU^(i)(x_b) / dN-jet to the kernel's output cotangent.
  void addCot(int i, int64_t b, double c) {
    if (!odd) {
      cot[i * n + b] += kScale * c;
      return;
    }
    double sign = i % 2 ? -1 : 1;
    cot[i * n + b] += kScale / 2 * c;
    cot[i * n + n - 1 - b] -= sign * kScale / 2 * c;
  }
};

// Points with their kernel (jets up to `order`) and saved workspace.
struct Batch : Points {
  ntp::Kernel kernel;
  std::vector<char> workspace;

  Batch(int order, Vec points, bool odd)
      : Points(order, std::move(points), odd),
        kernel(ntp::compile(
            {{1, 24, 24, 24, 1}, "tanh", order, ntp::Dtype::F64})) {
    workspace.resize(kernel.workspaceBytes(n));
  }
};

Vec linspace(double a, double b, int n) {
  Vec v(n);
  for (int i = 0; i < n; ++i)
    v[i] = a + (b - a) * i / (n - 1);
  return v;
}

// linspace(-a, a, n) with x[n-1-i] = -x[i] to the bit (the odd ansatz reads
// N(-X) from the mirrored point).
Vec symmetricLinspace(double a, int n) {
  Vec v = linspace(-a, a, n);
  for (int i = 0; i < n / 2; ++i)
    v[n - 1 - i] = -v[i];
  if (n % 2)
    v[n / 2] = 0;
  return v;
}

double dot(const double *a, const double *b, size_t n) {
  double s[4] = {0, 0, 0, 0}; // four sums: the loop pipelines
  size_t i = 0;
  for (; i + 4 <= n; i += 4)
    for (int j = 0; j < 4; ++j)
      s[j] += a[i + j] * b[i + j];
  for (; i < n; ++i)
    s[0] += a[i] * b[i];
  return (s[0] + s[1]) + (s[2] + s[3]);
}
double dot(const Vec &a, const Vec &b) {
  return dot(a.data(), b.data(), a.size());
}

struct Problem {
  int k, highOrder;
  double lo, hi;
  double w[4]; // loss weights: boundary, MSE(R), MSE(R'), MSE(R^(2k+3))
  int64_t numParams;
  Batch grid, near;
  const double one = 1.0;
  Vec grad;               // scratch for the second batch's parameter gradient
  bool fixLambda = false; // diagnostics: lambda held (s's gradient 0)
  // Loss terms of the last evaluation: boundary, R, R', high order.
  double terms[4] = {0, 0, 0, 0};

  Problem(int k, bool odd, const double *weights)
      : k(k), highOrder(2 * k + 3), lo(1.0 / (2 * k + 3)),
        hi(1.0 / (2 * k + 1)),
        grid(2, odd ? symmetricLinspace(2, 301) : linspace(-2, 2, 301), odd),
        near(2 * k + 4,
             odd ? symmetricLinspace(0.075, 31) : linspace(-0.075, 0.075, 31),
             odd) {
    std::copy(weights, weights + 4, w);
    numParams = grid.kernel.info().num_params;
  }

  double lambda(double s) const {
    return lo + (hi - lo) * (std::tanh(s) + 1) / 2;
  }

  // Loss and gradient at z = (theta, s); one forward + backward per batch.
  double eval(const Vec &z, Vec &g) {
    const double *theta = z.data();
    double s = z[numParams], lam = lambda(s), dl = 0;
    g.assign(z.size(), 0);
    grad.resize(numParams);
    Batch *batches[] = {&grid, &near};
    for (Batch *bt : batches) {
      bt->kernel.forwardSave(bt->x.data(), &one, theta, bt->out.data(),
                             bt->workspace.data(), bt->n);
      std::fill(bt->cot.begin(), bt->cot.end(), 0.0);
    }
    double u[2 * 3 + 4 + 8], du[2 * 3 + 4 + 8];
    auto jet = [&](const Points &bt, int64_t b) {
      for (int i = 0; i <= bt.order; ++i) {
        u[i] = bt.u(i, b);
        du[i] = 0;
      }
    };
    auto scatter = [&](Batch &bt, int64_t b) {
      for (int i = 0; i <= bt.order; ++i)
        bt.addCot(i, b, du[i]);
    };
    std::fill(std::begin(terms), std::end(terms), 0.0);
    // Boundary: U(-2) = 1, U(2) = -1 (the first and last points).
    int64_t last = grid.n - 1;
    double e0 = grid.u(0, 0) - 1, e1 = grid.u(0, last) + 1;
    terms[0] = w[0] * (e0 * e0 + e1 * e1);
    grid.addCot(0, 0, w[0] * 2 * e0);
    grid.addCot(0, last, w[0] * 2 * e1);
    // 0.3 MSE(R) + 0.3 MSE(R') on the 301 points.
    for (int64_t b = 0; b < grid.n; ++b) {
      jet(grid, b);
      for (int m = 0; m <= 1; ++m) {
        double r = residual(m, u, grid.x[b], lam, 0, nullptr, nullptr);
        double wm = w[1 + m] / grid.n;
        terms[1 + m] += wm * r * r;
        residual(m, u, grid.x[b], lam, 2 * wm * r, du, &dl);
      }
      scatter(grid, b);
    }
    // 0.2 MSE(R^(2k+3)) near the origin: the smoothness that selects lambda.
    for (int64_t b = 0; b < near.n; ++b) {
      jet(near, b);
      double r = residual(highOrder, u, near.x[b], lam, 0, nullptr, nullptr);
      double wh = w[3] / near.n;
      terms[3] += wh * r * r;
      residual(highOrder, u, near.x[b], lam, 2 * wh * r, du, &dl);
      scatter(near, b);
    }
    for (Batch *bt : batches) {
      bt->kernel.backwardSaved(bt->x.data(), &one, theta, bt->cot.data(),
                               grad.data(), static_cast<double *>(nullptr),
                               bt->workspace.data(), bt->n);
      for (int64_t i = 0; i < numParams; ++i)
        g[i] += grad[i];
    }
    double th = std::tanh(s);
    g[numParams] = fixLambda ? 0 : dl * (hi - lo) / 2 * (1 - th * th);
    return terms[0] + terms[1] + terms[2] + terms[3];
  }

  // The loss as a sum of squares, |r|^2 (for Levenberg-Marquardt), and with
  // J its Jacobian dr/dz (row-major, r.size() x z.size()): each row is one
  // kernel backward on the residual's point (and its mirror with the odd
  // ansatz) with the cotangent dr/dU^(i). With the odd ansatz R is odd and
  // R', R^(2k+3) even, so the residuals at -X repeat those at X: only
  // X <= 0 is kept, with weight 2 (the origin 1), and one boundary residual.
  double residuals(const Vec &z, Vec &r, Vec *J) {
    const double *theta = z.data();
    double s = z[numParams], lam = lambda(s), th = std::tanh(s);
    double dlds = (hi - lo) / 2 * (1 - th * th);
    r.clear();
    if (J)
      J->clear();
    Vec row(numParams), xs(2), cot;
    double u[2 * 5 + 4 + 2], du[2 * 5 + 4 + 2];
    // Appends the residual c * R^(m) (m < 0: c * (U - target)) at point b.
    auto add = [&](Batch &bt, int64_t b, int m, double c, double target) {
      for (int i = 0; i <= bt.order; ++i)
        u[i] = bt.u(i, b), du[i] = 0;
      double dl = 0, x = bt.x[b];
      if (m < 0) {
        r.push_back(c * (u[0] - target));
        du[0] = c;
      } else {
        r.push_back(c * residual(m, u, x, lam, 0, nullptr, nullptr));
        residual(m, u, x, lam, c, du, &dl);
      }
      if (!J)
        return;
      int nb = bt.odd ? 2 : 1;
      xs[0] = x, xs[1] = -x;
      cot.assign((bt.order + 1) * nb, 0.0);
      for (int i = 0; i <= bt.order; ++i) {
        double sign = i % 2 ? -1 : 1;
        if (bt.odd)
          cot[2 * i] = kScale / 2 * du[i],
                  cot[2 * i + 1] = -sign * kScale / 2 * du[i];
        else
          cot[i] = kScale * du[i];
      }
      bt.kernel.backward(xs.data(), &one, theta, cot.data(), row.data(), nb);
      J->insert(J->end(), row.begin(), row.end());
      J->push_back(fixLambda ? 0 : dl * dlds);
    };
    Batch *batches[] = {&grid, &near};
    for (Batch *bt : batches)
      bt->kernel.forwardSave(bt->x.data(), &one, theta, bt->out.data(),
                             bt->workspace.data(), bt->n);
    if (grid.odd) {
      add(grid, 0, -1, std::sqrt(2 * w[0]), 1);
    } else {
      add(grid, 0, -1, std::sqrt(w[0]), 1);
      add(grid, grid.n - 1, -1, std::sqrt(w[0]), -1);
    }
    for (Batch *bt : batches) {
      bool isGrid = bt == &grid;
      for (int64_t b = 0; b < bt->n; ++b) {
        double mult = 1;
        if (bt->odd && 2 * b > bt->n - 1)
          break;
        if (bt->odd && 2 * b < bt->n - 1)
          mult = 2;
        if (isGrid)
          for (int m = 0; m <= 1; ++m)
            add(grid, b, m, std::sqrt(mult * w[1 + m] / grid.n), 0);
        else
          add(near, b, highOrder, std::sqrt(mult * w[3] / near.n), 0);
      }
    }
    return dot(r, r);
  }
};

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

struct Point {
  double t, f, gtd;
  Vec g;
  double terms[4];
};

// Strong Wolfe line search along d from z (PyTorch's _strong_wolfe: c1 1e-4,
// c2 0.9, 25 evaluations). Returns the accepted point; z is not moved.
template <class F>
Point strongWolfe(F &&phi, double t, const Vec &d, double f, const Vec &g,
                  double gtd) {
  const double c1 = 1e-4, c2 = 0.9, tolChange = 1e-9;
  const int maxLs = 25;
  double dNorm = 0;
  for (double v : d)
    dNorm = std::max(dNorm, std::fabs(v));
  Point prev{0, f, gtd, g, {}}, cur = phi(t);
  Point br[2];
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
    br[0] = Point{0, f, gtd, g, {}}, br[1] = cur;
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

// The exact profile for lambda = 1/(2k+2): X = -U - U^p, p = 2k+3. Newton
// (safeguarded by bisection) for U, then the Taylor series of the inverse
// function by fixed-point reversion gives U^(0..n).
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

// G = J J^T for the row-major M x P matrix J, four rows of J per pass over
// the others (J is several MB: this reads it a quarter as often).
Vec gramRows(const Vec &j, size_t m, size_t p) {
  Vec g(m * m);
  for (size_t i0 = 0; i0 < m; i0 += 4) {
    size_t n = std::min<size_t>(4, m - i0);
    for (size_t r = 0; r < i0 + n; ++r) {
      const double *b = &j[r * p];
      double s[4] = {0, 0, 0, 0};
      for (size_t c = 0; c < p; ++c)
        for (size_t i = 0; i < n; ++i)
          s[i] += j[(i0 + i) * p + c] * b[c];
      for (size_t i = 0; i < n; ++i)
        g[(i0 + i) * m + r] = g[r * m + i0 + i] = s[i];
    }
  }
  return g;
}

// In-place Cholesky factor (lower) of the n x n row-major A; false unless
// positive definite. Then solves A x = b in b.
bool choleskySolve(Vec &a, Vec &b, size_t n) {
  for (size_t j = 0; j < n; ++j) {
    double d = a[j * n + j] - dot(&a[j * n], &a[j * n], j);
    if (!(d > 0))
      return false;
    d = a[j * n + j] = std::sqrt(d);
    for (size_t i = j + 1; i < n; ++i)
      a[i * n + j] = (a[i * n + j] - dot(&a[i * n], &a[j * n], j)) / d;
  }
  for (size_t i = 0; i < n; ++i) // L y = b
    b[i] = (b[i] - dot(&a[i * n], b.data(), i)) / a[i * n + i];
  for (size_t i = n; i-- > 0;) { // L^T x = y
    double t = b[i];
    for (size_t j = i + 1; j < n; ++j)
      t -= a[j * n + i] * b[j];
    b[i] = t / a[i * n + i];
  }
  return true;
}

bool parse(int argc, char **argv, Options &o) {
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : nullptr;
    auto take = [&]() { return ++i, v; };
    if (!v && a != "--help")
      return false;
    if (a == "--k")
      o.k = std::atoi(take());
    else if (a == "--adam-steps")
      o.adamSteps = std::atol(take());
    else if (a == "--lbfgs-steps")
      o.lbfgsSteps = std::atol(take());
    else if (a == "--out")
      o.out = take();
    else if (a == "--seed")
      o.seed = static_cast<unsigned>(std::atol(take()));
    else if (a == "--threads")
      o.threads = std::atoi(take());
    else if (a == "--check-lambda")
      o.checkLambda = std::atof(take());
    else if (a == "--grad-check")
      o.gradCheck = std::atoi(take()) != 0;
    else if (a == "--history")
      o.history = std::max(1, std::atoi(take()));
    else if (a == "--restart-every")
      o.restartEvery = std::atol(take());
    else if (a == "--s-scale")
      o.sScale = std::atof(take());
    else if (a == "--polish-cycles")
      o.polishCycles = std::atoi(take());
    else if (a == "--polish-steps")
      o.polishSteps = std::atol(take());
    else if (a == "--polish-lr")
      o.polishLr = std::atof(take());
    else if (a == "--s-scale-below")
      o.sScaleBelow = std::atof(take());
    else if (a == "--odd")
      o.odd = std::atoi(take());
    else if (a == "--adam-lr")
      o.adamLr = std::atof(take());
    else if (a == "--adam-lr-end")
      o.adamLrEnd = std::atof(take());
    else if (a == "--adam-decay")
      o.adamDecay = take();
    else if (a == "--w-bc")
      o.w[0] = std::atof(take());
    else if (a == "--w-r")
      o.w[1] = std::atof(take());
    else if (a == "--w-dr")
      o.w[2] = std::atof(take());
    else if (a == "--w-high")
      o.w[3] = std::atof(take());
    else if (a == "--high-ramp")
      o.highRamp = std::atol(take());
    else if (a == "--high-ramp-from")
      o.highRampFrom = std::atof(take());
    else if (a == "--lm-steps")
      o.lmSteps = std::atol(take());
    else if (a == "--lm-scale")
      o.lmScale = std::atoi(take());
    else if (a == "--adam-hold-lambda")
      o.adamHoldLambda = std::atoi(take());
    else if (a == "--fix-lambda")
      o.fixLambda = std::atof(take());
    else if (a == "--max-seconds")
      o.maxSeconds = std::atof(take());
    else if (a == "--lbfgs-w-high")
      o.lbfgsWHigh = std::atof(take());
    else if (a == "--print-every")
      o.printEvery = std::max(1, std::atoi(take()));
    else
      return false;
  }
  // The defaults per k, as measured (README): the odd ansatz except for
  // k = 1, lambda held during Adam for k >= 2, the high-order ramp for k >= 3.
  if (o.odd < 0)
    o.odd = o.k != 1;
  if (o.adamHoldLambda < 0)
    o.adamHoldLambda = o.k >= 2;
  if (o.highRamp < 0)
    o.highRamp = o.k >= 3 ? 12000 : 0;
  if (o.lmSteps < 0)
    o.lmSteps = o.lbfgsSteps / 10;
  return o.k >= 0 && o.k <= 5 &&
         (o.adamDecay == "none" || o.adamDecay == "cosine" ||
          o.adamDecay == "exp");
}

} // namespace

int main(int argc, char **argv) {
  Options o;
  if (!parse(argc, argv, o)) {
    std::fprintf(
        stderr,
        "usage: %s [--k 0..5] [--adam-steps N] [--lbfgs-steps N] "
        "[--out DIR] [--seed S] [--threads T] [--check-lambda TOL] "
        "[--print-every N] [--history M] [--restart-every N] "
        "[--s-scale W] [--s-scale-below L] [--polish-cycles C] "
        "[--polish-steps N] [--polish-lr LR] [--odd 0|1] "
        "[--adam-lr LR] [--adam-decay none|cosine|exp] "
        "[--adam-lr-end LR] [--w-bc W] [--w-r W] [--w-dr W] "
        "[--w-high W] [--lbfgs-w-high W] [--high-ramp N] "
        "[--high-ramp-from F] [--lm-steps N] [--lm-scale 0|1|2] "
        "[--max-seconds S] [--fix-lambda L] [--adam-hold-lambda 0|1]\n",
        argv[0]);
    return 2;
  }
  using Clock = std::chrono::steady_clock;
  auto start = Clock::now();
  auto seconds = [&] {
    return std::chrono::duration<double>(Clock::now() - start).count();
  };
  auto timeUp = [&] { return o.maxSeconds > 0 && seconds() > o.maxSeconds; };
  try {
    ntp::setNumThreads(o.threads);
    mkdir(o.out.c_str(), 0755);
    Problem pb(o.k, o.odd != 0, o.w);
    double exactLambda = 1.0 / (2 * o.k + 2);
    double compileSeconds = seconds();

    // torch.nn.Linear's default init: U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
    Vec z(pb.numParams + 1, 0.0);
    std::mt19937_64 rng(o.seed);
    const int widths[] = {1, 24, 24, 24, 1};
    size_t at = 0;
    for (int l = 0; l < 4; ++l) {
      std::uniform_real_distribution<double> dist(
          -1 / std::sqrt(double(widths[l])), 1 / std::sqrt(double(widths[l])));
      for (int i = 0; i < widths[l + 1] * (widths[l] + 1); ++i)
        z[at++] = dist(rng);
    }
    z.back() = 0;          // s = 0: lambda mid-range
    if (o.fixLambda > 0) { // diagnostics: train the network at this lambda
      z.back() = std::atanh(2 * (o.fixLambda - pb.lo) / (pb.hi - pb.lo) - 1);
      pb.fixLambda = true;
    }

    std::string csvPath = o.out + "/history.csv";
    FILE *csv = std::fopen(csvPath.c_str(), "w");
    if (!csv) {
      std::fprintf(stderr, "cannot write %s\n", csvPath.c_str());
      return 1;
    }
    std::fprintf(csv, "step,phase,loss,lambda,boundary,mse_r,mse_dr,"
                      "high_order,seconds\n");
    long total = o.adamSteps + o.lbfgsSteps, step = 0;
    double phaseStart = seconds();
    long phaseStep = 0;
    auto log = [&](const char *phase, double loss) {
      double lam = pb.lambda(z.back()), now = seconds();
      std::fprintf(csv, "%ld,%s,%.17g,%.17g,%.6e,%.6e,%.6e,%.6e,%.3f\n", step,
                   phase, loss, lam, pb.terms[0], pb.terms[1], pb.terms[2],
                   pb.terms[3], now);
      if (step % o.printEvery == 0 || step == total) {
        double rate = (step - phaseStep) / std::max(now - phaseStart, 1e-9);
        std::printf("%-5s step %6ld/%ld  loss %.4e  lambda %.10f  "
                    "|err| %.2e  %.0f steps/s  ETA %.0f s\n",
                    phase, step, total, loss, lam, std::fabs(lam - exactLambda),
                    rate, (total - step) / std::max(rate, 1e-9));
        std::fflush(stdout);
      }
    };

    Vec g(z.size());
    double loss = pb.eval(z, g), firstLoss = loss;
    if (o.gradCheck) { // central differences on a few coordinates and s
      // Relative to |g|_inf as well: with --odd the output bias cancels
      // (its gradient is rounding noise).
      double worst = 0, gMax = 0;
      for (double v : g)
        gMax = std::max(gMax, std::fabs(v));
      for (size_t i :
           {size_t(0), size_t(30), size_t(700), z.size() - 2, z.size() - 1}) {
        Vec zp = z, zm = z, scratch;
        double h = 1e-6;
        zp[i] += h, zm[i] -= h;
        double fd = (pb.eval(zp, scratch) - pb.eval(zm, scratch)) / (2 * h);
        double rel =
            std::fabs(fd - g[i]) / std::max(1e-8 * gMax, std::fabs(fd));
        std::printf("grad[%zu] %.10e  fd %.10e  rel %.2e\n", i, g[i], fd, rel);
        worst = std::max(worst, rel);
      }
      // The least-squares form: |r|^2 = loss and 2 J^T r = g.
      Vec r, J;
      double f = pb.residuals(z, r, &J), jtrErr = 0;
      for (size_t c = 0; c < z.size(); ++c) {
        double jtr = 0;
        for (size_t i = 0; i < r.size(); ++i)
          jtr += 2 * J[i * z.size() + c] * r[i];
        jtrErr = std::max(jtrErr, std::fabs(jtr - g[c]) / gMax);
      }
      std::printf("|r|^2 %.12e  loss %.12e  max|2 J^T r - g| / |g| %.2e\n", f,
                  loss, jtrErr);
      worst = std::max({worst, std::fabs(f - loss) / loss, jtrErr});
      return worst < 1e-5 ? 0 : 1;
    }
    log("init", loss);

    // Adam (torch defaults but lr), fresh moments per call. The main phase's
    // lr may decay from adamLr to adamLrEnd (cosine or geometric), and its
    // high-order weight may ramp up: at initialisation the order-(2k+3) term
    // dwarfs the others (9e5 for k = 3), and Adam then flattens the network
    // towards U = 0 (R = 0, boundary loss 2) before it fits the boundary.
    auto runAdam = [&](long steps, double lr0, const char *phase,
                       const std::string &decay, long ramp) {
      phaseStart = seconds(), phaseStep = step;
      const double b1 = 0.9, b2 = 0.999, eps = 1e-8;
      Vec m(z.size(), 0.0), v(z.size(), 0.0);
      if (ramp > 0) {
        pb.w[3] = 0;
        loss = pb.eval(z, g);
      }
      for (long t = 1; t <= steps && !timeUp(); ++t) {
        if (ramp > 0) {
          double r = std::min(1.0, double(t) / ramp);
          pb.w[3] = o.w[3] *
                    (o.highRampFrom > 0 ? std::pow(o.highRampFrom, 1 - r) : r);
        }
        double frac = double(t - 1) / steps, lr = lr0;
        if (decay == "cosine")
          lr = o.adamLrEnd +
               (lr0 - o.adamLrEnd) * (1 + std::cos(M_PI * frac)) / 2;
        else if (decay == "exp" && o.adamLrEnd > 0)
          lr = lr0 * std::pow(o.adamLrEnd / lr0, frac);
        for (size_t i = 0; i < z.size(); ++i) {
          m[i] = b1 * m[i] + (1 - b1) * g[i];
          v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i];
          double mh = m[i] / (1 - std::pow(b1, t)),
                 vh = v[i] / (1 - std::pow(b2, t));
          z[i] -= lr * mh / (std::sqrt(vh) + eps);
        }
        loss = pb.eval(z, g);
        ++step;
        log(phase, loss);
      }
    };
    // Holding lambda while Adam fits the profile: an unfinished fit is
    // easier at larger lambda (flatter high-order terms), and Adam drags
    // lambda there before the high-order term can select it.
    pb.fixLambda = o.fixLambda > 0 || o.adamHoldLambda;
    loss = pb.eval(z, g);
    runAdam(o.adamSteps, o.adamLr, "adam", o.adamDecay, o.highRamp);
    pb.fixLambda = o.fixLambda > 0;
    // The high-order weight of the L-BFGS phases (after a ramp it may not
    // have reached o.w[3]).
    double wHigh = o.lbfgsWHigh > 0 ? o.lbfgsWHigh : o.w[3];
    if (pb.w[3] != wHigh) {
      pb.w[3] = wHigh;
      loss = pb.eval(z, g);
    }

    // L-BFGS (history 30) with a strong Wolfe line search; one step is one
    // iteration (direction + line search), as in torch with max_iter=1.
    long evals = 0, lbfgsDone = 0;
    bool stalled = false;
    auto runLbfgs = [&](long maxIt) {
      phaseStart = seconds(), phaseStep = step;
      stalled = false;
      const size_t history = o.history;
      // Diagonal of H0 (times gamma): 1 for the weights, sw for s. dlambda/ds
      // is at most (hi - lo)/2 (1/15 for k = 1, 1/63 for k = 3), so s's
      // curvature is far below the weights' and a scalar H0 crawls along it.
      // sw = (2/(hi - lo))^2 is the H0 of L-BFGS in lambda-like units.
      // Far from the minimum this sends s to tanh's saturation (lambda at a
      // bound) before the network follows, so it is switched on (and the
      // history dropped) only once the loss is below sScaleBelow.
      double swOn = o.sScale > 0 ? o.sScale : std::pow(2 / (pb.hi - pb.lo), 2);
      double sw = 1;
      const size_t sIdx = z.size() - 1;
      std::deque<Vec> S, Y;
      std::deque<double> rho;
      Vec d(z.size()), zt(z.size()), alpha(history);
      int stalls = 0;
      for (long it = 0; it < maxIt && !timeUp(); ++it) {
        if (o.restartEvery > 0 && it > 0 && it % o.restartEvery == 0)
          S.clear(), Y.clear(), rho.clear();
        if (sw != swOn && loss < o.sScaleBelow) {
          sw = swOn;
          S.clear(), Y.clear(), rho.clear();
          std::printf("lbfgs: s weight %g from step %ld\n", sw, step);
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
          double yDy = dot(yb, yb) + (sw - 1) * yb[sIdx] * yb[sIdx];
          gamma = 1 / (rho.back() * yDy);
        }
        for (double &x : d)
          x *= gamma;
        d[sIdx] *= sw;
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
          Point p{tt, 0, 0, Vec(), {}};
          p.f = pb.eval(zt, p.g);
          std::copy(pb.terms, pb.terms + 4, p.terms);
          p.gtd = dot(p.g, d);
          ++evals;
          return p;
        };
        Point p = strongWolfe(phi, t, d, loss, g, gtd);
        // Once f's differences sink into its rounding noise (measured: ~1e-15
        // at loss 7e-4 for k = 2, the order-8 jets are large; Hessian
        // eigenvalues ~1e12 put the best step's decrease below it), neither
        // the strong Wolfe search nor Armijo backtracking can accept a step
        // even along -g. Then use Hager-Zhang's approximate Wolfe test, which
        // relies on the slope: 0.9 g.d <= g(t).d <= -0.8 g.d and
        // f(t) <= f + 1e-10 |f|, found by bisection in log t.
        bool approx = false;
        if (!(p.f < loss)) {
          double epsF = 1e-10 * std::fabs(loss), tl = 0, th = 0;
          double tt = t;
          for (int bt = 0; bt < 60; ++bt) {
            Point q = phi(tt);
            bool fOk = q.f <= loss + epsF;
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
        if (!approx &&
            !(p.f < loss)) { // no progress: forget the curvature, retry
          std::printf("lbfgs: line search failed at step %ld: loss %.6e, "
                      "t %.3e, g.d %.3e, |d| %.3e, f(t) - f %.3e, %zu pairs\n",
                      step, loss, p.t, gtd, std::sqrt(dot(d, d)), p.f - loss,
                      S.size());
          if (stalls == 0 && std::getenv("BURGERS_DEBUG"))
            for (double h : {1e-2, 1e-4, 1e-6, 1e-8}) {
              double fp = phi(h).f, fm = phi(-h).f;
              std::printf("  h %.0e: f(h)-f %.3e f(-h)-f %.3e fd %.4e vs "
                          "g.d %.4e\n",
                          h, fp - loss, fm - loss, (fp - fm) / (2 * h), gtd);
            }
          S.clear(), Y.clear(), rho.clear();
          if (++stalls >= 3) {
            std::printf("lbfgs: no progress in 3 restarts, stopping at "
                        "step %ld\n",
                        step);
            stalled = true;
            break;
          }
          continue;
        }
        stalls = 0;
        Vec s(z.size()), y(z.size());
        for (size_t i = 0; i < z.size(); ++i) {
          s[i] = p.t * d[i];
          y[i] = p.g[i] - g[i];
          z[i] += s[i];
        }
        // Keep the pair when its curvature is positive relative to |y|^2;
        // torch's absolute ys > 1e-10 starves the history once the loss is
        // ~1e-6 and L-BFGS degrades to steepest descent.
        double ys = dot(y, s);
        if (ys > 1e-12 * dot(y, y)) {
          if (S.size() == history)
            S.pop_front(), Y.pop_front(), rho.pop_front();
          S.push_back(std::move(s)), Y.push_back(std::move(y));
          rho.push_back(1 / ys);
        }
        g = std::move(p.g);
        loss = p.f;
        std::copy(p.terms, p.terms + 4, pb.terms); // for the log
        ++step, ++lbfgsDone;
        log("lbfgs", loss);
      }
    };
    // L-BFGS until it stalls (f's differences in the rounding noise), then
    // up to polishCycles times: Adam with a small lr (no line search, so
    // noise-tolerant) and L-BFGS again with a fresh history, until the
    // L-BFGS iteration budget is spent.
    runLbfgs(o.lbfgsSteps);
    for (int c = 0; c < o.polishCycles && stalled && lbfgsDone < o.lbfgsSteps;
         ++c) {
      runAdam(o.polishSteps, o.polishLr, "adam2", "none", 0);
      runLbfgs(o.lbfgsSteps - lbfgsDone);
    }

    // Levenberg-Marquardt on loss = |r|^2: the loss is a near-zero-residual
    // least-squares problem, and L-BFGS stalls where f's differences reach
    // the rounding of R (~1e-16 per point, so f's noise is ~1e-22 at loss
    // 1e-13), while a Gauss-Newton step needs no line search on f. With
    // fewer residuals (M) than parameters, the step is -J^T (J J^T + mu I)^-1
    // r (Nielsen's mu update).
    long lmDone = 0;
    if (o.lmSteps > 0) {
      phaseStart = seconds(), phaseStep = step;
      Vec r, J, rt, a, y, zt(z.size()), d(z.size(), 1.0);
      double f = pb.residuals(z, r, &J), mu = -1, nu = 2;
      const size_t P = z.size();
      for (long it = 0; it < o.lmSteps && !timeUp(); ++it) {
        const size_t M = r.size();
        // Marquardt's scaling: damp mu |D delta|^2 with D = the columns'
        // norms relative to their mean (--lm-scale 1: s only, 2: all), i.e.
        // LM on J D^-1. s's column is small (dlambda/ds <= (hi - lo)/2).
        if (o.lmScale > 0) {
          Vec norm2(P, 0.0);
          for (size_t i = 0; i < M; ++i)
            for (size_t c = 0; c < P; ++c)
              norm2[c] += J[i * P + c] * J[i * P + c];
          double mean = 0;
          for (size_t c = 0; c + 1 < P; ++c)
            mean += norm2[c] / (P - 1);
          for (size_t c = o.lmScale == 1 ? P - 1 : 0; c < P; ++c)
            d[c] = std::sqrt(std::max(norm2[c], 1e-12 * mean) / mean);
          for (size_t i = 0; i < M; ++i)
            for (size_t c = 0; c < P; ++c)
              J[i * P + c] /= d[c];
        }
        Vec gram = gramRows(J, M, P);
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
          double ft = pb.residuals(zt, rt, nullptr), rho = (f - ft) / pred;
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
          std::printf("lm: no decrease at step %ld, loss %.6e\n", step, f);
          break;
        }
        f = pb.residuals(z, r, &J);
        loss = pb.eval(z, g); // for the log's terms
        ++step, ++lmDone;
        log("lm", loss);
      }
    }
    std::fclose(csv);
    double wall = seconds();

    // Errors against the exact profile on a fine grid; the profile CSV holds
    // the network's and the exact jets for the plots.
    int n = pb.near.order;
    Points fine(n, o.odd ? symmetricLinspace(2, 2001) : linspace(-2, 2, 2001),
                o.odd);
    const Vec &xs = fine.x;
    pb.near.kernel.forward(xs, Vec{1.0}, Vec(z.begin(), z.end() - 1), fine.out);
    double errU = 0, errDU = 0;
    std::string profPath = o.out + "/profile.csv";
    FILE *prof = std::fopen(profPath.c_str(), "w");
    std::fprintf(prof, "x");
    for (int i = 0; i <= n; ++i)
      std::fprintf(prof, ",u%d", i);
    for (int i = 0; i <= n; ++i)
      std::fprintf(prof, ",exact%d", i);
    std::fprintf(prof, "\n");
    for (size_t b = 0; b < xs.size(); ++b) {
      Vec ex = exactJet(xs[b], o.k, n);
      double u0 = fine.u(0, b), u1 = fine.u(1, b);
      errU = std::max(errU, std::fabs(u0 - ex[0]));
      errDU = std::max(errDU, std::fabs(u1 - ex[1]));
      std::fprintf(prof, "%.17g", xs[b]);
      for (int i = 0; i <= n; ++i)
        std::fprintf(prof, ",%.17g", fine.u(i, b));
      for (int i = 0; i <= n; ++i)
        std::fprintf(prof, ",%.17g", ex[i]);
      std::fprintf(prof, "\n");
    }
    std::fclose(prof);

    double lam = pb.lambda(z.back()), lamErr = std::fabs(lam - exactLambda);
    double trainSeconds = wall - compileSeconds;
    char summary[1024];
    std::snprintf(
        summary, sizeof summary,
        "k %d\nseed %u\nodd %d\nadam_lr %g\nadam_decay %s\n"
        "adam_lr_end %g\nweights %g %g %g %g\nlbfgs_w_high %g\n"
        "high_ramp %ld\nhigh_ramp_from %g\nlm_steps_done %ld\nadam_hold_lambda "
        "%d\n"
        "adam_steps %ld\nlbfgs_steps_done %ld\n"
        "lbfgs_evaluations %ld\nloss_initial %.6e\nloss_final %.6e\n"
        "lambda %.15f\nlambda_exact %.15f\nlambda_error %.3e\n"
        "max_err_U %.3e\nmax_err_dU %.3e\ncompile_seconds %.2f\n"
        "train_seconds %.2f\nsteps_per_second %.1f\nwall_seconds %.2f\n",
        o.k, o.seed, int(o.odd), o.adamLr, o.adamDecay.c_str(), o.adamLrEnd,
        o.w[0], o.w[1], o.w[2], o.w[3], o.lbfgsWHigh, o.highRamp,
        o.highRampFrom, lmDone, o.adamHoldLambda, o.adamSteps, lbfgsDone, evals,
        firstLoss, loss, lam, exactLambda, lamErr, errU, errDU, compileSeconds,
        trainSeconds, step / std::max(trainSeconds, 1e-9), wall);
    std::printf("%s", summary);
    std::string sumPath = o.out + "/summary.txt";
    if (FILE *f = std::fopen(sumPath.c_str(), "w")) {
      std::fputs(summary, f);
      std::fclose(f);
    }
    if (!(loss < firstLoss)) {
      std::printf("FAIL: loss did not decrease\n");
      return 1;
    }
    if (o.checkLambda > 0 && !(lamErr <= o.checkLambda)) {
      std::printf("FAIL: |lambda - %g| = %.3e > %g\n", exactLambda, lamErr,
                  o.checkLambda);
      return 1;
    }
    return 0;
  } catch (const std::exception &e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
