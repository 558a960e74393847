//===- PartialsBackward.cpp - Reverse mode of partials kernels ------------===//
//
// Part of ntp-generate-backward (GenerateBackward.cpp runs it): the
// reverse-mode functions of a partials kernel (ntp.partials: rays, then
// ntp.combine_partials), read into their own plan.
//
//===----------------------------------------------------------------------===//

#include "BackwardPlan.h"
#include "JetCorner.h"

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

//===----------------------------------------------------------------------===//
// Partials kernels (issue 12 item 4)
//===----------------------------------------------------------------------===//
//
// A partials kernel's forward is a sequence of rays (one univariate jet each,
// seeded with a constant direction; the top affine writes its rows of a
// stacked `rays` buffer), one ntp.combine_partials with the exact weights W
// and one store. The combine is linear, so its VJP is the combine with W^T:
// the cotangent of every ray's top coefficients comes from the output
// cotangent alone, and each ray then runs the jet VJP rules in reverse on its
// own. The rays are reversed one after another, so the recomputing backward
// holds one ray's jets at a time. The direction of a ray is a constant, so
// the x gradient is the sum over rays of each seed's order-0 cotangent,
// accumulated with ntp.combine_partials (weights 1) in two ping-pong buffers.
//
// Workspace of one tile (forward-save / backward-saved): for each ray, its
// jets below the top ([orders_r, width, tile] per step, in order), then the
// rays' top coefficients stacked as the forward stacks them ([C, q, tile]):
// C * (sum of step widths) * tile elements, C the jet coefficients of all
// rays.

namespace {

/// One ray of a partials kernel's forward.
struct RayPlan {
  SmallVector<double> direction;
  int64_t orders = 0;         // jet coefficients propagated along the ray
  int64_t firstColumn = 0;    // its first row of the stacked rays
  std::vector<JetStep> steps; // seed, affine, activate, ..., top affine
  /// The steps whose jets each step reads (a gated ray is a DAG: X feeds
  /// U, V and the first hidden layer, U and V every gate).
  std::vector<SmallVector<size_t, 3>> inputs;

  bool gated() const {
    return llvm::any_of(
        steps, [](const JetStep &s) { return s.kind == JetStep::Kind::Gate; });
  }
};

struct PartialsPlan {
  std::string name; // without the _forward_tiles suffix
  Type element;
  int64_t tile = 0, numParams = 0, inputDim = 0, outputDim = 0;
  int64_t columns = 0, requests = 0, maxOrders = 0, storedLiveOrders = 0;
  std::vector<RayPlan> rays;
  SmallVector<double> weights; // [requests, columns], row-major

  /// Widths of one ray's jets below the top (seed, affine, activate, ...).
  int64_t lowerWidths() const {
    int64_t total = 0;
    const std::vector<JetStep> &steps = rays.front().steps;
    for (size_t i = 0; i + 1 < steps.size(); ++i)
      total += steps[i].width;
    return total;
  }
  int64_t maxWidth() const {
    int64_t widest = 0;
    for (const JetStep &s : rays.front().steps)
      widest = std::max(widest, s.width);
    return widest;
  }
  int64_t workspacePerTile() const {
    return columns * (lowerWidths() + outputDim) * tile;
  }
  /// Elements of the stacked top coefficients' offset in a tile's slice.
  int64_t topsOffset() const { return columns * lowerWidths() * tile; }
  /// Elements a recomputing backward tile keeps on the stack.
  /// Whether the rays add jets (residual layers): their reverse keeps the
  /// skip connection's cotangent in a third buffer.
  bool hasAdd() const {
    return llvm::any_of(rays.front().steps, [](const JetStep &s) {
      return s.kind == JetStep::Kind::Add;
    });
  }
  /// Cotangent buffers of a ray's reverse: a gated one's pool holds U's,
  /// V's and two along the chain (as GatedBackward.cpp's).
  int64_t cotangentBuffers() const {
    return rays.front().gated() ? 4 : hasAdd() ? 3 : 2;
  }
  int64_t recomputeStackElements() const {
    return (maxOrders * lowerWidths() +
            cotangentBuffers() * maxOrders * maxWidth() +
            (requests + columns) * outputDim + 2 * (maxOrders + 1) * inputDim) *
           tile;
  }
};

/// Reads the constant direction a partials kernel's forward stores into the
/// buffer `direction` (an alloca of `d` elements).
LogicalResult readDirection(SeedOp seed, int64_t d,
                            SmallVector<double> &direction) {
  auto alloca = seed.getDirection().getDefiningOp<memref::AllocaOp>();
  if (!alloca)
    return seed.emitOpError("the direction of a partials kernel's ray must be "
                            "a constant buffer");
  direction.assign(d, 0.0);
  SmallVector<bool> written(d, false);
  for (Operation *user : alloca->getUsers()) {
    auto store = dyn_cast<memref::StoreOp>(user);
    if (!store)
      continue;
    auto value = store.getValueToStore().getDefiningOp<arith::ConstantOp>();
    auto index = store.getIndices().front().getDefiningOp<arith::ConstantOp>();
    auto valueAttr = value ? dyn_cast<FloatAttr>(value.getValue()) : nullptr;
    auto indexAttr = index ? dyn_cast<IntegerAttr>(index.getValue()) : nullptr;
    if (!valueAttr || !indexAttr || indexAttr.getInt() < 0 ||
        indexAttr.getInt() >= d)
      return store.emitOpError("a ray's direction must be stored as "
                               "constants at constant indices");
    direction[indexAttr.getInt()] = valueAttr.getValueAsDouble();
    written[indexAttr.getInt()] = true;
  }
  if (llvm::is_contained(written, false))
    return seed.emitOpError("not every entry of the ray's direction is "
                            "stored as a constant");
  return success();
}

/// The plan of the per-ray rays `func` of the kernel `name`.
FailureOr<PartialsPlan> readPartialsPlan(func::FuncOp func, StringRef name) {
  PartialsPlan plan;
  plan.name = name.str();
  bool combined = false, stored = false;
  // The step of the current ray that last wrote each buffer value (the
  // operands of a residual add), as for a jet kernel.
  DenseMap<Value, size_t> writer;
  WalkResult walk = func.walk([&](Operation *op) -> WalkResult {
    auto neurons = [](Value v) { return JetBufferShape::of(v).neurons(); };
    SmallVector<Value, 3> operands; // the jets a ray's step reads
    auto needRay = [&]() -> LogicalResult {
      if (plan.rays.empty() || combined)
        return op->emitOpError("expected inside a ray of a partials kernel");
      return success();
    };
    if (auto seed = dyn_cast<SeedOp>(op)) {
      if (combined)
        return op->emitOpError("a partials kernel seeds after its combine");
      JetBufferShape jet = JetBufferShape::of(seed.getJet());
      RayPlan ray;
      plan.element = jet.elementType();
      plan.tile = jet.lanes();
      plan.inputDim = jet.neurons();
      ray.orders = jet.orders();
      ray.firstColumn = plan.rays.empty() ? 0
                                          : plan.rays.back().firstColumn +
                                                plan.rays.back().orders;
      if (failed(readDirection(seed, plan.inputDim, ray.direction)))
        return WalkResult::interrupt();
      ray.steps.push_back({JetStep::Kind::Seed, jet.neurons(), 0, 0, ""});
      plan.maxOrders = std::max(plan.maxOrders, ray.orders);
      plan.rays.push_back(std::move(ray));
      writer.clear();
    } else if (auto affine = dyn_cast<AffineOp>(op)) {
      if (failed(needRay()))
        return WalkResult::interrupt();
      int64_t in = neurons(affine.getInput()),
              out = neurons(affine.getOutput());
      plan.numParams = std::max<int64_t>(
          plan.numParams, affine.getWeightOffset() + out * in + out);
      plan.rays.back().steps.push_back(
          {JetStep::Kind::Affine, out,
           static_cast<int64_t>(affine.getLiveOrders()),
           static_cast<int64_t>(affine.getWeightOffset()), ""});
      operands = {affine.getInput()};
    } else if (auto activate = dyn_cast<ActivateOp>(op)) {
      if (failed(needRay()))
        return WalkResult::interrupt();
      plan.rays.back().steps.push_back(
          {JetStep::Kind::Activate, neurons(activate.getOutput()),
           static_cast<int64_t>(activate.getLiveOrders()), 0,
           activate.getActivation().str()});
      operands = {activate.getInput()};
    } else if (auto combine = dyn_cast<CombinePartialsOp>(op)) {
      if (combined)
        return op->emitOpError("a partials kernel combines its rays once");
      combined = true;
      plan.columns = JetBufferShape::of(combine.getRays()).orders();
      plan.requests = JetBufferShape::of(combine.getOutput()).orders();
      plan.outputDim = neurons(combine.getOutput());
      plan.weights.assign(combine.getWeights().begin(),
                          combine.getWeights().end());
    } else if (auto store = dyn_cast<StoreJetOp>(op)) {
      plan.storedLiveOrders = store.getLiveOrders();
      stored = true;
    } else if (isa<ScaleOp, FourierProjectOp, AddJetsOp>(op)) {
      // Typed layers (issue 14): the jet chain's rules, on the ray's steps.
      if (failed(needRay()))
        return WalkResult::interrupt();
      JetPlan chain;
      chain.steps = std::move(plan.rays.back().steps);
      chain.numParams = plan.numParams;
      FailureOr<bool> layer = readTypedLayerStep(op, chain, writer);
      plan.rays.back().steps = std::move(chain.steps);
      plan.numParams = chain.numParams;
      if (failed(layer))
        return WalkResult::interrupt();
      if (auto add = dyn_cast<AddJetsOp>(op))
        operands = {add.getLhs(), add.getRhs()};
      else
        operands = {op->getOperand(0)};
    } else if (auto gate = dyn_cast<GateJetsOp>(op)) {
      // The modified MLP's gates (a DAG; emitRayReverseDag).
      if (failed(needRay()))
        return WalkResult::interrupt();
      plan.rays.back().steps.push_back(
          {JetStep::Kind::Gate, neurons(gate.getOutput()),
           static_cast<int64_t>(gate.getLiveOrders()), 0, ""});
      operands = {gate.getU(), gate.getV(), gate.getZ()};
    } else if (isa<NtpDialect>(op->getDialect())) {
      return op->emitOpError("unexpected op in a partials kernel function");
    }
    // The steps this one reads, from the buffers' writers.
    if (isa<SeedOp>(op))
      plan.rays.back().inputs.emplace_back();
    else if (!operands.empty()) {
      SmallVector<size_t, 3> inputs;
      for (Value operand : operands) {
        auto it = writer.find(operand);
        if (it == writer.end())
          return op->emitOpError("reads a jet that no earlier op of its ray "
                                 "wrote");
        inputs.push_back(it->second);
      }
      plan.rays.back().inputs.push_back(inputs);
    }
    Value written = TypeSwitch<Operation *, Value>(op)
                        .Case([](SeedOp o) { return o.getJet(); })
                        .Case([](AffineOp o) { return o.getOutput(); })
                        .Case([](ActivateOp o) { return o.getOutput(); })
                        .Case([](ScaleOp o) { return o.getOutput(); })
                        .Case([](AddJetsOp o) { return o.getOutput(); })
                        .Case([](FourierProjectOp o) { return o.getOutput(); })
                        .Case([](GateJetsOp o) { return o.getOutput(); })
                        .Default([](Operation *) { return Value(); });
    if (written && !plan.rays.empty() && !combined)
      writer[written] = plan.rays.back().steps.size() - 1;
    return WalkResult::advance();
  });
  if (walk.wasInterrupted())
    return failure();
  if (plan.rays.empty() || !combined || !stored)
    return func.emitError("a partials kernel function must propagate rays, "
                          "then combine and store them");
  // Every ray runs the same layers and ends in the top affine; the rays'
  // coefficients fill the combine's input in order.
  const RayPlan &last = plan.rays.back();
  if (last.firstColumn + last.orders != plan.columns)
    return func.emitError("the rays propagate ")
           << last.firstColumn + last.orders
           << " jet coefficients but the combine reads " << plan.columns;
  for (const RayPlan &ray : plan.rays) {
    const std::vector<JetStep> &first = plan.rays.front().steps;
    bool same = ray.steps.size() == first.size() && ray.steps.size() >= 2 &&
                ray.inputs.size() == ray.steps.size() &&
                ray.steps.back().kind == JetStep::Kind::Affine &&
                ray.steps.back().width == plan.outputDim;
    for (size_t i = 0; same && i < ray.steps.size(); ++i)
      same = ray.steps[i].kind == first[i].kind &&
             ray.steps[i].width == first[i].width &&
             ray.steps[i].weightOffset == first[i].weightOffset &&
             ray.steps[i].activation == first[i].activation &&
             ray.steps[i].perNeuron == first[i].perNeuron &&
             ray.steps[i].skip == first[i].skip &&
             ray.inputs[i] == plan.rays.front().inputs[i];
    if (!same)
      return func.emitError("the rays of a partials kernel must run the same "
                            "layers, ending in an affine layer of the output "
                            "width");
  }
  return plan;
}

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
