//===- FaaDiBruno.h - The jet of an activation, as arithmetic ---*- C++ -*-===//
//
// Faà di Bruno's formula for z = sigma(y) on truncated jets:
//   z_0 = sigma(y_0),
//   z_m = sum_{k=1..m} sigma^(k)(y_0) * B_{m,k}(y_1, ..., y_{m-k+1}),
// with the partial Bell polynomials from the exact recurrence
//   B_{0,0} = 1,  B_{m,k} = sum_{i=1..m-k+1} C(m-1, i-1) y_i B_{m-i,k-1}.
//
// The expansion is built as an arithmetic DAG (JetExpressionGraph) that is
// hash-consed, so every Bell sub-polynomial, every coefficient-times-input
// product and every power of a primitive is computed once and shared across
// orders, and structural zeros (inputs known to vanish) fold away. Code
// generation walks the DAG and emits one operation per node; the same DAG
// gives exact operation counts for the cost model.
//
//===----------------------------------------------------------------------===//

#ifndef NTP_SUPPORT_FAADIBRUNO_H
#define NTP_SUPPORT_FAADIBRUNO_H

#include "ntp/Support/ActivationRules.h"

#include "llvm/ADT/StringRef.h"

#include <cstdint>
#include <map>
#include <optional>
#include <tuple>
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

  bool isConstant(int node, double value) const;
  const std::vector<JetExpression> &getNodes() const { return nodes; }
  JetExpansionCost cost(const std::vector<int> &outputs) const;

private:
  int intern(const JetExpression &e);
  std::vector<JetExpression> nodes;
  std::map<std::tuple<int, int, double, int, int, int>, int> uniqued;
};

/// Two exact formulations of the same jet (equal up to rounding):
///  - FaaDiBruno: sigma^(k)(y_0) polynomials times partial Bell polynomials;
///    every coefficient an exact integer (or dyadic) constant.
///  - Taylor: the O(n^2) univariate Taylor recurrence, generic over rules:
///    each primitive's normalized series from u_i' = D_i(u) y'
///    (k u_{i,k} = sum_j j a_j D_i(u)_{k-j}, a_j = y_j / j!), sigma's series
///    as P_0(u) by truncated Cauchy products, z_m = m! sigma_m. The constants
///    1/k and 1/(j-1)! are rounded to double (relative 2^-53, like one
///    arithmetic operation); m! absorbs them back where it divides exactly.
///  - Auto: builds both, keeps the one with fewer flops (ties: FaaDiBruno).
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
/// order + 1). Orders above kMaxOrder are a fatal error (coefficients would
/// not be exact in double).
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

#endif // NTP_SUPPORT_FAADIBRUNO_H
