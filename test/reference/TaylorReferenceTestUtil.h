//===- TaylorReferenceTestUtil.h - Reference tests' helpers -----*- C++ -*-===//
//
// For ntp-reference-tests (TaylorReferenceTest.cpp,
// TaylorReferenceLayersTest.cpp): closeness in long double and random
// vectors.
//
//===----------------------------------------------------------------------===//
#ifndef NTP_TEST_REFERENCE_TAYLORREFERENCETESTUTIL_H
#define NTP_TEST_REFERENCE_TAYLORREFERENCETESTUTIL_H

#include "TaylorReference.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

namespace ntp_ref_test {

using ntp_ref::Activation;
using Ld = long double;
using Vec = std::vector<Ld>;

/// |actual - expected| <= tol, compared in long double (EXPECT_NEAR would
/// round both to double first).
inline ::testing::AssertionResult near(Ld actual, Ld expected, Ld tol) {
  const Ld err = fabsl(actual - expected);
  if (err <= tol)
    return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << "actual " << static_cast<double>(actual) << " expected "
         << static_cast<double>(expected) << " error "
         << static_cast<double>(err) << " > tol " << static_cast<double>(tol);
}

/// Relative-or-absolute closeness: tolerance rel * max(1, |expected|).
inline ::testing::AssertionResult close(Ld actual, Ld expected, Ld rel) {
  return near(actual, expected, rel * fmaxl(1, fabsl(expected)));
}

inline Vec randomVec(std::mt19937_64 &rng, size_t n, Ld lo = -1, Ld hi = 1) {
  std::uniform_real_distribution<double> dist(static_cast<double>(lo),
                                              static_cast<double>(hi));
  Vec v(n);
  for (Ld &e : v)
    e = dist(rng);
  return v;
}

} // namespace ntp_ref_test

#endif // NTP_TEST_REFERENCE_TAYLORREFERENCETESTUTIL_H
