//===- Primitives.h - The primitives of the activations ---------*- C++ -*-===//
//
// The elementary functions activations are written in, from the one table
// Primitives.def: the enum, the names, and the value of each as one generic
// expression, emitted as IR by the expansion pass and evaluated in long
// double here.
//
//===----------------------------------------------------------------------===//

#ifndef NTP_SUPPORT_PRIMITIVES_H
#define NTP_SUPPORT_PRIMITIVES_H

#include "llvm/Support/ErrorHandling.h"

#include <algorithm>
#include <cmath>

namespace ntp {

/// Elementary functions of the pre-activation value y that code generation
/// knows how to evaluate.
enum class Primitive {
#define NTP_PRIMITIVE(Enumerator, Name, Definition) Enumerator,
#include "ntp/Support/Primitives.def"
};

/// "tanh", "tanh(y/2)", ...
const char *primitiveName(Primitive p);

/// The value of primitive `p` at `y`, its Definition in Primitives.def
/// expanded with the functions of `m` (Math::Value: the type of values, e.g.
/// long double or an mlir::Value, with m.constant(double), m.add, m.mul,
/// m.div, m.neg, m.max and one method per line of ElementaryFunctions.def).
template <class Math>
typename Math::Value evaluatePrimitive(Primitive p, typename Math::Value y,
                                       Math &m) {
  switch (p) {
#define NTP_PRIMITIVE(Enumerator, Name, Definition)                            \
  case Primitive::Enumerator:                                                  \
    return Definition;
#include "ntp/Support/Primitives.def"
  }
  llvm_unreachable("unknown primitive");
}

/// The elementary functions in long double, with libm.
struct ScalarMath {
  using Value = long double;
  Value constant(double c) const { return c; }
  Value add(Value x, Value y) const { return x + y; }
  Value mul(Value x, Value y) const { return x * y; }
  Value div(Value x, Value y) const { return x / y; }
  Value neg(Value x) const { return -x; }
  Value max(Value x, Value y) const { return std::max(x, y); }
#define NTP_ELEMENTARY(name, MathOp, libm)                                     \
  Value name(Value x) const { return libm(x); }
#include "ntp/Support/ElementaryFunctions.def"
};

/// The value of primitive `p` at `y` in long double (cost model, tests).
inline long double evaluatePrimitive(Primitive p, long double y) {
  ScalarMath m;
  return evaluatePrimitive(p, y, m);
}

} // namespace ntp

#endif // NTP_SUPPORT_PRIMITIVES_H
