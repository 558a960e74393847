//===- TaylorRecurrence.cpp - A jet by the Taylor recurrence --------------===//

#include "ntp/Support/TaylorRecurrence.h"

#include "llvm/Support/ErrorHandling.h"
#include <cmath>
#include <cstdlib>

using namespace ntp;
using Kind = JetExpression::Kind;

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
    Integer scale = factorial(m);
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
    // m! (up to 32! < 2^128) is rounded to double only here, once.
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

  /// Factorials up to kMaxOrder! = 32! ~ 2.6e35 and their quotients, exact.
  using Integer = unsigned __int128;
  static Integer factorial(unsigned n) {
    if (n > 33)
      llvm::report_fatal_error("factorial beyond 33! does not fit 128 bits");
    Integer f = 1;
    for (unsigned i = 2; i <= n; ++i)
      f *= i;
    return f;
  }

  /// node / divisor, as a multiplication by the rounded reciprocal.
  int quotient(int node, Integer divisor) {
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
      std::vector<std::pair<int, int>> terms;
      for (unsigned j = 1; j <= k; ++j)
        terms.push_back({scaledInputs[j], coefficient(derivative, k - j)});
      return quotient(g.sumOfProducts(std::move(terms), acc), k);
    }
    case SeriesKind::Product: {
      std::vector<std::pair<int, int>> terms;
      if (lhs == rhs) {
        // sum_j A_j A_{k-j} = sum_{2j<k} (2 A_j) A_{k-j} + A_{k/2}^2.
        for (unsigned j = 0; 2 * j < k; ++j)
          terms.push_back({g.mul(g.constant(2), coefficient(lhs, j)),
                           coefficient(lhs, k - j)});
        if (k % 2 == 0)
          terms.push_back({coefficient(lhs, k / 2), coefficient(lhs, k / 2)});
      } else {
        for (unsigned j = 0; j <= k; ++j)
          terms.push_back({coefficient(lhs, j), coefficient(rhs, k - j)});
      }
      return g.sumOfProducts(std::move(terms), acc);
    }
    case SeriesKind::Polynomial: {
      std::vector<Term> terms = all[series].terms;
      std::vector<std::pair<int, int>> products;
      for (const Term &t : terms) {
        int m = t.monomial >= 0 ? coefficient(t.monomial, k)
                                : g.constant(k == 0 ? 1 : 0);
        products.push_back({g.constant(t.coefficient), m});
      }
      return g.sumOfProducts(std::move(products), acc);
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
  std::map<int, std::pair<int, Integer>> quotients;
};
} // namespace

std::vector<int> ntp::buildTaylorJet(JetExpressionGraph &g,
                                     const ActivationRule &rule, unsigned order,
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
