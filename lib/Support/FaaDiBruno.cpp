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

ActivationJetExpansion ntp::expandActivationJet(const ActivationRule &rule,
                                                unsigned order,
                                                unsigned liveInputs) {
  ActivationJetExpansion result;
  PolynomialEmitter polynomials(result.graph);
  result.outputs =
      buildExpansion(result.graph, polynomials, rule, order, liveInputs);
  return result;
}

ActivationJetVjp ntp::differentiateActivationJet(const ActivationRule &rule,
                                                 unsigned order,
                                                 unsigned liveInputs) {
  ActivationJetVjp result;
  JetExpressionGraph &g = result.graph;
  PolynomialEmitter polynomials(g);
  std::vector<int> outputs =
      buildExpansion(g, polynomials, rule, order, liveInputs);
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
