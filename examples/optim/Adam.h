//===- Adam.h - Adam with an optional learning-rate decay -------*- C++ -*-===//
//
// Adam (Kingma & Ba; PyTorch's defaults but the learning rate) on a
// differentiable f: R^n -> R given as a callback. Fresh moments per call.
//
//===----------------------------------------------------------------------===//
#ifndef NTP_EXAMPLES_OPTIM_ADAM_H
#define NTP_EXAMPLES_OPTIM_ADAM_H

#include "optim/LinearAlgebra.h"

#include <functional>
#include <string>

namespace optim {

/// f(z) with its gradient in g (resized to z.size() by the callee).
using Objective = std::function<double(const Vec &z, Vec &g)>;

enum class Decay {
  None,   // lr throughout
  Cosine, // lrEnd + (lr - lrEnd) (1 + cos(pi (t - 1) / steps)) / 2
  Exp,    // lr (lrEnd / lr)^((t - 1) / steps); none unless lrEnd > 0
};

/// "none", "cosine" or "exp"; false for anything else.
bool parseDecay(const std::string &name, Decay &decay);

struct AdamOptions {
  double lr = 1e-3;
  Decay decay = Decay::None;
  double lrEnd = 0; // where the decay ends (after `steps`)
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
};

/// The learning rate of step t = 1..steps.
double adamLearningRate(const AdamOptions &options, long t, long steps);

struct AdamHooks {
  Objective eval;                      // required
  std::function<void(long t)> before;  // before step t (e.g. reweighting)
  std::function<void(double f)> after; // after each step, f at the new z
  std::function<bool()> stop;          // checked before each step
};

/// Up to `steps` Adam steps from z, with f and g its value and gradient
/// there on entry; on return z is the last iterate and f, g are its value
/// and gradient. Returns the number of steps taken.
long adam(Vec &z, double &f, Vec &g, long steps, const AdamOptions &options,
          const AdamHooks &hooks);

} // namespace optim

#endif // NTP_EXAMPLES_OPTIM_ADAM_H
