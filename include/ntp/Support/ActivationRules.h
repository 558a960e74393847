//===- ActivationRules.h - Derivative rules of activations ------*- C++ -*-===//
//
// Every activation ntp supports is described here, in one place, by the
// elementary functions ("primitives") its value and derivatives are built from
// and by the derivative of each primitive as a polynomial in the primitives.
// From that, the k-th derivative sigma^(k)(y) is derived at compile time, for
// any k, as an exact integer polynomial in the primitives (tanh: a polynomial
// in t = tanh(y); sin: a linear form in sin(y), cos(y); ...).
//
// Adding an activation is one entry in the table in ActivationRules.cpp (and,
// for a new primitive, one entry in Primitives.def).
//
//===----------------------------------------------------------------------===//

#ifndef NTP_SUPPORT_ACTIVATIONRULES_H
#define NTP_SUPPORT_ACTIVATIONRULES_H

#include "ntp/Support/Primitives.h"

#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace ntp {

/// A polynomial with dyadic rational coefficients in the primitives of one
/// rule: 2^scaleLog2 * sum of (integer coefficient * monomial), with the
/// exponent vector (one entry per primitive of the rule) as the key.
/// Integers times a power of two keep the compile-time algebra exact and
/// each coefficient exactly representable in floating point (sigmoid in
/// terms of tanh(y/2) needs the halves).
class Polynomial {
public:
  using Exponents = std::vector<unsigned>;

  explicit Polynomial(unsigned numVariables = 0) : numVariables(numVariables) {}
  static Polynomial constant(unsigned numVariables, int64_t c);
  static Polynomial variable(unsigned numVariables, unsigned index);
  /// The constant 2^e.
  static Polynomial powerOfTwo(unsigned numVariables, int e);

  unsigned getNumVariables() const { return numVariables; }
  /// Integer coefficients; the value of a term is coefficient * 2^scale.
  const std::map<Exponents, int64_t> &terms() const { return coefficients; }
  int getScaleLog2() const { return scaleLog2; }
  bool isZero() const { return coefficients.empty(); }

  /// Adds c * monomial; drops terms that cancel.
  void addTerm(const Exponents &exponents, int64_t c);
  Polynomial operator+(const Polynomial &other) const;
  Polynomial operator*(const Polynomial &other) const;
  /// Partial derivative with respect to variable `index`.
  Polynomial partial(unsigned index) const;
  /// Largest absolute integer coefficient (exact in double if <= 2^53).
  int64_t maxAbsCoefficient() const;
  /// Evaluates at `values` (one per variable), for tests.
  long double evaluate(const std::vector<long double> &values) const;
  std::string str(const std::vector<std::string> &names) const;

private:
  /// Moves common factors of two from the coefficients into the scale.
  void normalize();
  /// The same polynomial with scale `target` <= scaleLog2.
  Polynomial rescaled(int target) const;

  unsigned numVariables;
  int scaleLog2 = 0;
  std::map<Exponents, int64_t> coefficients;
};

/// How one activation is built and differentiated.
class ActivationRule {
public:
  ActivationRule(std::string name, std::vector<Primitive> primitives,
                 Polynomial value, std::vector<Polynomial> primitiveDerivatives,
                 std::string summary);

  const std::string &getName() const { return name; }
  const std::string &getSummary() const { return summary; }
  /// The primitives the derivative polynomials are written in.
  const std::vector<Primitive> &getPrimitives() const { return primitives; }
  /// sigma^(k) as a polynomial in the primitives; k = 0 is sigma itself.
  /// Derived by the chain rule: D(P) = sum_i dP/du_i * D(u_i).
  /// A coefficient leaving the int64 range is a fatal error; callers ask only
  /// for k <= maxFaaDiBrunoOrder() + 1, far from it (see the unit tests).
  const Polynomial &derivative(unsigned k) const;
  /// The largest order n <= kMaxOrder for which sigma^(0..n) have only
  /// integer coefficients a double holds exactly (|c| <= 2^53, a common
  /// power of two aside): how far Faà di Bruno's formula is exact. tanh,
  /// sigmoid, silu: 20; softplus: 21; gelu: 28; gelu_tanh: 17; sin, cos,
  /// exp, identity: kMaxOrder. The Taylor recurrence needs no such
  /// coefficients and goes to kMaxOrder for every activation.
  unsigned maxFaaDiBrunoOrder() const;
  /// The largest order the automatic choice considers Faà di Bruno for:
  /// past order 16 (where the sweep bounds its accuracy), only while
  /// sigma^(k)'s coefficients stay small (|c| <= 64: sin, cos, exp,
  /// identity), since large alternating ones (tanh: 1e13 at order 16) lose
  /// accuracy the Taylor recurrence keeps; at most maxFaaDiBrunoOrder().
  unsigned maxAutoFaaDiBrunoOrder() const;
  /// d u_i / dy of primitive i, as a polynomial in the primitives.
  const Polynomial &primitiveDerivative(unsigned i) const {
    return primitiveDerivatives[i];
  }

private:
  std::string name;
  std::vector<Primitive> primitives;
  std::vector<Polynomial> primitiveDerivatives;
  std::string summary;
  // Cache of sigma^(k); a deque keeps references stable as it grows, and the
  // mutex makes concurrent compiles safe.
  mutable std::deque<Polynomial> derivatives;
  mutable int faaDiBrunoLimit = -1; // maxFaaDiBrunoOrder, once computed
  mutable std::mutex mutex;
};

/// The rule named `name`, or null if there is none.
const ActivationRule *lookupActivation(const std::string &name);
/// Names of every activation, in table order (for diagnostics and help).
std::vector<std::string> activationNames();
/// "tanh, sigmoid, ..." for error messages.
std::string activationNameList();

/// Per-layer activations, as the network descriptions outside the dialect
/// spell them (the JIT spec, ntp-compile --activation, the manifest, the
/// cache key): one name for every hidden layer ("tanh") or a comma-separated
/// list with one name per hidden layer ("silu,tanh,identity"). Returns the
/// activation of each of the `hiddenLayers` hidden layers, or nullopt with
/// `error` set to one sentence (unknown name, empty entry, wrong count).
std::optional<std::vector<std::string>>
parseActivationList(const std::string &spec, size_t hiddenLayers,
                    std::string &error);
/// The canonical spelling of per-layer activations: the one name when every
/// hidden layer has the same (or there are none: `fallback`), else the
/// comma-separated list. "tanh,tanh" and "tanh" name the same kernel.
std::string canonicalActivationList(const std::vector<std::string> &names,
                                    const std::string &fallback);

/// Largest derivative order ntp compiles. The Taylor recurrence reaches it
/// for every activation (its constants are 1/k, 1/(j-1)! and m!, 32! < 2^128
/// in the compile-time integer algebra, each rounded once to double); Faà di
/// Bruno's formula is kept up to ActivationRule::maxFaaDiBrunoOrder(), where
/// every coefficient is an integer a double represents exactly (|c| <=
/// 2^53; the Bell-polynomial multipliers C(m-1, i-1) <= C(31, 15) are).
/// Tested in the unit tests.
constexpr int64_t kMaxOrder = 32;

} // namespace ntp

#endif // NTP_SUPPORT_ACTIVATIONRULES_H
