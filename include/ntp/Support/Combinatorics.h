//===- Combinatorics.h - Exact integer combinatorics ------------*- C++ -*-===//
//
// Binomial coefficients used by the Faà di Bruno expansion, computed exactly
// at compile time (overflow is a fatal error, never a wrap-around).
//
//===----------------------------------------------------------------------===//

#ifndef NTP_SUPPORT_COMBINATORICS_H
#define NTP_SUPPORT_COMBINATORICS_H

#include <cstdint>

namespace ntp {

/// C(n, k); 0 when k < 0 or k > n. Overflow is a fatal error.
int64_t binomial(int64_t n, int64_t k);

} // namespace ntp

#endif // NTP_SUPPORT_COMBINATORICS_H
