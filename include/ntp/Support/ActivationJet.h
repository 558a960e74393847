//===- ActivationJet.h - An activation's jet as arithmetic ------*- C++ -*-===//
//
// What the compiler asks for: the jet z = sigma(y) of an activation, and its
// reverse mode, as an arithmetic DAG (JetExpression.h) in one of two exact
// formulations (FaaDiBruno.h, TaylorRecurrence.h) or the cheaper of them by
// exact operation counts on the DAG.
//
//===----------------------------------------------------------------------===//

#ifndef NTP_SUPPORT_ACTIVATIONJET_H
#define NTP_SUPPORT_ACTIVATIONJET_H

#include "ntp/Support/JetExpression.h"

#include "llvm/ADT/StringRef.h"

#include <optional>
#include <vector>

namespace ntp {

/// Two exact formulations of the same jet (equal up to rounding):
///  - FaaDiBruno (FaaDiBruno.h): sigma^(k)(y_0) polynomials times partial
///    Bell polynomials; every coefficient an exact integer (or dyadic)
///    constant.
///  - Taylor (TaylorRecurrence.h): the O(n^2) univariate Taylor recurrence
///    of the primitives, generic over rules; the constants 1/k and 1/(j-1)!
///    are rounded to double (relative 2^-53, like one arithmetic operation).
///  - Auto: builds both, keeps the one with fewer flops (ties: FaaDiBruno);
///    Taylor alone past rule.maxAutoFaaDiBrunoOrder().
enum class JetFormulation { FaaDiBruno, Taylor, Auto };

/// "faa-di-bruno", "taylor", "auto" (the pass option's spelling).
const char *jetFormulationName(JetFormulation formulation);
std::optional<JetFormulation> parseJetFormulation(llvm::StringRef name);

/// The expanded jet of one activation.
struct ActivationJetExpansion {
  /// The formulation built (never Auto).
  JetFormulation formulation = JetFormulation::FaaDiBruno;
  JetExpressionGraph graph;
  /// outputs[m] is the node of z_m, m = 0..order.
  std::vector<int> outputs;
};

/// Expands z = sigma(y) for orders 0..order. Only y_0..y_{liveInputs-1} are
/// read; higher input orders are structural zeros (1 <= liveInputs <=
/// order + 1). Orders above kMaxOrder, and Faà di Bruno above
/// rule.maxFaaDiBrunoOrder(), are a fatal error (coefficients would not be
/// exact in double): callers check first.
ActivationJetExpansion
expandActivationJet(const ActivationRule &rule, unsigned order,
                    unsigned liveInputs,
                    JetFormulation formulation = JetFormulation::Auto);

/// The reverse mode (vector-Jacobian product) of an activation jet, derived
/// by reverse-mode differentiation of the expansion DAG. Graph inputs:
/// Input(k), k < liveInputs, is y_k; Input(order + 1 + m), m = 0..order, is
/// the cotangent zbar_m of z_m. Primitives are differentiated with the rule's
/// primitive derivatives (tanh: dt/dy0 = 1 - t^2), so the result is again a
/// polynomial expansion in the primitives of y0, the jet and the cotangents.
struct ActivationJetVjp {
  /// The formulation differentiated (never Auto).
  JetFormulation formulation = JetFormulation::FaaDiBruno;
  JetExpressionGraph graph;
  /// inputCotangents[k] is the node of ybar_k = sum_m zbar_m dz_m/dy_k,
  /// k < liveInputs.
  std::vector<int> inputCotangents;
};

/// With Auto, the formulation whose VJP has fewer flops (ties: FaaDiBruno),
/// chosen independently of the forward's.
ActivationJetVjp
differentiateActivationJet(const ActivationRule &rule, unsigned order,
                           unsigned liveInputs,
                           JetFormulation formulation = JetFormulation::Auto);

} // namespace ntp

#endif // NTP_SUPPORT_ACTIVATIONJET_H
