//===- FaaDiBruno.h - A jet by Faà di Bruno's formula -----------*- C++ -*-===//
//
// Faà di Bruno's formula for z = sigma(y) on truncated jets:
//   z_0 = sigma(y_0),
//   z_m = sum_{k=1..m} sigma^(k)(y_0) * B_{m,k}(y_1, ..., y_{m-k+1}),
// with the partial Bell polynomials from the exact recurrence
//   B_{0,0} = 1,  B_{m,k} = sum_{i=1..m-k+1} C(m-1, i-1) y_i B_{m-i,k-1},
// built on the hash-consed DAG of JetExpression.h, so every Bell
// sub-polynomial, every coefficient-times-input product and every power of a
// primitive is computed once and shared across orders. Every coefficient is
// an exact integer (or dyadic) constant.
//
// The formulation choice and the reverse mode are in ActivationJet.h.
//
//===----------------------------------------------------------------------===//

#ifndef NTP_SUPPORT_FAADIBRUNO_H
#define NTP_SUPPORT_FAADIBRUNO_H

#include "ntp/Support/JetExpression.h"

// The users that include this header for JetFormulation and
// expandActivationJet (lib/Compiler, ntp-bench, the end-to-end tests) get
// them from here until they include ActivationJet.h.
#include "ntp/Support/ActivationJet.h"

#include <vector>

namespace ntp {

/// Builds z_0..z_order of sigma(y) into `g` by Faà di Bruno's formula,
/// sigma^(k) through `polynomials`; returns the nodes of z_m. Only
/// y_0..y_{liveInputs-1} are read (1 <= liveInputs <= order + 1).
std::vector<int> buildFaaDiBrunoJet(JetExpressionGraph &g,
                                    PolynomialEmitter &polynomials,
                                    const ActivationRule &rule, unsigned order,
                                    unsigned liveInputs);

} // namespace ntp

#endif // NTP_SUPPORT_FAADIBRUNO_H
