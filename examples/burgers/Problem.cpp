//===- Problem.cpp - The self-similar Burgers PINN loss on ntp kernels ----===//
//
//===----------------------------------------------------------------------===//
#include "Problem.h"
#include "ExactProfile.h"

#include <algorithm>
#include <cstdio>
#include <random>
#include <stdexcept>
#include <vector>

namespace burgers {

using optim::dot;
using optim::forEachStride;

Vec linspace(double a, double b, int n) {
  Vec v(n);
  for (int i = 0; i < n; ++i)
    v[i] = a + (b - a) * i / (n - 1);
  return v;
}

Vec symmetricLinspace(double a, int n) {
  Vec v = linspace(-a, a, n);
  for (int i = 0; i < n / 2; ++i)
    v[n - 1 - i] = -v[i];
  if (n % 2)
    v[n / 2] = 0;
  return v;
}

Points::Points(int order, Vec points, bool odd)
    : x(std::move(points)), order(order), odd(odd) {
  n = static_cast<int64_t>(x.size());
  out.resize((order + 1) * n);
  cot.resize(out.size());
}

ntp::MlpSpec Architecture::spec(int order) const {
  ntp::MlpSpec spec;
  spec.layers.push_back(1);
  spec.layers.insert(spec.layers.end(), hidden.begin(), hidden.end());
  spec.layers.push_back(1);
  spec.activation = activation;
  spec.order = order;
  spec.dtype = ntp::Dtype::F64;
  // Left empty when unused, so the default network is the plain spec's
  // kernel, as before the typed layers.
  if (slopes != "none")
    spec.slopes.assign(hidden.size(), slopes);
  if (residual) {
    spec.residual.assign(hidden.size(), true);
    spec.residual[0] = false; // the first hidden layer's input is X
  }
  spec.gated = gated;
  return spec;
}

std::string Architecture::check() const {
  if (hidden.empty())
    return "the network needs at least one hidden layer";
  for (int64_t h : hidden)
    if (h < 1 || h > 4096)
      return "hidden widths must be in 1..4096";
  if (slopes != "none" && slopes != "layer" && slopes != "neuron")
    return "--slopes must be none, layer or neuron";
  size_t names = std::count(activation.begin(), activation.end(), ',') + 1;
  if (names != 1 && names != hidden.size())
    return "--activation needs one name or one per hidden layer (" +
           std::to_string(hidden.size()) + ")";
  if (residual && gated)
    return "a gated network cannot also be residual";
  if (residual && hidden.size() < 2)
    return "--residual needs at least two hidden layers";
  if (residual || gated)
    for (int64_t h : hidden)
      if (h != hidden[0])
        return std::string(gated ? "--gated" : "--residual") +
               " needs equal hidden widths";
  return "";
}

std::string Architecture::describe() const {
  std::string d = "1";
  for (int64_t h : hidden)
    d += "-" + std::to_string(h);
  d += "-1 " + activation;
  if (slopes != "none")
    d += ", " + slopes + " slopes";
  if (residual)
    d += ", residual";
  if (gated)
    d += ", gated";
  return d;
}

Batch::Batch(int order, Vec points, bool odd, const Architecture &arch)
    : Points(order, std::move(points), odd),
      kernel(ntp::compile(arch.spec(order))) {
  workspace.resize(kernel.workspaceBytes(n));
}

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

Problem::Problem(int k, bool odd, const double *weights,
                 const Architecture &arch, double nearRadius, int nearPoints)
    : k(k), highOrder(2 * k + 3), arch(arch), lo(1.0 / (2 * k + 3)),
      hi(1.0 / (2 * k + 1)),
      grid(2, odd ? symmetricLinspace(2, 301) : linspace(-2, 2, 301), odd,
           arch),
      near(2 * k + 4,
           odd ? symmetricLinspace(nearRadius, nearPoints)
               : linspace(-nearRadius, nearRadius, nearPoints),
           odd, arch) {
  std::copy(weights, weights + 4, w);
  numParams = grid.kernel.info().num_params;
}

double Problem::smoothness(const Vec &z, int m) {
  // The window's own kernel where its order suffices (its jets are scratch:
  // eval and residuals recompute them), else one of order m + 1.
  Batch *bt = &near;
  if (m + 1 > near.order) {
    if (!probe || probe->order != m + 1)
      probe = std::make_unique<Batch>(m + 1, near.x, near.odd, arch);
    bt = probe.get();
  }
  double lam = lambda(z[numParams]);
  bt->kernel.forward(bt->x, Vec{1.0}, Vec(z.begin(), z.end() - 1), bt->out);
  Vec u(m + 2);
  double sum = 0;
  for (int64_t b = 0; b < bt->n; ++b) {
    for (int i = 0; i <= m + 1; ++i)
      u[i] = bt->u(i, b);
    double r = residual(m, u.data(), bt->x[b], lam, 0, nullptr, nullptr);
    sum += r * r;
  }
  return sum / bt->n;
}

double Problem::sOf(double lambda) const {
  return std::atanh(2 * (lambda - lo) / (hi - lo) - 1);
}

Vec Problem::initialPoint(unsigned seed) const {
  Vec z(numParams + 1, 0.0);
  std::mt19937_64 rng(seed);
  size_t at = 0;
  // One nn.Linear(in, out): W [out, in] and b [out], both U(+-1/sqrt(in)),
  // drawn in that order (the plain network's draws are as before).
  auto linear = [&](int64_t in, int64_t out) {
    std::uniform_real_distribution<double> dist(-1 / std::sqrt(double(in)),
                                                1 / std::sqrt(double(in)));
    for (int64_t i = 0; i < out * (in + 1); ++i)
      z[at++] = dist(rng);
  };
  if (arch.gated) { // the U and V encoders read X (width 1)
    linear(1, arch.hidden[0]);
    linear(1, arch.hidden[0]);
  }
  int64_t in = 1;
  for (int64_t h : arch.hidden) {
    linear(in, h);
    // Slopes start at 1: each layer is then the plain layer.
    int64_t slopes = arch.slopes == "neuron" ? h : arch.slopes == "layer";
    for (int64_t i = 0; i < slopes; ++i)
      z[at++] = 1;
    in = h;
  }
  linear(in, 1);
  if (at != size_t(numParams))
    throw std::runtime_error("the kernel has " + std::to_string(numParams) +
                             " parameters, the initialisation " +
                             std::to_string(at));
  z.back() = 0; // s = 0: lambda mid-range
  return z;
}

double Problem::eval(const Vec &z, Vec &g) {
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

double Problem::residuals(const Vec &z, Vec &r, Vec *J) {
  const double *theta = z.data();
  double s = z[numParams], lam = lambda(s), th = std::tanh(s);
  double dlds = (hi - lo) / 2 * (1 - th * th);
  r.clear();
  if (J)
    J->clear();
  // The Jacobian's rows, computed after the residuals.
  struct RowTask {
    Batch *batch;
    double xs[2];
    int nb;
    Vec cot;
    double dl;
  };
  std::vector<RowTask> tasks;
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
    RowTask task{&bt, {x, -x}, bt.odd ? 2 : 1, {}, dl};
    task.cot.assign((bt.order + 1) * task.nb, 0.0);
    for (int i = 0; i <= bt.order; ++i) {
      double sign = i % 2 ? -1 : 1;
      if (bt.odd)
        task.cot[2 * i] = kScale / 2 * du[i],
                     task.cot[2 * i + 1] = -sign * kScale / 2 * du[i];
      else
        task.cot[i] = kScale * du[i];
    }
    tasks.push_back(std::move(task));
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
  if (J) {
    // Row i of J: one backward at its point with its cotangent.
    size_t cols = size_t(numParams) + 1;
    J->assign(tasks.size() * cols, 0.0);
    auto rows = [&](size_t first, size_t step) {
      for (size_t i = first; i < tasks.size(); i += step) {
        const RowTask &t = tasks[i];
        double *row = &(*J)[i * cols];
        t.batch->kernel.backward(t.xs, &one, theta, t.cot.data(), row, t.nb);
        row[numParams] = fixLambda ? 0 : t.dl * dlds;
      }
    };
    forEachStride(threads, tasks.size(), rows);
  }
  return dot(r, r);
}

namespace {
/// The parameter blocks of `arch` (name, first index, size), in the kernel's
/// parameter order (README "Typed layers").
struct Block {
  std::string name;
  size_t at, size;
};
std::vector<Block> blocks(const Architecture &arch) {
  std::vector<Block> out;
  size_t at = 0;
  auto add = [&](std::string name, int64_t size) {
    out.push_back({std::move(name), at, size_t(size)});
    at += size_t(size);
  };
  int64_t h0 = arch.hidden[0];
  if (arch.gated) {
    add("W_u", h0), add("b_u", h0), add("W_v", h0), add("b_v", h0);
  }
  int64_t in = 1;
  for (size_t l = 0; l < arch.hidden.size(); ++l) {
    int64_t h = arch.hidden[l];
    std::string n = std::to_string(l + 1);
    add("W_" + n, h * in), add("b_" + n, h);
    if (arch.slopes != "none")
      add("a_" + n, arch.slopes == "neuron" ? h : 1);
    in = h;
  }
  add("W_out", in), add("b_out", 1);
  return out;
}
} // namespace

double Problem::checkGradient(const Vec &z, double loss, const Vec &g) {
  // Relative to |g|_inf as well: with the odd ansatz the output bias
  // cancels (its gradient is rounding noise).
  double worst = 0, gMax = 0;
  for (double v : g)
    gMax = std::max(gMax, std::fabs(v));
  // A few fixed coordinates (as before the typed layers), then the first
  // and last entry of every parameter block (gates, slopes, ...) and s.
  std::vector<size_t> which = {0, 30, 700, z.size() - 2, z.size() - 1};
  for (const Block &b : blocks(arch)) {
    std::printf("block %s at %zu (%zu)\n", b.name.c_str(), b.at, b.size);
    which.push_back(b.at);
    which.push_back(b.at + b.size - 1);
  }
  std::sort(which.begin(), which.end());
  which.erase(std::unique(which.begin(), which.end()), which.end());
  for (size_t i : which) {
    if (i >= z.size())
      continue;
    Vec zp = z, zm = z, scratch;
    double h = 1e-6;
    zp[i] += h, zm[i] -= h;
    double fd = (eval(zp, scratch) - eval(zm, scratch)) / (2 * h);
    double rel = std::fabs(fd - g[i]) / std::max(1e-8 * gMax, std::fabs(fd));
    std::printf("grad[%zu] %.10e  fd %.10e  rel %.2e\n", i, g[i], fd, rel);
    worst = std::max(worst, rel);
  }
  // The least-squares form: |r|^2 = loss and 2 J^T r = g.
  Vec r, J;
  double f = residuals(z, r, &J), jtrErr = 0;
  for (size_t c = 0; c < z.size(); ++c) {
    double jtr = 0;
    for (size_t i = 0; i < r.size(); ++i)
      jtr += 2 * J[i * z.size() + c] * r[i];
    jtrErr = std::max(jtrErr, std::fabs(jtr - g[c]) / gMax);
  }
  std::printf("|r|^2 %.12e  loss %.12e  max|2 J^T r - g| / |g| %.2e\n", f, loss,
              jtrErr);
  return std::max({worst, std::fabs(f - loss) / loss, jtrErr});
}

} // namespace burgers
