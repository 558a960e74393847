//===- JetExpression.cpp - The arithmetic DAG of an expanded jet ----------===//

#include "ntp/Support/JetExpression.h"

#include "llvm/Support/ErrorHandling.h"
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <map>

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
  int depth = 0;
  if (key.kind == Kind::Add || key.kind == Kind::Mul || key.kind == Kind::Fma)
    for (int operand : {key.lhs, key.rhs, key.acc})
      if (operand >= 0)
        depth = std::max(depth, depths[operand] + 1);
  depths.push_back(depth);
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

int JetExpressionGraph::sumOfProducts(std::vector<std::pair<int, int>> terms,
                                      int acc) {
  auto ready = [&](const std::pair<int, int> &t) {
    return std::max(depths[t.first], depths[t.second]);
  };
  // Stable by readiness: a multimap keeps equal keys in insertion order
  // (std::stable_sort instantiates libstdc++ 12's deprecated
  // std::get_temporary_buffer, a warning under clang 22).
  std::multimap<int, std::pair<int, int>> byReady;
  for (const std::pair<int, int> &t : terms)
    byReady.emplace(ready(t), t);
  terms.clear();
  for (const auto &entry : byReady)
    terms.push_back(entry.second);
  if (terms.empty())
    return acc;
  for (size_t i = 0; i + 1 < terms.size(); ++i)
    acc = fma(terms[i].first, terms[i].second, acc);
  // The newest term, x * (c * s) with c a constant (a rounded reciprocal 1/k,
  // a sign, a factor 2) and x older than s, as (c * x) * s where the chain
  // waits for it: the multiplication by c leaves the chain (the Taylor
  // recurrence's scalings by 1/k then cost it no latency: 2 operations per
  // order instead of 4) for one more multiplication beside it, usually shared
  // (-x) or otherwise one per order. The same roundings, in another order.
  auto [early, late] = terms.back();
  if (depths[early] > depths[late])
    std::swap(early, late);
  // The constant operand of a product node, or -1.
  auto constantFactor = [&](const JetExpression &e) {
    if (e.kind != Kind::Mul)
      return -1;
    return nodes[e.lhs].kind == Kind::Constant   ? e.lhs
           : nodes[e.rhs].kind == Kind::Constant ? e.rhs
                                                 : -1;
  };
  const JetExpression &scaled = nodes[late];
  if (scaled.kind == Kind::Mul) {
    int c = constantFactor(scaled);
    int s = c == scaled.lhs ? scaled.rhs : scaled.lhs;
    if (c >= 0 && depths[early] < depths[s] && depths[acc] <= depths[s]) {
      double value = nodes[c].value;
      // c (c' x) as (c c') x where c c' is exact: 1/2 (2 t) is t. (Copies:
      // adding nodes may reallocate `nodes`.)
      const JetExpression e = nodes[early];
      if (int c2 = constantFactor(e); c2 >= 0) {
        double other = nodes[c2].value, product = value * other;
        int x = c2 == e.lhs ? e.rhs : e.lhs;
        if (std::fma(value, other, -product) == 0)
          return fma(mul(constant(product), x), s, acc);
      }
      return fma(mul(constant(value), early), s, acc);
    }
  }
  return fma(early, late, acc);
}

JetExpansionCost
JetExpressionGraph::cost(const std::vector<int> &outputs) const {
  std::vector<bool> live = neededBy(outputs);
  JetExpansionCost c;
  for (int n : outputs)
    if (n >= 0)
      c.criticalPath = std::max<int64_t>(c.criticalPath, depths[n]);
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
// PolynomialEmitter
//===----------------------------------------------------------------------===//

int PolynomialEmitter::emit(const Polynomial &p) {
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

int PolynomialEmitter::power(unsigned variable, unsigned exponent) {
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
