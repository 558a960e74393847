//===- PolyOps.cpp - Verifier of the multivariate Taylor op ---------------===//
//
// ntp.activate_poly: a jet buffer of Taylor coefficients over a down-closed
// set of monomials (ntp/Support/Multivariate.h).
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

LogicalResult ActivatePolyOp::verify() {
  if (failed(verifyActivationName(*this, getActivation())) ||
      failed(verifySameElementType(*this, {getInput(), getOutput()})) ||
      failed(verifyJetBuffer(*this, getInput(), "input")) ||
      failed(verifyJetBuffer(*this, getOutput(), "output")))
    return failure();
  ArrayRef<int64_t> flat = getMonomials();
  int64_t variables = getVariables();
  if (flat.empty() || flat.size() % variables != 0)
    return emitOpError("expects ")
           << variables << " exponents per monomial, got " << flat.size()
           << " exponents";
  std::vector<partials::Monomial> monomials;
  for (size_t i = 0; i < flat.size(); i += variables)
    monomials.emplace_back(flat.begin() + i, flat.begin() + i + variables);
  std::string error;
  if (!partials::checkMonomials(monomials, variables, error))
    return emitOpError(error);
  int64_t degree = partials::polySchedule(monomials).degree;
  if (degree > static_cast<int64_t>(kMaxOrder))
    return emitOpError("total degree ")
           << degree << " exceeds the maximum order " << kMaxOrder;
  JetBufferShape in = JetBufferShape::of(getInput()),
                 out = JetBufferShape::of(getOutput());
  for (JetBufferShape shape : {in, out})
    if (shape.orders() != static_cast<int64_t>(monomials.size()))
      return emitOpError("the buffers must have one row per monomial (")
             << monomials.size() << "), got " << shape.orders();
  if (in.neurons() != out.neurons() || in.lanes() != out.lanes())
    return emitOpError("input and output must have the same width and tile");
  return success();
}
