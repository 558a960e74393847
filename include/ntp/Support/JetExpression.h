//===- JetExpression.h - The DAG of an expanded jet -------------*- C++ -*-===//
//
// The machinery both formulations of an activation jet (FaaDiBruno.h,
// TaylorRecurrence.h) build on: a hash-consed arithmetic DAG
// (JetExpressionGraph) in which every subexpression is computed once and
// shared across orders, and structural zeros (inputs known to vanish) and
// multiplications by one fold away. Code generation walks the DAG and emits
// one operation per node; the same DAG gives exact operation counts for the
// cost model.
//
//===----------------------------------------------------------------------===//

#ifndef NTP_SUPPORT_JETEXPRESSION_H
#define NTP_SUPPORT_JETEXPRESSION_H

#include "ntp/Support/ActivationRules.h"

#include <cstdint>
#include <map>
#include <tuple>
#include <utility>
#include <vector>

namespace ntp {

/// One node of the arithmetic DAG of an expanded jet.
struct JetExpression {
  enum class Kind {
    Input,     // y_index, an order of the input jet
    Primitive, // the rule's primitive number `index`, evaluated at y_0
    Constant,  // an exact integer coefficient
    Add,       // lhs + rhs
    Mul,       // lhs * rhs
    Fma        // lhs * rhs + acc
  };
  Kind kind;
  int index = -1;   // Input, Primitive
  double value = 0; // Constant
  int lhs = -1, rhs = -1, acc = -1;
};

/// Operation counts of an expansion (nodes reachable from its outputs).
struct JetExpansionCost {
  int64_t adds = 0, muls = 0, fmas = 0, primitives = 0, constants = 0;
  /// The longest chain of dependent arithmetic operations from an input or
  /// primitive to an output (what bounds a neuron's latency).
  int64_t criticalPath = 0;
  /// Floating-point operations, an FMA counting as two.
  int64_t flops() const { return adds + muls + 2 * fmas; }
};

/// A hash-consed arithmetic DAG with algebraic folding of 0 and 1.
class JetExpressionGraph {
public:
  int input(int order);
  int primitive(int index);
  int constant(double value);
  int add(int lhs, int rhs);
  int mul(int lhs, int rhs);
  /// lhs * rhs + acc, folded to mul/add when an operand is 0 or 1.
  int fma(int lhs, int rhs, int acc);
  /// acc + sum_i lhs_i * rhs_i as one chain of FMAs, the terms whose
  /// operands are ready first entered first (a stable order by depth), so
  /// that the chain waits only for its last term instead of starting from
  /// the newest one: the jet recurrences' sums then add ~one operation of
  /// latency per order where they added a chain as long as the order.
  int sumOfProducts(std::vector<std::pair<int, int>> terms, int acc);

  /// Operations on the longest dependency chain ending at `node`.
  int depth(int node) const { return depths[node]; }
  bool isConstant(int node, double value) const;
  const std::vector<JetExpression> &getNodes() const { return nodes; }
  JetExpansionCost cost(const std::vector<int> &outputs) const;
  /// The nodes `outputs` read, directly or through other nodes (negative
  /// entries stand for no node): one backward sweep, since nodes are
  /// created operands first.
  template <typename Range>
  std::vector<bool> neededBy(const Range &outputs) const {
    std::vector<bool> needed(nodes.size(), false);
    for (int o : outputs)
      if (o >= 0)
        needed[o] = true;
    for (size_t i = nodes.size(); i-- > 0;)
      if (needed[i])
        for (int operand : {nodes[i].lhs, nodes[i].rhs, nodes[i].acc})
          if (operand >= 0)
            needed[operand] = true;
    return needed;
  }

private:
  int intern(const JetExpression &e);
  std::vector<JetExpression> nodes;
  std::vector<int> depths;
  std::map<std::tuple<int, int, double, int, int, int>, int> uniqued;
};

/// Evaluates polynomials in a rule's primitives (sigma^(k), the primitives'
/// derivatives) on a graph, sharing the powers of each primitive across all
/// the polynomials it emits.
class PolynomialEmitter {
public:
  explicit PolynomialEmitter(JetExpressionGraph &g) : g(g) {}

  /// The node of `p` at the primitives. Coefficients must be exact in double
  /// (a fatal error otherwise).
  int emit(const Polynomial &p);

private:
  int power(unsigned variable, unsigned exponent);

  JetExpressionGraph &g;
  std::map<std::pair<unsigned, unsigned>, int> powers;
};

} // namespace ntp

#endif // NTP_SUPPORT_JETEXPRESSION_H
