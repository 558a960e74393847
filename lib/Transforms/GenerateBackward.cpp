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
// same three functions from its own plan; see "Partials kernels" below.
//
//===----------------------------------------------------------------------===//

#include "ntp/Compiler/KernelFacts.h"
#include "ntp/Dialect/Ntp/IR/JetBuffer.h"
#include "ntp/Dialect/Ntp/IR/NtpAttributes.h"
#include "ntp/Dialect/Ntp/IR/NtpDialect.h"
#include "ntp/Dialect/Ntp/IR/NtpOps.h"
#include "ntp/Transforms/Passes.h"

#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "llvm/ADT/TypeSwitch.h"

namespace ntp {
#define GEN_PASS_DEF_NTPGENERATEBACKWARD
#include "ntp/Transforms/Passes.h.inc"
} // namespace ntp

using namespace mlir;
using namespace ntp;

namespace {

/// One jet op of the forward, in order.
struct JetStep {
  enum class Kind { Seed, Affine, Activate, Scale, Add, FourierProject } kind;
  int64_t width;          // width of the jet it produces
  int64_t liveOrders;     // live orders of its input (seed: unused)
  int64_t weightOffset;   // affine; scale: the slopes' offset
  std::string activation; // activate
  bool perNeuron = false; // scale: one slope per neuron
  size_t skip = 0;        // add: the step whose jet is added to step i - 1's
};

/// The forward of one kernel, as read from its tile loop.
struct JetPlan {
  std::string name; // without the _forward_tiles suffix
  Type element;
  int64_t orders = 0, tile = 0;
  int64_t storedLiveOrders = 0;
  int64_t numParams = 0;
  std::vector<JetStep> steps;

  /// Whether a step adds jets (a residual layer): its reverse keeps the
  /// skip connection's cotangent in a third buffer.
  bool hasAdd() const {
    return llvm::any_of(
        steps, [](const JetStep &s) { return s.kind == JetStep::Kind::Add; });
  }

  /// Elements of one tile's saved jets (every step's buffer).
  int64_t workspacePerTile() const {
    int64_t total = 0;
    for (const JetStep &s : steps)
      total += orders * s.width * tile;
    return total;
  }
};

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
    } else if (auto scale = dyn_cast<ScaleOp>(op)) {
      // Typed layers (issue 14): adaptive slopes.
      int64_t width = neurons(scale.getOutput());
      plan.numParams = std::max<int64_t>(
          plan.numParams,
          scale.getSlopeOffset() + (scale.getPerNeuron() ? width : 1));
      JetStep step{JetStep::Kind::Scale, width,
                   static_cast<int64_t>(scale.getLiveOrders()),
                   static_cast<int64_t>(scale.getSlopeOffset()), ""};
      step.perNeuron = scale.getPerNeuron();
      plan.steps.push_back(step);
    } else if (auto project = dyn_cast<FourierProjectOp>(op)) {
      // Fourier features: B [m, d] at the offset.
      int64_t in = neurons(project.getInput()),
              out = neurons(project.getOutput());
      plan.numParams = std::max<int64_t>(
          plan.numParams, project.getWeightOffset() + out / 2 * in);
      plan.steps.push_back({JetStep::Kind::FourierProject, out,
                            static_cast<int64_t>(project.getLiveOrders()),
                            static_cast<int64_t>(project.getWeightOffset()),
                            ""});
    } else if (auto add = dyn_cast<AddJetsOp>(op)) {
      // Residual connections: rhs is the previous step's jet, lhs an
      // earlier one's.
      auto lhs = writer.find(add.getLhs());
      auto rhs = writer.find(add.getRhs());
      if (lhs == writer.end() || rhs == writer.end() ||
          rhs->second + 1 != plan.steps.size() || lhs->second >= rhs->second)
        return add.emitOpError("must add an earlier step's jet to the "
                               "previous step's");
      JetStep step{JetStep::Kind::Add, neurons(add.getOutput()),
                   static_cast<int64_t>(add.getLiveOrders()), 0, ""};
      step.skip = lhs->second;
      plan.steps.push_back(step);
    } else if (auto store = dyn_cast<StoreJetOp>(op)) {
      plan.storedLiveOrders = store.getLiveOrders();
      stored = true;
    } else if (isa<NtpDialect>(op->getDialect())) {
      return op->emitOpError("unexpected op in a kernel function");
    }
    Value written = TypeSwitch<Operation *, Value>(op)
                        .Case([](SeedOp o) { return o.getJet(); })
                        .Case([](AffineOp o) { return o.getOutput(); })
                        .Case([](ActivateOp o) { return o.getOutput(); })
                        .Case([](ScaleOp o) { return o.getOutput(); })
                        .Case([](AddJetsOp o) { return o.getOutput(); })
                        .Case([](FourierProjectOp o) { return o.getOutput(); })
                        .Default([](Operation *) { return Value(); });
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
class BackwardBuilder {
public:
  BackwardBuilder(const JetPlan &plan, Location loc, bool perSampleGrads)
      : plan(plan), loc(loc), perSampleGrads(perSampleGrads) {}

  /// What a generated function does.
  enum class Mode {
    Recompute,    // forward on the stack, then reverse
    ForwardSave,  // forward into the workspace, then store the output
    ReverseSaved, // reverse only, from the workspace
  };

  /// The empty generated function of `mode` for kernel `name`, the same
  /// signature for jet and partials kernels: (x, v, params, out | cotangent,
  /// [grad, x_grad], [workspace], batch, tile_begin, tile_end).
  static func::FuncOp createFunction(OpBuilder &b, Location loc, Type element,
                                     const std::string &name, Mode mode,
                                     int64_t workspacePerTile) {
    auto flat = MemRefType::get({ShapedType::kDynamic}, element);
    Type index = b.getIndexType();
    SmallVector<Type> inputs = {flat, flat, flat, flat};
    if (mode != Mode::ForwardSave)
      inputs.append({flat, flat});
    if (mode != Mode::Recompute)
      inputs.push_back(flat);
    inputs.append({index, index, index});
    const char *suffix = mode == Mode::Recompute     ? "_backward_tiles"
                         : mode == Mode::ForwardSave ? "_forward_save_tiles"
                                                     : "_backward_saved_tiles";
    auto func = func::FuncOp::create(b, loc, name + suffix,
                                     b.getFunctionType(inputs, {}));
    func->setAttr("ntp.kernel", b.getUnitAttr());
    func->setAttr("ntp.workspace_per_tile",
                  b.getI64IntegerAttr(workspacePerTile));
    return func;
  }

  /// Lane-wise gradient accumulators [numParams, tile] on the heap, zeroed.
  static Value createZeroedLanes(OpBuilder &b, Location loc, Type element,
                                 int64_t numParams, int64_t tile) {
    Value lanes = memref::AllocOp::create(
        b, loc, MemRefType::get({numParams, tile}, element));
    Value zeros = arith::ConstantOp::create(
        b, loc,
        DenseElementsAttr::get(VectorType::get({tile}, element),
                               b.getFloatAttr(element, 0)));
    Value zero = arith::ConstantIndexOp::create(b, loc, 0);
    auto clear = scf::ForOp::create(
        b, loc, zero, arith::ConstantIndexOp::create(b, loc, numParams),
        arith::ConstantIndexOp::create(b, loc, 1));
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPoint(clear.getBody()->getTerminator());
    vector::StoreOp::create(b, loc, zeros, lanes,
                            ValueRange{clear.getInductionVar(), zero});
    return lanes;
  }

  func::FuncOp build(OpBuilder &b, Mode mode) {
    auto func = createFunction(b, loc, plan.element, plan.name, mode,
                               plan.workspacePerTile());
    OpBuilder::InsertionGuard guard(b);
    Block *entry = func.addEntryBlock();
    b.setInsertionPointToStart(entry);
    auto args = entry->getArguments();
    grad = xGrad = workspace = lanes = Value();
    stackJets.clear();
    x = args[0];
    v = args[1];
    params = args[2];
    Value outOrCotangent = args[3];
    if (mode != Mode::ForwardSave) {
      grad = args[4];
      xGrad = args[5];
    }
    if (mode != Mode::Recompute)
      workspace = args[mode == Mode::ForwardSave ? 4 : 6];
    Value batch = args[args.size() - 3];

    // Stack buffers: one per forward jet (recompute only) and two ping-pong
    // buffers of the widest layer for cotangents.
    int64_t maxWidth = 0;
    for (const JetStep &s : plan.steps)
      maxWidth = std::max(maxWidth, s.width);
    if (mode == Mode::Recompute)
      for (const JetStep &s : plan.steps)
        stackJets.push_back(memref::AllocaOp::create(
            b, loc,
            JetBufferShape::get(plan.orders, s.width, plan.tile,
                                plan.element)));
    if (mode != Mode::ForwardSave)
      for (Value &buffer :
           MutableArrayRef<Value>(cotangents, plan.hasAdd() ? 3 : 2))
        buffer = memref::AllocaOp::create(
            b, loc,
            JetBufferShape::get(plan.orders, maxWidth, plan.tile,
                                plan.element));

    // Lane-wise gradient accumulators on the heap (they outgrow a stack for
    // wide networks): zeroed here, summed into grad after the last tile.
    Value one = arith::ConstantIndexOp::create(b, loc, 1);
    if (mode != Mode::ForwardSave && !perSampleGrads) {
      lanes = BackwardBuilder::createZeroedLanes(b, loc, plan.element,
                                                 plan.numParams, plan.tile);
    }
    auto loop = scf::ForOp::create(b, loc, args[args.size() - 2],
                                   args[args.size() - 1], one);
    b.setInsertionPointToStart(loop.getBody());
    Value tile = loop.getInductionVar();
    SmallVector<Value> jets;
    for (size_t i = 0; i < plan.steps.size(); ++i)
      jets.push_back(jetBuffer(b, i, tile));
    if (mode != Mode::ForwardSave && perSampleGrads)
      lanes = sampleColumn(b, tile, batch);

    if (mode != Mode::ReverseSaved)
      emitForward(b, jets, batch, tile);
    if (mode == Mode::ForwardSave)
      StoreJetOp::create(b, loc, jets.back(), outOrCotangent, batch, tile,
                         plan.storedLiveOrders);
    else
      emitReverse(b, jets, outOrCotangent, batch, tile);

    b.setInsertionPointToEnd(entry);
    if (mode != Mode::ForwardSave && !perSampleGrads) {
      ReduceLanesOp::create(b, loc, lanes, grad);
      memref::DeallocOp::create(b, loc, lanes);
    }
    func::ReturnOp::create(b, loc);
    return func;
  }

private:
  /// The buffer of forward step i for `tile`: a stack buffer, or that tile's
  /// slice of the workspace.
  Value jetBuffer(OpBuilder &b, size_t i, Value tile) {
    if (!workspace)
      return stackJets[i];
    int64_t offset = 0;
    for (size_t j = 0; j < i; ++j)
      offset += plan.orders * plan.steps[j].width * plan.tile;
    int64_t width = plan.steps[i].width;
    Value start = arith::AddIOp::create(
        b, loc,
        arith::MulIOp::create(
            b, loc, tile,
            arith::ConstantIndexOp::create(b, loc, plan.workspacePerTile())),
        arith::ConstantIndexOp::create(b, loc, offset));
    // Row-major [orders, width, tile] at a dynamic offset.
    MemRefType type = JetBufferShape::get(
        plan.orders, width, plan.tile, plan.element,
        StridedLayoutAttr::get(b.getContext(), ShapedType::kDynamic,
                               {width * plan.tile, plan.tile, 1}));
    return memref::ReinterpretCastOp::create(
        b, loc, type, workspace, OpFoldResult(start),
        ArrayRef<OpFoldResult>{b.getIndexAttr(plan.orders),
                               b.getIndexAttr(width),
                               b.getIndexAttr(plan.tile)},
        ArrayRef<OpFoldResult>{b.getIndexAttr(width * plan.tile),
                               b.getIndexAttr(plan.tile), b.getIndexAttr(1)});
  }

  /// Sample `tile`'s gradient column of `grad`, [P] with stride `batch`
  /// (tile size 1), zeroed: the sample accumulates into it alone. The
  /// zeroing loop is a neuron loop (independent iterations), so the lanes
  /// mapping spreads it over a warp.
  Value sampleColumn(OpBuilder &b, Value tile, Value batch) {
    MemRefType type = MemRefType::get(
        {plan.numParams}, plan.element,
        StridedLayoutAttr::get(b.getContext(), ShapedType::kDynamic,
                               {ShapedType::kDynamic}));
    Value column = memref::ReinterpretCastOp::create(
        b, loc, type, grad, OpFoldResult(tile),
        ArrayRef<OpFoldResult>{b.getIndexAttr(plan.numParams)},
        ArrayRef<OpFoldResult>{OpFoldResult(batch)});
    Value zero =
        arith::ConstantOp::create(b, loc, b.getFloatAttr(plan.element, 0));
    auto clear = scf::ForOp::create(
        b, loc, arith::ConstantIndexOp::create(b, loc, 0),
        arith::ConstantIndexOp::create(b, loc, plan.numParams),
        arith::ConstantIndexOp::create(b, loc, 1));
    clear->setAttr(kNeuronLoopAttrName, b.getUnitAttr());
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPoint(clear.getBody()->getTerminator());
    memref::StoreOp::create(b, loc, zero, column,
                            ValueRange{clear.getInductionVar()});
    return column;
  }

  /// The [orders, width, tile] corner of cotangent ping-pong buffer `which`.
  Value cotangent(OpBuilder &b, int which, int64_t width) {
    Value buffer = cotangents[which];
    if (JetBufferShape::of(buffer).neurons() == width)
      return buffer;
    return memref::SubViewOp::create(
        b, loc, buffer, ArrayRef<int64_t>{0, 0, 0},
        JetBufferShape::shape(plan.orders, width, plan.tile),
        ArrayRef<int64_t>{1, 1, 1});
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
      // Typed layers (issue 14).
      case JetStep::Kind::Scale:
        ScaleOp::create(b, loc, jets[i - 1], params, s.weightOffset, jets[i],
                        s.liveOrders, s.perNeuron);
        break;
      case JetStep::Kind::Add:
        AddJetsOp::create(b, loc, jets[s.skip], jets[i - 1], jets[i],
                          s.liveOrders);
        break;
      case JetStep::Kind::FourierProject:
        FourierProjectOp::create(b, loc, jets[i - 1], params, s.weightOffset,
                                 jets[i], s.liveOrders);
        break;
      }
    }
  }

  /// Applies the VJP rule of every step, last to first.
  void emitReverse(OpBuilder &b, ArrayRef<Value> jets, Value cotangentIn,
                   Value batch, Value tile) {
    int current = 0;
    Value bar = cotangent(b, current, plan.steps.back().width);
    LoadCotangentOp::create(b, loc, cotangentIn, bar, batch, tile);
    // A residual add's cotangent, kept (in buffer `kept`) until the chain
    // reaches the step whose jet the add read, `pendingStep`.
    int kept = -1;
    Value pending;
    size_t pendingStep = 0;
    for (size_t i = plan.steps.size() - 1; i > 0; --i) {
      const JetStep &s = plan.steps[i];
      int64_t inWidth = plan.steps[i - 1].width;
      if (s.kind == JetStep::Kind::Add) {
        // d(lhs + rhs): the cotangent flows unchanged to both operands. The
        // chain goes on with `bar` itself; the skip's copy is this buffer,
        // which the steps until pendingStep leave alone.
        kept = current;
        pending = bar;
        pendingStep = s.skip;
        continue;
      }
      int target = 0;
      while (target == current || target == kept)
        ++target;
      Value inBar = cotangent(b, target, inWidth);
      if (s.kind == JetStep::Kind::Affine)
        AffineVjpOp::create(b, loc, jets[i - 1], params, s.weightOffset, bar,
                            inBar, lanes, s.liveOrders);
      else if (s.kind == JetStep::Kind::FourierProject)
        FourierProjectVjpOp::create(b, loc, jets[i - 1], params, s.weightOffset,
                                    bar, lanes, inBar, s.liveOrders);
      else if (s.kind == JetStep::Kind::Scale)
        ScaleVjpOp::create(b, loc, jets[i - 1], params, s.weightOffset, bar,
                           lanes, inBar, s.liveOrders, s.perNeuron);
      else
        ActivateVjpOp::create(b, loc, s.activation, jets[i - 1], bar, inBar,
                              s.liveOrders);
      current = target;
      bar = inBar;
      if (pending && i - 1 == pendingStep) {
        // The skip's cotangent joins the chain's (orders the step after
        // pendingStep reads; the others are structural zeros).
        AddJetsOp::create(b, loc, bar, pending, bar,
                          plan.steps[pendingStep + 1].liveOrders);
        kept = -1;
        pending = Value();
      }
    }
    SeedVjpOp::create(b, loc, bar, xGrad, batch, tile);
  }

  const JetPlan &plan;
  Location loc;
  bool perSampleGrads;
  Value x, v, params, grad, xGrad, workspace, lanes;
  SmallVector<Value> stackJets;
  Value cotangents[3];
};

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

/// One ray of a partials kernel's forward.
struct RayPlan {
  SmallVector<double> direction;
  int64_t orders = 0;         // jet coefficients propagated along the ray
  int64_t firstColumn = 0;    // its first row of the stacked rays
  std::vector<JetStep> steps; // seed, affine, activate, ..., top affine
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
  int64_t recomputeStackElements() const {
    return (maxOrders * lowerWidths() + 2 * maxOrders * maxWidth() +
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
  WalkResult walk = func.walk([&](Operation *op) -> WalkResult {
    auto neurons = [](Value v) { return JetBufferShape::of(v).neurons(); };
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
    } else if (auto activate = dyn_cast<ActivateOp>(op)) {
      if (failed(needRay()))
        return WalkResult::interrupt();
      plan.rays.back().steps.push_back(
          {JetStep::Kind::Activate, neurons(activate.getOutput()),
           static_cast<int64_t>(activate.getLiveOrders()), 0,
           activate.getActivation().str()});
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
    } else if (isa<NtpDialect>(op->getDialect())) {
      return op->emitOpError("unexpected op in a partials kernel function");
    }
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
                ray.steps.back().kind == JetStep::Kind::Affine &&
                ray.steps.back().width == plan.outputDim;
    for (size_t i = 0; same && i < ray.steps.size(); ++i)
      same = ray.steps[i].kind == first[i].kind &&
             ray.steps[i].width == first[i].width &&
             ray.steps[i].weightOffset == first[i].weightOffset &&
             ray.steps[i].activation == first[i].activation;
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
  using Mode = BackwardBuilder::Mode;

  PartialsBackwardBuilder(const PartialsPlan &plan, Location loc)
      : plan(plan), loc(loc) {}

  func::FuncOp build(OpBuilder &b, Mode mode) {
    auto func = BackwardBuilder::createFunction(b, loc, plan.element, plan.name,
                                                mode, plan.workspacePerTile());
    func->setAttr("ntp.partials", b.getUnitAttr());
    OpBuilder::InsertionGuard guard(b);
    Block *entry = func.addEntryBlock();
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
      for (Value &buffer : cotangents)
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
    if (mode != Mode::ForwardSave) {
      lanes = BackwardBuilder::createZeroedLanes(b, loc, plan.element,
                                                 plan.numParams, plan.tile);
    }
    auto loop = scf::ForOp::create(b, loc, args[args.size() - 2],
                                   args[args.size() - 1], one);
    b.setInsertionPointToStart(loop.getBody());
    Value tile = loop.getInductionVar();

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
    if (mode != Mode::ForwardSave) {
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
    JetBufferShape shape = JetBufferShape::of(buffer);
    if (first == 0 && shape.orders() == orders && shape.neurons() == width)
      return buffer;
    return memref::SubViewOp::create(
        b, loc, buffer, ArrayRef<int64_t>{first, 0, 0},
        JetBufferShape::shape(orders, width, plan.tile),
        ArrayRef<int64_t>{1, 1, 1});
  }

  /// `tile`'s [orders, width, tile] block of the workspace at `offset`
  /// elements into the tile's slice.
  Value workspaceSlice(OpBuilder &b, Value tile, int64_t offset, int64_t orders,
                       int64_t width) {
    Value start = arith::AddIOp::create(
        b, loc,
        arith::MulIOp::create(
            b, loc, tile,
            arith::ConstantIndexOp::create(b, loc, plan.workspacePerTile())),
        arith::ConstantIndexOp::create(b, loc, offset));
    MemRefType type = JetBufferShape::get(
        orders, width, plan.tile, plan.element,
        StridedLayoutAttr::get(b.getContext(), ShapedType::kDynamic,
                               {width * plan.tile, plan.tile, 1}));
    return memref::ReinterpretCastOp::create(
        b, loc, type, workspace, OpFoldResult(start),
        ArrayRef<OpFoldResult>{b.getIndexAttr(orders), b.getIndexAttr(width),
                               b.getIndexAttr(plan.tile)},
        ArrayRef<OpFoldResult>{b.getIndexAttr(width * plan.tile),
                               b.getIndexAttr(plan.tile), b.getIndexAttr(1)});
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
        AffineOp::create(b, loc, jets[i - 1], params, s.weightOffset, output,
                         s.liveOrders);
        break;
      case JetStep::Kind::Activate:
        ActivateOp::create(b, loc, s.activation, jets[i - 1], output,
                           s.liveOrders);
        break;
      }
    }
  }

  /// Ray r's VJP rules, top to seed: from `topBar` (its rows of the ray
  /// cotangents) to `seedBar` (the seed's cotangent).
  void emitRayReverse(OpBuilder &b, size_t r, ArrayRef<Value> jets,
                      Value topBar, Value seedBar) {
    const RayPlan &ray = plan.rays[r];
    int current = 0;
    Value bar = topBar;
    for (size_t i = ray.steps.size() - 1; i > 0; --i) {
      const JetStep &s = ray.steps[i];
      Value inBar = i == 1 ? seedBar
                           : corner(b, cotangents[current], 0, ray.orders,
                                    ray.steps[i - 1].width);
      if (s.kind == JetStep::Kind::Affine)
        AffineVjpOp::create(b, loc, jets[i - 1], params, s.weightOffset, bar,
                            inBar, lanes, s.liveOrders);
      else
        ActivateVjpOp::create(b, loc, s.activation, jets[i - 1], bar, inBar,
                              s.liveOrders);
      current ^= 1;
      bar = inBar;
    }
  }

  const PartialsPlan &plan;
  Location loc;
  Value x, params, grad, xGrad, workspace, lanes;
  SmallVector<Value> directions, stackJets;
  Value cotangents[2], seedBars[2];
};

/// Stamps the module's #ntp.kernel with the reverse mode (when it describes
/// kernel `name`) and checks that its workspace is `workspacePerTile`.
LogicalResult stampBackwardFacts(ModuleOp module, func::FuncOp forward,
                                 StringRef name, int64_t workspacePerTile) {
  KernelAttr kernel = getKernelAttr(module);
  if (!kernel || kernel.getName() != name)
    return success();
  artifact::KernelManifest facts;
  std::string error;
  KernelTarget target = targetOf(kernel.getManifest());
  target.backward = true;
  if (!describeKernel(networkOf(kernel.getManifest()), target, facts, error))
    return forward.emitError(error);
  if (facts.workspacePerTile != workspacePerTile)
    return forward.emitError("the forward's saved jets need ")
           << workspacePerTile << " elements per tile, but its "
           << "#ntp.kernel says " << facts.workspacePerTile;
  module->setAttr(kKernelAttrName, KernelAttr::get(module.getContext(), facts));
  return success();
}

/// Generates the reverse mode of the partials kernel `forward`.
LogicalResult generatePartialsBackward(ModuleOp module, func::FuncOp forward,
                                       bool perSampleGrads) {
  if (perSampleGrads)
    return forward.emitError("partials kernels have no per-sample-grads "
                             "(GPU) reverse mode");
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
  // The recomputing backward's jets live on the stack, like the forward's.
  int64_t elementBytes = plan->element.isF64() ? 8 : 4;
  if (plan->recomputeStackElements() >
      artifact::kMaxTileStackBytes / elementBytes)
    return forward.emitError("the reverse mode of one tile of ")
           << plan->tile << " samples needs more than "
           << artifact::kMaxTileStackBytes
           << " bytes of stack (kMaxTileStackBytes); use a smaller tile, "
              "narrower layers or fewer requests";
  forward->setAttr("ntp.workspace_per_tile",
                   IntegerAttr::get(IntegerType::get(module.getContext(), 64),
                                    plan->workspacePerTile()));
  if (failed(stampBackwardFacts(module, forward, plan->name,
                                plan->workspacePerTile())))
    return failure();
  OpBuilder b(module.getContext());
  b.setInsertionPointAfter(forward);
  PartialsBackwardBuilder builder(*plan, forward.getLoc());
  for (auto mode :
       {BackwardBuilder::Mode::ReverseSaved, BackwardBuilder::Mode::ForwardSave,
        BackwardBuilder::Mode::Recompute})
    builder.build(b, mode);
  if (rays != forward) {
    forward->removeAttr(kReverseRaysAttrName);
    rays.erase();
  }
  return success();
}

struct GenerateBackwardPass
    : public ntp::impl::NtpGenerateBackwardBase<GenerateBackwardPass> {
  using NtpGenerateBackwardBase::NtpGenerateBackwardBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    SmallVector<func::FuncOp> kernels;
    for (auto func : module.getOps<func::FuncOp>())
      if (func->hasAttr("ntp.kernel") &&
          func.getSymName().ends_with("_forward_tiles"))
        kernels.push_back(func);
    for (func::FuncOp forward : kernels) {
      if (forward->hasAttr("ntp.partials")) {
        if (failed(generatePartialsBackward(module, forward, perSampleGrads)))
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
      forward->setAttr("ntp.workspace_per_tile",
                       IntegerAttr::get(IntegerType::get(&getContext(), 64),
                                        plan->workspacePerTile()));
      // The module's kernel facts now include the reverse mode.
      if (KernelAttr kernel = getKernelAttr(module);
          kernel && kernel.getName() == plan->name) {
        artifact::KernelManifest facts;
        std::string error;
        KernelTarget target = targetOf(kernel.getManifest());
        target.backward = true;
        if (!describeKernel(networkOf(kernel.getManifest()), target, facts,
                            error)) {
          forward.emitError(error);
          return signalPassFailure();
        }
        // The plan read from the forward must be the one the facts describe.
        if (facts.workspacePerTile != plan->workspacePerTile()) {
          forward.emitError("the forward's saved jets need ")
              << plan->workspacePerTile() << " elements per tile, but its "
              << "#ntp.kernel says " << facts.workspacePerTile;
          return signalPassFailure();
        }
        module->setAttr(kKernelAttrName, KernelAttr::get(&getContext(), facts));
      }
      OpBuilder b(module.getContext());
      b.setInsertionPointAfter(forward);
      BackwardBuilder builder(*plan, forward.getLoc(), perSampleGrads);
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
