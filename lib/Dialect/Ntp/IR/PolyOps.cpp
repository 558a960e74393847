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
