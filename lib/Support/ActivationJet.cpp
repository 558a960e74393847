//===- ActivationJet.cpp - The jet of an activation, as arithmetic --------===//
//
// The choice between the formulations, and the reverse mode of either, by
// reverse-mode differentiation of its DAG.
//
//===----------------------------------------------------------------------===//

#include "ntp/Support/ActivationJet.h"
#include "ntp/Support/FaaDiBruno.h"
#include "ntp/Support/TaylorRecurrence.h"

#include "llvm/Support/ErrorHandling.h"

using namespace ntp;

/// Builds the forward expansion with one formulation (not Auto).
static std::vector<int> buildFormulation(JetExpressionGraph &g,
                                         const ActivationRule &rule,
                                         unsigned order, unsigned liveInputs,
                                         JetFormulation formulation) {
  if (formulation == JetFormulation::Taylor)
    return buildTaylorJet(g, rule, order, liveInputs);
  // Callers check this first (the expansion pass reports it as an error).
  if (order > rule.maxFaaDiBrunoOrder())
    llvm::report_fatal_error("Faà di Bruno's coefficients are not exact in "
                             "double at this order");
  PolynomialEmitter polynomials(g);
  return buildFaaDiBrunoJet(g, polynomials, rule, order, liveInputs);
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

/// `build` (expandWith or differentiateWith) with `formulation`, or for
/// Auto: past the orders where Faà di Bruno is exact (or accurate), the
/// recurrence alone; else whichever of the two costs fewer flops by `flops`.
/// Ties keep Faà di Bruno: its coefficients are all exact.
template <class Build, class Flops>
static auto buildChosen(const ActivationRule &rule, unsigned order,
                        unsigned liveInputs, JetFormulation formulation,
                        Build build, Flops flops) {
  if (formulation != JetFormulation::Auto)
    return build(rule, order, liveInputs, formulation);
  if (order > rule.maxAutoFaaDiBrunoOrder())
    return build(rule, order, liveInputs, JetFormulation::Taylor);
  auto fdb = build(rule, order, liveInputs, JetFormulation::FaaDiBruno);
  auto taylor = build(rule, order, liveInputs, JetFormulation::Taylor);
  if (flops(taylor) < flops(fdb))
    return taylor;
  return fdb;
}

ActivationJetExpansion ntp::expandActivationJet(const ActivationRule &rule,
                                                unsigned order,
                                                unsigned liveInputs,
                                                JetFormulation formulation) {
  return buildChosen(rule, order, liveInputs, formulation, expandWith,
                     [](const ActivationJetExpansion &e) {
                       return e.graph.cost(e.outputs).flops();
                     });
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
  // Chosen by the VJP's own cost (what is emitted), independently of the
  // forward: the two are separate functions and need not agree.
  return buildChosen(rule, order, liveInputs, formulation, differentiateWith,
                     [](const ActivationJetVjp &v) {
                       return v.graph.cost(v.inputCotangents).flops();
                     });
}
