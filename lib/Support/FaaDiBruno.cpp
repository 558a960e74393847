//===- FaaDiBruno.cpp - The jet of an activation, as arithmetic -----------===//

#include "ntp/Support/FaaDiBruno.h"
#include "ntp/Support/Combinatorics.h"

#include "llvm/Support/ErrorHandling.h"
#include <cmath>
#include <cstdlib>

using namespace ntp;
using Kind = JetExpression::Kind;

//===----------------------------------------------------------------------===//
// JetExpressionGraph
//===----------------------------------------------------------------------===//

int JetExpressionGraph::intern(const JetExpression &e) {
  // Commutative operands are ordered so that a*b and b*a share one node.
  JetExpression key = e;
  if ((key.kind == Kind::Add || key.kind == Kind::Mul ||
       key.kind == Kind::Fma) &&
      key.lhs > key.rhs)
    std::swap(key.lhs, key.rhs);
  auto tuple = std::make_tuple(static_cast<int>(key.kind), key.index, key.value,
                               key.lhs, key.rhs, key.acc);
  auto it = uniqued.find(tuple);
  if (it != uniqued.end())
    return it->second;
  nodes.push_back(key);
  int id = static_cast<int>(nodes.size()) - 1;
  uniqued.emplace(tuple, id);
  return id;
}

int JetExpressionGraph::input(int order) {
  JetExpression e{Kind::Input};
  e.index = order;
  return intern(e);
}

int JetExpressionGraph::primitive(int index) {
  JetExpression e{Kind::Primitive};
  e.index = index;
  return intern(e);
}

int JetExpressionGraph::constant(double value) {
  JetExpression e{Kind::Constant};
  e.value = value;
  return intern(e);
}

bool JetExpressionGraph::isConstant(int node, double value) const {
  return nodes[node].kind == Kind::Constant && nodes[node].value == value;
}

int JetExpressionGraph::add(int lhs, int rhs) {
  if (isConstant(lhs, 0))
    return rhs;
  if (isConstant(rhs, 0))
    return lhs;
  if (nodes[lhs].kind == Kind::Constant && nodes[rhs].kind == Kind::Constant)
    return constant(nodes[lhs].value + nodes[rhs].value);
  JetExpression e{Kind::Add};
  e.lhs = lhs;
  e.rhs = rhs;
  return intern(e);
}

int JetExpressionGraph::mul(int lhs, int rhs) {
  if (isConstant(lhs, 0) || isConstant(rhs, 0))
    return constant(0);
  if (isConstant(lhs, 1))
    return rhs;
  if (isConstant(rhs, 1))
    return lhs;
  if (nodes[lhs].kind == Kind::Constant && nodes[rhs].kind == Kind::Constant)
    return constant(nodes[lhs].value * nodes[rhs].value);
  JetExpression e{Kind::Mul};
  e.lhs = lhs;
  e.rhs = rhs;
  return intern(e);
}

int JetExpressionGraph::fma(int lhs, int rhs, int acc) {
  if (isConstant(lhs, 0) || isConstant(rhs, 0))
    return acc;
  if (isConstant(acc, 0))
    return mul(lhs, rhs);
  if (isConstant(lhs, 1))
    return add(rhs, acc);
  if (isConstant(rhs, 1))
    return add(lhs, acc);
  JetExpression e{Kind::Fma};
  e.lhs = lhs;
  e.rhs = rhs;
  e.acc = acc;
  return intern(e);
}

JetExpansionCost
JetExpressionGraph::cost(const std::vector<int> &outputs) const {
  std::vector<bool> live(nodes.size(), false);
  std::vector<int> stack(outputs.begin(), outputs.end());
  while (!stack.empty()) {
    int n = stack.back();
    stack.pop_back();
    if (n < 0 || live[n])
      continue;
    live[n] = true;
    stack.push_back(nodes[n].lhs);
    stack.push_back(nodes[n].rhs);
    stack.push_back(nodes[n].acc);
  }
  JetExpansionCost c;
  for (size_t i = 0; i < nodes.size(); ++i) {
    if (!live[i])
      continue;
    switch (nodes[i].kind) {
    case Kind::Add:
      ++c.adds;
      break;
    case Kind::Mul:
      ++c.muls;
      break;
    case Kind::Fma:
      ++c.fmas;
      break;
    case Kind::Primitive:
      ++c.primitives;
      break;
    case Kind::Constant:
      ++c.constants;
      break;
    case Kind::Input:
      break;
    }
  }
  return c;
}

//===----------------------------------------------------------------------===//
// The expansion
//===----------------------------------------------------------------------===//

namespace {
/// Evaluates the rule's derivative polynomials on the graph, sharing the
/// powers of each primitive across all orders.
class PolynomialEmitter {
public:
  explicit PolynomialEmitter(JetExpressionGraph &g) : g(g) {}

  int emit(const Polynomial &p) {
    int sum = g.constant(0);
    // The constant term (the smallest exponents) first: it seeds the sum, so
    // every further term is one fma.
    for (auto it = p.terms().begin(); it != p.terms().end(); ++it) {
      int monomial = g.constant(1);
      for (unsigned v = 0; v < it->first.size(); ++v)
        monomial = g.mul(monomial, power(v, it->first[v]));
      // Exact: an integer below 2^53 times a power of two.
      if (std::llabs(it->second) > (int64_t(1) << 53))
        llvm::report_fatal_error("activation coefficient is not exact in "
                                 "double");
      sum = g.fma(g.constant(std::ldexp(static_cast<double>(it->second),
                                        p.getScaleLog2())),
                  monomial, sum);
    }
    return sum;
  }

private:
  int power(unsigned variable, unsigned exponent) {
    if (exponent == 0)
      return g.constant(1);
    auto key = std::make_pair(variable, exponent);
    auto it = powers.find(key);
    if (it != powers.end())
      return it->second;
    // u^e = u^(e/2) * u^(e - e/2): logarithmic depth, shared across orders.
    int r = exponent == 1 ? g.primitive(variable)
                          : g.mul(power(variable, exponent / 2),
                                  power(variable, exponent - exponent / 2));
    powers.emplace(key, r);
    return r;
  }

  JetExpressionGraph &g;
  std::map<std::pair<unsigned, unsigned>, int> powers;
};
} // namespace

/// Builds z_0..z_order of sigma(y) into `g`; see expandActivationJet.
static std::vector<int> buildExpansion(JetExpressionGraph &g,
                                       PolynomialEmitter &polynomials,
                                       const ActivationRule &rule,
                                       unsigned order, unsigned liveInputs) {
  if (liveInputs < 1 || liveInputs > order + 1)
    llvm::report_fatal_error("live input orders must be in [1, order + 1]");
  const int zero = g.constant(0);

  std::vector<int> y(order + 1, zero);
  for (unsigned i = 0; i < liveInputs; ++i)
    y[i] = g.input(i);

  // sigma^(k)(y_0) for k = 0..order, as polynomials in the primitives.
  std::vector<int> sigma(order + 1);
  for (unsigned k = 0; k <= order; ++k)
    sigma[k] = polynomials.emit(rule.derivative(k));

  // bell[m][k] = B_{m,k}(y_1, ..., y_{m-k+1}).
  std::vector<std::vector<int>> bell(order + 1,
                                     std::vector<int>(order + 1, zero));
  bell[0][0] = g.constant(1);
  for (unsigned m = 1; m <= order; ++m) {
    for (unsigned k = 1; k <= m; ++k) {
      int acc = zero;
      for (unsigned i = 1; i <= m - k + 1; ++i) {
        if (g.isConstant(y[i], 0) || g.isConstant(bell[m - i][k - 1], 0))
          continue;
        // C(m-1, i-1) * y_i is shared by every k.
        int scaled = g.mul(
            g.constant(static_cast<double>(binomial(m - 1, i - 1))), y[i]);
        acc = g.fma(scaled, bell[m - i][k - 1], acc);
      }
      bell[m][k] = acc;
    }
  }

  std::vector<int> outputs = {sigma[0]};
  for (unsigned m = 1; m <= order; ++m) {
    int z = zero;
    for (unsigned k = 1; k <= m; ++k)
      z = g.fma(sigma[k], bell[m][k], z);
    outputs.push_back(z);
  }
  return outputs;
}

namespace {
/// Truncated Taylor series of the primitives, of products of them and of
/// polynomials in them, in normalized coefficients (c_k = c^(k)(t) / k!),
/// each coefficient a node of the graph, built lazily order by order.
///
/// Primitive i obeys u_i' = D_i(u) y', so with a_k = y_k / k!
///   k u_{i,k} = sum_{j=1..k} (j a_j) D_i(u)_{k-j},
/// where the series of D_i(u) needs only u_{.,<k}: products are truncated
/// Cauchy products (squares by symmetry), shared through the powers.
///
/// Exactness: 1/k and j/j! = 1/(j-1)! are not dyadic, so those constants are
/// rounded to double (relative 2^-53, the same as one arithmetic rounding).
/// They are remembered as quotients, so the final scaling z_m = m! sigma_m
/// folds them back into the exact integer m! / (k (j-1)! ...) where it can.
class TaylorSeriesBuilder {
public:
  TaylorSeriesBuilder(JetExpressionGraph &g, const ActivationRule &rule,
                      unsigned order, unsigned liveInputs)
      : g(g) {
    const int zero = g.constant(0);
    scaledInputs.assign(order + 1, zero);
    for (unsigned j = 0; j < liveInputs; ++j) {
      // Every live input exists as a node (the VJP reads their adjoints),
      // even y_0, which enters only through the primitives.
      int y = g.input(static_cast<int>(j));
      if (j >= 1)
        scaledInputs[j] = quotient(y, factorial(j - 1));
    }
    unsigned numPrimitives = rule.getPrimitives().size();
    for (unsigned i = 0; i < numPrimitives; ++i)
      addSeries({SeriesKind::Primitive, static_cast<int>(i), -1, {}});
    for (unsigned i = 0; i < numPrimitives; ++i)
      derivativeSeries.push_back(polynomialSeries(rule.primitiveDerivative(i)));
  }

  int polynomialSeries(const Polynomial &p) {
    Series s{SeriesKind::Polynomial, -1, -1, {}};
    for (const auto &[exponents, c] : p.terms()) {
      if (std::llabs(c) > (int64_t(1) << 53))
        llvm::report_fatal_error("activation coefficient is not exact in "
                                 "double");
      int monomial = -1; // the constant 1
      for (unsigned v = 0; v < exponents.size(); ++v)
        if (exponents[v] != 0)
          monomial = monomial < 0 ? power(v, exponents[v])
                                  : product(monomial, power(v, exponents[v]));
      s.terms.push_back(
          {std::ldexp(static_cast<double>(c), p.getScaleLog2()), monomial});
    }
    return addSeries(std::move(s));
  }

  /// The node of coefficient k of `series`.
  int coefficient(int series, unsigned k) {
    while (all[series].coefficients.size() <= k) {
      unsigned next = all[series].coefficients.size();
      int node = compute(series, next);
      all[series].coefficients.push_back(node);
    }
    return all[series].coefficients[k];
  }

  /// m! * node, with the rounded reciprocals and dyadic constant factors of
  /// `node` folded into one constant (exact when m! absorbs them).
  int timesFactorial(int node, unsigned m) {
    int64_t scale = factorial(m);
    double dyadic = 1;
    for (;;) {
      auto it = quotients.find(node);
      if (it != quotients.end() && scale % it->second.second == 0) {
        scale /= it->second.second;
        node = it->second.first;
        continue;
      }
      const JetExpression &n = g.getNodes()[node];
      if (it == quotients.end() && n.kind == Kind::Mul) {
        // A power of two scales exactly; other constants stay put.
        auto isPowerOfTwo = [&](int operand) {
          const JetExpression &c = g.getNodes()[operand];
          int e;
          return c.kind == Kind::Constant && std::frexp(c.value, &e) == 0.5;
        };
        int constant = isPowerOfTwo(n.lhs)   ? n.lhs
                       : isPowerOfTwo(n.rhs) ? n.rhs
                                             : -1;
        if (constant >= 0) {
          dyadic *= g.getNodes()[constant].value;
          node = constant == n.lhs ? n.rhs : n.lhs;
          continue;
        }
      }
      break;
    }
    return g.mul(g.constant(static_cast<double>(scale) * dyadic), node);
  }

private:
  enum class SeriesKind { Primitive, Product, Polynomial };
  struct Term {
    double coefficient;
    int monomial; // a series, or -1 for the constant 1
  };
  struct Series {
    SeriesKind kind;
    int lhs, rhs; // Primitive: lhs is its index; Product: the factors
    std::vector<Term> terms;
    std::vector<int> coefficients = {};
  };

  static int64_t factorial(unsigned n) {
    int64_t f = 1;
    for (unsigned i = 2; i <= n; ++i)
      f *= i;
    return f;
  }

  /// node / divisor, as a multiplication by the rounded reciprocal.
  int quotient(int node, int64_t divisor) {
    if (divisor == 1)
      return node;
    int q = g.mul(g.constant(1.0 / static_cast<double>(divisor)), node);
    quotients.emplace(q, std::make_pair(node, divisor));
    return q;
  }

  int addSeries(Series s) {
    all.push_back(std::move(s));
    return static_cast<int>(all.size()) - 1;
  }

  int product(int lhs, int rhs) {
    if (lhs > rhs)
      std::swap(lhs, rhs);
    auto key = std::make_pair(lhs, rhs);
    auto it = products.find(key);
    if (it != products.end())
      return it->second;
    int s = addSeries({SeriesKind::Product, lhs, rhs, {}});
    products.emplace(key, s);
    return s;
  }

  int power(unsigned variable, unsigned exponent) {
    if (exponent == 1)
      return static_cast<int>(variable); // the primitive's own series
    auto key = std::make_pair(variable, exponent);
    auto it = powers.find(key);
    if (it != powers.end())
      return it->second;
    int s = product(power(variable, exponent / 2),
                    power(variable, exponent - exponent / 2));
    powers.emplace(key, s);
    return s;
  }

  int compute(int series, unsigned k) {
    // Copies: coefficient() may grow `all`'s coefficient vectors.
    SeriesKind kind = all[series].kind;
    int lhs = all[series].lhs, rhs = all[series].rhs;
    int acc = g.constant(0);
    switch (kind) {
    case SeriesKind::Primitive: {
      if (k == 0)
        return g.primitive(lhs);
      int derivative = derivativeSeries[lhs];
      for (unsigned j = 1; j <= k; ++j)
        acc = g.fma(scaledInputs[j], coefficient(derivative, k - j), acc);
      return quotient(acc, k);
    }
    case SeriesKind::Product:
      if (lhs == rhs) {
        // sum_j A_j A_{k-j} = sum_{2j<k} (2 A_j) A_{k-j} + A_{k/2}^2.
        for (unsigned j = 0; 2 * j < k; ++j)
          acc = g.fma(g.mul(g.constant(2), coefficient(lhs, j)),
                      coefficient(lhs, k - j), acc);
        if (k % 2 == 0)
          acc = g.fma(coefficient(lhs, k / 2), coefficient(lhs, k / 2), acc);
        return acc;
      }
      for (unsigned j = 0; j <= k; ++j)
        acc = g.fma(coefficient(lhs, j), coefficient(rhs, k - j), acc);
      return acc;
    case SeriesKind::Polynomial: {
      std::vector<Term> terms = all[series].terms;
      for (const Term &t : terms) {
        int m = t.monomial >= 0 ? coefficient(t.monomial, k)
                                : g.constant(k == 0 ? 1 : 0);
        acc = g.fma(g.constant(t.coefficient), m, acc);
      }
      return acc;
    }
    }
    llvm_unreachable("unknown series kind");
  }

  JetExpressionGraph &g;
  /// j a_j = y_j / (j-1)!, structural zeros above the live orders.
  std::vector<int> scaledInputs;
  std::vector<Series> all; // the primitives' series first, by index
  std::vector<int> derivativeSeries;
  std::map<std::pair<int, int>, int> products;
  std::map<std::pair<unsigned, unsigned>, int> powers;
  /// Nodes that are mul(1/divisor, base): node -> (base, divisor).
  std::map<int, std::pair<int, int64_t>> quotients;
};
} // namespace

/// Builds z_0..z_order by the Taylor recurrence; see JetFormulation::Taylor.
static std::vector<int> buildTaylorExpansion(JetExpressionGraph &g,
                                             const ActivationRule &rule,
                                             unsigned order,
                                             unsigned liveInputs) {
  if (liveInputs < 1 || liveInputs > order + 1)
    llvm::report_fatal_error("live input orders must be in [1, order + 1]");
  TaylorSeriesBuilder series(g, rule, order, liveInputs);
  int sigma = series.polynomialSeries(rule.derivative(0));
  std::vector<int> outputs;
  for (unsigned m = 0; m <= order; ++m)
    outputs.push_back(series.timesFactorial(series.coefficient(sigma, m), m));
  return outputs;
}

/// Builds the forward expansion with one formulation (not Auto).
static std::vector<int> buildFormulation(JetExpressionGraph &g,
                                         const ActivationRule &rule,
                                         unsigned order, unsigned liveInputs,
                                         JetFormulation formulation) {
  if (formulation == JetFormulation::Taylor)
    return buildTaylorExpansion(g, rule, order, liveInputs);
  PolynomialEmitter polynomials(g);
  return buildExpansion(g, polynomials, rule, order, liveInputs);
}

const char *ntp::jetFormulationName(JetFormulation formulation) {
  switch (formulation) {
  case JetFormulation::FaaDiBruno:
    return "faa-di-bruno";
  case JetFormulation::Taylor:
    return "taylor";
  case JetFormulation::Auto:
    return "auto";
  }
  llvm_unreachable("unknown formulation");
}

std::optional<JetFormulation> ntp::parseJetFormulation(llvm::StringRef name) {
  for (JetFormulation f : {JetFormulation::FaaDiBruno, JetFormulation::Taylor,
                           JetFormulation::Auto})
    if (name == jetFormulationName(f))
      return f;
  return std::nullopt;
}

static ActivationJetExpansion expandWith(const ActivationRule &rule,
                                         unsigned order, unsigned liveInputs,
                                         JetFormulation formulation) {
  ActivationJetExpansion result;
  result.formulation = formulation;
  result.outputs =
      buildFormulation(result.graph, rule, order, liveInputs, formulation);
  return result;
}

ActivationJetExpansion ntp::expandActivationJet(const ActivationRule &rule,
                                                unsigned order,
                                                unsigned liveInputs,
                                                JetFormulation formulation) {
  if (formulation != JetFormulation::Auto)
    return expandWith(rule, order, liveInputs, formulation);
  ActivationJetExpansion fdb =
      expandWith(rule, order, liveInputs, JetFormulation::FaaDiBruno);
  ActivationJetExpansion taylor =
      expandWith(rule, order, liveInputs, JetFormulation::Taylor);
  // Ties keep Faà di Bruno: its coefficients are all exact.
  if (taylor.graph.cost(taylor.outputs).flops() <
      fdb.graph.cost(fdb.outputs).flops())
    return taylor;
  return fdb;
}

static ActivationJetVjp differentiateWith(const ActivationRule &rule,
                                          unsigned order, unsigned liveInputs,
                                          JetFormulation formulation) {
  ActivationJetVjp result;
  result.formulation = formulation;
  JetExpressionGraph &g = result.graph;
  PolynomialEmitter polynomials(g);
  std::vector<int> outputs =
      buildFormulation(g, rule, order, liveInputs, formulation);
  const int zero = g.constant(0);
  const int y0 = g.input(0);

  // Reverse sweep over the forward nodes (operands always precede their
  // users), accumulating adjoints as new nodes of the same graph, so the
  // adjoint shares subexpressions with the forward expansion.
  const size_t forwardSize = g.getNodes().size();
  std::vector<int> adjoint(forwardSize, zero);
  for (unsigned m = 0; m <= order; ++m)
    adjoint[outputs[m]] =
        g.add(adjoint[outputs[m]], g.input(static_cast<int>(order + 1 + m)));
  for (size_t i = forwardSize; i-- > 0;) {
    int a = adjoint[i];
    if (g.isConstant(a, 0))
      continue;
    // Copy: adding nodes may reallocate the node vector.
    JetExpression node = g.getNodes()[i];
    switch (node.kind) {
    case JetExpression::Kind::Add:
      adjoint[node.lhs] = g.add(adjoint[node.lhs], a);
      adjoint[node.rhs] = g.add(adjoint[node.rhs], a);
      break;
    case JetExpression::Kind::Fma:
      adjoint[node.acc] = g.add(adjoint[node.acc], a);
      [[fallthrough]];
    case JetExpression::Kind::Mul:
      adjoint[node.lhs] = g.fma(a, node.rhs, adjoint[node.lhs]);
      adjoint[node.rhs] = g.fma(a, node.lhs, adjoint[node.rhs]);
      break;
    case JetExpression::Kind::Primitive: {
      // d u_p / d y0 is the rule's derivative of the primitive.
      Polynomial derivative =
          rule.primitiveDerivative(static_cast<unsigned>(node.index));
      adjoint[y0] = g.fma(a, polynomials.emit(derivative), adjoint[y0]);
      break;
    }
    case JetExpression::Kind::Input:
    case JetExpression::Kind::Constant:
      break;
    }
  }
  for (unsigned k = 0; k < liveInputs; ++k)
    result.inputCotangents.push_back(adjoint[g.input(static_cast<int>(k))]);
  return result;
}

ActivationJetVjp ntp::differentiateActivationJet(const ActivationRule &rule,
                                                 unsigned order,
                                                 unsigned liveInputs,
                                                 JetFormulation formulation) {
  if (formulation != JetFormulation::Auto)
    return differentiateWith(rule, order, liveInputs, formulation);
  // Chosen by the VJP's own cost (what is emitted), independently of the
  // forward: the two are separate functions and need not agree.
  ActivationJetVjp fdb =
      differentiateWith(rule, order, liveInputs, JetFormulation::FaaDiBruno);
  ActivationJetVjp taylor =
      differentiateWith(rule, order, liveInputs, JetFormulation::Taylor);
  if (taylor.graph.cost(taylor.inputCotangents).flops() <
      fdb.graph.cost(fdb.inputCotangents).flops())
    return taylor;
  return fdb;
}
