//===- Options.h - ntp-burgers' command line -------------------*- C++ -*-===//
//
// The flags of ntp-burgers (README.md, "Running"), their per-k defaults and
// their checks.
//
//===----------------------------------------------------------------------===//
#ifndef NTP_EXAMPLES_BURGERS_OPTIONS_H
#define NTP_EXAMPLES_BURGERS_OPTIONS_H

#include "Problem.h"

#include <cstdio>
#include <string>

namespace burgers {

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
  double lmWHigh = 0; // > 0: the high-order weight of Levenberg-Marquardt
  // > 0: lambda is found by a search over held values instead of being
  // trained (this many fits); the smoothness term is then measured, not
  // fitted (its weight in the fits is searchWHigh).
  int lambdaSearch = 0;
  long searchSteps = 20000;  // L-BFGS iterations per fit of the search
  long searchLmSteps = 1500; // ... then Levenberg-Marquardt iterations
  double searchWHigh = 1e-14;
  int searchOrder = -1; // the order of R measured by the search; -1: 2k + 3
  // The high-order weight rises over the first highRamp Adam steps from
  // highRampFrom times it, geometrically (0: linearly from 0); -1: 12000 for
  // k >= 3, else none.
  long highRamp = -1;
  double highRampFrom = 1e-10;
  long lmSteps = -1;    // Levenberg-Marquardt iterations; -1: 100000 for k = 2
                        // (bounded by maxSeconds), else lbfgs/10
  double fixLambda = 0; // > 0: lambda held at this value (diagnostics)
  int adamHoldLambda = -1;  // lambda held at its start in Adam; -1: k >= 2
  int lbfgsHoldLambda = -1; // ... and through L-BFGS (LM frees it); -1: k >= 2
  int lmScale = 0;          // LM damping scaled by column norms: 1 s, 2 all
  double maxSeconds = 540;  // > 0: stop training after this many seconds
  // The smoothness term's points: nearPoints (odd) on [-nearRadius,
  // nearRadius].
  double nearRadius = 0.075;
  int nearPoints = 31;
  // > 0: the smoothness points move to [-lmNearRadius, lmNearRadius] for
  // Levenberg-Marquardt. A wider window sees the X^(2k+3) term that picks
  // lambda (on +-0.075 it is 0.075^(2k+3) small); from the start it traps
  // Adam at a wrong lambda.
  double lmNearRadius = 0;
  // > 1: the window widens to lmNearRadius in this many geometric steps,
  // each lmStageSteps LM iterations (the last one until LM ends), so the
  // higher derivatives stay constrained where the window grows (widened at
  // once, the network's R^(2k+3) just outside the old window is ~1e7).
  int lmNearStages = 1;
  long lmStageSteps = 1000;
  burgers::Architecture arch;
};

/// Prints the usage line to `stream`.
void printUsage(std::FILE *stream, const char *argv0);

/// Reads the flags into `o` and fills the per-k defaults; false on an
/// unknown flag or a value out of range (a bad value of some flags exits
/// with status 2 and one sentence, as the flag helpers do).
bool parse(int argc, char **argv, Options &o);

} // namespace burgers

#endif // NTP_EXAMPLES_BURGERS_OPTIONS_H
