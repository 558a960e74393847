//===- GatedBackward.cpp - Reverse mode of gated networks (a DAG) ---------===//
//
// A gated network's forward (ntp-decompose-mlp's buildGated) is a DAG of jet
// ops: X (the seed, or its Fourier features) feeds the affine layers of U, V
// and the first hidden layer, and U and V feed the ntp.gate_jets of every
// hidden layer. Its plan records each step's operand steps; the reverse mode
// applies each step's VJP rule last to first and sums the cotangent of a
// step with several consumers: the first consumer reversed writes the
// step's cotangent buffer, the others add to it (ntp.gate_jets_vjp with
// `accumulate` for U and V, an ntp.add_jets for X). Cotangent buffers (of
// the widest jet) are taken from a pool when a step's first consumer is
// reversed and returned when the step is: a gated network needs four (U,
// V, and two along the chain), the bound artifact::jetStackElementsPerTile
// states, which is checked here.
//
// The jets of the forward are kept as in GenerateBackward.cpp: one buffer
// per step, on the stack when the backward recomputes the forward, else the
// tile's slice of the workspace in step order; parameter gradients go to
// lane-wise accumulators (CPU) or one column per sample (GPU). The
// functions' signatures and tile loop (TileLoopBuilder), the lanes, the
// workspace slices and the kernel facts come from BackwardPlan.h.
//
//===----------------------------------------------------------------------===//

#include "GatedBackward.h"
#include "BackwardPlan.h"
#include "JetCorner.h"

#include "ntp/Dialect/Ntp/IR/JetBuffer.h"
#include "ntp/Dialect/Ntp/IR/NtpDialect.h"
#include "ntp/Dialect/Ntp/IR/NtpOps.h"
#include "ntp/Transforms/Passes.h"

#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"

using namespace mlir;
using namespace ntp;

namespace {

/// One jet op of the forward and the steps whose jets it reads.
struct DagStep {
  enum class Kind { Seed, Affine, Activate, Scale, FourierProject, Gate } kind;
  int64_t width = 0;      // of the jet it produces
  int64_t liveOrders = 0; // of its operands (seed: unused)
  int64_t offset = 0;     // affine, fourier_project: W / B; scale: slopes
  std::string activation; // activate
  bool perNeuron = false; // scale
  SmallVector<size_t, 3> inputs; // gate: u, v, z
};

struct DagPlan {
  std::string name; // without the _forward_tiles suffix
  Type element;
  int64_t orders = 0, tile = 0, storedLiveOrders = 0, numParams = 0;
  std::vector<DagStep> steps;

  int64_t workspacePerTile() const {
    int64_t total = 0;
    for (const DagStep &s : steps)
      total += orders * s.width * tile;
    return total;
  }
  int64_t maxWidth() const {
    int64_t widest = 0;
    for (const DagStep &s : steps)
      widest = std::max(widest, s.width);
    return widest;
  }
};

FailureOr<DagPlan> readDagPlan(func::FuncOp func) {
  DagPlan plan;
  StringRef name = func.getSymName();
  if (!name.consume_back("_forward_tiles"))
    return func.emitError("kernel function name must end in _forward_tiles");
  plan.name = name.str();
  bool stored = false;
  // The step that last wrote each buffer value.
  DenseMap<Value, size_t> writer;
  auto neurons = [](Value v) { return JetBufferShape::of(v).neurons(); };
  WalkResult walk = func.walk([&](Operation *op) -> WalkResult {
    DagStep step;
    Value written;
    // The step that wrote `operand`, or an error.
    auto input = [&](Value operand) -> bool {
      auto it = writer.find(operand);
      if (it == writer.end())
        return false;
      step.inputs.push_back(it->second);
      return true;
    };
    bool known = true;
    if (auto seed = dyn_cast<SeedOp>(op)) {
      JetBufferShape jet = JetBufferShape::of(seed.getJet());
      plan.element = jet.elementType();
      plan.orders = jet.orders();
      plan.tile = jet.lanes();
      step.kind = DagStep::Kind::Seed;
      written = seed.getJet();
    } else if (auto affine = dyn_cast<AffineOp>(op)) {
      int64_t in = neurons(affine.getInput()),
              out = neurons(affine.getOutput());
      plan.numParams = std::max<int64_t>(
          plan.numParams, affine.getWeightOffset() + out * in + out);
      step.kind = DagStep::Kind::Affine;
      step.liveOrders = affine.getLiveOrders();
      step.offset = affine.getWeightOffset();
      known = input(affine.getInput());
      written = affine.getOutput();
    } else if (auto activate = dyn_cast<ActivateOp>(op)) {
      step.kind = DagStep::Kind::Activate;
      step.liveOrders = activate.getLiveOrders();
      step.activation = activate.getActivation().str();
      known = input(activate.getInput());
      written = activate.getOutput();
    } else if (auto scale = dyn_cast<ScaleOp>(op)) {
      int64_t width = neurons(scale.getOutput());
      plan.numParams = std::max<int64_t>(
          plan.numParams,
          scale.getSlopeOffset() + (scale.getPerNeuron() ? width : 1));
      step.kind = DagStep::Kind::Scale;
      step.liveOrders = scale.getLiveOrders();
      step.offset = scale.getSlopeOffset();
      step.perNeuron = scale.getPerNeuron();
      known = input(scale.getInput());
      written = scale.getOutput();
    } else if (auto project = dyn_cast<FourierProjectOp>(op)) {
      int64_t in = neurons(project.getInput()),
              out = neurons(project.getOutput());
      plan.numParams = std::max<int64_t>(
          plan.numParams, project.getWeightOffset() + out / 2 * in);
      step.kind = DagStep::Kind::FourierProject;
      step.liveOrders = project.getLiveOrders();
      step.offset = project.getWeightOffset();
      known = input(project.getInput());
      written = project.getOutput();
    } else if (auto gate = dyn_cast<GateJetsOp>(op)) {
      step.kind = DagStep::Kind::Gate;
      step.liveOrders = gate.getLiveOrders();
      known = input(gate.getU()) && input(gate.getV()) && input(gate.getZ());
      if (known && (step.inputs[0] == step.inputs[1] ||
                    step.inputs[0] == step.inputs[2] ||
                    step.inputs[1] == step.inputs[2]))
        return gate.emitOpError("must gate three different jets");
      written = gate.getOutput();
    } else if (auto store = dyn_cast<StoreJetOp>(op)) {
      plan.storedLiveOrders = store.getLiveOrders();
      stored = true;
      return WalkResult::advance();
    } else if (isa<NtpDialect>(op->getDialect())) {
      return op->emitOpError("unexpected op in a gated kernel function");
    } else {
      return WalkResult::advance();
    }
    if (!known)
      return op->emitOpError("reads a jet that no earlier op of the kernel "
                             "function wrote");
    step.width = neurons(written);
    writer[written] = plan.steps.size();
    plan.steps.push_back(step);
    return WalkResult::advance();
  });
  if (walk.wasInterrupted())
    return failure();
  if (plan.steps.empty() || plan.steps.front().kind != DagStep::Kind::Seed ||
      !stored)
    return func.emitError("kernel function must seed, then store, a jet");
  return plan;
}

using Mode = backward::BackwardMode;

class GatedBackwardBuilder
    : public backward::TileLoopBuilder<GatedBackwardBuilder, DagPlan> {
public:
  using TileLoopBuilder::TileLoopBuilder;

  /// The function of `mode`, or failure when its cotangents outgrow the
  /// stated stack bound.
  FailureOr<func::FuncOp> build(OpBuilder &b, Mode mode) {
    FailureOr<func::FuncOp> func = buildTileLoop(b, mode);
    if (failed(func))
      return failure();
    // The bound the runtime sizes a tile's stack by.
    if (pool.size() > kCotangentBuffers)
      return func->emitError("the gated reverse mode needs ")
             << pool.size() << " cotangent buffers, more than the "
             << kCotangentBuffers
             << " that artifact::jetStackElementsPerTile allows";
    return func;
  }

private:
  friend TileLoopBuilder;

  /// Cotangent buffers a gated network's reverse mode may hold
  /// (artifact::jetStackElementsPerTile).
  static constexpr size_t kCotangentBuffers = 4;

  /// The cotangent pool starts empty: acquire() fills it.
  void allocateBuffers(OpBuilder &, Mode) {
    pool.clear();
    busy.clear();
  }

  void emitForward(OpBuilder &b, ArrayRef<Value> jets, Value batch,
                   Value tile) {
    for (size_t i = 0; i < plan.steps.size(); ++i) {
      const DagStep &s = plan.steps[i];
      switch (s.kind) {
      case DagStep::Kind::Seed:
        SeedOp::create(b, loc, x, v, jets[i], batch, tile);
        break;
      case DagStep::Kind::Affine:
        AffineOp::create(b, loc, jets[s.inputs[0]], params, s.offset, jets[i],
                         s.liveOrders);
        break;
      case DagStep::Kind::Activate:
        ActivateOp::create(b, loc, s.activation, jets[s.inputs[0]], jets[i],
                           s.liveOrders);
        break;
      case DagStep::Kind::Scale:
        ScaleOp::create(b, loc, jets[s.inputs[0]], params, s.offset, jets[i],
                        s.liveOrders, s.perNeuron);
        break;
      case DagStep::Kind::FourierProject:
        FourierProjectOp::create(b, loc, jets[s.inputs[0]], params, s.offset,
                                 jets[i], s.liveOrders);
        break;
      case DagStep::Kind::Gate:
        GateJetsOp::create(b, loc, jets[s.inputs[0]], jets[s.inputs[1]],
                           jets[s.inputs[2]], jets[i], s.liveOrders);
        break;
      }
    }
  }

  /// A free cotangent buffer of the pool (a new one when all are busy).
  size_t acquire(OpBuilder &b) {
    for (size_t i = 0; i < pool.size(); ++i)
      if (!busy[i]) {
        busy[i] = true;
        return i;
      }
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(entry);
    pool.push_back(memref::AllocaOp::create(
        b, loc,
        JetBufferShape::get(plan.orders, plan.maxWidth(), plan.tile,
                            plan.element)));
    busy.push_back(true);
    return pool.size() - 1;
  }

  /// The [orders, width, tile] corner of pool buffer i.
  Value cotangent(OpBuilder &b, size_t i, int64_t width) {
    return jetCorner(b, loc, pool[i], 0, plan.orders, width, plan.tile);
  }

  /// Every step's VJP rule, last to first, summing the cotangents of steps
  /// with several consumers.
  LogicalResult emitReverse(OpBuilder &b, ArrayRef<Value> jets,
                            Value cotangentIn, Value batch, Value tile) {
    // The pool buffer holding each step's cotangent (so far).
    DenseMap<size_t, size_t> slot;
    size_t last = plan.steps.size() - 1;
    slot[last] = acquire(b);
    LoadCotangentOp::create(b, loc, cotangentIn,
                            cotangent(b, slot[last], plan.steps[last].width),
                            batch, tile);
    // A buffer for the cotangent that step `in` receives from one consumer
    // (reading `live` orders), and the sum to do once it is written.
    auto contribution = [&](size_t in) -> std::pair<size_t, bool> {
      bool first = !slot.count(in);
      size_t target = acquire(b);
      if (first)
        slot[in] = target;
      return {target, first};
    };
    auto addInto = [&](size_t in, size_t target, int64_t live) {
      int64_t width = plan.steps[in].width;
      Value sum = cotangent(b, slot[in], width);
      AddJetsOp::create(b, loc, sum, cotangent(b, target, width), sum, live);
      busy[target] = false;
    };
    for (size_t i = last; i > 0; --i) {
      const DagStep &s = plan.steps[i];
      auto own = slot.find(i);
      if (own == slot.end())
        return emitError(loc, "step ")
               << i << " of the gated forward has no consumer";
      Value bar = cotangent(b, own->second, s.width);
      if (s.kind == DagStep::Kind::Gate) {
        size_t u = s.inputs[0], v = s.inputs[1], z = s.inputs[2];
        bool accumulate = slot.count(u);
        if (accumulate != bool(slot.count(v)))
          return emitError(loc, "the gates' U and V must feed the same gates");
        if (!accumulate) {
          slot[u] = acquire(b);
          slot[v] = acquire(b);
        }
        auto [zTarget, zFirst] = contribution(z);
        int64_t width = s.width;
        GateJetsVjpOp::create(
            b, loc, jets[u], jets[v], jets[z], bar,
            cotangent(b, slot[u], width), cotangent(b, slot[v], width),
            cotangent(b, zTarget, width), s.liveOrders, accumulate);
        if (!zFirst)
          addInto(z, zTarget, s.liveOrders);
      } else {
        size_t in = s.inputs[0];
        auto [target, first] = contribution(in);
        Value inBar = cotangent(b, target, plan.steps[in].width);
        Value input = jets[in];
        switch (s.kind) {
        case DagStep::Kind::Affine:
          AffineVjpOp::create(b, loc, input, params, s.offset, bar, inBar,
                              lanes, s.liveOrders);
          break;
        case DagStep::Kind::Activate:
          ActivateVjpOp::create(b, loc, s.activation, input, bar, inBar,
                                s.liveOrders, jets[i]);
          break;
        case DagStep::Kind::Scale:
          ScaleVjpOp::create(b, loc, input, params, s.offset, bar, lanes, inBar,
                             s.liveOrders, s.perNeuron);
          break;
        case DagStep::Kind::FourierProject:
          FourierProjectVjpOp::create(b, loc, input, params, s.offset, bar,
                                      lanes, inBar, s.liveOrders);
          break;
        default:
          return emitError(loc, "unexpected step in a gated reverse mode");
        }
        if (!first)
          addInto(in, target, s.liveOrders);
      }
      busy[own->second] = false;
      slot.erase(i);
    }
    SeedVjpOp::create(b, loc, cotangent(b, slot[0], plan.steps[0].width), xGrad,
                      batch, tile);
    return success();
  }

  SmallVector<Value> pool;
  SmallVector<bool> busy;
};

} // namespace

bool ntp::isGatedKernel(func::FuncOp forward) {
  return forward.walk([](GateJetsOp) { return WalkResult::interrupt(); })
      .wasInterrupted();
}

LogicalResult ntp::generateGatedBackward(ModuleOp module, func::FuncOp forward,
                                         backward::GradLayout grads) {
  FailureOr<DagPlan> plan = readDagPlan(forward);
  if (failed(plan))
    return failure();
  if (grads.perSample && plan->tile != 1)
    return forward.emitError("per-sample-grads needs tile size 1, got ")
           << plan->tile;
  // The module's kernel facts now include the reverse mode; the plan read
  // from the forward must be the one they describe.
  if (failed(backward::stampBackwardFacts(module, forward, plan->name,
                                          plan->workspacePerTile())))
    return failure();
  OpBuilder b(module.getContext());
  b.setInsertionPointAfter(forward);
  GatedBackwardBuilder builder(*plan, forward.getLoc(), grads);
  // Per-sample gradients (GPU): no recomputing backward (as for a chain).
  for (Mode mode : {Mode::ReverseSaved, Mode::ForwardSave, Mode::Recompute})
    if (!grads.perSample || mode != Mode::Recompute)
      if (failed(builder.build(b, mode)))
        return failure();
  return success();
}
