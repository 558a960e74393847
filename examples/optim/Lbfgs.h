//===- Lbfgs.h - L-BFGS with PyTorch's strong Wolfe line search -*- C++ -*-===//
//
// L-BFGS (two-loop recursion) with the strong Wolfe line search of PyTorch's
// torch.optim.LBFGS (cubic interpolation, c1 = 1e-4, c2 = 0.9, 25
// evaluations). One iteration is one direction and one line search (torch's
// `step` with max_iter = 1). Departures from torch, for objectives whose
// value is evaluated with rounding noise near the minimum:
//  - a curvature pair is kept when y.s > pairTolerance |y|^2 (torch: y.s >
//    1e-10 absolute, which starves the history once f is small);
//  - the history may be dropped every `restartEvery` iterations;
//  - when the strong Wolfe search finds no decrease, Hager-Zhang's
//    approximate Wolfe test (on the slope; f may rise by 1e-10 |f|) is tried
//    before the history is dropped; after `maxFailures` consecutive failures
//    the run stops (`stalled`);
//  - one coordinate may get its own weight in the diagonal initial inverse
//    Hessian, switched on once f is below a threshold.
//
//===----------------------------------------------------------------------===//
#ifndef NTP_EXAMPLES_OPTIM_LBFGS_H
#define NTP_EXAMPLES_OPTIM_LBFGS_H

#include "optim/Adam.h" // Objective

#include <functional>
#include <string>

namespace optim {

/// A trial point of a line search along d: step t, value, gradient, slope
/// g.d, and what the caller asked to keep of the evaluation (`aux`).
struct LinePoint {
  double t = 0, f = 0, gtd = 0;
  Vec g, aux;
};

/// Strong Wolfe line search along d from the point with value f, gradient g
/// and slope gtd = g.d < 0, starting at step t; phi(t) evaluates the trial
/// point. PyTorch's _strong_wolfe (c1 1e-4, c2 0.9, 25 evaluations, change
/// tolerance 1e-9). Returns the point satisfying both conditions, else the
/// lowest one of the final bracket (possibly t = 0 itself, f(t) = f, when
/// no step decreased f).
LinePoint strongWolfe(const std::function<LinePoint(double)> &phi, double t,
                      const Vec &d, double f, const Vec &g, double gtd);

struct LbfgsOptions {
  size_t history = 30;          // curvature pairs
  long restartEvery = 0;        // > 0: drop the history every N iterations
  double pairTolerance = 1e-12; // keep (s, y) when y.s > this |y|^2
  int maxFailures = 3;          // consecutive failed line searches: stop
  // Diagonal initial inverse Hessian: 1 for every coordinate but
  // `weightedIndex` (>= 0), whose weight becomes `weight` once f is below
  // `weightBelow` (the history is dropped then).
  long weightedIndex = -1;
  double weight = 1, weightBelow = 0;
  std::string weightedName = "s"; // in the message when it switches
  // Failed line searches print f(t) - f at a few steps along +-d.
  bool probeOnFailure = false;
  // Messages say "step <stepBase + steps taken so far>".
  long stepBase = 0;
};

struct LbfgsHooks {
  Objective eval; // required
  // The caller's state of an evaluation worth keeping with its trial point
  // (e.g. the terms of a loss, for a log): saved after every evaluation,
  // restored when its point is accepted (the line search evaluates others
  // after it).
  std::function<Vec()> save;
  std::function<void(const Vec &)> restore;
  std::function<void(double f)> after; // after each accepted step
  std::function<bool()> stop;          // checked before each iteration
};

struct LbfgsResult {
  long steps = 0;       // accepted steps
  long evaluations = 0; // objective evaluations
  bool stalled = false; // stopped after maxFailures failed line searches
};

/// Up to maxIterations iterations (failed line searches count) from z, with
/// f and g its value and gradient on entry; on return z is the last iterate
/// and f, g its value and gradient. Messages go to stdout.
LbfgsResult lbfgs(Vec &z, double &f, Vec &g, long maxIterations,
                  const LbfgsOptions &options, const LbfgsHooks &hooks);

} // namespace optim

#endif // NTP_EXAMPLES_OPTIM_LBFGS_H
