//===- TaylorRecurrence.h - A jet by the Taylor recurrence ------*- C++ -*-===//
//
// The O(n^2) univariate Taylor recurrence for z = sigma(y) on truncated jets,
// generic over the activation rules: each primitive's normalized series from
// u_i' = D_i(u) y' (k u_{i,k} = sum_j j a_j D_i(u)_{k-j}, a_j = y_j / j!),
// sigma's series as P_0(u) by truncated Cauchy products, z_m = m! sigma_m.
// The constants 1/k and 1/(j-1)! are rounded to double (relative 2^-53, like
// one arithmetic operation); m! absorbs them back where it divides exactly.
// Built on the hash-consed DAG of JetExpression.h.
//
// The formulation choice and the reverse mode are in ActivationJet.h.
//
//===----------------------------------------------------------------------===//

#ifndef NTP_SUPPORT_TAYLORRECURRENCE_H
#define NTP_SUPPORT_TAYLORRECURRENCE_H

#include "ntp/Support/JetExpression.h"

#include <vector>

namespace ntp {

/// Builds z_0..z_order of sigma(y) into `g` by the Taylor recurrence; returns
/// the nodes of z_m. Only y_0..y_{liveInputs-1} are read (1 <= liveInputs <=
/// order + 1), but every one of them is a node of `g`.
std::vector<int> buildTaylorJet(JetExpressionGraph &g,
                                const ActivationRule &rule, unsigned order,
                                unsigned liveInputs);

} // namespace ntp

#endif // NTP_SUPPORT_TAYLORRECURRENCE_H
