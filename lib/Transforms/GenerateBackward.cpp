//===- GenerateBackward.cpp - Reverse-mode kernels from jet ops -----------===//
//
// The backward is generated from the structure of the forward: the sequence
// of jet ops in the tile loop of @name_forward_tiles is read into a plan, and
// each op's VJP rule is applied in reverse order. Each forward jet gets its
// own buffer (the backward needs them all), on the stack when the backward
// recomputes the forward, or in a caller-provided workspace when a previous
// forward saved them.
//
// With per-sample-grads (the GPU kernels, tile size 1) each tile is one
// sample whose parameter gradient goes to its own column of `grad`
// (grad[p * batch + sample]); the GPU kernel pass reduces the columns.
//
// A partials kernel (ntp.partials: rays, then ntp.combine_partials) gets the
// same three functions from its own plan (PartialsBackward.cpp); the typed
// layers' rules are in TypedLayerBackward.cpp, what the parts share in
// BackwardPlan.h.
//
//===----------------------------------------------------------------------===//

#include "BackwardPlan.h"
#include "GatedBackward.h"
#include "JetCorner.h"

#include "ntp/Dialect/Ntp/IR/JetBuffer.h"
#include "ntp/Dialect/Ntp/IR/NtpDialect.h"
#include "ntp/Dialect/Ntp/IR/NtpOps.h"
#include "ntp/Support/Schedule.h"
#include "ntp/Transforms/Passes.h"

#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"

namespace ntp {
#define GEN_PASS_DEF_NTPGENERATEBACKWARD
#include "ntp/Transforms/Passes.h.inc"
} // namespace ntp

using namespace mlir;
using namespace ntp;
using namespace ntp::backward;

namespace {

FailureOr<JetPlan> readPlan(func::FuncOp func) {
  JetPlan plan;
  StringRef name = func.getSymName();
  if (!name.consume_back("_forward_tiles"))
    return func.emitError("kernel function name must end in _forward_tiles");
  plan.name = name.str();
  bool stored = false;
  // The step that last wrote each buffer value (for the operands of adds).
  DenseMap<Value, size_t> writer;
  WalkResult walk = func.walk([&](Operation *op) -> WalkResult {
    auto neurons = [](Value v) { return JetBufferShape::of(v).neurons(); };
    if (auto seed = dyn_cast<SeedOp>(op)) {
      JetBufferShape jet = JetBufferShape::of(seed.getJet());
      plan.element = jet.elementType();
      plan.orders = jet.orders();
      plan.tile = jet.lanes();
      plan.steps.push_back({JetStep::Kind::Seed, jet.neurons(), 0, 0, ""});
    } else if (auto affine = dyn_cast<AffineOp>(op)) {
      int64_t in = neurons(affine.getInput()),
              out = neurons(affine.getOutput());
      plan.numParams = std::max<int64_t>(
          plan.numParams, affine.getWeightOffset() + out * in + out);
      plan.steps.push_back({JetStep::Kind::Affine, out,
                            static_cast<int64_t>(affine.getLiveOrders()),
                            static_cast<int64_t>(affine.getWeightOffset()),
                            ""});
    } else if (auto activate = dyn_cast<ActivateOp>(op)) {
      plan.steps.push_back({JetStep::Kind::Activate,
                            neurons(activate.getOutput()),
                            static_cast<int64_t>(activate.getLiveOrders()), 0,
                            activate.getActivation().str()});
    } else if (auto store = dyn_cast<StoreJetOp>(op)) {
      plan.storedLiveOrders = store.getLiveOrders();
      stored = true;
    } else {
      // Typed layers (issue 14): TypedLayerBackward.cpp.
      FailureOr<bool> layer = readTypedLayerStep(op, plan, writer);
      if (failed(layer))
        return WalkResult::interrupt();
      if (!*layer && isa<NtpDialect>(op->getDialect()))
        return op->emitOpError("unexpected op in a kernel function");
    }
    Value written = writtenJet(op);
    if (written)
      writer[written] = plan.steps.size() - 1;
    return WalkResult::advance();
  });
  if (walk.wasInterrupted())
    return failure();
  if (plan.steps.empty() || plan.steps.front().kind != JetStep::Kind::Seed ||
      !stored)
    return func.emitError("kernel function must seed, then store, a jet");
  return plan;
}

/// Builds the generated functions of one plan.
class BackwardBuilder : public TileLoopBuilder<BackwardBuilder, JetPlan> {
public:
  using TileLoopBuilder::TileLoopBuilder;
  using Mode = BackwardMode;

  void build(OpBuilder &b, Mode mode) { (void)buildTileLoop(b, mode); }

private:
  friend TileLoopBuilder;

  /// Two ping-pong buffers of the widest layer for cotangents (three with a
  /// residual add).
  void allocateBuffers(OpBuilder &b, Mode mode) {
    if (mode == Mode::ForwardSave)
      return;
    int64_t maxWidth = 0;
    for (const JetStep &s : plan.steps)
      maxWidth = std::max(maxWidth, s.width);
    for (Value &buffer :
         MutableArrayRef<Value>(cotangents, plan.hasAdd() ? 3 : 2))
      buffer = memref::AllocaOp::create(
          b, loc,
          JetBufferShape::get(
              plan.orders,
              JetBufferShape::paddedNeurons(maxWidth, plan.tile, plan.element),
              plan.tile, plan.element));
  }

  /// The [orders, width, tile] corner of cotangent ping-pong buffer `which`.
  Value cotangent(OpBuilder &b, int which, int64_t width) {
    return jetCorner(b, loc, cotangents[which], 0, plan.orders, width,
                     plan.tile);
  }

  void emitForward(OpBuilder &b, ArrayRef<Value> jets, Value batch,
                   Value tile) {
    for (size_t i = 0; i < plan.steps.size(); ++i) {
      const JetStep &s = plan.steps[i];
      switch (s.kind) {
      case JetStep::Kind::Seed:
        SeedOp::create(b, loc, x, v, jets[i], batch, tile);
        break;
      case JetStep::Kind::Affine:
        AffineOp::create(b, loc, jets[i - 1], params, s.weightOffset, jets[i],
                         s.liveOrders);
        break;
      case JetStep::Kind::Activate:
        ActivateOp::create(b, loc, s.activation, jets[i - 1], jets[i],
                           s.liveOrders);
        break;
      // Typed layers (issue 14): TypedLayerBackward.cpp.
      case JetStep::Kind::Scale:
      case JetStep::Kind::Add:
      case JetStep::Kind::FourierProject:
        emitTypedLayerForward(b, loc, s, jets, i, params);
        break;
      case JetStep::Kind::Gate: // only in a partials kernel's rays
        break;
      }
    }
  }

  /// Applies the VJP rule of every step, last to first.
  LogicalResult emitReverse(OpBuilder &b, ArrayRef<Value> jets,
                            Value cotangentIn, Value batch, Value tile) {
    int current = 0;
    Value bar = cotangent(b, current, plan.steps.back().width);
    LoadCotangentOp::create(b, loc, cotangentIn, bar, batch, tile);
    auto inBarOf = [&](size_t i, int target) {
      return cotangent(b, target, plan.steps[i - 1].width);
    };
    auto vjp = [&](size_t i, Value bar, Value inBar) {
      const JetStep &s = plan.steps[i];
      if (s.kind == JetStep::Kind::Affine)
        AffineVjpOp::create(b, loc, jets[i - 1], params, s.weightOffset, bar,
                            inBar, lanes, s.liveOrders);
      else if (s.kind == JetStep::Kind::FourierProject ||
               s.kind == JetStep::Kind::Scale)
        emitTypedLayerVjp(b, loc, s, jets[i - 1], params, bar, lanes, inBar);
      else
        ActivateVjpOp::create(b, loc, s.activation, jets[i - 1], bar, inBar,
                              s.liveOrders, jets[i]);
    };
    // The skip's cotangent joins the chain's (orders the step after
    // pendingStep reads; the others are structural zeros).
    auto join = [&](Value bar, Value pending, size_t pendingStep) {
      AddJetsOp::create(b, loc, bar, pending, bar,
                        plan.steps[pendingStep + 1].liveOrders);
    };
    Value seedBar = reverseChain(plan.steps, current, bar, inBarOf, vjp, join);
    SeedVjpOp::create(b, loc, seedBar, xGrad, batch, tile);
    return success();
  }

  Value cotangents[3];
};

struct GenerateBackwardPass
    : public ntp::impl::NtpGenerateBackwardBase<GenerateBackwardPass> {
  using NtpGenerateBackwardBase::NtpGenerateBackwardBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    MachineVectorFacts machine;
    SmallVector<int64_t> facts(machineFacts.begin(), machineFacts.end());
    if (!parseMachineFacts(facts.data(), facts.size(), machine)) {
      module.emitError(kMachineFactsUsage) << ", got " << machineFacts.size();
      return signalPassFailure();
    }
    if (gradLaneBits < -1) {
      module.emitError("grad-lane-bits must be -1 (chosen), 0 or a width in "
                       "bits, got ")
          << static_cast<int64_t>(gradLaneBits);
      return signalPassFailure();
    }
    // -1: the register's width (folding a wider tile into it) for the
    // gated and partials kernels, per plan for a chain (below).
    GradLayout grads{perSampleGrads, gradLaneBits >= 0 ? int64_t(gradLaneBits)
                                                       : machine.vectorBits};
    SmallVector<func::FuncOp> kernels;
    for (auto func : module.getOps<func::FuncOp>())
      if (func->hasAttr("ntp.kernel") &&
          func.getSymName().ends_with("_forward_tiles"))
        kernels.push_back(func);
    for (func::FuncOp forward : kernels) {
      if (forward->hasAttr("ntp.partials")) {
        if (failed(generatePartialsBackward(module, forward, grads)))
          return signalPassFailure();
        continue;
      }
      // Gated networks are a DAG, reversed in GatedBackward.cpp.
      if (isGatedKernel(forward)) {
        if (failed(generateGatedBackward(module, forward, grads)))
          return signalPassFailure();
        continue;
      }
      FailureOr<JetPlan> plan = readPlan(forward);
      if (failed(plan))
        return signalPassFailure();
      if (perSampleGrads && plan->tile != 1) {
        forward.emitError("per-sample-grads needs tile size 1, got ")
            << plan->tile;
        return signalPassFailure();
      }
      // The module's kernel facts now include the reverse mode; the plan
      // read from the forward must be the one the facts describe.
      if (failed(stampBackwardFacts(module, forward, plan->name,
                                    plan->workspacePerTile())))
        return signalPassFailure();
      OpBuilder b(module.getContext());
      b.setInsertionPointAfter(forward);
      GradLayout chainGrads = grads;
      if (gradLaneBits < 0 && !perSampleGrads)
        chainGrads.laneBits = chooseGradLaneBits(
            machine, plan->tile, plan->element.getIntOrFloatBitWidth(),
            plan->orders, plan->numParams);
      BackwardBuilder builder(*plan, forward.getLoc(), chainGrads);
      // Per-sample gradients (GPU): no recomputing backward, whose every
      // jet of a sample would sit in local (or, for lanes, shared) memory;
      // the runtime runs forward-save and backward-saved instead.
      for (auto mode : {BackwardBuilder::Mode::ReverseSaved,
                        BackwardBuilder::Mode::ForwardSave,
                        BackwardBuilder::Mode::Recompute})
        if (!perSampleGrads || mode != BackwardBuilder::Mode::Recompute)
          builder.build(b, mode);
    }
  }
};

} // namespace
