//===- PolyOps.cpp - Verifiers of the multivariate Taylor ops -------------===//
//
// ntp.activate_poly and ntp.gate_poly: jet buffers of Taylor coefficients
// over a down-closed set of monomials (ntp/Support/Multivariate.h).
//
//===----------------------------------------------------------------------===//

#include "NtpOpsVerify.h"

#include "ntp/Dialect/Ntp/IR/JetBuffer.h"
#include "ntp/Dialect/Ntp/IR/NtpOps.h"
#include "ntp/Support/ActivationJet.h"
#include "ntp/Support/Multivariate.h"

using namespace mlir;
using namespace ntp;
using namespace ntp::detail;

namespace {

/// The monomials of a multivariate op, checked (one sentence naming the
/// broken rule otherwise), and each buffer one row per monomial.
FailureOr<std::vector<partials::Monomial>>
verifyMonomialRows(Operation *op, ArrayRef<int64_t> flat, int64_t variables,
                   ArrayRef<Value> buffers) {
  if (flat.empty() || flat.size() % variables != 0)
    return op->emitOpError("expects ")
           << variables << " exponents per monomial, got " << flat.size()
           << " exponents";
  std::vector<partials::Monomial> monomials =
      partials::splitMonomials(flat.data(), flat.size(), variables);
  std::string error;
  if (!partials::checkMonomials(monomials, variables, error))
    return op->emitOpError(error);
  int64_t degree = partials::polySchedule(monomials).degree;
  if (degree > static_cast<int64_t>(kMaxOrder))
    return op->emitOpError("total degree ")
           << degree << " exceeds the maximum order " << kMaxOrder;
  JetBufferShape first = JetBufferShape::of(buffers.front());
  for (Value buffer : buffers) {
    JetBufferShape shape = JetBufferShape::of(buffer);
    if (shape.orders() != static_cast<int64_t>(monomials.size()))
      return op->emitOpError("the buffers must have one row per monomial (")
             << monomials.size() << "), got " << shape.orders();
    if (shape.neurons() != first.neurons() || shape.lanes() != first.lanes())
      return op->emitOpError(buffers.size() == 2
                                 ? "input and output must have the same "
                                   "width and tile"
                                 : "all buffers must have the same width and "
                                   "tile");
  }
  return monomials;
}

} // namespace

LogicalResult ActivatePolyOp::verify() {
  if (failed(verifyActivationName(*this, getActivation())) ||
      failed(verifySameElementType(*this, {getInput(), getOutput()})) ||
      failed(verifyJetBuffer(*this, getInput(), "input")) ||
      failed(verifyJetBuffer(*this, getOutput(), "output")))
    return failure();
  return success(succeeded(verifyMonomialRows(
      *this, getMonomials(), getVariables(), {getInput(), getOutput()})));
}

LogicalResult ActivatePolyVjpOp::verify() {
  Value buffers[] = {getInput(), getOutCotangent(), getInCotangent()};
  if (failed(verifyActivationName(*this, getActivation())) ||
      failed(verifySameElementType(*this, buffers)) ||
      failed(verifyJetBuffer(*this, getInput(), "input")) ||
      failed(verifyJetBuffer(*this, getOutCotangent(), "out_cotangent")) ||
      failed(verifyJetBuffer(*this, getInCotangent(), "in_cotangent")))
    return failure();
  FailureOr<std::vector<partials::Monomial>> monomials =
      verifyMonomialRows(*this, getMonomials(), getVariables(), buffers);
  if (failed(monomials))
    return failure();
  // Row 0's cotangent reads sigma's jet one order past the degree.
  int64_t degree = partials::polySchedule(*monomials).degree;
  if (degree >= static_cast<int64_t>(kMaxOrder))
    return emitOpError("total degree ")
           << degree << " leaves no order for the derivative (the reverse "
           << "mode needs degree + 1 <= " << kMaxOrder << ")";
  if (getInCotangent() == getInput() || getInCotangent() == getOutCotangent())
    return emitOpError("in_cotangent may not alias the input or "
                       "out_cotangent (every row is read after the first is "
                       "written)");
  return success();
}

LogicalResult GatePolyOp::verify() {
  if (failed(verifySameElementType(*this,
                                   {getU(), getV(), getZ(), getOutput()})) ||
      failed(verifyJetBuffer(*this, getU(), "u")) ||
      failed(verifyJetBuffer(*this, getV(), "v")) ||
      failed(verifyJetBuffer(*this, getZ(), "z")) ||
      failed(verifyJetBuffer(*this, getOutput(), "output")))
    return failure();
  if (failed(verifyMonomialRows(*this, getMonomials(), getVariables(),
                                {getU(), getV(), getZ(), getOutput()})))
    return failure();
  for (Value operand : {getU(), getV(), getZ()})
    if (operand == getOutput())
      return emitOpError("the output may not be an operand (every row of the "
                         "operands is read after rows of the output are "
                         "written)");
  return success();
}

LogicalResult GatePolyVjpOp::verify() {
  Value operands[] = {getU(), getV(), getZ(), getOutCotangent()};
  Value cotangents[] = {getUCotangent(), getVCotangent(), getZCotangent()};
  Value all[] = {
      getU(),          getV(),          getZ(),         getOutCotangent(),
      getUCotangent(), getVCotangent(), getZCotangent()};
  if (failed(verifySameElementType(*this, all)))
    return failure();
  const char *names[] = {
      "u",           "v",           "z",          "out_cotangent",
      "u_cotangent", "v_cotangent", "z_cotangent"};
  for (size_t i = 0; i < std::size(all); ++i)
    if (failed(verifyJetBuffer(*this, all[i], names[i])))
      return failure();
  if (failed(verifyMonomialRows(*this, getMonomials(), getVariables(), all)))
    return failure();
  for (size_t i = 0; i < std::size(cotangents); ++i) {
    for (Value operand : operands)
      if (cotangents[i] == operand)
        return emitOpError("a cotangent may not alias an operand (every row "
                           "is read after the first is written)");
    for (size_t j = 0; j < i; ++j)
      if (cotangents[i] == cotangents[j])
        return emitOpError("the cotangents must be three different buffers");
  }
  return success();
}
