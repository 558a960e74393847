//===- PartialsBackward.cpp - Reverse mode of partials kernels ------------===//
//
// Part of ntp-generate-backward (GenerateBackward.cpp runs it): the
// reverse-mode functions of a partials kernel (ntp.partials: rays, then
// ntp.combine_partials), built from the plan PartialsPlan.cpp reads.
//
//===----------------------------------------------------------------------===//

#include "JetCorner.h"
#include "PartialsPlan.h"
#include "RaysBackward.h"

#include "ntp/Dialect/Ntp/IR/JetBuffer.h"
#include "ntp/Dialect/Ntp/IR/NtpDialect.h"
#include "ntp/Dialect/Ntp/IR/NtpOps.h"

#include "ntp/Transforms/Passes.h"
#include "ntp/artifact.hpp"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace ntp;
using namespace ntp::backward;

namespace {

/// Builds the reverse-mode functions of a partials kernel (same signatures
/// as a jet kernel's; the direction argument is not read).
class PartialsBackwardBuilder {
public:
  using Mode = BackwardMode;

  /// With `perSampleGrads` (the GPU kernels, tile size 1) each sample's
  /// parameter gradient goes into its own column of `grad`, as for a jet
  /// kernel.
  PartialsBackwardBuilder(const PartialsPlan &plan, Location loc,
                          bool perSampleGrads = false)
      : plan(plan), loc(loc), perSampleGrads(perSampleGrads) {}

  func::FuncOp build(OpBuilder &b, Mode mode) {
    auto func = createFunction(b, loc, plan.element, plan.name, mode,
                               plan.workspacePerTile());
    func->setAttr("ntp.partials", b.getUnitAttr());
    OpBuilder::InsertionGuard guard(b);
    entry = func.addEntryBlock();
    pool.clear();
    busy.clear();
    b.setInsertionPointToStart(entry);
    auto args = entry->getArguments();
    x = args[0];
    params = args[2];
    Value outOrCotangent = args[3];
    grad = xGrad = workspace = lanes = Value();
    if (mode != Mode::ForwardSave) {
      grad = args[4];
      xGrad = args[5];
    }
    if (mode != Mode::Recompute)
      workspace = args[mode == Mode::ForwardSave ? 4 : 6];
    Value batch = args[args.size() - 3];

    // The rays' directions, constants written once per call.
    directions.clear();
    if (mode != Mode::ReverseSaved)
      for (const RayPlan &ray : plan.rays) {
        Value direction = memref::AllocaOp::create(
            b, loc, MemRefType::get({plan.inputDim}, plan.element));
        for (int64_t l = 0; l < plan.inputDim; ++l)
          memref::StoreOp::create(
              b, loc,
              arith::ConstantOp::create(
                  b, loc, b.getFloatAttr(plan.element, ray.direction[l])),
              direction, ValueRange{arith::ConstantIndexOp::create(b, loc, l)});
        directions.push_back(direction);
      }
    // Stack buffers: one ray's jets below the top (recompute), two
    // cotangent ping-pong buffers of the widest layer, the output and ray
    // cotangents, and the x-cotangent accumulators.
    const std::vector<JetStep> &steps = plan.rays.front().steps;
    stackJets.clear();
    if (mode == Mode::Recompute)
      for (size_t i = 0; i + 1 < steps.size(); ++i)
        stackJets.push_back(memref::AllocaOp::create(
            b, loc,
            JetBufferShape::get(plan.maxOrders, steps[i].width, plan.tile,
                                plan.element)));
    Value outBar, raysBar, combined;
    if (mode != Mode::ForwardSave) {
      // (A gated ray's come from the pool of emitRayReverseDag.)
      for (Value &buffer : MutableArrayRef<Value>(
               cotangents,
               plan.rays.front().gated() ? 0 : plan.cotangentBuffers()))
        buffer = memref::AllocaOp::create(
            b, loc,
            JetBufferShape::get(plan.maxOrders, plan.maxWidth(), plan.tile,
                                plan.element));
      outBar = memref::AllocaOp::create(
          b, loc,
          JetBufferShape::get(plan.requests, plan.outputDim, plan.tile,
                              plan.element));
      raysBar = memref::AllocaOp::create(
          b, loc,
          JetBufferShape::get(plan.columns, plan.outputDim, plan.tile,
                              plan.element));
      for (Value &buffer : seedBars)
        buffer = memref::AllocaOp::create(
            b, loc,
            JetBufferShape::get(plan.maxOrders + 1, plan.inputDim, plan.tile,
                                plan.element));
    } else {
      combined = memref::AllocaOp::create(
          b, loc,
          JetBufferShape::get(plan.requests, plan.outputDim, plan.tile,
                              plan.element));
    }

    // Lane-wise gradient accumulators on the heap, as for a jet kernel.
    Value one = arith::ConstantIndexOp::create(b, loc, 1);
    if (mode != Mode::ForwardSave && !perSampleGrads) {
      lanes =
          createZeroedLanes(b, loc, plan.element, plan.numParams, plan.tile);
    }
    auto loop = scf::ForOp::create(b, loc, args[args.size() - 2],
                                   args[args.size() - 1], one);
    b.setInsertionPointToStart(loop.getBody());
    Value tile = loop.getInductionVar();
    if (mode != Mode::ForwardSave && perSampleGrads)
      lanes = createSampleColumn(b, loc, plan.element, plan.numParams, grad,
                                 tile, batch);

    if (mode == Mode::ForwardSave) {
      Value tops = topsBuffer(b, tile);
      for (size_t r = 0; r < plan.rays.size(); ++r)
        emitRayForward(b, r, rayJets(b, r, tile),
                       corner(b, tops, plan.rays[r].firstColumn,
                              plan.rays[r].orders, plan.outputDim),
                       batch, tile);
      CombinePartialsOp::create(b, loc, tops, combined,
                                b.getDenseF64ArrayAttr(plan.weights));
      StoreJetOp::create(b, loc, combined, outOrCotangent, batch, tile,
                         plan.storedLiveOrders);
    } else {
      LoadCotangentOp::create(b, loc, outOrCotangent, outBar, batch, tile);
      // The VJP of the combine: the transposed weights.
      SmallVector<double> transposed(plan.columns * plan.requests);
      for (int64_t p = 0; p < plan.requests; ++p)
        for (int64_t c = 0; c < plan.columns; ++c)
          transposed[c * plan.requests + p] =
              plan.weights[p * plan.columns + c];
      CombinePartialsOp::create(b, loc, outBar, raysBar,
                                b.getDenseF64ArrayAttr(transposed));
      int accumulator = 0;
      for (size_t r = 0; r < plan.rays.size(); ++r) {
        SmallVector<Value> jets = rayJets(b, r, tile);
        if (mode == Mode::Recompute)
          emitRayForward(b, r, jets, Value(), batch, tile);
        const RayPlan &ray = plan.rays[r];
        Value seedBar =
            corner(b, seedBars[accumulator], 1, ray.orders, plan.inputDim);
        emitRayReverse(
            b, r, jets,
            corner(b, raysBar, ray.firstColumn, ray.orders, plan.outputDim),
            seedBar);
        // Row 0 of the next accumulator = (the sum so far) + this ray's
        // order-0 seed cotangent.
        Value next = corner(b, seedBars[accumulator ^ 1], 0, 1, plan.inputDim);
        if (r == 0)
          CombinePartialsOp::create(
              b, loc, corner(b, seedBars[accumulator], 1, 1, plan.inputDim),
              next, b.getDenseF64ArrayAttr({1.0}));
        else
          CombinePartialsOp::create(
              b, loc, corner(b, seedBars[accumulator], 0, 2, plan.inputDim),
              next, b.getDenseF64ArrayAttr({1.0, 1.0}));
        accumulator ^= 1;
      }
      SeedVjpOp::create(b, loc,
                        corner(b, seedBars[accumulator], 0, 1, plan.inputDim),
                        xGrad, batch, tile);
    }

    b.setInsertionPointToEnd(entry);
    if (mode != Mode::ForwardSave && !perSampleGrads) {
      ReduceLanesOp::create(b, loc, lanes, grad);
      memref::DeallocOp::create(b, loc, lanes);
    }
    func::ReturnOp::create(b, loc);
    return func;
  }

private:
  /// The [orders, width, tile] block of `buffer` starting at order `first`.
  Value corner(OpBuilder &b, Value buffer, int64_t first, int64_t orders,
               int64_t width) {
    return jetCorner(b, loc, buffer, first, orders, width, plan.tile);
  }

  /// `tile`'s [orders, width, tile] block of the workspace at `offset`
  /// elements into the tile's slice.
  Value workspaceSlice(OpBuilder &b, Value tile, int64_t offset, int64_t orders,
                       int64_t width) {
    return sliceWorkspace(b, loc, workspace, tile, plan.workspacePerTile(),
                          offset, orders, width, plan.tile, plan.element);
  }

  /// The stacked top coefficients of `tile` in the workspace.
  Value topsBuffer(OpBuilder &b, Value tile) {
    return workspaceSlice(b, tile, plan.topsOffset(), plan.columns,
                          plan.outputDim);
  }

  /// The jets of ray r below its top: stack corners, or workspace slices.
  SmallVector<Value> rayJets(OpBuilder &b, size_t r, Value tile) {
    const RayPlan &ray = plan.rays[r];
    SmallVector<Value> jets;
    int64_t offset = ray.firstColumn * plan.lowerWidths() * plan.tile;
    for (size_t i = 0; i + 1 < ray.steps.size(); ++i) {
      int64_t width = ray.steps[i].width;
      jets.push_back(workspace
                         ? workspaceSlice(b, tile, offset, ray.orders, width)
                         : corner(b, stackJets[i], 0, ray.orders, width));
      offset += ray.orders * width * plan.tile;
    }
    return jets;
  }

  /// Ray r's forward into `jets`; the top affine too when `top` is given.
  void emitRayForward(OpBuilder &b, size_t r, ArrayRef<Value> jets, Value top,
                      Value batch, Value tile) {
    const RayPlan &ray = plan.rays[r];
    for (size_t i = 0; i < ray.steps.size(); ++i) {
      const JetStep &s = ray.steps[i];
      bool isTop = i + 1 == ray.steps.size();
      if (isTop && !top)
        break;
      Value output = isTop ? top : jets[i];
      switch (s.kind) {
      case JetStep::Kind::Seed:
        SeedOp::create(b, loc, x, directions[r], output, batch, tile);
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
        GateJetsOp::create(b, loc, jets[ray.inputs[i][0]],
                           jets[ray.inputs[i][1]], jets[ray.inputs[i][2]],
                           output, s.liveOrders);
        break;
      }
    }
  }

  /// Ray r's VJP rules, top to seed: from `topBar` (its rows of the ray
  /// cotangents) to `seedBar` (the seed's cotangent).
  void emitRayReverse(OpBuilder &b, size_t r, ArrayRef<Value> jets,
                      Value topBar, Value seedBar) {
    const RayPlan &ray = plan.rays[r];
    if (ray.gated())
      return emitRayReverseDag(b, r, jets, topBar, seedBar);
    int current = -1; // topBar is in none of the cotangent buffers
    Value bar = topBar;
    // A residual add's cotangent, kept (in buffer `kept`) until the chain
    // reaches the step whose jet the add read, `pendingStep` (as in the jet
    // chain, GenerateBackward.cpp).
    int kept = -1;
    Value pending;
    size_t pendingStep = 0;
    for (size_t i = ray.steps.size() - 1; i > 0; --i) {
      const JetStep &s = ray.steps[i];
      if (s.kind == JetStep::Kind::Add) {
        // The top step is an affine: an add's cotangent is in a buffer.
        kept = current;
        pending = bar;
        pendingStep = s.skip;
        continue;
      }
      int target = 0;
      while (target == current || target == kept)
        ++target;
      Value inBar = i == 1 ? seedBar
                           : corner(b, cotangents[target], 0, ray.orders,
                                    ray.steps[i - 1].width);
      if (s.kind == JetStep::Kind::Affine)
        AffineVjpOp::create(b, loc, jets[i - 1], params, s.weightOffset, bar,
                            inBar, lanes, s.liveOrders);
      else if (s.kind == JetStep::Kind::FourierProject ||
               s.kind == JetStep::Kind::Scale)
        emitTypedLayerVjp(b, loc, s, jets[i - 1], params, bar, lanes, inBar);
      else
        ActivateVjpOp::create(b, loc, s.activation, jets[i - 1], bar, inBar,
                              s.liveOrders);
      current = target;
      bar = inBar;
      if (pending && i - 1 == pendingStep) {
        // The skip's cotangent joins the chain's (orders the step after
        // pendingStep reads; the others are structural zeros).
        AddJetsOp::create(b, loc, bar, pending, bar,
                          ray.steps[pendingStep + 1].liveOrders);
        kept = -1;
        pending = Value();
      }
    }
  }

  /// A gated ray's VJP rules, last step to first, as GatedBackward.cpp
  /// reverses a gated jet kernel: a step's cotangent is written by the first
  /// of its consumers reversed and added to by the others (U's and V's by
  /// ntp.gate_jets_vjp with `accumulate`, X's by ntp.add_jets); the buffers
  /// come from a pool (pool), the seed's cotangent is `seedBar` and the top
  /// step's `topBar`.
  void emitRayReverseDag(OpBuilder &b, size_t r, ArrayRef<Value> jets,
                         Value topBar, Value seedBar) {
    const RayPlan &ray = plan.rays[r];
    constexpr int kTop = -1, kSeed = -2;
    size_t last = ray.steps.size() - 1;
    DenseMap<size_t, int> slot;
    slot[last] = kTop;
    auto view = [&](int which, size_t step) -> Value {
      if (which == kTop)
        return topBar;
      if (which == kSeed)
        return seedBar;
      return corner(b, pool[which], 0, ray.orders, ray.steps[step].width);
    };
    auto acquire = [&]() -> int {
      for (size_t i = 0; i < pool.size(); ++i)
        if (!busy[i]) {
          busy[i] = true;
          return static_cast<int>(i);
        }
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(entry);
      pool.push_back(memref::AllocaOp::create(
          b, loc,
          JetBufferShape::get(plan.maxOrders, plan.maxWidth(), plan.tile,
                              plan.element)));
      busy.push_back(true);
      return static_cast<int>(pool.size() - 1);
    };
    auto release = [&](int which) {
      if (which >= 0)
        busy[which] = false;
    };
    // Where step `in`'s cotangent from one consumer goes: its own buffer
    // (the first consumer), else a temporary added to it afterwards.
    auto contribution = [&](size_t in) -> std::pair<int, bool> {
      bool first = !slot.count(in);
      int target = first && in == 0 ? kSeed : acquire();
      if (first)
        slot[in] = target;
      return {target, first};
    };
    auto addInto = [&](size_t in, int target, int64_t live) {
      Value sum = view(slot[in], in);
      AddJetsOp::create(b, loc, sum, view(target, in), sum, live);
      release(target);
    };
    std::fill(busy.begin(), busy.end(), false);
    for (size_t i = last; i > 0; --i) {
      const JetStep &s = ray.steps[i];
      // A step no other step reads has no cotangent (none in DecomposeMlp's
      // rays).
      if (!slot.count(i))
        continue;
      int own = slot.lookup(i);
      Value bar = view(own, i);
      if (s.kind == JetStep::Kind::Gate) {
        size_t u = ray.inputs[i][0], v = ray.inputs[i][1], z = ray.inputs[i][2];
        bool accumulate = slot.count(u);
        if (!accumulate) {
          slot[u] = acquire();
          slot[v] = acquire();
        }
        auto [zTarget, zFirst] = contribution(z);
        GateJetsVjpOp::create(b, loc, jets[u], jets[v], jets[z], bar,
                              view(slot[u], u), view(slot[v], v),
                              view(zTarget, z), s.liveOrders, accumulate);
        if (!zFirst)
          addInto(z, zTarget, s.liveOrders);
      } else {
        size_t in = ray.inputs[i][0];
        auto [target, first] = contribution(in);
        Value inBar = view(target, in);
        if (s.kind == JetStep::Kind::Affine)
          AffineVjpOp::create(b, loc, jets[in], params, s.weightOffset, bar,
                              inBar, lanes, s.liveOrders);
        else if (s.kind == JetStep::Kind::Activate)
          ActivateVjpOp::create(b, loc, s.activation, jets[in], bar, inBar,
                                s.liveOrders);
        else
          emitTypedLayerVjp(b, loc, s, jets[in], params, bar, lanes, inBar);
        if (!first)
          addInto(in, target, s.liveOrders);
      }
      release(own);
      slot.erase(i);
    }
  }

  const PartialsPlan &plan;
  Location loc;
  bool perSampleGrads;
  Value x, params, grad, xGrad, workspace, lanes;
  SmallVector<Value> directions, stackJets;
  Value cotangents[3], seedBars[2];
  Block *entry = nullptr;
  // A gated ray's cotangent buffers (emitRayReverseDag), shared by the rays.
  SmallVector<Value> pool;
  SmallVector<bool> busy;

public:
  /// Cotangent buffers the last function built took from the pool.
  size_t poolSize() const { return pool.size(); }
};

} // namespace

/// Generates the reverse mode of the partials kernel `forward`.
LogicalResult ntp::backward::generatePartialsBackward(ModuleOp module,
                                                      func::FuncOp forward,
                                                      bool perSampleGrads) {
  StringRef name = forward.getSymName();
  if (!name.consume_back("_forward_tiles"))
    return forward.emitError("kernel function name must end in _forward_tiles");
  // A fast forward without per-ray rays beside it is reversed from its own
  // blocks of rays (RaysBackward.cpp).
  if (!forward->hasAttr(kReverseRaysAttrName) && isRaysForward(forward))
    return generateRaysBackward(module, forward, perSampleGrads);
  // A fast (multi-direction, collapsed) forward names the per-ray rays its
  // reverse mode comes from (ntp-decompose-mlp); they are not an entry point
  // and go once read.
  func::FuncOp rays = forward;
  if (auto source =
          forward->getAttrOfType<FlatSymbolRefAttr>(kReverseRaysAttrName)) {
    rays = module.lookupSymbol<func::FuncOp>(source.getAttr());
    if (!rays)
      return forward.emitError("the per-ray rays ")
             << source << " of this partials kernel's reverse mode are missing";
  }
  FailureOr<PartialsPlan> plan = readPartialsPlan(rays, name);
  if (failed(plan))
    return failure();
  if (perSampleGrads && plan->tile != 1)
    return forward.emitError("per-sample-grads needs tile size 1, got ")
           << plan->tile;
  // The recomputing backward's jets live on the stack, like the forward's
  // (per-sample gradients, the GPU's, have no recomputing backward).
  int64_t elementBytes = plan->element.isF64() ? 8 : 4;
  if (!perSampleGrads && plan->recomputeStackElements() >
                             artifact::kMaxTileStackBytes / elementBytes)
    return forward.emitError("the reverse mode of one tile of ")
           << plan->tile << " samples needs more than "
           << artifact::kMaxTileStackBytes
           << " bytes of stack (kMaxTileStackBytes); use a smaller tile, "
              "narrower layers or fewer requests";
  if (failed(stampBackwardFacts(module, forward, plan->name,
                                plan->workspacePerTile())))
    return failure();
  OpBuilder b(module.getContext());
  b.setInsertionPointAfter(forward);
  PartialsBackwardBuilder builder(*plan, forward.getLoc(), perSampleGrads);
  // Per-sample gradients (GPU): no recomputing backward, as for jets.
  for (auto mode : {BackwardMode::ReverseSaved, BackwardMode::ForwardSave,
                    BackwardMode::Recompute})
    if (!perSampleGrads || mode != BackwardMode::Recompute) {
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
