//===- ExactProfile.h - The exact self-similar Burgers profiles -*- C++ -*-===//
//
//===----------------------------------------------------------------------===//
#ifndef NTP_EXAMPLES_BURGERS_EXACTPROFILE_H
#define NTP_EXAMPLES_BURGERS_EXACTPROFILE_H

#include <vector>

namespace burgers {

double binom(int n, int r);

/// U^(0..n)(x) of the exact profile k (lambda = 1/(2k+2)), defined
/// implicitly by X = -U - U^(2k+3).
std::vector<double> exactJet(double x, int k, int n);

} // namespace burgers

#endif // NTP_EXAMPLES_BURGERS_EXACTPROFILE_H
