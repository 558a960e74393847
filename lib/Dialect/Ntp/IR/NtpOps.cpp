//===- NtpOps.cpp - ntp operations: op classes, shared rules --------------===//
//
// The generated op classes, and the rules of NtpOpsVerify.h that the
// verifiers of several ops check. The verifiers themselves are by op family:
// MlpOps.cpp (ntp.mlp and its request), JetOps.cpp (the jet ops and their
// VJPs), LayerOps.cpp (typed layers), RayOps.cpp (multi-direction jets).
//
//===----------------------------------------------------------------------===//

#include "NtpOpsVerify.h"

#include "ntp/Dialect/Ntp/IR/NtpOps.h"
#include "ntp/Support/ActivationRules.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/OpImplementation.h"

using namespace mlir;
using namespace ntp;

#define GET_OP_CLASSES
#include "ntp/Dialect/Ntp/IR/NtpOps.cpp.inc"

LogicalResult ntp::detail::verifyActivationName(Operation *op, StringRef name) {
  if (lookupActivation(name.str()))
    return success();
  return op->emitOpError("unknown activation '")
         << name << "'; expected one of " << activationNameList();
}

LogicalResult ntp::detail::verifyElementType(Operation *op, Type type) {
  if (isa<Float32Type, Float64Type>(type))
    return success();
  return op->emitOpError("element type must be f32 or f64, got ") << type;
}

LogicalResult ntp::detail::verifySameElementType(Operation *op,
                                                 ValueRange buffers) {
  Type element = cast<MemRefType>(buffers.front().getType()).getElementType();
  for (Value buffer : buffers.drop_front())
    if (cast<MemRefType>(buffer.getType()).getElementType() != element)
      return op->emitOpError("all buffers must have the same element type");
  return success();
}

LogicalResult ntp::detail::verifySameShape(Operation *op, ValueRange buffers,
                                           StringRef error) {
  ArrayRef<int64_t> shape =
      cast<MemRefType>(buffers.front().getType()).getShape();
  for (Value buffer : buffers.drop_front())
    if (cast<MemRefType>(buffer.getType()).getShape() != shape)
      return op->emitOpError(error);
  return success();
}

LogicalResult ntp::detail::verifyJetBuffer(Operation *op, Value buffer,
                                           StringRef what) {
  auto type = cast<MemRefType>(buffer.getType());
  if (!type.hasStaticShape())
    return op->emitOpError() << what << " jet buffer must have a static shape";
  SmallVector<int64_t> strides;
  int64_t offset;
  if (failed(type.getStridesAndOffset(strides, offset)) || strides[2] != 1)
    return op->emitOpError()
           << what << " jet buffer must have unit stride along the tile";
  return success();
}

LogicalResult ntp::detail::verifyLiveOrders(Operation *op, uint64_t live,
                                            Value jet) {
  int64_t orders = cast<MemRefType>(jet.getType()).getDimSize(0);
  if (static_cast<int64_t>(live) > orders)
    return op->emitOpError("live_orders (")
           << live << ") exceeds the number of orders (" << orders << ")";
  return success();
}

LogicalResult ntp::detail::verifyCotangentJets(Operation *op, Value input,
                                               Value outCotangent,
                                               Value inCotangent) {
  if (failed(verifyJetBuffer(op, input, "input")) ||
      failed(verifyJetBuffer(op, outCotangent, "output cotangent")) ||
      failed(verifyJetBuffer(op, inCotangent, "input cotangent")))
    return failure();
  return success();
}

LogicalResult ntp::detail::verifyLaneWiseGrad(Operation *op, Value grad,
                                              int64_t tile) {
  auto type = cast<MemRefType>(grad.getType());
  if (type.getRank() == 2 &&
      (type.getDimSize(1) < 1 || tile % type.getDimSize(1) != 0))
    return op->emitOpError("lane-wise grad must have a number of lanes that "
                           "divides the tile's samples (")
           << tile << "), got " << type.getDimSize(1);
  return success();
}
