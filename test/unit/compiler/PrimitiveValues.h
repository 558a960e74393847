//===- PrimitiveValues.h - Activation primitives from libm, for tests -----===//
//
// The value of each primitive an activation rule is written in, computed
// with libm in long double (not by ntp), for the compiler's unit tests.
//
//===----------------------------------------------------------------------===//

#ifndef NTP_TEST_UNIT_COMPILER_PRIMITIVEVALUES_H
#define NTP_TEST_UNIT_COMPILER_PRIMITIVEVALUES_H

#include "ntp/Support/ActivationRules.h"

#include <cmath>
#include <stdexcept>

namespace ntp_test {

inline long double primitiveValue(ntp::Primitive p, long double y) {
  switch (p) {
  case ntp::Primitive::Identity:
    return y;
  case ntp::Primitive::Tanh:
    return std::tanh(y);
  case ntp::Primitive::TanhHalf:
    return std::tanh(y / 2);
  case ntp::Primitive::Sin:
    return std::sin(y);
  case ntp::Primitive::Cos:
    return std::cos(y);
  case ntp::Primitive::Exp:
    return std::exp(y);
  case ntp::Primitive::Softplus:
    return std::log1p(std::exp(y));
  }
  throw std::runtime_error("unknown primitive");
}

} // namespace ntp_test

#endif // NTP_TEST_UNIT_COMPILER_PRIMITIVEVALUES_H
