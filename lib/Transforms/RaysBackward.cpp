//===- RaysBackward.cpp - Reverse mode of the ray lowerings ---------------===//
//
// Part of ntp-generate-backward (PartialsBackward.cpp dispatches here): the
// reverse mode of a partials kernel whose forward is the multi-direction,
// collapsed or multivariate lowering (ntp-decompose-mlp's buildMultiPartials,
// buildPolyPartials), generated from that forward itself rather than from
// rays beside it. A multivariate forward is one block on the layout of its
// monomials' rows (order-1 rays), its activations ntp.activate_poly and
// gates ntp.gate_poly, whose VJPs are ntp.activate_poly_vjp and
// ntp.gate_poly_vjp; everything else is reversed as below.
//
// The forward is a sequence of blocks (ntp.seed_rays, then per layer
// ntp.affine_rays and ntp.activate_rays with the typed layers' jet ops on
// every row between them, the top affine writing the block's rows of the
// stacked `top` buffer), one ntp.combine_partials and one store. Every row
// of a block is a linear image of the layer's input rows except through the
// activation, so the reverse of a block is: the combine's VJP (W^T, as for
// per-ray rays), then per layer in reverse ntp.affine_vjp over all rows (the
// weight gradient sums cot_row (x) in_row over the rows, the bias gradient
// reads row 0, the input cotangent is W^T per row), the typed layers' VJP
// ops over all rows (slopes, residual sums, the Fourier projection are
// linear maps of every row), and ntp.activate_rays_vjp. A direction is a
// constant, so x's gradient is row 0 of the seed's cotangent, summed over
// the blocks. A gated network's block (the modified MLP: X feeds U, V and
// the first hidden layer, U and V every ntp.gate_rays) is a DAG, reversed
// step by step with ntp.gate_rays_vjp and its cotangents summed over each
// step's consumers (RayVjpEmission.h's emitGroupReverseDag, shared with the
// per-ray reverse).
//
// Workspace of one tile: each block's buffers below the top ([rows_b, width,
// tile] per step, in order), then the blocks' top rows stacked as the
// forward stacks them: C * (sum of the step widths) * tile elements with C
// the rows of all blocks, the per-ray layout's formula with rows for jet
// coefficients. The kernel's stated workspace is exactly that:
// describeKernel sizes it for the blocks' rows C (KernelTarget::
// partialsSavedRows), at most the per-ray reverse's coefficients (a block's
// rows: 1 + sum n_r (+ 1 collapsed row replacing at least one order-N row)
// <= sum (n_r + 1)).
//
//===----------------------------------------------------------------------===//

#include "RaysBackward.h"
#include "RaysPlan.h"

#include "BackwardPlan.h"
#include "RayVjpEmission.h"

#include "ntp/Compiler/KernelFacts.h"
#include "ntp/Dialect/Ntp/IR/JetBuffer.h"
#include "ntp/Dialect/Ntp/IR/NtpAttributes.h"
#include "ntp/Dialect/Ntp/IR/NtpDialect.h"
#include "ntp/Dialect/Ntp/IR/NtpOps.h"
#include "ntp/Dialect/Ntp/IR/RayLayout.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"

using namespace mlir;
using namespace ntp;
using namespace ntp::backward;

namespace {

/// Builds the reverse-mode functions of a rays forward: its blocks' steps
/// are ntp.seed_rays, ntp.affine_rays, ntp.activate_rays, ntp.gate_rays and
/// the typed layers' ops on every row.
class RaysBackwardBuilder
    : public RayGroupsReverseBuilder<RaysBackwardBuilder, RaysPlan> {
public:
  RaysBackwardBuilder(const RaysPlan &plan, Location loc, GradLayout grads)
      : RayGroupsReverseBuilder(plan, loc, grads, plan.stride) {}

  /// The block's directions, [rays * d] behind a cast to a dynamic size.
  Value createDirections(OpBuilder &b, const RaysBlock &block) {
    return castToDynamic(
        b, loc, createConstantBuffer(b, loc, plan.element, block.directions));
  }

  /// Step i of block k into `output`.
  void emitStepForward(OpBuilder &b, size_t k, size_t i, ArrayRef<Value> jets,
                       Value output, Value batch, Value tile) {
    const RaysBlock &block = plan.groups[k];
    const JetStep &s = block.steps[i];
    auto [counts, orders, weights, collapsed] = layoutAttrs(b, block);
    switch (s.kind) {
    case JetStep::Kind::Seed:
      SeedRaysOp::create(b, loc, x, direction, output, batch, tile, counts,
                         orders, weights, collapsed);
      break;
    case JetStep::Kind::Affine:
      // A gated block's U, V and first hidden layer read X.
      AffineRaysOp::create(b, loc, jets[block.inputs[i][0]], params,
                           b.getI64IntegerAttr(s.weightOffset), output,
                           b.getI64IntegerAttr(s.liveOrders), counts, orders,
                           weights, collapsed);
      break;
    case JetStep::Kind::Activate:
      if (block.multivariate())
        ActivatePolyOp::create(b, loc, b.getStringAttr(s.activation),
                               jets[i - 1], output,
                               b.getDenseI64ArrayAttr(block.monomials),
                               b.getI64IntegerAttr(block.variables));
      else
        ActivateRaysOp::create(b, loc, b.getStringAttr(s.activation),
                               jets[i - 1], output,
                               b.getI64IntegerAttr(s.liveOrders), counts,
                               orders, weights, collapsed);
      break;
    case JetStep::Kind::Scale:
    case JetStep::Kind::Add:
    case JetStep::Kind::FourierProject:
      emitTypedLayerForward(b, loc, s, jets, i, params);
      break;
    case JetStep::Kind::Gate:
      if (block.multivariate())
        GatePolyOp::create(b, loc, jets[block.inputs[i][0]],
                           jets[block.inputs[i][1]], jets[block.inputs[i][2]],
                           output, b.getDenseI64ArrayAttr(block.monomials),
                           b.getI64IntegerAttr(block.variables));
      else
        GateRaysOp::create(b, loc, jets[block.inputs[i][0]],
                           jets[block.inputs[i][1]], jets[block.inputs[i][2]],
                           output, counts, orders, weights, collapsed);
      break;
    }
  }

  /// The VJP of step `s` over every row of the block; with `rowZeroInput`
  /// (into the seed's cotangent) an affine layer's W^T is skipped on the
  /// rows past 0.
  void emitStepVjp(OpBuilder &b, const RaysBlock &block, const JetStep &s,
                   Value input, int64_t inWidth, Value bar, Value inBar,
                   bool rowZeroInput) {
    auto [counts, orders, weights, collapsed] = layoutAttrs(b, block);
    switch (s.kind) {
    case JetStep::Kind::Affine:
      emitAffineVjp(b, s, input, bar, inBar, block.rows, inWidth, rowZeroInput);
      break;
    case JetStep::Kind::Activate:
      if (block.multivariate())
        ActivatePolyVjpOp::create(b, loc, b.getStringAttr(s.activation), input,
                                  bar, inBar,
                                  b.getDenseI64ArrayAttr(block.monomials),
                                  b.getI64IntegerAttr(block.variables));
      else
        ActivateRaysVjpOp::create(b, loc, b.getStringAttr(s.activation), input,
                                  bar, inBar, b.getI64IntegerAttr(s.liveOrders),
                                  counts, orders, weights, collapsed);
      break;
    case JetStep::Kind::Scale:
    case JetStep::Kind::FourierProject:
      emitTypedLayerVjp(b, loc, s, input, params, bar, lanes, inBar);
      break;
    default:
      llvm_unreachable("checked by generateRaysBackward");
    }
  }

  void emitGateVjp(OpBuilder &b, const RaysBlock &block, const JetStep &,
                   Value u, Value v, Value z, Value bar, Value uBar, Value vBar,
                   Value zBar, bool accumulate) {
    UnitAttr adds = accumulate ? b.getUnitAttr() : UnitAttr();
    if (block.multivariate()) {
      GatePolyVjpOp::create(b, loc, u, v, z, bar, uBar, vBar, zBar,
                            b.getDenseI64ArrayAttr(block.monomials),
                            b.getI64IntegerAttr(block.variables), adds);
      return;
    }
    auto [counts, orders, weights, collapsed] = layoutAttrs(b, block);
    GateRaysVjpOp::create(b, loc, u, v, z, bar, uBar, vBar, zBar, counts,
                          orders, weights, collapsed, adds);
  }

  /// Cotangents sum over every row (the typed layers map every row).
  int64_t addedRows(const RaysBlock &block, int64_t) { return block.rows; }

  /// Blocks share their tile functions when their ray layouts (the ops'
  /// attributes) match too.
  bool sameBody(const RaysBlock &a, const RaysBlock &b) const {
    return RayGroupsReverseBuilder::sameBody(a, b) && a.counts == b.counts &&
           a.orders == b.orders && a.weights == b.weights &&
           a.collapsedOrder == b.collapsedOrder && a.monomials == b.monomials &&
           a.variables == b.variables;
  }

private:
  /// The block's ray layout, as its ops' attributes.
  static std::tuple<DenseI64ArrayAttr, DenseI64ArrayAttr, DenseF64ArrayAttr,
                    IntegerAttr>
  layoutAttrs(OpBuilder &b, const RaysBlock &block) {
    return {b.getDenseI64ArrayAttr(block.counts),
            b.getDenseI64ArrayAttr(block.orders),
            b.getDenseF64ArrayAttr(block.weights),
            b.getI64IntegerAttr(block.collapsedOrder)};
  }

  /// The VJP of an affine layer over every row of a block (rows the forward
  /// did not compute hold zeros on both sides: the seed writes them, and the
  /// activation's VJP writes 0 past live_orders), in blocks of kVjpRows
  /// rows: ntp.affine_vjp's lowering keeps a block's cotangents in
  /// registers, which a block of 34 rows spills. Row 0's block adds the
  /// bias gradient, the others skip it. With `rowZeroInput` only row 0's
  /// input cotangent is written: row 0 alone, then the other rows' weight
  /// gradients without one.
  void emitAffineVjp(OpBuilder &b, const JetStep &s, Value input, Value bar,
                     Value inBar, int64_t rows, int64_t inWidth,
                     bool rowZeroInput = false) {
    int64_t outWidth = s.width;
    for (int64_t first = 0; first < rows;) {
      int64_t count =
          std::min(rowZeroInput && first == 0 ? 1 : kVjpRows, rows - first);
      Value in = rowZeroInput && first > 0
                     ? Value()
                     : corner(b, inBar, first, count, inWidth);
      auto vjp = AffineVjpOp::create(
          b, loc, corner(b, input, first, count, inWidth), params,
          s.weightOffset, corner(b, bar, first, count, outWidth), in, lanes,
          count);
      if (first > 0)
        vjp.setSkipBias(true);
      first += count;
    }
  }

  static constexpr int64_t kVjpRows = 4;
};

} // namespace

bool ntp::backward::isRaysForward(func::FuncOp forward) {
  bool found = false;
  forward.walk([&](SeedRaysOp) {
    found = true;
    return WalkResult::interrupt();
  });
  return found;
}

std::optional<int64_t> ntp::backward::raysReverseStackElements(
    const std::vector<int64_t> &layers, const artifact::LayerKinds &kinds,
    int64_t maxRows, int64_t columns, int64_t requests, int64_t tile) {
  // The jet kernel's recomputing bound with maxRows coefficients: every
  // layer's jets and the cotangent buffers of the widest layer.
  std::optional<int64_t> jets =
      artifact::jetStackElementsPerTile(layers, maxRows - 1, tile, kinds);
  if (!jets || maxRows < 1)
    return std::nullopt;
  int64_t widest = 0;
  for (int64_t width : layers)
    widest = std::max(widest, width);
  widest = std::max(widest, 2 * kinds.fourier);
  // One more cotangent buffer than the jet kernel's (residual), the output
  // and top cotangents, the seed's accumulators (small beside the jets: the
  // widths are at most kMaxWidth, rows and columns bounded by the planner).
  return *jets + maxRows * widest * tile +
         (requests + columns) * layers.back() * tile +
         2 * (maxRows + 1) * layers.front() * tile;
}

LogicalResult ntp::backward::generateRaysBackward(ModuleOp module,
                                                  func::FuncOp forward,
                                                  func::FuncOp rays,
                                                  GradLayout grads) {
  StringRef name = forward.getSymName();
  if (!name.consume_back("_forward_tiles"))
    return forward.emitError("kernel function name must end in _forward_tiles");
  FailureOr<RaysPlan> plan = readRaysPlan(rays, name);
  if (failed(plan))
    return failure();
  if (plan->groups.front().gated() && plan->hasAdd())
    return forward.emitError("the blocks of rays of a gated network with "
                             "residual layers have no reverse mode; use "
                             "partials-reverse-lowering=per-ray");
  if (grads.perSample && plan->tile != 1)
    return forward.emitError("per-sample-grads needs tile size 1, got ")
           << plan->tile;
  int64_t elementBytes = plan->element.isF64() ? 8 : 4;
  if (!grads.perSample && plan->recomputeStackElements() >
                              artifact::kMaxTileStackBytes / elementBytes)
    return forward.emitError("the reverse mode of one tile of ")
           << plan->tile << " samples needs more than "
           << artifact::kMaxTileStackBytes
           << " bytes of stack (kMaxTileStackBytes); use a smaller tile, "
              "narrower layers, fewer requests or partials-reverse-lowering="
              "per-ray";
  // The tile's stride: the kernel's stated workspace, which describeKernel
  // sizes for the blocks' rows (KernelTarget::partialsSavedRows), or
  // without a #ntp.kernel of this kernel what the blocks need.
  plan->stride = plan->workspaceNeeded();
  KernelAttr kernel = getKernelAttr(module);
  if (kernel && kernel.getName() == plan->name) {
    artifact::KernelManifest facts;
    std::string error;
    KernelTarget target = targetOf(kernel.getManifest());
    target.backward = true;
    target.partialsSavedRows = plan->columns;
    if (!describeKernel(networkOf(kernel.getManifest()), target, facts, error))
      return forward.emitError(error);
    if (facts.workspacePerTile < plan->workspaceNeeded())
      return forward.emitError("the blocks of rays save ")
             << plan->workspaceNeeded()
             << " elements per tile, more than the kernel's workspace of "
             << facts.workspacePerTile;
    plan->stride = facts.workspacePerTile;
  }
  if (failed(stampBackwardFacts(module, forward, plan->name, plan->stride,
                                plan->columns)))
    return failure();
  OpBuilder b(module.getContext());
  b.setInsertionPointAfter(forward);
  RaysBackwardBuilder builder(*plan, forward.getLoc(), grads);
  for (auto mode : {BackwardMode::ReverseSaved, BackwardMode::ForwardSave,
                    BackwardMode::Recompute})
    if (!grads.perSample || mode != BackwardMode::Recompute) {
      builder.build(b, mode);
      // The bound the stack checks above and ntp-decompose-mlp assume.
      if (static_cast<int64_t>(builder.poolSize()) > plan->cotangentBuffers())
        return forward.emitError("the gated reverse mode of these blocks of "
                                 "rays needs ")
               << builder.poolSize() << " cotangent buffers, more than "
               << plan->cotangentBuffers();
    }
  return success();
}
