//===- poisson.cpp - A 2-D Poisson PINN on ntp partials kernels -----------===//
//
// -lap u = f on the unit square, u = 0 on its boundary, with
// f = 2 pi^2 sin(pi x) sin(pi y), whose solution is u = sin(pi x) sin(pi y).
// The boundary condition is built in: u = B N with B = x(1-x) y(1-y) and N
// a tanh MLP, so
//
//   lap u = lap B N + 2 grad B . grad N + B lap N,
//
// and one partials kernel (issue 12) gives N, N_x, N_y and lap N at every
// collocation point in one fused call (ntp_partials_save); the parameter
// gradient of the mean squared residual comes from the compiler-generated
// reverse mode (ntp_partials_backward_saved) with the residual's cotangent
// on those four rows. Adam, then L-BFGS (examples/optim) until the relative
// L2 error against the exact solution on a 101 x 101 grid reaches --target
// or the time runs out. Writes progress lines, history.csv and plot.svg
// (the solution, the error, the convergence) into --out.
//
//===----------------------------------------------------------------------===//

#include "common/ExampleFlags.h"
#include "ntp/JIT/Jit.h"
#include "optim/Adam.h"
#include "optim/Lbfgs.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <sys/stat.h>
#include <vector>

namespace {

using optim::Vec;
constexpr double kPi = 3.14159265358979323846;

struct Options {
  std::vector<int64_t> hidden = {24, 24};
  int points = 40; // collocation points per side (interior grid)
  long adamSteps = 2000, lbfgsSteps = 20000;
  double lr = 3e-3;
  double target = 1e-4; // relative L2 error that ends the run
  double seconds = 600; // wall-clock budget, compile included
  long log = 250;       // progress line every N steps
  unsigned seed = 1;
  std::string out = "poisson-out";
  bool checkDecrease = false; // exit 1 unless the loss fell by 10x
};

void printUsage(std::FILE *stream, const char *argv0) {
  std::fprintf(stream,
               "usage: %s [--width N] [--depth N] [--points N] "
               "[--adam-steps N] [--lbfgs-steps N] [--lr X] [--target X] "
               "[--seconds X] [--log N] [--seed N] [--out DIR] "
               "[--check-decrease]\n",
               argv0);
}

bool parse(int argc, char **argv, Options &o) {
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto take = [&]() -> const char * {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "poisson: %s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    auto integer = [&](long lo = LONG_MIN, long hi = LONG_MAX) {
      return ntp::examples::integerFlag("ntp-poisson", a, take(), lo, hi);
    };
    auto real = [&] {
      return ntp::examples::realFlag("ntp-poisson", a, take());
    };
    if (a == "--width") {
      int64_t w = integer(1, 1 << 16);
      std::fill(o.hidden.begin(), o.hidden.end(), w);
    } else if (a == "--depth") {
      o.hidden.resize(static_cast<size_t>(integer(1, 64)),
                      o.hidden.empty() ? 24 : o.hidden[0]);
    } else if (a == "--points")
      o.points = static_cast<int>(integer(2, 1 << 14));
    else if (a == "--adam-steps")
      o.adamSteps = integer(0);
    else if (a == "--lbfgs-steps")
      o.lbfgsSteps = integer(0);
    else if (a == "--lr")
      o.lr = real();
    else if (a == "--target")
      o.target = real();
    else if (a == "--seconds")
      o.seconds = real();
    else if (a == "--log")
      o.log = std::max(1L, integer());
    else if (a == "--seed")
      o.seed = static_cast<unsigned>(integer(0, UINT_MAX));
    else if (a == "--out")
      o.out = take();
    else if (a == "--check-decrease")
      o.checkDecrease = true;
    else if (a == "--help" || a == "-h") {
      printUsage(stdout, argv[0]);
      std::exit(0);
    } else {
      printUsage(stderr, argv[0]);
      return false;
    }
  }
  if (o.hidden.empty() || o.hidden[0] < 1 || o.points < 2) {
    std::fprintf(stderr, "poisson: need --depth >= 1, --width >= 1 and "
                         "--points >= 2\n");
    return false;
  }
  return true;
}

double exact(double x, double y) {
  return std::sin(kPi * x) * std::sin(kPi * y);
}

/// A set of points with the boundary factor B and its derivatives.
struct Points {
  int64_t n = 0;
  Vec xy;                          // [n, 2]
  Vec b, bx, by, lapB, f;          // per point
  Vec out, cot;                    // [4, n, 1]: N, N_x, N_y, lap N
  std::vector<unsigned char> work; // the kernel's saved jets

  void add(double x, double y) {
    xy.push_back(x);
    xy.push_back(y);
    double px = x * (1 - x), py = y * (1 - y);
    b.push_back(px * py);
    bx.push_back((1 - 2 * x) * py);
    by.push_back(px * (1 - 2 * y));
    lapB.push_back(-2 * py - 2 * px);
    f.push_back(2 * kPi * kPi * exact(x, y));
    ++n;
  }
  void finish(const ntp::Kernel &k) {
    out.assign(4 * n, 0);
    cot.assign(4 * n, 0);
    work.resize(k.workspaceBytes(n));
  }
  double u(int64_t i) const { return b[i] * out[i]; }
};

class Problem {
public:
  Problem(const Options &o) : kernel(ntp::compile(spec(o), ntp::JitOptions())) {
    // Interior collocation grid (cell centres), and the error grid.
    for (int i = 0; i < o.points; ++i)
      for (int j = 0; j < o.points; ++j)
        train.add((i + 0.5) / o.points, (j + 0.5) / o.points);
    for (int i = 0; i <= 100; ++i)
      for (int j = 0; j <= 100; ++j)
        grid.add(i / 100.0, j / 100.0);
    train.finish(kernel);
    grid.finish(kernel);
    numParams = kernel.info().num_params;
  }

  static ntp::MlpSpec spec(const Options &o) {
    ntp::MlpSpec s;
    s.layers = {2};
    s.layers.insert(s.layers.end(), o.hidden.begin(), o.hidden.end());
    s.layers.push_back(1);
    s.activation = "tanh";
    s.dtype = ntp::Dtype::F64;
    // N, N_x, N_y, then the Laplacian of N.
    s.partials = {{0, 0}, {1, 0}, {0, 1}, {-2, -2}};
    return s;
  }

  /// PyTorch's default initialisation of nn.Linear.
  Vec initialParams(unsigned seed) const {
    std::mt19937_64 rng(seed);
    Vec z;
    std::vector<int32_t> widths = kernel.layers();
    for (size_t l = 1; l < widths.size(); ++l) {
      std::uniform_real_distribution<double> u(-1 / std::sqrt(widths[l - 1]),
                                               1 / std::sqrt(widths[l - 1]));
      for (int i = 0; i < widths[l] * (widths[l - 1] + 1); ++i)
        z.push_back(u(rng));
    }
    return z;
  }

  /// The mean squared residual of -lap u = f and its gradient.
  double loss(const Vec &z, Vec &g) {
    ++evaluations;
    const int64_t n = train.n;
    kernel.partialsSave(train.xy.data(), z.data(), train.out.data(),
                        train.work.data(),
                        static_cast<int64_t>(train.work.size()), n);
    const double *N = &train.out[0], *Nx = &train.out[n],
                 *Ny = &train.out[2 * n], *lapN = &train.out[3 * n];
    double sum = 0;
    for (int64_t i = 0; i < n; ++i) {
      double lapU = train.lapB[i] * N[i] +
                    2 * (train.bx[i] * Nx[i] + train.by[i] * Ny[i]) +
                    train.b[i] * lapN[i];
      double r = -lapU - train.f[i];
      sum += r * r;
      // d loss / d r = 2 r / n; d r / d(N, N_x, N_y, lap N).
      double c = 2 * r / n;
      train.cot[i] = -c * train.lapB[i];
      train.cot[n + i] = -2 * c * train.bx[i];
      train.cot[2 * n + i] = -2 * c * train.by[i];
      train.cot[3 * n + i] = -c * train.b[i];
    }
    g.resize(z.size());
    kernel.partialsBackwardSaved(train.xy.data(), z.data(), train.cot.data(),
                                 g.data(), static_cast<double *>(nullptr),
                                 train.work.data(),
                                 static_cast<int64_t>(train.work.size()), n);
    return sum / n;
  }

  /// ||u - u*|| / ||u*|| on the 101 x 101 grid (u = B N).
  double relativeError(const Vec &z) {
    kernel.partials(grid.xy, z, grid.out);
    double err = 0, norm = 0;
    for (int64_t i = 0; i < grid.n; ++i) {
      double want = exact(grid.xy[2 * i], grid.xy[2 * i + 1]);
      err += (grid.u(i) - want) * (grid.u(i) - want);
      norm += want * want;
    }
    return std::sqrt(err / norm);
  }

  ntp::Kernel kernel;
  Points train, grid;
  int64_t numParams = 0;
  long evaluations = 0;
};

/// A colour for t in [0, 1] (a blue-white-red ramp) as #rrggbb.
std::string colour(double t) {
  t = std::clamp(t, 0.0, 1.0);
  auto mix = [](double a, double b, double s) { return a + (b - a) * s; };
  double r, g, b;
  if (t < 0.5) {
    r = mix(40, 255, 2 * t);
    g = mix(80, 255, 2 * t);
    b = mix(200, 255, 2 * t);
  } else {
    r = mix(255, 200, 2 * t - 1);
    g = mix(255, 40, 2 * t - 1);
    b = mix(255, 40, 2 * t - 1);
  }
  char text[8];
  std::snprintf(text, sizeof text, "#%02x%02x%02x", int(r), int(g), int(b));
  return text;
}

struct Record {
  long step;
  double seconds, loss, error;
};

/// plot.svg: u on the grid, |u - u*| on the grid (its own scale), and the
/// loss and error against the step (log scale).
void writePlot(const std::string &path, const Points &grid,
               const std::vector<Record> &history) {
  FILE *svg = std::fopen(path.c_str(), "w");
  if (!svg) {
    std::fprintf(stderr, "poisson: cannot write %s\n", path.c_str());
    return;
  }
  const int cell = 6, side = 51 * cell, pad = 40;
  std::fprintf(svg,
               "<svg xmlns='http://www.w3.org/2000/svg' width='%d' "
               "height='%d' font-family='sans-serif' font-size='12'>\n"
               "<rect width='100%%' height='100%%' fill='white'/>\n",
               3 * side + 4 * pad, side + 2 * pad + 20);
  double maxErr = 0;
  for (int64_t i = 0; i < grid.n; ++i)
    maxErr = std::max(maxErr, std::fabs(grid.u(i) - exact(grid.xy[2 * i],
                                                          grid.xy[2 * i + 1])));
  for (int panel = 0; panel < 2; ++panel) {
    int x0 = pad + panel * (side + pad);
    std::fprintf(svg, "<text x='%d' y='%d'>%s</text>\n", x0, pad - 10,
                 panel == 0 ? "u = x(1-x)y(1-y) N(x, y)"
                            : "|u - sin(pi x) sin(pi y)|");
    // Every other grid point, in cells of two: a plot of 51 x 51 cells.
    for (int64_t i = 0; i < grid.n; ++i) {
      double x = grid.xy[2 * i], y = grid.xy[2 * i + 1];
      long ix = std::lround(x * 100), iy = std::lround(y * 100);
      if (ix % 2 || iy % 2)
        continue;
      double v = panel == 0 ? 0.5 + 0.5 * grid.u(i)
                            : 0.5 + 0.5 * std::fabs(grid.u(i) - exact(x, y)) /
                                        std::max(maxErr, 1e-300);
      std::fprintf(svg,
                   "<rect x='%ld' y='%ld' width='%d' height='%d' fill='%s'/>\n",
                   x0 + ix / 2 * cell, pad + (50 - iy / 2) * cell, cell, cell,
                   colour(v).c_str());
    }
    char scale[64];
    std::snprintf(scale, sizeof scale, "white 0, red %.2e", maxErr);
    std::fprintf(svg, "<text x='%d' y='%d'>%s</text>\n", x0, pad + side + 16,
                 panel == 0 ? "white 0, red 1" : scale);
  }
  // Convergence: log10 of the loss (blue) and the relative error (red).
  int x0 = pad + 2 * (side + pad);
  std::fprintf(svg,
               "<text x='%d' y='%d'>log10 loss (blue), log10 rel. L2 error "
               "(red) vs step</text>\n<rect x='%d' y='%d' width='%d' "
               "height='%d' fill='none' stroke='black'/>\n",
               x0, pad - 10, x0, pad, side, side);
  if (history.size() >= 2) {
    double lo = 1e300, hi = -1e300;
    for (const Record &r : history)
      for (double v : {r.loss, r.error})
        if (v > 0) {
          lo = std::min(lo, std::log10(v));
          hi = std::max(hi, std::log10(v));
        }
    lo = std::floor(lo);
    hi = std::ceil(hi);
    if (hi <= lo)
      hi = lo + 1;
    double last = double(std::max(1L, history.back().step));
    for (int which = 0; which < 2; ++which) {
      std::fprintf(svg, "<polyline fill='none' stroke='%s' points='",
                   which == 0 ? "blue" : "red");
      for (const Record &r : history) {
        double v = which == 0 ? r.loss : r.error;
        if (v <= 0)
          continue;
        std::fprintf(svg, "%.1f,%.1f ", x0 + side * r.step / last,
                     pad + side * (hi - std::log10(v)) / (hi - lo));
      }
      std::fprintf(svg, "'/>\n");
    }
    std::fprintf(svg,
                 "<text x='%d' y='%d'>%g</text><text x='%d' y='%d'>%g</text>"
                 "<text x='%d' y='%d'>step %ld</text>\n",
                 x0 + 4, pad + 14, hi, x0 + 4, pad + side - 4, lo,
                 x0 + side - 80, pad + side + 16, history.back().step);
  }
  std::fprintf(svg, "</svg>\n");
  std::fclose(svg);
}

} // namespace

int main(int argc, char **argv) {
  Options o;
  if (!parse(argc, argv, o))
    return 2;
  using Clock = std::chrono::steady_clock;
  auto start = Clock::now();
  auto elapsed = [&] {
    return std::chrono::duration<double>(Clock::now() - start).count();
  };
  mkdir(o.out.c_str(), 0755);
  try {
    Problem problem(o);
    std::printf("poisson: -lap u = 2 pi^2 sin(pi x) sin(pi y) on the unit "
                "square, u = x(1-x)y(1-y) N(x, y)\nkernel: %s\n(%lld "
                "parameters, %lld collocation points; compiled in %.1f s)\n",
                problem.kernel.description().c_str(),
                static_cast<long long>(problem.numParams),
                static_cast<long long>(problem.train.n), elapsed());
    Vec z = problem.initialParams(o.seed), g;
    std::vector<Record> history;
    long step = 0;
    double f = problem.loss(z, g), firstLoss = f, error = 1;
    bool done = false;
    auto report = [&](const char *phase) {
      error = problem.relativeError(z);
      history.push_back({step, elapsed(), f, error});
      std::printf("%-6s step %6ld  loss %.3e  rel L2 error %.3e  %6.1f s\n",
                  phase, step, f, error, elapsed());
      std::fflush(stdout);
      done = error <= o.target || elapsed() >= o.seconds;
    };
    report("start");

    optim::AdamOptions adam;
    adam.lr = o.lr;
    adam.decay = optim::Decay::Exp;
    adam.lrEnd = o.lr / 10;
    optim::AdamHooks adamHooks;
    adamHooks.eval = [&](const Vec &p, Vec &grad) {
      return problem.loss(p, grad);
    };
    adamHooks.after = [&](double) {
      if (++step % o.log == 0)
        report("adam");
    };
    adamHooks.stop = [&] { return done; };
    if (o.adamSteps > 0)
      optim::adam(z, f, g, o.adamSteps, adam, adamHooks);

    optim::LbfgsOptions lbfgs;
    lbfgs.history = 50;
    lbfgs.stepBase = step;
    optim::LbfgsHooks lbfgsHooks;
    lbfgsHooks.eval = adamHooks.eval;
    lbfgsHooks.after = [&](double) {
      if (++step % o.log == 0)
        report("lbfgs");
    };
    lbfgsHooks.stop = [&] { return done; };
    if (!done && o.lbfgsSteps > 0) {
      f = problem.loss(z, g);
      optim::lbfgs(z, f, g, o.lbfgsSteps, lbfgs, lbfgsHooks);
    }
    if (history.back().step != step)
      report("final");

    std::string csv = o.out + "/history.csv";
    if (FILE *h = std::fopen(csv.c_str(), "w")) {
      std::fprintf(h, "step,seconds,loss,rel_l2_error\n");
      for (const Record &r : history)
        std::fprintf(h, "%ld,%.3f,%.6e,%.6e\n", r.step, r.seconds, r.loss,
                     r.error);
      std::fclose(h);
    }
    writePlot(o.out + "/plot.svg", problem.grid, history);
    std::printf("poisson: %ld steps, %ld loss evaluations, %.1f s; relative "
                "L2 error %.3e (target %.0e: %s); wrote %s/plot.svg and "
                "%s/history.csv\n",
                step, problem.evaluations, elapsed(), error, o.target,
                error <= o.target ? "reached" : "not reached", o.out.c_str(),
                o.out.c_str());
    if (o.checkDecrease && !(f < firstLoss / 10)) {
      std::fprintf(stderr,
                   "poisson: the loss fell from %.3e only to %.3e (less than "
                   "10x)\n",
                   firstLoss, f);
      return 1;
    }
  } catch (const ntp::Error &e) {
    std::fprintf(stderr, "poisson: %s\n", e.what());
    return 1;
  }
  return 0;
}
