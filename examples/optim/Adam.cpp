//===- Adam.cpp - Adam with an optional learning-rate decay ---------------===//
//
//===----------------------------------------------------------------------===//
#include "optim/Adam.h"

#include <cmath>

namespace optim {

bool parseDecay(const std::string &name, Decay &decay) {
  if (name == "none")
    decay = Decay::None;
  else if (name == "cosine")
    decay = Decay::Cosine;
  else if (name == "exp")
    decay = Decay::Exp;
  else
    return false;
  return true;
}

double adamLearningRate(const AdamOptions &o, long t, long steps) {
  double frac = double(t - 1) / steps, lr = o.lr;
  if (o.decay == Decay::Cosine)
    lr = o.lrEnd + (o.lr - o.lrEnd) * (1 + std::cos(M_PI * frac)) / 2;
  else if (o.decay == Decay::Exp && o.lrEnd > 0)
    lr = o.lr * std::pow(o.lrEnd / o.lr, frac);
  return lr;
}

long adam(Vec &z, double &f, Vec &g, long steps, const AdamOptions &o,
          const AdamHooks &hooks) {
  const double b1 = o.beta1, b2 = o.beta2, eps = o.eps;
  Vec m(z.size(), 0.0), v(z.size(), 0.0);
  long t = 1;
  for (; t <= steps && !(hooks.stop && hooks.stop()); ++t) {
    if (hooks.before)
      hooks.before(t);
    double lr = adamLearningRate(o, t, steps);
    for (size_t i = 0; i < z.size(); ++i) {
      m[i] = b1 * m[i] + (1 - b1) * g[i];
      v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i];
      double mh = m[i] / (1 - std::pow(b1, t)),
             vh = v[i] / (1 - std::pow(b2, t));
      z[i] -= lr * mh / (std::sqrt(vh) + eps);
    }
    f = hooks.eval(z, g);
    if (hooks.after)
      hooks.after(f);
  }
  return t - 1;
}

} // namespace optim
