//===- ActivationRules.cpp - Derivative rules of activations --------------===//
//
// The table of activations and the exact polynomial algebra that derives
// sigma^(k) from the derivatives of the primitives.
//
//===----------------------------------------------------------------------===//

#include "ntp/Support/ActivationRules.h"

#include "llvm/Support/ErrorHandling.h"
#include <cmath>
#include <memory>
#include <sstream>

using namespace ntp;

const char *ntp::primitiveName(Primitive p) {
  switch (p) {
#define NTP_PRIMITIVE(Enumerator, Name, Definition)                            \
  case Primitive::Enumerator:                                                  \
    return Name;
#include "ntp/Support/Primitives.def"
  }
  llvm_unreachable("unknown primitive");
}

//===----------------------------------------------------------------------===//
// Polynomial
//===----------------------------------------------------------------------===//

static int64_t checkedAdd(int64_t a, int64_t b) {
  int64_t r;
  if (__builtin_add_overflow(a, b, &r))
    llvm::report_fatal_error("activation polynomial coefficient overflow");
  return r;
}

static int64_t checkedMul(int64_t a, int64_t b) {
  int64_t r;
  if (__builtin_mul_overflow(a, b, &r))
    llvm::report_fatal_error("activation polynomial coefficient overflow");
  return r;
}

Polynomial Polynomial::constant(unsigned numVariables, int64_t c) {
  Polynomial p(numVariables);
  p.addTerm(Exponents(numVariables, 0), c);
  return p;
}

Polynomial Polynomial::variable(unsigned numVariables, unsigned index) {
  Polynomial p(numVariables);
  Exponents e(numVariables, 0);
  e[index] = 1;
  p.addTerm(e, 1);
  return p;
}

Polynomial Polynomial::powerOfTwo(unsigned numVariables, int e) {
  Polynomial p = constant(numVariables, 1);
  p.scaleLog2 = e;
  return p;
}

void Polynomial::normalize() {
  if (coefficients.empty()) {
    scaleLog2 = 0;
    return;
  }
  for (;;) {
    for (const auto &[e, c] : coefficients)
      if (c % 2 != 0)
        return;
    for (auto &[e, c] : coefficients)
      c /= 2;
    ++scaleLog2;
  }
}

Polynomial Polynomial::rescaled(int target) const {
  Polynomial r = *this;
  for (auto &[e, c] : r.coefficients)
    for (int i = target; i < scaleLog2; ++i)
      c = checkedMul(c, 2);
  r.scaleLog2 = target;
  return r;
}

void Polynomial::addTerm(const Exponents &exponents, int64_t c) {
  if (c == 0)
    return;
  auto it = coefficients.find(exponents);
  if (it == coefficients.end()) {
    coefficients.emplace(exponents, c);
    return;
  }
  it->second = checkedAdd(it->second, c);
  if (it->second == 0)
    coefficients.erase(it);
}

Polynomial Polynomial::operator+(const Polynomial &other) const {
  if (other.isZero())
    return *this;
  if (isZero())
    return other;
  int scale = std::min(scaleLog2, other.scaleLog2);
  Polynomial r = rescaled(scale);
  for (const auto &[e, c] : other.rescaled(scale).coefficients)
    r.addTerm(e, c);
  r.normalize();
  return r;
}

Polynomial Polynomial::operator*(const Polynomial &other) const {
  Polynomial r(numVariables);
  for (const auto &[ea, ca] : coefficients)
    for (const auto &[eb, cb] : other.coefficients) {
      Exponents e(numVariables);
      for (unsigned i = 0; i < numVariables; ++i)
        e[i] = ea[i] + eb[i];
      r.addTerm(e, checkedMul(ca, cb));
    }
  r.scaleLog2 = scaleLog2 + other.scaleLog2;
  r.normalize();
  return r;
}

Polynomial Polynomial::partial(unsigned index) const {
  Polynomial r(numVariables);
  for (const auto &[e, c] : coefficients) {
    if (e[index] == 0)
      continue;
    Exponents d = e;
    --d[index];
    r.addTerm(d, checkedMul(c, static_cast<int64_t>(e[index])));
  }
  r.scaleLog2 = scaleLog2;
  r.normalize();
  return r;
}

int64_t Polynomial::maxAbsCoefficient() const {
  int64_t m = 0;
  for (const auto &[e, c] : coefficients)
    m = std::max(m, c < 0 ? -c : c);
  return m;
}

long double Polynomial::evaluate(const std::vector<long double> &values) const {
  long double sum = 0;
  for (const auto &[e, c] : coefficients) {
    long double term = c;
    for (unsigned i = 0; i < numVariables; ++i)
      term *= std::pow(values[i], static_cast<long double>(e[i]));
    sum += term;
  }
  return std::ldexp(sum, scaleLog2);
}

std::string Polynomial::str(const std::vector<std::string> &names) const {
  if (coefficients.empty())
    return "0";
  std::ostringstream os;
  if (scaleLog2 != 0)
    os << "2^" << scaleLog2 << " * (";
  bool first = true;
  for (auto it = coefficients.rbegin(); it != coefficients.rend(); ++it) {
    int64_t c = it->second;
    os << (c < 0 ? (first ? "-" : " - ") : (first ? "" : " + "));
    int64_t a = c < 0 ? -c : c;
    bool isConstant = true;
    for (unsigned e : it->first)
      isConstant &= e == 0;
    if (a != 1 || isConstant)
      os << a;
    for (unsigned i = 0; i < numVariables; ++i) {
      if (it->first[i] == 0)
        continue;
      os << (a != 1 ? "*" : "") << names[i];
      if (it->first[i] > 1)
        os << "^" << it->first[i];
      a = 0; // later factors always need the '*'
    }
    first = false;
  }
  if (scaleLog2 != 0)
    os << ")";
  return os.str();
}

//===----------------------------------------------------------------------===//
// ActivationRule
//===----------------------------------------------------------------------===//

ActivationRule::ActivationRule(std::string name,
                               std::vector<Primitive> primitives,
                               Polynomial value,
                               std::vector<Polynomial> primitiveDerivatives,
                               std::string summary)
    : name(std::move(name)), primitives(std::move(primitives)),
      primitiveDerivatives(std::move(primitiveDerivatives)),
      summary(std::move(summary)) {
  derivatives.push_back(std::move(value));
}

const Polynomial &ActivationRule::derivative(unsigned k) const {
  std::lock_guard<std::mutex> lock(mutex);
  while (derivatives.size() <= k) {
    // Chain rule: d/dy P(u_1(y), ..., u_m(y)) = sum_i dP/du_i * u_i'(y).
    const Polynomial &p = derivatives.back();
    Polynomial next(p.getNumVariables());
    for (unsigned i = 0; i < primitives.size(); ++i)
      next = next + p.partial(i) * primitiveDerivatives[i];
    derivatives.push_back(std::move(next));
  }
  return derivatives[k];
}

//===----------------------------------------------------------------------===//
// The table
//===----------------------------------------------------------------------===//

namespace {
// Shorthands for writing the table: polynomials in one or two variables.
Polynomial var(unsigned n, unsigned i) { return Polynomial::variable(n, i); }
Polynomial cst(unsigned n, int64_t c) { return Polynomial::constant(n, c); }

std::vector<std::unique_ptr<ActivationRule>> buildTable() {
  std::vector<std::unique_ptr<ActivationRule>> t;
  auto add = [&](std::string name, std::vector<Primitive> prims,
                 Polynomial value, std::vector<Polynomial> derivs,
                 std::string summary) {
    t.push_back(std::make_unique<ActivationRule>(
        std::move(name), std::move(prims), std::move(value), std::move(derivs),
        std::move(summary)));
  };
  // u = tanh(y): u' = 1 - u^2.
  add("tanh", {Primitive::Tanh}, var(1, 0),
      {cst(1, 1) + cst(1, -1) * var(1, 0) * var(1, 0)}, "hyperbolic tangent");
  // sigmoid(y) = (1 + u) / 2 with u = tanh(y/2), u' = (1 - u^2) / 2. In u
  // the derivatives are 2^-(k+1) times tanh's polynomials: the same mild
  // coefficient growth as tanh. (In s = sigmoid(y) itself, rounding errors
  // grow about 4x per order through cancellation.)
  const Polynomial half = Polynomial::powerOfTwo(1, -1);
  const Polynomial tanhHalfDerivative =
      half * (cst(1, 1) + cst(1, -1) * var(1, 0) * var(1, 0));
  add("sigmoid", {Primitive::TanhHalf}, half * (cst(1, 1) + var(1, 0)),
      {tanhHalfDerivative}, "logistic sigmoid");
  // (s, c) = (sin y, cos y): s' = c, c' = -s.
  add("sin", {Primitive::Sin, Primitive::Cos}, var(2, 0),
      {var(2, 1), cst(2, -1) * var(2, 0)}, "sine");
  // u = y: u' = 1.
  add("identity", {Primitive::Identity}, var(1, 0), {cst(1, 1)},
      "identity (a linear network)");
  // u = exp(y): u' = u.
  add("exp", {Primitive::Exp}, var(1, 0), {var(1, 0)}, "exponential");
  // (p, u) = (softplus y, tanh(y/2)): p' = sigmoid y = (1 + u) / 2,
  // u' = (1 - u^2) / 2.
  const Polynomial half2 = Polynomial::powerOfTwo(2, -1);
  add("softplus", {Primitive::Softplus, Primitive::TanhHalf}, var(2, 0),
      {half2 * (cst(2, 1) + var(2, 1)),
       half2 * (cst(2, 1) + cst(2, -1) * var(2, 1) * var(2, 1))},
      "softplus log(1 + exp(y))");
  // (c, s) = (cos y, sin y): c' = -s, s' = c.
  add("cos", {Primitive::Sin, Primitive::Cos}, var(2, 1),
      {var(2, 1), cst(2, -1) * var(2, 0)}, "cosine");
  // silu (swish with beta = 1) y sigmoid(y) = y (1 + u) / 2 in (y, u) with
  // u = tanh(y/2): y' = 1, u' = (1 - u^2) / 2; dyadic like sigmoid.
  add("silu", {Primitive::Identity, Primitive::TanhHalf},
      half2 * (var(2, 0) + var(2, 0) * var(2, 1)),
      {cst(2, 1), half2 * (cst(2, 1) + cst(2, -1) * var(2, 1) * var(2, 1))},
      "silu / swish y * sigmoid(y)");
  // Exact GELU y Phi(y) in (y, Phi, phi): Phi' = phi, phi' = -y phi, so
  // sigma^(k) is an integer polynomial (Hermite polynomials times phi).
  add("gelu", {Primitive::Identity, Primitive::NormalCdf, Primitive::NormalPdf},
      var(3, 0) * var(3, 1),
      {cst(3, 1), var(3, 2), cst(3, -1) * var(3, 0) * var(3, 2)},
      "GELU y * Phi(y), Phi the standard normal CDF (exact, erf)");
  // GELU's tanh approximation y (1 + t) / 2, t = tanh(u), u = c1 (y +
  // 0.044715 y^3), in (y, t, s, c1, c2) with s = sech^2(u) = 1 - t^2 (its
  // own primitive: no cancellation where tanh saturates): t' = s (c1 + c2
  // y^2), s' = -2 t s (c1 + c2 y^2), the constants c1, c2 primitives of
  // derivative 0 (Primitives.def), so the coefficients stay exact integers.
  {
    const unsigned n = 5; // y, t, s, c1, c2
    const Polynomial y = var(n, 0), tg = var(n, 1), sg = var(n, 2),
                     c1 = var(n, 3), c2 = var(n, 4);
    const Polynomial inner = c1 + c2 * y * y;
    add("gelu_tanh",
        {Primitive::Identity, Primitive::GeluTanh, Primitive::GeluSech2,
         Primitive::GeluC1, Primitive::GeluC2},
        Polynomial::powerOfTwo(n, -1) * (y + y * tg),
        {cst(n, 1), sg * inner, cst(n, -2) * tg * sg * inner, Polynomial(n),
         Polynomial(n)},
        "GELU, tanh approximation y (1 + tanh(sqrt(2/pi) (y + 0.044715 "
        "y^3))) / 2");
  }
  return t;
}

const std::vector<std::unique_ptr<ActivationRule>> &table() {
  static const auto rules = buildTable();
  return rules;
}
} // namespace

unsigned ActivationRule::maxFaaDiBrunoOrder() const {
  {
    std::lock_guard<std::mutex> lock(mutex);
    if (faaDiBrunoLimit >= 0)
      return static_cast<unsigned>(faaDiBrunoLimit);
  }
  // Stops at the first inexact order: one more chain-rule step from there
  // would be the first that could leave int64 (a fatal error).
  unsigned limit = 0;
  while (limit < kMaxOrder &&
         derivative(limit + 1).maxAbsCoefficient() <= (int64_t(1) << 53))
    ++limit;
  std::lock_guard<std::mutex> lock(mutex);
  faaDiBrunoLimit = static_cast<int>(limit);
  return limit;
}

unsigned ActivationRule::maxAutoFaaDiBrunoOrder() const {
  constexpr unsigned kSweptOrder = 16;
  const unsigned limit = maxFaaDiBrunoOrder();
  unsigned k = std::min(limit, kSweptOrder);
  while (k < limit) {
    const Polynomial &p = derivative(k + 1);
    if (std::ldexp(static_cast<double>(p.maxAbsCoefficient()),
                   p.getScaleLog2()) > 64)
      break;
    ++k;
  }
  return k;
}

const ActivationRule *ntp::lookupActivation(const std::string &name) {
  for (const auto &rule : table())
    if (rule->getName() == name)
      return rule.get();
  return nullptr;
}

std::vector<std::string> ntp::activationNames() {
  std::vector<std::string> names;
  for (const auto &rule : table())
    names.push_back(rule->getName());
  return names;
}

std::string ntp::activationNameList() {
  std::string list;
  for (const auto &name : activationNames())
    list += (list.empty() ? "" : ", ") + name;
  return list;
}

std::optional<std::vector<std::string>>
ntp::parseActivationList(const std::string &spec, size_t hiddenLayers,
                         std::string &error) {
  std::vector<std::string> names;
  size_t begin = 0;
  for (;;) {
    size_t end = spec.find(',', begin);
    names.push_back(spec.substr(
        begin, end == std::string::npos ? std::string::npos : end - begin));
    if (end == std::string::npos)
      break;
    begin = end + 1;
  }
  for (const std::string &name : names) {
    if (name.empty()) {
      error = "unknown activation '' (an empty entry in the activation "
              "list '" +
              spec + "')";
      return std::nullopt;
    }
    if (!lookupActivation(name)) {
      error = "unknown activation '" + name + "' (expected one of " +
              activationNameList() + ")";
      return std::nullopt;
    }
  }
  if (names.size() == 1)
    return std::vector<std::string>(hiddenLayers, names.front());
  if (names.size() != hiddenLayers) {
    error = "expects one activation per hidden layer: " +
            std::to_string(hiddenLayers) + " hidden layers, " +
            std::to_string(names.size()) + " activations ('" + spec +
            "'; one name alone applies to every hidden layer)";
    return std::nullopt;
  }
  return names;
}

std::string ntp::canonicalActivationList(const std::vector<std::string> &names,
                                         const std::string &fallback) {
  if (names.empty())
    return fallback;
  bool uniform = true;
  for (const std::string &name : names)
    uniform &= name == names.front();
  if (uniform)
    return names.front();
  std::string list;
  for (const std::string &name : names)
    list += (list.empty() ? "" : ",") + name;
  return list;
}
