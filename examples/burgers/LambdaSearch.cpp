//===- LambdaSearch.cpp - lambda by search over held values ---------------===//
//
// Golden section, then one parabolic step (LambdaSearch.h).
//
//===----------------------------------------------------------------------===//
#include "LambdaSearch.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace burgers {

LambdaTrial searchLambda(double lo, double hi, double firstLambda,
                         const Vec &first, int fits,
                         const LambdaSearchHooks &hooks) {
  std::vector<LambdaTrial> trials;
  // One fit at `lam`, warm from the fit at the nearest lambda tried.
  auto fitAt = [&](double lam) {
    const LambdaTrial *from = nullptr;
    for (const LambdaTrial &t : trials)
      if (!from || std::fabs(t.lambda - lam) < std::fabs(from->lambda - lam))
        from = &t;
    LambdaTrial trial = hooks.fit(lam, from ? from->z : first);
    trials.push_back(std::move(trial));
    hooks.after(trials.back(), trials.size());
    return trials.back().smooth;
  };
  fitAt(firstLambda);
  const double golden = (std::sqrt(5.0) - 1) / 2;
  double margin = 1e-6 * (hi - lo);
  double a = lo + margin, b = hi - margin;
  double c = b - golden * (b - a), d = a + golden * (b - a);
  double fc = fitAt(c), fd = fitAt(d);
  while (int(trials.size()) < fits - 1 && !hooks.stop()) {
    if (fc < fd)
      b = d, d = c, fd = fc, c = b - golden * (b - a), fc = fitAt(c);
    else
      a = c, c = d, fc = fd, d = a + golden * (b - a), fd = fitAt(d);
  }
  // The vertex of the parabola through the best trial and its neighbours in
  // lambda, if it lies between them.
  std::vector<const LambdaTrial *> sorted;
  for (const LambdaTrial &t : trials)
    sorted.push_back(&t);
  std::sort(sorted.begin(), sorted.end(),
            [](const LambdaTrial *p, const LambdaTrial *q) {
              return p->lambda < q->lambda;
            });
  size_t m = 0;
  for (size_t i = 1; i < sorted.size(); ++i)
    if (sorted[i]->smooth < sorted[m]->smooth)
      m = i;
  if (m > 0 && m + 1 < sorted.size() && !hooks.stop()) {
    double x0 = sorted[m - 1]->lambda, x1 = sorted[m]->lambda,
           x2 = sorted[m + 1]->lambda, f0 = sorted[m - 1]->smooth,
           f1 = sorted[m]->smooth, f2 = sorted[m + 1]->smooth;
    double num =
        (x1 - x0) * (x1 - x0) * (f1 - f2) - (x1 - x2) * (x1 - x2) * (f1 - f0);
    double den = (x1 - x0) * (f1 - f2) - (x1 - x2) * (f1 - f0);
    double vertex = den != 0 ? x1 - num / (2 * den) : x1;
    if (vertex > x0 && vertex < x2 && vertex != x1)
      fitAt(vertex);
  }
  size_t best = 0;
  for (size_t i = 1; i < trials.size(); ++i)
    if (trials[i].smooth < trials[best].smooth)
      best = i;
  return trials[best];
}

} // namespace burgers
