//===- Problem.h - The Burgers PINN loss on ntp kernels --------*- C++ -*-===//
//
// The k-th smooth self-similar profile of Burgers' equation (paper, Section
// IV-C, Appendix A) as a loss on z = (theta, s), theta the parameters of a
// network N (f64, output x 1.15; by default 1-24-24-24-1 tanh, else the
// typed layers of Architecture), lambda a function of s:
//   R = -lambda U + ((1 + lambda) X + U) U' = 0 on [-2, 2],
//   loss = (U(-2) - 1)^2 + (U(2) + 1)^2 + 0.3 MSE(R) + 0.3 MSE(R')
//          + 0.2 MSE(R^(2k+3) on [-0.075, 0.075]).
// Every derivative of U and every parameter gradient comes from ntp kernels
// (jets + generated backward); R's derivatives follow from U's jets by the
// Leibniz rule here. The loss is also given as a sum of squares with its
// Jacobian (for Levenberg-Marquardt).
//
//===----------------------------------------------------------------------===//
#ifndef NTP_EXAMPLES_BURGERS_PROBLEM_H
#define NTP_EXAMPLES_BURGERS_PROBLEM_H

#include "ntp/JIT/Jit.h"
#include "optim/LinearAlgebra.h"

#include <cmath>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace burgers {

using optim::Vec;
constexpr double kScale = 1.15; // the network's output scale

/// The network N: hidden widths, activation (one name, or one per hidden
/// layer separated by commas), adaptive slopes, residual connections on
/// every hidden layer after the first, or the modified MLP's gates (ntp's
/// typed layers, README "Typed layers"). The default is the paper's
/// 1-24-24-24-1 tanh MLP, compiled through the plain spec as before.
struct Architecture {
  std::vector<int64_t> hidden = {24, 24, 24};
  std::string activation = "tanh";
  std::string slopes = "none"; // none, layer, neuron
  bool residual = false;
  bool gated = false;

  /// The kernel's spec at `order` (f64).
  ntp::MlpSpec spec(int order) const;
  /// Empty if valid, else one sentence saying what is wrong.
  std::string check() const;
  /// "1-24-24-24-1 tanh, neuron slopes, gated" (for logs and summaries).
  std::string describe() const;
};

Vec linspace(double a, double b, int n);
/// linspace(-a, a, n) with x[n-1-i] = -x[i] to the bit (the odd ansatz reads
/// N(-X) from the mirrored point).
Vec symmetricLinspace(double a, int n);

/// A set of points with the network's jets N^(0..order) there (`out`, as
/// the kernel writes them) and their cotangents. With `odd`, U(X) = kScale
/// (N(X) - N(-X)) / 2, so U^(i)(X) = kScale/2 (N^(i)(X) - (-1)^i N^(i)(-X)).
/// The point sets are symmetric (x[n-1-b] = -x[b] exactly), so one kernel
/// call on them gives N's jets at both X and -X.
struct Points {
  Vec x, out, cot;
  int order = 0;
  int64_t n = 0;
  bool odd = false;

  Points(int order, Vec points, bool odd);
  /// U^(i) at point b from the network's jet.
  double u(int i, int64_t b) const {
    if (!odd)
      return kScale * out[i * n + b];
    double sign = i % 2 ? -1 : 1; // (-1)^i
    return kScale / 2 * (out[i * n + b] - sign * out[i * n + n - 1 - b]);
  }
  /// Adds c * dU^(i)(x_b) / dN-jet to the kernel's output cotangent.
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

/// Points with their kernel (jets up to `order`) and saved workspace.
struct Batch : Points {
  ntp::Kernel kernel;
  std::vector<char> workspace;

  Batch(int order, Vec points, bool odd, const Architecture &arch);
};

/// The ODE residual's m-th derivative at one point from U's jet u[0..m+1]:
/// R^(m) = -lambda U^(m) + sum_j C(m,j) A^(j) U^(m-j+1), A = (1+lambda)X + U.
/// With g != 0 also adds g dR^(m)/dU^(i) to du[i] and g dR^(m)/dlambda to
/// *dl.
double residual(int m, const double *u, double x, double lambda, double g,
                double *du, double *dl);

/// The loss of profile k on z = (theta, s): its kernels (compiled on
/// construction), its value and gradient, its residual form.
struct Problem {
  int k, highOrder;
  Architecture arch;
  double lo, hi;
  double w[4]; // loss weights: boundary, MSE(R), MSE(R'), MSE(R^(2k+3))
  int64_t numParams;
  Batch grid, near;
  const double one = 1.0;
  Vec grad;               // scratch for the second batch's parameter gradient
  bool fixLambda = false; // diagnostics: lambda held (s's gradient 0)
  int threads = 1;        // threads of the Jacobian's rows (residuals)
  // Loss terms of the last evaluation: boundary, R, R', high order.
  double terms[4] = {0, 0, 0, 0};
  // The smoothness window's points with a kernel of a higher order, for
  // smoothness() (compiled on first use).
  std::unique_ptr<Batch> probe;

  /// The smoothness term R^(2k+3) is taken on `nearPoints` points of
  /// [-nearRadius, nearRadius].
  Problem(int k, bool odd, const double *weights, const Architecture &arch = {},
          double nearRadius = 0.075, int nearPoints = 31);

  /// lambda = lo + (hi - lo)(tanh(s) + 1)/2, in [1/(2k+3), 1/(2k+1)].
  double lambda(double s) const {
    return lo + (hi - lo) * (std::tanh(s) + 1) / 2;
  }
  /// s for a given lambda (inverse of lambda()).
  double sOf(double lambda) const;
  /// The exact lambda, 1/(2k+2).
  double exactLambda() const { return 1.0 / (2 * k + 2); }

  /// torch.nn.Linear's default initialisation of theta (U(-1/sqrt(fan_in),
  /// 1/sqrt(fan_in)) for each layer's W and b, in the parameter order, from
  /// a mt19937_64 seeded with `seed`; the gated network's U and V encoders
  /// are layers with fan_in 1), adaptive slopes 1, and s = 0.
  Vec initialPoint(unsigned seed) const;

  /// Loss and gradient at z = (theta, s); one forward + backward per batch.
  double eval(const Vec &z, Vec &g);

  /// The loss as a sum of squares, |r|^2, and with J its Jacobian dr/dz
  /// (row-major, r.size() x z.size()): each row is one kernel backward on
  /// the residual's point (and its mirror with the odd ansatz) with the
  /// cotangent dr/dU^(i). With the odd ansatz R is odd and R', R^(2k+3)
  /// even, so the residuals at -X repeat those at X: only X <= 0 is kept,
  /// with weight 2 (the origin 1), and one boundary residual. The rows'
  /// backward calls are spread over `threads` threads (each row is one
  /// call, so J does not depend on the count).
  double residuals(const Vec &z, Vec &r, Vec *J);

  /// MSE(R^(m)) on the smoothness window's points at z = (theta, s): a
  /// measurement (one forward call of an order-(m + 1) kernel), not a loss
  /// term.
  double smoothness(const Vec &z, int m);

  /// Central differences on a few coordinates and s against g, eval's
  /// gradient at z (loss its value), and |r|^2 = loss, 2 J^T r = g for the
  /// residual form; prints them and returns the worst relative error.
  double checkGradient(const Vec &z, double loss, const Vec &g);
};

} // namespace burgers

#endif // NTP_EXAMPLES_BURGERS_PROBLEM_H
