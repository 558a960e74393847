//===- FaaDiBruno.cpp - An activation jet by Faà di Bruno's formula -------===//

#include "ntp/Support/FaaDiBruno.h"
#include "ntp/Support/Combinatorics.h"

#include "llvm/Support/ErrorHandling.h"

using namespace ntp;

std::vector<int> ntp::buildFaaDiBrunoJet(JetExpressionGraph &g,
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
      std::vector<std::pair<int, int>> terms;
      for (unsigned i = 1; i <= m - k + 1; ++i) {
        if (g.isConstant(y[i], 0) || g.isConstant(bell[m - i][k - 1], 0))
          continue;
        // C(m-1, i-1) * y_i is shared by every k.
        int scaled = g.mul(
            g.constant(static_cast<double>(binomial(m - 1, i - 1))), y[i]);
        terms.push_back({scaled, bell[m - i][k - 1]});
      }
      bell[m][k] = g.sumOfProducts(std::move(terms), zero);
    }
  }

  std::vector<int> outputs = {sigma[0]};
  for (unsigned m = 1; m <= order; ++m) {
    std::vector<std::pair<int, int>> terms;
    for (unsigned k = 1; k <= m; ++k)
      terms.push_back({sigma[k], bell[m][k]});
    outputs.push_back(g.sumOfProducts(std::move(terms), zero));
  }
  return outputs;
}
