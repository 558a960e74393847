//===- PartialsBackward.cpp - Reverse mode of partials kernels ------------===//
//
// Part of ntp-generate-backward (GenerateBackward.cpp runs it): the
// reverse-mode functions of a partials kernel (ntp.partials: rays, then
// ntp.combine_partials), built from the plan PartialsPlan.cpp reads.
//
//===----------------------------------------------------------------------===//

#include "PartialsPlan.h"
#include "RayVjpEmission.h"
#include "RaysBackward.h"

#include "ntp/Dialect/Ntp/IR/JetBuffer.h"
#include "ntp/Dialect/Ntp/IR/NtpDialect.h"
#include "ntp/Dialect/Ntp/IR/NtpOps.h"

#include "ntp/Transforms/Passes.h"
#include "ntp/artifact.hpp"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"

using namespace mlir;
using namespace ntp;
using namespace ntp::backward;

namespace {

/// Builds the reverse-mode functions of a per-ray partials kernel: its
/// rays' steps are ntp.seed, ntp.affine, ntp.activate, ntp.gate_jets and the
/// typed layers' ops, reversed with the jet VJP rules.
class PartialsBackwardBuilder
    : public RayGroupsReverseBuilder<PartialsBackwardBuilder, PartialsPlan> {
public:
  PartialsBackwardBuilder(const PartialsPlan &plan, Location loc,
                          GradLayout grads)
      : RayGroupsReverseBuilder(plan, loc, grads, plan.workspaceNeeded()) {}

  /// The ray's direction, [inputDim].
  Value createDirections(OpBuilder &b, const RayPlan &ray) {
    return createConstantBuffer(b, loc, plan.element, ray.direction);
  }

  /// Step i of ray r into `output`.
  void emitStepForward(OpBuilder &b, size_t r, size_t i, ArrayRef<Value> jets,
                       Value output, Value batch, Value tile) {
    const RayPlan &ray = plan.groups[r];
    const JetStep &s = ray.steps[i];
    switch (s.kind) {
    case JetStep::Kind::Seed:
      SeedOp::create(b, loc, x, direction, output, batch, tile);
      break;
    case JetStep::Kind::Affine:
      // A gated ray's U, V and first hidden layer read X, not step i - 1.
      AffineOp::create(b, loc, jets[ray.inputs[i][0]], params, s.weightOffset,
                       output, s.liveOrders);
      break;
    case JetStep::Kind::Activate:
      ActivateOp::create(b, loc, s.activation, jets[i - 1], output,
                         s.liveOrders);
      break;
    // Typed layers (issue 14): TypedLayerBackward.cpp.
    case JetStep::Kind::Scale:
    case JetStep::Kind::Add:
    case JetStep::Kind::FourierProject:
      emitTypedLayerForward(b, loc, s, jets, i, params);
      break;
    case JetStep::Kind::Gate:
      GateJetsOp::create(b, loc, jets[ray.inputs[i][0]], jets[ray.inputs[i][1]],
                         jets[ray.inputs[i][2]], output, s.liveOrders);
      break;
    }
  }

  /// The jet VJP rule of step `s` (a ray's cotangents are jets: every row
  /// is written, `inWidth` and `rowZeroInput` change nothing).
  void emitStepVjp(OpBuilder &b, const RayPlan &, const JetStep &s, Value input,
                   int64_t /*inWidth*/, Value bar, Value inBar,
                   bool /*rowZeroInput*/) {
    if (s.kind == JetStep::Kind::Affine)
      AffineVjpOp::create(b, loc, input, params, s.weightOffset, bar, inBar,
                          lanes, s.liveOrders);
    else if (s.kind == JetStep::Kind::Activate)
      ActivateVjpOp::create(b, loc, s.activation, input, bar, inBar,
                            s.liveOrders, /*output=*/Value());
    else
      emitTypedLayerVjp(b, loc, s, input, params, bar, lanes, inBar);
  }

  void emitGateVjp(OpBuilder &b, const RayPlan &, const JetStep &s, Value u,
                   Value v, Value z, Value bar, Value uBar, Value vBar,
                   Value zBar, bool accumulate) {
    GateJetsVjpOp::create(b, loc, u, v, z, bar, uBar, vBar, zBar, s.liveOrders,
                          accumulate);
  }

  /// Cotangents sum over the orders the consuming step reads.
  int64_t addedRows(const RayPlan &, int64_t liveOrders) { return liveOrders; }
};

} // namespace

/// Generates the reverse mode of the partials kernel `forward`.
LogicalResult ntp::backward::generatePartialsBackward(ModuleOp module,
                                                      func::FuncOp forward,
                                                      GradLayout grads) {
  StringRef name = forward.getSymName();
  if (!name.consume_back("_forward_tiles"))
    return forward.emitError("kernel function name must end in _forward_tiles");
  // A fast forward without per-ray rays beside it is reversed from its own
  // blocks of rays (RaysBackward.cpp).
  if (!forward->hasAttr(kReverseRaysAttrName) && isRaysForward(forward))
    return generateRaysBackward(module, forward, forward, grads);
  // A fast (multi-direction, collapsed, multivariate) forward names the
  // rays its reverse mode comes from (ntp-decompose-mlp): per ray, or blocks
  // of rays (a gated multivariate forward, blocks past the stack bound);
  // they are not an entry point and go once read.
  func::FuncOp rays = forward;
  if (auto source =
          forward->getAttrOfType<FlatSymbolRefAttr>(kReverseRaysAttrName)) {
    rays = module.lookupSymbol<func::FuncOp>(source.getAttr());
    if (!rays)
      return forward.emitError("the rays ")
             << source << " of this partials kernel's reverse mode are missing";
    if (isRaysForward(rays)) {
      if (failed(generateRaysBackward(module, forward, rays, grads)))
        return failure();
      forward->removeAttr(kReverseRaysAttrName);
      rays.erase();
      return success();
    }
  }
  FailureOr<PartialsPlan> plan = readPartialsPlan(rays, name);
  if (failed(plan))
    return failure();
  if (grads.perSample && plan->tile != 1)
    return forward.emitError("per-sample-grads needs tile size 1, got ")
           << plan->tile;
  // The recomputing backward's jets live on the stack, like the forward's
  // (per-sample gradients, the GPU's, have no recomputing backward).
  int64_t elementBytes = plan->element.isF64() ? 8 : 4;
  if (!grads.perSample && plan->recomputeStackElements() >
                              artifact::kMaxTileStackBytes / elementBytes)
    return forward.emitError("the reverse mode of one tile of ")
           << plan->tile << " samples needs more than "
           << artifact::kMaxTileStackBytes
           << " bytes of stack (kMaxTileStackBytes); use a smaller tile, "
              "narrower layers or fewer requests";
  if (failed(stampBackwardFacts(module, forward, plan->name,
                                plan->workspaceNeeded())))
    return failure();
  OpBuilder b(module.getContext());
  b.setInsertionPointAfter(forward);
  PartialsBackwardBuilder builder(*plan, forward.getLoc(), grads);
  // Per-sample gradients (GPU): no recomputing backward, as for jets.
  for (auto mode : {BackwardMode::ReverseSaved, BackwardMode::ForwardSave,
                    BackwardMode::Recompute})
    if (!grads.perSample || mode != BackwardMode::Recompute) {
      builder.build(b, mode);
      // The bound the stack checks above and the runtime assume.
      if (static_cast<int64_t>(builder.poolSize()) > plan->cotangentBuffers())
        return forward.emitError("the gated reverse mode of this partials "
                                 "kernel needs ")
               << builder.poolSize() << " cotangent buffers, more than "
               << plan->cotangentBuffers();
    }
  if (rays != forward) {
    forward->removeAttr(kReverseRaysAttrName);
    rays.erase();
  }
  return success();
}
