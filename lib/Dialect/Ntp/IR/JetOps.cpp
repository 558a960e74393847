//===- JetOps.cpp - Verifiers of the jet ops and their VJPs ---------------===//
//
// ntp.seed, ntp.affine, ntp.activate, ntp.combine_partials, ntp.store_jet
// and the reverse-mode ops (ntp.load_cotangent, ntp.affine_vjp,
// ntp.reduce_lanes, ntp.activate_vjp, ntp.seed_vjp).
//
//===----------------------------------------------------------------------===//

#include "NtpOpsVerify.h"

#include "ntp/Dialect/Ntp/IR/JetBuffer.h"
#include "ntp/Dialect/Ntp/IR/NtpOps.h"

using namespace mlir;
using namespace ntp;
using namespace ntp::detail;

//===----------------------------------------------------------------------===//
// Jet ops
//===----------------------------------------------------------------------===//

LogicalResult CombinePartialsOp::verify() {
  if (failed(verifySameElementType(*this, {getRays(), getOutput()})) ||
      failed(verifyJetBuffer(*this, getRays(), "rays")) ||
      failed(verifyJetBuffer(*this, getOutput(), "output")))
    return failure();
  JetBufferShape rays = JetBufferShape::of(getRays().getType());
  JetBufferShape out = JetBufferShape::of(getOutput().getType());
  if (rays.neurons() != out.neurons() || rays.lanes() != out.lanes())
    return emitOpError("rays and output must have the same width and tile");
  if (static_cast<int64_t>(getWeights().size()) != rays.orders() * out.orders())
    return emitOpError("expects ")
           << out.orders() << " x " << rays.orders()
           << " weights (requests x ray coefficients), got "
           << getWeights().size();
  return success();
}

LogicalResult SeedOp::verify() {
  if (failed(
          verifySameElementType(*this, {getX(), getDirection(), getJet()})) ||
      failed(verifyJetBuffer(*this, getJet(), "seeded")))
    return failure();
  auto direction = getDirection().getType();
  int64_t inputDim = getJet().getType().getDimSize(1);
  if (!direction.isDynamicDim(0) && direction.getDimSize(0) != inputDim)
    return emitOpError("direction has ")
           << direction.getDimSize(0) << " elements but the jet has width "
           << inputDim;
  return success();
}

LogicalResult AffineOp::verify() {
  if (failed(verifySameElementType(*this,
                                   {getInput(), getParams(), getOutput()})) ||
      failed(verifyJetBuffer(*this, getInput(), "input")) ||
      failed(verifyJetBuffer(*this, getOutput(), "output")))
    return failure();
  MemRefType in = getInput().getType(), out = getOutput().getType();
  if (in.getDimSize(0) != out.getDimSize(0))
    return emitOpError("input and output jets must have the same number of "
                       "orders, got ")
           << in.getDimSize(0) << " and " << out.getDimSize(0);
  if (in.getDimSize(2) != out.getDimSize(2))
    return emitOpError("input and output jets must have the same tile size");
  if (failed(verifyLiveOrders(*this, getLiveOrders(), getInput())))
    return failure();
  MemRefType params = getParams().getType();
  int64_t needed = getWeightOffset() + out.getDimSize(1) * in.getDimSize(1) +
                   out.getDimSize(1);
  if (!params.isDynamicDim(0) && params.getDimSize(0) < needed)
    return emitOpError("layer needs parameters up to index ")
           << needed << " but params has " << params.getDimSize(0)
           << " elements";
  return success();
}

LogicalResult ActivateOp::verify() {
  if (failed(verifyActivationName(*this, getActivation())) ||
      failed(verifySameElementType(*this, {getInput(), getOutput()})) ||
      failed(verifyJetBuffer(*this, getInput(), "input")) ||
      failed(verifyJetBuffer(*this, getOutput(), "output")))
    return failure();
  if (getInput().getType().getShape() != getOutput().getType().getShape())
    return emitOpError("input and output jets must have the same shape");
  return verifyLiveOrders(*this, getLiveOrders(), getInput());
}

LogicalResult StoreJetOp::verify() {
  if (failed(verifySameElementType(*this, {getJet(), getOut()})) ||
      failed(verifyJetBuffer(*this, getJet(), "stored")))
    return failure();
  return verifyLiveOrders(*this, getLiveOrders(), getJet());
}

//===----------------------------------------------------------------------===//
// VJP ops
//===----------------------------------------------------------------------===//

LogicalResult LoadCotangentOp::verify() {
  if (failed(verifySameElementType(*this, {getCotangent(), getJet()})))
    return failure();
  return verifyJetBuffer(*this, getJet(), "cotangent");
}

LogicalResult AffineVjpOp::verify() {
  SmallVector<Value> buffers = {getInput(), getParams(), getOutCotangent(),
                                getGrad()};
  if (getInCotangent())
    buffers.push_back(getInCotangent());
  if (failed(verifySameElementType(*this, buffers)) ||
      failed(verifyJetBuffer(*this, getInput(), "input")) ||
      failed(verifyJetBuffer(*this, getOutCotangent(), "output cotangent")))
    return failure();
  MemRefType in = getInput().getType(), outBar = getOutCotangent().getType();
  if (in.getDimSize(0) != outBar.getDimSize(0) ||
      in.getDimSize(2) != outBar.getDimSize(2))
    return emitOpError("input and output cotangent jets must have the same "
                       "number of orders and tile size");
  if (failed(verifyLaneWiseGrad(*this, getGrad(), in.getDimSize(2))))
    return failure();
  if (Value inBar = getInCotangent()) {
    if (failed(verifyJetBuffer(*this, inBar, "input cotangent")))
      return failure();
    if (cast<MemRefType>(inBar.getType()).getShape() != in.getShape())
      return emitOpError("input cotangent must have the shape of the input");
  }
  return verifyLiveOrders(*this, getLiveOrders(), getInput());
}

LogicalResult ReduceLanesOp::verify() {
  if (failed(verifySameElementType(*this, {getLanes(), getGrad()})))
    return failure();
  MemRefType lanes = getLanes().getType(), grad = getGrad().getType();
  if (lanes.isDynamicDim(1))
    return emitOpError("lanes must have a static number of lanes");
  if (!lanes.isDynamicDim(0) && !grad.isDynamicDim(0) &&
      lanes.getDimSize(0) != grad.getDimSize(0))
    return emitOpError("lanes have ")
           << lanes.getDimSize(0) << " parameters but grad has "
           << grad.getDimSize(0);
  return success();
}

LogicalResult ActivateVjpOp::verify() {
  if (failed(verifyActivationName(*this, getActivation())) ||
      failed(verifySameElementType(
          *this, {getInput(), getOutCotangent(), getInCotangent()})) ||
      failed(verifyCotangentJets(*this, getInput(), getOutCotangent(),
                                 getInCotangent())))
    return failure();
  if (failed(verifySameShape(
          *this, {getInput(), getOutCotangent(), getInCotangent()},
          "input, output cotangent and input cotangent jets must have the "
          "same shape")))
    return failure();
  if (Value output = getOutput())
    if (failed(verifySameElementType(*this, {getInput(), output})) ||
        failed(verifySameShape(*this, {getInput(), output},
                               "the output jet must have the input jet's "
                               "shape")))
      return failure();
  return verifyLiveOrders(*this, getLiveOrders(), getInput());
}

LogicalResult SeedVjpOp::verify() {
  if (failed(verifySameElementType(*this, {getJetCotangent(), getXGrad()})))
    return failure();
  return verifyJetBuffer(*this, getJetCotangent(), "seed cotangent");
}
