//===- RayOps.cpp - Verifiers of the multi-direction jet ops --------------===//
//
// ntp.seed_rays, ntp.affine_rays, ntp.activate_rays and ntp.gate_rays, on
// the ray layout of ntp/Dialect/Ntp/IR/RayLayout.h.
//
//===----------------------------------------------------------------------===//

#include "NtpOpsVerify.h"

#include "ntp/Dialect/Ntp/IR/JetBuffer.h"
#include "ntp/Dialect/Ntp/IR/NtpOps.h"
#include "ntp/Dialect/Ntp/IR/RayLayout.h"

using namespace mlir;
using namespace ntp;
using namespace ntp::detail;

//===----------------------------------------------------------------------===//
// Multi-direction jets
//===----------------------------------------------------------------------===//

/// The ray layout's rules: one count, order and weight per group, counts and
/// orders positive, a weighted group only with a collapsed row its orders
/// reach (order >= N - 1), and `rows` rows in every buffer.
template <class OpTy>
static LogicalResult verifyRayLayout(OpTy op, ValueRange buffers) {
  ArrayRef<int64_t> counts = op.getRayCounts(), orders = op.getRayOrders();
  ArrayRef<double> weights = op.getCollapseWeights();
  if (counts.size() != orders.size() || counts.size() != weights.size())
    return op.emitOpError("expects one ray count, order and collapse weight "
                          "per group, got ")
           << counts.size() << ", " << orders.size() << " and "
           << weights.size();
  int64_t n = op.getCollapsedOrder();
  bool weighted = false;
  for (size_t g = 0; g < counts.size(); ++g) {
    if (counts[g] <= 0 || orders[g] <= 0)
      return op.emitOpError("group ")
             << g << " must have a positive ray count and order, got "
             << counts[g] << " rays of order " << orders[g];
    if (weights[g] != 0) {
      weighted = true;
      if (n == 0 || orders[g] < n - 1)
        return op.emitOpError("group ")
               << g << " has a collapse weight but "
               << (n == 0 ? "there is no collapsed row"
                          : "its rays do not reach order collapsed_order - 1");
    }
  }
  if (n == 1)
    return op.emitOpError("collapsed_order must be 0 (none) or at least 2");
  if (n > 0 && !weighted)
    return op.emitOpError("a collapsed row needs a group with a nonzero "
                          "collapse weight");
  RayLayout layout = RayLayout::of(op);
  for (Value buffer : buffers) {
    int64_t rows = JetBufferShape::of(buffer).orders();
    if (rows != layout.rows)
      return op.emitOpError("the ray layout has ")
             << layout.rows << " rows but a jet buffer has " << rows;
  }
  return success();
}

LogicalResult SeedRaysOp::verify() {
  if (failed(
          verifySameElementType(*this, {getX(), getDirections(), getJet()})) ||
      failed(verifyJetBuffer(*this, getJet(), "seeded")) ||
      failed(verifyRayLayout(*this, {getJet()})))
    return failure();
  auto directions = getDirections().getType();
  RayLayout layout = RayLayout::of(*this);
  int64_t expected = layout.rays * JetBufferShape::of(getJet()).neurons();
  if (!directions.isDynamicDim(0) && directions.getDimSize(0) != expected)
    return emitOpError("directions has ")
           << directions.getDimSize(0) << " elements but " << layout.rays
           << " rays of width " << JetBufferShape::of(getJet()).neurons()
           << " need " << expected;
  return success();
}

/// What a gate's buffers on the ray layout (ntp.gate_rays and its VJP)
/// must share: one element type, jet buffers, the layout's rows and one
/// shape (else `shapeError`, then the first shape and the named other).
template <class OpTy>
static LogicalResult verifyGateRaysBuffers(OpTy op, ValueRange buffers,
                                           ArrayRef<StringRef> names,
                                           StringRef shapeError) {
  if (failed(verifySameElementType(op, buffers)))
    return failure();
  for (auto [buffer, name] : llvm::zip(buffers, names))
    if (failed(verifyJetBuffer(op, buffer, name)))
      return failure();
  if (failed(verifyRayLayout(op, buffers)))
    return failure();
  auto first = cast<MemRefType>(buffers.front().getType());
  for (auto [buffer, name] : llvm::zip(buffers, names))
    if (cast<MemRefType>(buffer.getType()).getShape() != first.getShape())
      return op.emitOpError(shapeError)
             << first << " and " << name << " " << buffer.getType();
  return success();
}

/// The modified MLP's gate on the ray layout (ntp.gate_rays): four jet
/// buffers of one shape, the output none of the operands (every row reads
/// the operands' lower orders).
LogicalResult GateRaysOp::verify() {
  Value buffers[] = {getU(), getV(), getZ(), getOutput()};
  StringRef names[] = {"u", "v", "z", "output"};
  if (failed(verifyGateRaysBuffers(*this, buffers, names,
                                   "a gate's jets must have one shape (U, V "
                                   "and every gated layer have the same "
                                   "width), got ")))
    return failure();
  for (Value operand : {getU(), getV(), getZ()})
    if (operand == getOutput())
      return emitOpError("the output may not be an operand");
  return success();
}

/// {ntp.needed_rows}, if present: ascending rows of the op's ray layout.
template <class OpTy> static LogicalResult verifyNeededRows(OpTy op) {
  Attribute attr = op->getAttr(kNeededRowsAttrName);
  if (!attr)
    return success();
  auto needed = dyn_cast<DenseI64ArrayAttr>(attr);
  if (!needed)
    return op.emitOpError("'")
           << kNeededRowsAttrName << "' must be an array<i64>, got " << attr;
  int64_t rows = RayLayout::of(op).rows, previous = -1;
  for (int64_t row : needed.asArrayRef()) {
    if (row <= previous || row >= rows)
      return op.emitOpError("'")
             << kNeededRowsAttrName << "' must list ascending rows of its "
             << rows << "-row layout, got " << attr;
    previous = row;
  }
  return success();
}

LogicalResult AffineRaysOp::verify() {
  if (failed(verifySameElementType(*this,
                                   {getInput(), getParams(), getOutput()})) ||
      failed(verifyJetBuffer(*this, getInput(), "input")) ||
      failed(verifyJetBuffer(*this, getOutput(), "output")) ||
      failed(verifyRayLayout(*this, {getInput(), getOutput()})) ||
      failed(verifyNeededRows(*this)))
    return failure();
  if (JetBufferShape::of(getInput()).lanes() !=
      JetBufferShape::of(getOutput()).lanes())
    return emitOpError("input and output must have the same tile");
  return success();
}

LogicalResult ActivateRaysOp::verify() {
  if (failed(verifyActivationName(*this, getActivation())) ||
      failed(verifySameElementType(*this, {getInput(), getOutput()})) ||
      failed(verifyJetBuffer(*this, getInput(), "input")) ||
      failed(verifyJetBuffer(*this, getOutput(), "output")) ||
      failed(verifyRayLayout(*this, {getInput(), getOutput()})) ||
      failed(verifyNeededRows(*this)))
    return failure();
  JetBufferShape in = JetBufferShape::of(getInput()),
                 out = JetBufferShape::of(getOutput());
  if (in.neurons() != out.neurons() || in.lanes() != out.lanes())
    return emitOpError("input and output must have the same width and tile");
  return success();
}

//===----------------------------------------------------------------------===//
// Reverse mode of multi-direction jets
//===----------------------------------------------------------------------===//

LogicalResult ActivateRaysVjpOp::verify() {
  if (failed(verifyActivationName(*this, getActivation())) ||
      failed(verifySameElementType(
          *this, {getInput(), getOutCotangent(), getInCotangent()})) ||
      failed(verifyJetBuffer(*this, getInput(), "input")) ||
      failed(verifyJetBuffer(*this, getOutCotangent(), "output cotangent")) ||
      failed(verifyJetBuffer(*this, getInCotangent(), "input cotangent")) ||
      failed(verifyRayLayout(
          *this, {getInput(), getOutCotangent(), getInCotangent()})))
    return failure();
  JetBufferShape in = JetBufferShape::of(getInput());
  for (Value bar : {getOutCotangent(), getInCotangent()})
    if (JetBufferShape::of(bar).neurons() != in.neurons() ||
        JetBufferShape::of(bar).lanes() != in.lanes())
      return emitOpError("the cotangents must have the input's width and "
                         "tile");
  // The reverse of R_N reads a weighted ray's orders 1..N-1 only.
  RayLayout layout = RayLayout::of(*this);
  for (size_t g = 0; g < layout.groups.size(); ++g)
    if (layout.groups[g].weight != 0 &&
        layout.groups[g].order != layout.collapsedOrder - 1)
      return emitOpError("group ")
             << g << " has a collapse weight, so its rays must have order "
             << "collapsed_order - 1 = " << layout.collapsedOrder - 1
             << ", got " << layout.groups[g].order;
  return success();
}

/// The reverse of the modified MLP's gate on the ray layout: seven jet
/// buffers of one shape, the cotangents distinct from each other and from
/// the operands (the lowering reads every operand row after writing a
/// cotangent row).
LogicalResult GateRaysVjpOp::verify() {
  Value buffers[] = {
      getU(),          getV(),          getZ(),         getOutCotangent(),
      getUCotangent(), getVCotangent(), getZCotangent()};
  StringRef names[] = {
      "u",           "v",           "z",          "output cotangent",
      "u cotangent", "v cotangent", "z cotangent"};
  if (failed(verifyGateRaysBuffers(
          *this, buffers, names,
          "a gate's jets and cotangents must have one shape, got ")))
    return failure();
  for (size_t i = 4; i < 7; ++i)
    for (size_t j = 0; j < 7; ++j)
      if (i != j && buffers[i] == buffers[j])
        return emitOpError("the ")
               << names[i] << " may not alias the " << names[j];
  return success();
}
