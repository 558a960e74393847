//===- LayerOps.cpp - Verifiers of the typed-layer ops --------------------===//
//
// The typed layers (issue 14): ntp.scale and ntp.scale_vjp (adaptive
// slopes), ntp.add_jets (residual connections), ntp.fourier_project and its
// VJP (Fourier features).
//
//===----------------------------------------------------------------------===//

#include "NtpOpsVerify.h"

#include "ntp/Dialect/Ntp/IR/JetBuffer.h"
#include "ntp/Dialect/Ntp/IR/NtpOps.h"

using namespace mlir;
using namespace ntp;
using namespace ntp::detail;

LogicalResult ScaleOp::verify() {
  if (failed(verifySameElementType(*this,
                                   {getInput(), getParams(), getOutput()})) ||
      failed(verifyJetBuffer(*this, getInput(), "input")) ||
      failed(verifyJetBuffer(*this, getOutput(), "output")))
    return failure();
  MemRefType in = getInput().getType();
  if (in.getShape() != getOutput().getType().getShape())
    return emitOpError("input and output jets must have the same shape");
  if (failed(verifyLiveOrders(*this, getLiveOrders(), getInput())))
    return failure();
  MemRefType params = getParams().getType();
  int64_t needed = getSlopeOffset() + (getPerNeuron() ? in.getDimSize(1) : 1);
  if (!params.isDynamicDim(0) && params.getDimSize(0) < needed)
    return emitOpError("slopes need parameters up to index ")
           << needed << " but params has " << params.getDimSize(0)
           << " elements";
  return success();
}

/// The shape rules of ntp.fourier_project and its VJP: output width even
/// (2m), orders and tile as the input's, B within params.
static LogicalResult verifyFourierProject(Operation *op, MemRefType in,
                                          MemRefType out, MemRefType params,
                                          int64_t offset) {
  if (out.getDimSize(1) % 2 != 0)
    return op->emitOpError("output width must be even (sines and cosines), "
                           "got ")
           << out.getDimSize(1);
  if (in.getDimSize(0) != out.getDimSize(0) ||
      in.getDimSize(2) != out.getDimSize(2))
    return op->emitOpError("input and output jets must have the same number "
                           "of orders and tile size");
  int64_t needed = offset + out.getDimSize(1) / 2 * in.getDimSize(1);
  if (!params.isDynamicDim(0) && params.getDimSize(0) < needed)
    return op->emitOpError("B needs parameters up to index ")
           << needed << " but params has " << params.getDimSize(0)
           << " elements";
  return success();
}

LogicalResult FourierProjectOp::verify() {
  if (failed(verifySameElementType(*this,
                                   {getInput(), getParams(), getOutput()})) ||
      failed(verifyJetBuffer(*this, getInput(), "input")) ||
      failed(verifyJetBuffer(*this, getOutput(), "output")) ||
      failed(verifyFourierProject(*this, getInput().getType(),
                                  getOutput().getType(), getParams().getType(),
                                  getWeightOffset())))
    return failure();
  return verifyLiveOrders(*this, getLiveOrders(), getInput());
}

LogicalResult FourierProjectVjpOp::verify() {
  if (failed(verifySameElementType(*this,
                                   {getInput(), getParams(), getOutCotangent(),
                                    getGrad(), getInCotangent()})) ||
      failed(verifyCotangentJets(*this, getInput(), getOutCotangent(),
                                 getInCotangent())) ||
      failed(verifyFourierProject(*this, getInput().getType(),
                                  getOutCotangent().getType(),
                                  getParams().getType(), getWeightOffset())))
    return failure();
  if (getInCotangent().getType().getShape() != getInput().getType().getShape())
    return emitOpError("input cotangent must have the shape of the input");
  if (failed(verifyLaneWiseGrad(*this, getGrad(),
                                getInput().getType().getDimSize(2))))
    return failure();
  return verifyLiveOrders(*this, getLiveOrders(), getInput());
}

LogicalResult AddJetsOp::verify() {
  if (failed(verifySameElementType(*this, {getLhs(), getRhs(), getOutput()})) ||
      failed(verifyJetBuffer(*this, getLhs(), "left")) ||
      failed(verifyJetBuffer(*this, getRhs(), "right")) ||
      failed(verifyJetBuffer(*this, getOutput(), "output")))
    return failure();
  if (failed(verifySameShape(*this, {getLhs(), getRhs(), getOutput()},
                             "both operands and the output must have the "
                             "same shape (a residual layer needs equal "
                             "widths)")))
    return failure();
  return verifyLiveOrders(*this, getLiveOrders(), getLhs());
}

LogicalResult ScaleVjpOp::verify() {
  if (failed(verifySameElementType(*this,
                                   {getInput(), getParams(), getOutCotangent(),
                                    getGrad(), getInCotangent()})) ||
      failed(verifyCotangentJets(*this, getInput(), getOutCotangent(),
                                 getInCotangent())))
    return failure();
  if (failed(verifySameShape(
          *this, {getInput(), getOutCotangent(), getInCotangent()},
          "input, output cotangent and input cotangent jets must have the "
          "same shape")))
    return failure();
  ArrayRef<int64_t> shape = getInput().getType().getShape();
  if (failed(verifyLaneWiseGrad(*this, getGrad(), shape[2])))
    return failure();
  return verifyLiveOrders(*this, getLiveOrders(), getInput());
}
