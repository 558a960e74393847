//===- RaysPlan.cpp - Reading a rays forward into its plan ----------------===//
//
// Reads the plan of a multi-direction or collapsed partials kernel's forward
// (RaysPlan.h): its blocks (seed_rays, the layers' ray ops, the top affine),
// their constant directions and the combine's weights; the reverse mode is
// built from it in RaysBackward.cpp.
//
//===----------------------------------------------------------------------===//

#include "RaysPlan.h"

#include "ntp/Dialect/Ntp/IR/JetBuffer.h"
#include "ntp/Dialect/Ntp/IR/NtpOps.h"
#include "ntp/Dialect/Ntp/IR/RayLayout.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"

using namespace mlir;
using namespace ntp;
using namespace ntp::backward;

namespace {

template <class OpTy> bool sameLayout(OpTy op, const RaysBlock &block) {
  return op.getRayCounts() == ArrayRef<int64_t>(block.counts) &&
         op.getRayOrders() == ArrayRef<int64_t>(block.orders) &&
         op.getCollapseWeights() == ArrayRef<double>(block.weights) &&
         static_cast<int64_t>(op.getCollapsedOrder()) == block.collapsedOrder;
}

} // namespace

FailureOr<RaysPlan> ntp::backward::readRaysPlan(func::FuncOp func,
                                                StringRef name) {
  RaysPlan plan;
  plan.name = name.str();
  bool combined = false, stored = false;
  DenseMap<Value, size_t> writer; // the block's step that wrote a buffer
  WalkResult walk = func.walk([&](Operation *op) -> WalkResult {
    auto neurons = [](Value v) { return JetBufferShape::of(v).neurons(); };
    auto needBlock = [&]() -> LogicalResult {
      if (plan.groups.empty() || combined)
        return op->emitOpError("expected inside a block of rays of a partials "
                               "kernel");
      return success();
    };
    // A chain step reads the previous step's jet.
    auto readsPrevious = [&](Value input) -> LogicalResult {
      auto it = writer.find(input);
      if (it == writer.end() ||
          it->second + 1 != plan.groups.back().steps.size())
        return op->emitOpError("must read the jet its block's previous op "
                               "wrote");
      return success();
    };
    // An affine layer reads a jet its block wrote: the previous step's,
    // or in a gated block X (checked once the block is read).
    SmallVector<size_t, 3> inputs;
    auto readsEarlier = [&](Value input) -> LogicalResult {
      auto it = writer.find(input);
      if (it == writer.end())
        return op->emitOpError("must read a jet its block wrote");
      inputs.push_back(it->second);
      return success();
    };
    auto checkLayout = [&](auto rays) -> LogicalResult {
      if (!sameLayout(rays, plan.groups.back()))
        return op->emitOpError("must have its block's ray layout");
      return success();
    };
    // A ray activation or gate: not in a multivariate block.
    auto checkNotMultivariate = [&]() -> LogicalResult {
      if (plan.groups.back().multivariate())
        return op->emitOpError("may not follow a multivariate op in its "
                               "block");
      return success();
    };
    // A multivariate op: one row per row of its block, the block's
    // monomials (the first such op sets them).
    auto checkMonomials = [&](auto poly) -> LogicalResult {
      RaysBlock &block = plan.groups.back();
      if (JetBufferShape::of(poly.getOutput()).orders() != block.rows)
        return op->emitOpError("must have one row per row of its block");
      if (block.monomials.empty()) {
        if (llvm::any_of(block.steps, [](const JetStep &s) {
              return s.kind == JetStep::Kind::Activate ||
                     s.kind == JetStep::Kind::Gate;
            }))
          return op->emitOpError("may not follow a ray activation or gate in "
                                 "its block");
        block.monomials.assign(poly.getMonomials().begin(),
                               poly.getMonomials().end());
        block.variables = poly.getVariables();
      } else if (poly.getMonomials() != ArrayRef<int64_t>(block.monomials) ||
                 static_cast<int64_t>(poly.getVariables()) != block.variables)
        return op->emitOpError("must have its block's monomials");
      return success();
    };
    Value written;
    if (auto seed = dyn_cast<SeedRaysOp>(op)) {
      if (combined)
        return op->emitOpError("a partials kernel seeds after its combine");
      JetBufferShape jet = JetBufferShape::of(seed.getJet());
      RaysBlock block;
      block.counts.assign(seed.getRayCounts().begin(),
                          seed.getRayCounts().end());
      block.orders.assign(seed.getRayOrders().begin(),
                          seed.getRayOrders().end());
      block.weights.assign(seed.getCollapseWeights().begin(),
                           seed.getCollapseWeights().end());
      block.collapsedOrder = seed.getCollapsedOrder();
      RayLayout layout = RayLayout::of(seed);
      block.rows = layout.rows;
      plan.element = jet.elementType();
      plan.tile = jet.lanes();
      plan.inputDim = jet.neurons();
      if (failed(readConstantBuffer(seed, seed.getDirections(),
                                    layout.rays * plan.inputDim,
                                    "directions of a partials kernel's block",
                                    "block's directions", block.directions)))
        return WalkResult::interrupt();
      block.steps.push_back({JetStep::Kind::Seed, jet.neurons(), 0, 0, ""});
      block.inputs.emplace_back();
      plan.addGroup(std::move(block));
      writer.clear();
      written = seed.getJet();
    } else if (auto affine = dyn_cast<AffineRaysOp>(op)) {
      if (failed(needBlock()) || failed(checkLayout(affine)) ||
          failed(readsEarlier(affine.getInput())))
        return WalkResult::interrupt();
      int64_t in = neurons(affine.getInput()),
              out = neurons(affine.getOutput());
      plan.numParams = std::max<int64_t>(
          plan.numParams, affine.getWeightOffset() + out * in + out);
      plan.groups.back().steps.push_back(
          {JetStep::Kind::Affine, out,
           static_cast<int64_t>(affine.getLiveOrders()),
           static_cast<int64_t>(affine.getWeightOffset()), ""});
      written = affine.getOutput();
    } else if (auto activate = dyn_cast<ActivateRaysOp>(op)) {
      if (failed(needBlock()) || failed(checkLayout(activate)) ||
          failed(checkNotMultivariate()) ||
          failed(readsPrevious(activate.getInput())) ||
          failed(readsEarlier(activate.getInput())))
        return WalkResult::interrupt();
      plan.groups.back().steps.push_back(
          {JetStep::Kind::Activate, neurons(activate.getOutput()),
           static_cast<int64_t>(activate.getLiveOrders()), 0,
           activate.getActivation().str()});
      written = activate.getOutput();
    } else if (auto poly = dyn_cast<ActivatePolyOp>(op)) {
      // The multivariate lowering's activation: its block's rows are the
      // monomials' Taylor coefficients, one set for the block.
      if (failed(needBlock()) || failed(readsPrevious(poly.getInput())) ||
          failed(readsEarlier(poly.getInput())) || failed(checkMonomials(poly)))
        return WalkResult::interrupt();
      RaysBlock &block = plan.groups.back();
      block.steps.push_back({JetStep::Kind::Activate, neurons(poly.getOutput()),
                             block.rows, 0, poly.getActivation().str()});
      written = poly.getOutput();
    } else if (isa<GateRaysOp, GatePolyOp>(op)) {
      // The modified MLP's gate: U, V and the hidden layer's activation Z
      // (ntp.gate_poly: the multivariate lowering's, over its monomials).
      auto gateRays = dyn_cast<GateRaysOp>(op);
      auto gatePoly = dyn_cast<GatePolyOp>(op);
      Value u = gateRays ? gateRays.getU() : gatePoly.getU();
      Value v = gateRays ? gateRays.getV() : gatePoly.getV();
      Value z = gateRays ? gateRays.getZ() : gatePoly.getZ();
      if (failed(needBlock()) ||
          failed(gateRays ? checkLayout(gateRays) : checkMonomials(gatePoly)) ||
          (gateRays && failed(checkNotMultivariate())) ||
          failed(readsPrevious(z)) || failed(readsEarlier(u)) ||
          failed(readsEarlier(v)) || failed(readsEarlier(z)))
        return WalkResult::interrupt();
      if (inputs[0] == inputs[1] || inputs[0] == inputs[2] ||
          inputs[1] == inputs[2])
        return op->emitOpError("must gate three different jets");
      written = gateRays ? gateRays.getOutput() : gatePoly.getOutput();
      plan.groups.back().steps.push_back({JetStep::Kind::Gate, neurons(written),
                                          plan.groups.back().rows, 0, ""});
    } else if (isa<ScaleOp, FourierProjectOp, AddJetsOp>(op)) {
      // Typed layers: the jet chain's rules, on every row.
      if (failed(needBlock()))
        return WalkResult::interrupt();
      if (!isa<AddJetsOp>(op) && failed(readsPrevious(op->getOperand(0))))
        return WalkResult::interrupt();
      if (failed(plan.readTypedLayer(op, writer)))
        return WalkResult::interrupt();
      inputs.push_back(plan.groups.back().steps.size() - 2);
      if (plan.groups.back().steps.back().kind == JetStep::Kind::Add)
        inputs.push_back(plan.groups.back().steps.back().skip);
      if (plan.groups.back().steps.back().liveOrders != plan.groups.back().rows)
        return op->emitOpError("must map every row of its block");
      written = writtenJet(op);
    } else if (auto combine = dyn_cast<CombinePartialsOp>(op)) {
      if (combined)
        return op->emitOpError("a partials kernel combines its rays once");
      combined = true;
      plan.readCombine(combine);
    } else if (auto store = dyn_cast<StoreJetOp>(op)) {
      plan.storedLiveOrders = store.getLiveOrders();
      stored = true;
    } else if (isa<NtpDialect>(op->getDialect())) {
      return op->emitOpError("has no reverse mode in a partials kernel's "
                             "blocks of rays");
    }
    if (written && !plan.groups.empty() && !combined) {
      if (!isa<SeedRaysOp>(op))
        plan.groups.back().inputs.push_back(inputs);
      writer[written] = plan.groups.back().steps.size() - 1;
    }
    return WalkResult::advance();
  });
  if (walk.wasInterrupted())
    return failure();
  if (plan.groups.empty() || !combined || !stored)
    return func.emitError("a partials kernel function must propagate blocks "
                          "of rays, then combine and store them");
  const RaysBlock &last = plan.groups.back();
  if (last.firstColumn + last.rows != plan.columns)
    return func.emitError("the blocks propagate ")
           << last.firstColumn + last.rows << " rows but the combine reads "
           << plan.columns;
  for (const RaysBlock &block : plan.groups) {
    // Along a chain every step reads the previous one's jet; only a gated
    // block's affine layers may read an earlier one (X).
    for (size_t i = 1; i < block.steps.size(); ++i)
      if (!block.gated() && block.steps[i].kind == JetStep::Kind::Affine &&
          block.inputs[i] != SmallVector<size_t, 3>{i - 1})
        return func.emitError("an affine layer of a partials kernel's block "
                              "without gates must read the jet its block's "
                              "previous op wrote");
    bool same = block.steps.size() >= 2 &&
                block.inputs.size() == block.steps.size() &&
                block.inputs == plan.groups.front().inputs &&
                block.steps.back().kind == JetStep::Kind::Affine &&
                block.steps.back().width == plan.outputDim &&
                sameLayers(block.steps, plan.steps());
    if (!same)
      return func.emitError("the blocks of a partials kernel must run the "
                            "same layers, ending in an affine layer of the "
                            "output width");
  }
  return plan;
}
