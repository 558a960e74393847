//===- LevenbergMarquardt.h - Levenberg-Marquardt, M < P form ---*- C++ -*-===//
//
// Levenberg-Marquardt for f(z) = |r(z)|^2 with M residuals and P unknowns,
// written for M < P (an over-parameterised model fitted on few points): the
// step is -J^T (J J^T + mu I)^-1 r, a Cholesky solve of the M x M system,
// with Nielsen's update of mu. It needs no line search on f, so it keeps
// going where f's differences are in its rounding noise.
//
//===----------------------------------------------------------------------===//
#ifndef NTP_EXAMPLES_OPTIM_LEVENBERGMARQUARDT_H
#define NTP_EXAMPLES_OPTIM_LEVENBERGMARQUARDT_H

#include "optim/LinearAlgebra.h"

#include <functional>

namespace optim {

/// r(z) into r and, when J is not null, its Jacobian dr/dz into *J
/// (row-major, r.size() x z.size()); returns |r|^2.
using Residuals = std::function<double(const Vec &z, Vec &r, Vec *J)>;

struct LmOptions {
  // Marquardt's scaling: damp mu |D delta|^2 with D the columns' norms
  // relative to the mean norm of the first P - 1 columns (the last unknown
  // is taken to be a distinguished one, e.g. a physical parameter appended
  // to a network's weights): 0 off, 1 the last column only, 2 every column.
  int scale = 0;
  // Messages say "step <stepBase + steps taken so far>".
  long stepBase = 0;
  // Threads of the Gram matrix J J^T (the step's bulk; the result does not
  // depend on it).
  int threads = 1;
};

struct LmHooks {
  Residuals residuals;                     // required
  std::function<void(const Vec &z)> after; // after each accepted step
  std::function<bool()> stop;              // checked before each iteration
};

struct LmResult {
  long steps = 0;       // accepted steps
  bool stalled = false; // no decrease for any mu < 1e30
  double f = 0;         // |r|^2 at the last iterate
};

/// Up to maxIterations steps from z; on return z is the last iterate.
LmResult levenbergMarquardt(Vec &z, long maxIterations,
                            const LmOptions &options, const LmHooks &hooks);

} // namespace optim

#endif // NTP_EXAMPLES_OPTIM_LEVENBERGMARQUARDT_H
