//===- LambdaSearch.h - lambda by search over held values -------*- C++ -*-===//
//
// The lambda search of ntp-burgers (--lambda-search, README "k = 3 by search
// over lambda"): lambda is held at trial values, the network fitted at each
// (by the caller), and the fits compared by a smoothness measure S.
//
//===----------------------------------------------------------------------===//
#ifndef NTP_EXAMPLES_BURGERS_LAMBDASEARCH_H
#define NTP_EXAMPLES_BURGERS_LAMBDASEARCH_H

#include "Problem.h"

#include <cstddef>
#include <functional>

namespace burgers {

/// One fit at a held lambda: its smoothness S (smaller is smoother), its
/// loss and its parameters.
struct LambdaTrial {
  double lambda, smooth, loss;
  Vec z;
};

struct LambdaSearchHooks {
  /// Fits the network at `lambda`, starting from `start`.
  std::function<LambdaTrial(double lambda, const Vec &start)> fit;
  /// Called after each fit with it and the number of fits so far.
  std::function<void(const LambdaTrial &, size_t fits)> after;
  /// True when the search must stop (the time limit).
  std::function<bool()> stop;
};

/// Golden section for the smallest S over (lo, hi), the first fit at
/// `first`'s lambda `firstLambda` from `first`, each later one from the fit
/// at the nearest lambda tried; after `fits - 1` fits (or a stop) one more
/// at the vertex of the parabola through the best trial and its neighbours
/// in lambda, if it lies between them. Returns the trial with the smallest
/// S.
LambdaTrial searchLambda(double lo, double hi, double firstLambda,
                         const Vec &first, int fits,
                         const LambdaSearchHooks &hooks);

} // namespace burgers

#endif // NTP_EXAMPLES_BURGERS_LAMBDASEARCH_H
