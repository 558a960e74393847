//===- GateOps.cpp - ntp.gate_jets and its VJP: verifiers -----------------===//
//
// The modified MLP's gate (issue 14): out = u + z (v - u) on jets, and its
// reverse mode. Every operand is a jet of one gated hidden layer, so all
// share one shape [orders, h, tile].
//
//===----------------------------------------------------------------------===//

#include "ntp/Dialect/Ntp/IR/NtpOps.h"

using namespace mlir;
using namespace ntp;

/// The gate's operands: jet buffers of one static shape with unit stride
/// along the tile and one element type, live_orders within their orders.
static LogicalResult verifyGateOperands(Operation *op, ValueRange buffers,
                                        ArrayRef<StringRef> names,
                                        uint64_t liveOrders) {
  auto first = cast<MemRefType>(buffers.front().getType());
  for (auto [buffer, name] : llvm::zip(buffers, names)) {
    auto type = cast<MemRefType>(buffer.getType());
    if (!type.hasStaticShape())
      return op->emitOpError()
             << name << " jet buffer must have a static shape";
    SmallVector<int64_t> strides;
    int64_t offset;
    if (failed(type.getStridesAndOffset(strides, offset)) || strides[2] != 1)
      return op->emitOpError()
             << name << " jet buffer must have unit stride along the tile";
    if (type.getElementType() != first.getElementType())
      return op->emitOpError("all buffers must have the same element type");
    if (type.getShape() != first.getShape())
      return op->emitOpError("a gate's jets must have one shape (U, V and "
                             "every gated layer have the same width), got ")
             << first << " and " << name << " " << type;
  }
  if (static_cast<int64_t>(liveOrders) > first.getDimSize(0))
    return op->emitOpError("live_orders (")
           << liveOrders << ") exceeds the number of orders ("
           << first.getDimSize(0) << ")";
  return success();
}

LogicalResult GateJetsOp::verify() {
  if (failed(verifyGateOperands(*this, {getU(), getV(), getZ(), getOutput()},
                                {"u", "v", "z", "output"}, getLiveOrders())))
    return failure();
  // out[k] reads z and v - u at every lower order: no aliasing.
  for (Value operand : {getU(), getV(), getZ()})
    if (operand == getOutput())
      return emitOpError("the output may not be an operand");
  return success();
}

LogicalResult GateJetsVjpOp::verify() {
  if (failed(verifyGateOperands(*this,
                                {getU(), getV(), getZ(), getOutCotangent(),
                                 getUCotangent(), getVCotangent(),
                                 getZCotangent()},
                                {"u", "v", "z", "output cotangent",
                                 "u cotangent", "v cotangent", "z cotangent"},
                                getLiveOrders())))
    return failure();
  Value written[] = {getUCotangent(), getVCotangent(), getZCotangent()};
  for (size_t i = 0; i < 3; ++i) {
    if (written[i] == getOutCotangent())
      return emitOpError("the cotangents written may not be the output "
                         "cotangent");
    for (size_t j = 0; j < i; ++j)
      if (written[i] == written[j])
        return emitOpError("the u, v and z cotangents must be distinct "
                           "buffers");
  }
  return success();
}
