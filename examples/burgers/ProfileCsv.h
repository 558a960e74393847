//===- ProfileCsv.h - the trained profile against the exact one -*- C++ -*-===//
#ifndef NTP_EXAMPLES_BURGERS_PROFILECSV_H
#define NTP_EXAMPLES_BURGERS_PROFILECSV_H

#include "Options.h"
#include "Problem.h"

namespace burgers {

/// Writes o.out/profile.csv (the network's and the exact jets on 2001 points
/// of [-2, 2]) and returns the largest errors of U and U' there; false when
/// the file cannot be written.
bool writeProfile(Problem &pb, const Vec &z, const Options &o, double &errU,
                  double &errDU);

} // namespace burgers

#endif // NTP_EXAMPLES_BURGERS_PROFILECSV_H
