//===- BackwardPlan.h - What the reverse-mode generators share --*- C++ -*-===//
//
// Internal to lib/Transforms: the plan of a kernel's forward (its jet ops in
// order) and the helpers that ntp-generate-backward's parts share: the jet
// chain and the pass (GenerateBackward.cpp), the gated DAG
// (GatedBackward.cpp), the partials kernels (PartialsBackward.cpp) and the
// typed layers' rules (TypedLayerBackward.cpp).
//
//===----------------------------------------------------------------------===//

#ifndef NTP_LIB_TRANSFORMS_BACKWARDPLAN_H
#define NTP_LIB_TRANSFORMS_BACKWARDPLAN_H

#include "ntp/Dialect/Ntp/IR/JetBuffer.h"
#include "ntp/Dialect/Ntp/IR/NtpOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/STLExtras.h"

#include <string>
#include <vector>

namespace ntp::backward {

/// One jet op of the forward, in order.
struct JetStep {
  /// Gate: the modified MLP's ntp.gate_jets, in a partials kernel's rays
  /// (PartialsBackward.cpp; a jet kernel's gates are GatedBackward.cpp's).
  enum class Kind {
    Seed,
    Affine,
    Activate,
    Scale,
    Add,
    FourierProject,
    Gate
  } kind;
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
  mlir::Type element;
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

/// What a generated function does.
enum class BackwardMode {
  Recompute,    // forward on the stack, then reverse
  ForwardSave,  // forward into the workspace, then store the output
  ReverseSaved, // reverse only, from the workspace
};

//===----------------------------------------------------------------------===//
// Shared by the jet and partials reverse modes (BackwardPlan.cpp)
//===----------------------------------------------------------------------===//

/// The empty generated function of `mode` for kernel `name`, the same
/// signature for jet and partials kernels: (x, v, params, out | cotangent,
/// [grad, x_grad], [workspace], batch, tile_begin, tile_end).
mlir::func::FuncOp createFunction(mlir::OpBuilder &b, mlir::Location loc,
                                  mlir::Type element, const std::string &name,
                                  BackwardMode mode, int64_t workspacePerTile);

/// A private, never-inlined function of one tile (CPU), `__ntp_<name>`, and
/// its entry block's arguments: `leading` flat buffers of `element`, then
/// `extra`, then (jets: a flat buffer, start, batch, tile: index).
struct TileFunction {
  mlir::func::FuncOp func;
  mlir::Block *entry;
  mlir::Value jets, start, batch, tile;
};
/// Creates it with `b` inside its entry block.
TileFunction createTileFunction(mlir::OpBuilder &b, mlir::Location loc,
                                mlir::Type element, const std::string &name,
                                unsigned leading,
                                llvm::ArrayRef<mlir::Type> extra);

/// The type of a [orders, width, tile] jet buffer, row-major, at a dynamic
/// offset (a workspace slice, a tile function's argument).
mlir::MemRefType dynamicOffsetJetType(int64_t orders, int64_t width,
                                      int64_t tile, mlir::Type element);

/// How a generated reverse mode accumulates the parameter gradient.
struct GradLayout {
  /// One gradient per sample (the GPU kernels, tile size 1): each sample's
  /// column of grad is its own, with no lane-wise accumulators.
  bool perSample = false;
  /// Else, lane-wise accumulators [numParams, lanes] that ntp.reduce_lanes
  /// sums once after the last tile. A tile wider than `laneBits` (the
  /// target's vector register) folds its lanes into that width before adding
  /// them: with a tile of two registers (AVX2) the accumulators, which
  /// outgrow L2 on 64-wide layers, move half the bytes per tile. 0: one lane
  /// per sample of the tile.
  int64_t laneBits = 0;

  /// The accumulators' lanes for tiles of `tile` samples of `element`: the
  /// register's lanes, or fewer where they do not divide the tile.
  int64_t lanes(int64_t tile, mlir::Type element) const;
  /// The accumulators' type, [numParams, lanes(tile, element)].
  mlir::MemRefType lanesType(int64_t numParams, int64_t tile,
                             mlir::Type element) const;
};

/// A generated function's arguments in `mode` (createFunction's
/// signature); null where the mode has none.
struct BackwardArguments {
  mlir::Value x, v, params, outOrCotangent, grad, xGrad, workspace, batch,
      tileBegin, tileEnd;
};
BackwardArguments readArguments(mlir::Block *entry, BackwardMode mode);

/// Opens the loop over the tiles [tileBegin, tileEnd), after the lane-wise
/// gradient accumulators [numParams, grads.lanes(tile)] (zeroed on the heap:
/// they outgrow a stack for wide networks) when `mode` has a reverse and the
/// gradients are not per sample; leaves `b` at the start of the loop's body
/// and returns the tile. Every generated function's loop, jet or partials.
mlir::Value beginTileLoop(mlir::OpBuilder &b, mlir::Location loc,
                          const BackwardArguments &args, BackwardMode mode,
                          GradLayout grads, mlir::Type element,
                          int64_t numParams, int64_t tile, mlir::Value &lanes);

/// Ends the function at the end of `entry`: beginTileLoop's accumulators
/// summed into grad and freed, then the return.
void endFunction(mlir::OpBuilder &b, mlir::Location loc, mlir::Block *entry,
                 const BackwardArguments &args, BackwardMode mode,
                 GradLayout grads, mlir::Value lanes);

/// Lane-wise gradient accumulators of `type` (GradLayout::lanesType) on
/// the heap, zeroed.
mlir::Value createZeroedLanes(mlir::OpBuilder &b, mlir::Location loc,
                              mlir::MemRefType type);

/// Sample `tile`'s gradient column of `grad`, [numParams] with stride
/// `batch` (per-sample gradients, tile size 1: the GPU's), zeroed by a
/// neuron loop (which the lanes mapping spreads over a warp).
mlir::Value createSampleColumn(mlir::OpBuilder &b, mlir::Location loc,
                               mlir::Type element, int64_t numParams,
                               mlir::Value grad, mlir::Value tile,
                               mlir::Value batch);

/// `tile`'s [orders, width, tileSize] block of `workspace` at `offset`
/// elements into the tile's slice of `workspacePerTile` elements (1: `tile`
/// is the slice's first element).
mlir::Value sliceWorkspace(mlir::OpBuilder &b, mlir::Location loc,
                           mlir::Value workspace, mlir::Value tile,
                           int64_t workspacePerTile, int64_t offset,
                           int64_t orders, int64_t width, int64_t tileSize,
                           mlir::Type element);

/// Reads the `count` constants ntp-decompose-mlp stores into `buffer` (an
/// alloca, possibly behind a cast to a dynamic size), the constant
/// direction(s) `seed` reads; errors name `what` (e.g. "direction of a
/// partials kernel's ray") and `owned` (e.g. "ray's direction").
mlir::LogicalResult readConstantBuffer(mlir::Operation *seed,
                                       mlir::Value buffer, int64_t count,
                                       llvm::StringRef what,
                                       llvm::StringRef owned,
                                       llvm::SmallVector<double> &values);

/// The jet buffer a forward's jet op writes (a seed's jet, a layer's
/// output: ntp.seed, affine, activate, scale, add_jets, fourier_project,
/// gate_jets), null for any other op; the plan readers map it to its step.
mlir::Value writtenJet(mlir::Operation *op);

/// Stamps `forward` with its workspace per tile (ntp.workspace_per_tile) and
/// the module's #ntp.kernel with the reverse mode (when it describes kernel
/// `name`), checking that the kernel's workspace is `workspacePerTile`.
/// `partialsSavedRows`: KernelTarget::partialsSavedRows (0: per-ray).
mlir::LogicalResult stampBackwardFacts(mlir::ModuleOp module,
                                       mlir::func::FuncOp forward,
                                       llvm::StringRef name,
                                       int64_t workspacePerTile,
                                       int64_t partialsSavedRows = 0);

/// The reverse of a chain of steps, shared by the jet chain
/// (GenerateBackward.cpp) and a partials kernel's rays and blocks
/// (RayVjpEmission.h): from the last step down to step 1, each step's VJP
/// writes its input's cotangent into the first buffer that is neither the
/// current one (ping-pong) nor the one keeping a residual add's cotangent,
/// which joins the chain's once the chain reaches the step the add read.
/// `bar` is the last step's cotangent, in buffer `current` (-1: none).
/// Callbacks: `inBarOf(i, target)`, step i's input cotangent in buffer
/// `target`; `vjp(i, bar, inBar)`, step i's rule; `join(bar, pending,
/// pendingStep)`, the kept cotangent added to the chain's. Returns the
/// seed's cotangent.
template <typename InBarFn, typename VjpFn, typename JoinFn>
mlir::Value reverseChain(llvm::ArrayRef<JetStep> steps, int current,
                         mlir::Value bar, InBarFn inBarOf, VjpFn vjp,
                         JoinFn join) {
  int kept = -1;
  mlir::Value pending;
  size_t pendingStep = 0;
  for (size_t i = steps.size() - 1; i > 0; --i) {
    const JetStep &s = steps[i];
    if (s.kind == JetStep::Kind::Add) {
      // d(lhs + rhs): the cotangent flows unchanged to both operands. The
      // chain goes on with `bar` itself; the skip's copy is its buffer,
      // which the steps until pendingStep leave alone (the top step is an
      // affine: an add's cotangent is in a buffer).
      kept = current;
      pending = bar;
      pendingStep = s.skip;
      continue;
    }
    int target = 0;
    while (target == current || target == kept)
      ++target;
    mlir::Value inBar = inBarOf(i, target);
    vjp(i, bar, inBar);
    current = target;
    bar = inBar;
    if (pending && i - 1 == pendingStep) {
      join(bar, pending, pendingStep);
      kept = -1;
      pending = mlir::Value();
    }
  }
  return bar;
}

//===----------------------------------------------------------------------===//
// The tile loop of the jet chain's and the gated DAG's generated functions
//===----------------------------------------------------------------------===//

/// Builds the generated function of one mode for a plan whose steps each
/// write one jet buffer (JetPlan, the gated DAG's plan): its arguments, a
/// stack buffer per step (recompute) or the tile's workspace slices, the
/// gradient accumulators, and the loop over tiles with the forward, then the
/// output's store or the reverse. `Derived` (CRTP) supplies emitForward and
/// emitReverse, and may supply allocateBuffers (its cotangent buffers, at the
/// start of the function).
template <typename Derived, typename Plan> class TileLoopBuilder {
public:
  TileLoopBuilder(const Plan &plan, mlir::Location loc, GradLayout grads)
      : plan(plan), loc(loc), grads(grads) {}

protected:
  using Mode = BackwardMode;

  /// The function of `mode`, or failure when the reverse fails.
  ///
  /// On the CPU (gradients not per sample) the forward and the reverse of
  /// one tile are each one function of their own, called from the tile
  /// loops: forward-save calls the forward on the tile's workspace slices,
  /// backward-saved the reverse, and the recomputing backward both on stack
  /// buffers. Inlined into each loop, the recomputing backward was a third
  /// copy of both (40% of the LLVM IR and of code generation at order 9).
  mlir::FailureOr<mlir::func::FuncOp> buildTileLoop(mlir::OpBuilder &b,
                                                    Mode mode) {
    using namespace mlir;
    bool sharedBodies = !grads.perSample;
    if (sharedBodies && mode != Mode::ReverseSaved && !forwardBody)
      forwardBody = buildForwardBody(b);
    if (sharedBodies && mode != Mode::ForwardSave && !reverseBody) {
      FailureOr<func::FuncOp> body = buildReverseBody(b);
      if (failed(body))
        return failure();
      reverseBody = *body;
    }
    auto func = createFunction(b, loc, plan.element, plan.name, mode,
                               plan.workspacePerTile());
    OpBuilder::InsertionGuard guard(b);
    entry = func.addEntryBlock();
    b.setInsertionPointToStart(entry);
    BackwardArguments args = readArguments(entry, mode);
    lanes = Value();
    stackJets.clear();
    x = args.x;
    v = args.v;
    params = args.params;
    grad = args.grad;
    xGrad = args.xGrad;
    workspace = args.workspace;
    Value batch = args.batch;

    // Stack buffers: one per forward jet (recompute only), then the
    // builder's own (in the reverse's function when it has one).
    // The tile functions read the jets at constant offsets from one base:
    // the recomputing backward's jets are one stack buffer laid out like a
    // tile's workspace slice.
    Value stackWorkspace;
    if (mode == Mode::Recompute && sharedBodies)
      stackWorkspace = memref::CastOp::create(
          b, loc, MemRefType::get({ShapedType::kDynamic}, plan.element),
          memref::AllocaOp::create(
              b, loc,
              MemRefType::get({plan.workspacePerTile()}, plan.element)));
    else if (mode == Mode::Recompute)
      for (const auto &s : plan.steps)
        stackJets.push_back(memref::AllocaOp::create(
            b, loc,
            JetBufferShape::get(plan.orders, s.width, plan.tile,
                                plan.element)));
    if (!sharedBodies)
      derived().allocateBuffers(b, mode);

    Value tile = beginTileLoop(b, loc, args, mode, grads, plan.element,
                               plan.numParams, plan.tile, lanes);
    if (sharedBodies) {
      // The tile's jets: its workspace slice, or the stack buffer.
      Value base = workspace ? workspace : stackWorkspace;
      Value start = workspace
                        ? Value(arith::MulIOp::create(
                              b, loc, tile,
                              arith::ConstantIndexOp::create(
                                  b, loc, plan.workspacePerTile())))
                        : Value(arith::ConstantIndexOp::create(b, loc, 0));
      if (mode != Mode::ReverseSaved)
        func::CallOp::create(
            b, loc, forwardBody,
            ValueRange{x, v, params, base, start, batch, tile});
      if (mode == Mode::ForwardSave) {
        Value top = sliceWorkspace(
            b, loc, base, start, 1, jetOffset(plan.steps.size() - 1),
            plan.orders, plan.steps.back().width, plan.tile, plan.element);
        StoreJetOp::create(b, loc, top, args.outOrCotangent, batch, tile,
                           plan.storedLiveOrders);
      } else {
        func::CallOp::create(b, loc, reverseBody,
                             ValueRange{x, v, params, args.outOrCotangent,
                                        lanes, xGrad, base, start, batch,
                                        tile});
      }
      endFunction(b, loc, entry, args, mode, grads, lanes);
      return func;
    }
    SmallVector<Value> jets;
    for (size_t i = 0; i < plan.steps.size(); ++i)
      jets.push_back(jetBuffer(b, i, tile));
    // Per-sample gradients (tile size 1): the sample's own zeroed column.
    if (mode != Mode::ForwardSave && grads.perSample)
      lanes = createSampleColumn(b, loc, plan.element, plan.numParams, grad,
                                 tile, batch);

    if (mode != Mode::ReverseSaved)
      derived().emitForward(b, jets, batch, tile);
    if (mode == Mode::ForwardSave)
      StoreJetOp::create(b, loc, jets.back(), args.outOrCotangent, batch, tile,
                         plan.storedLiveOrders);
    else if (failed(derived().emitReverse(b, jets, args.outOrCotangent, batch,
                                          tile)))
      return failure();

    endFunction(b, loc, entry, args, mode, grads, lanes);
    return func;
  }

  /// Elements before step i's jet in a tile's workspace slice.
  int64_t jetOffset(size_t i) const {
    int64_t offset = 0;
    for (size_t j = 0; j < i; ++j)
      offset += plan.orders * plan.steps[j].width * plan.tile;
    return offset;
  }

  /// A private, never inlined function for one tile: (x, v, params,
  /// `extra`..., jets, start, batch, tile) with the steps' jets in `jets`
  /// from element `start` on, laid out like a tile's workspace slice (so
  /// that they are constant offsets from one base); `b` inside its entry.
  mlir::func::FuncOp beginBody(mlir::OpBuilder &b, llvm::StringRef what,
                               llvm::ArrayRef<mlir::Type> extra,
                               llvm::SmallVectorImpl<mlir::Value> &jets,
                               mlir::Value &batch, mlir::Value &tile) {
    using namespace mlir;
    TileFunction body = createTileFunction(
        b, loc, plan.element, plan.name + what.str(), /*leading=*/3, extra);
    entry = body.entry;
    x = entry->getArgument(0);
    v = entry->getArgument(1);
    params = entry->getArgument(2);
    batch = body.batch;
    tile = body.tile;
    jets.clear();
    for (size_t i = 0; i < plan.steps.size(); ++i)
      jets.push_back(sliceWorkspace(
          b, loc, body.jets, body.start, 1, jetOffset(i), plan.orders,
          plan.steps[i].width, plan.tile, plan.element));
    return body.func;
  }

  mlir::func::FuncOp buildForwardBody(mlir::OpBuilder &b) {
    using namespace mlir;
    OpBuilder::InsertionGuard guard(b);
    SmallVector<Value> jets;
    Value batch, tile;
    func::FuncOp func = beginBody(b, "_tile_forward", {}, jets, batch, tile);
    derived().emitForward(b, jets, batch, tile);
    func::ReturnOp::create(b, loc);
    return func;
  }

  /// (x, v, params, cotangent, lanes, x_grad, jets, start, batch, tile).
  mlir::FailureOr<mlir::func::FuncOp> buildReverseBody(mlir::OpBuilder &b) {
    using namespace mlir;
    OpBuilder::InsertionGuard guard(b);
    auto flat = MemRefType::get({ShapedType::kDynamic}, plan.element);
    auto lanesType = grads.lanesType(plan.numParams, plan.tile, plan.element);
    SmallVector<Value> jets;
    Value batch, tile;
    func::FuncOp func = beginBody(b, "_tile_reverse", {flat, lanesType, flat},
                                  jets, batch, tile);
    Value cotangentIn = entry->getArgument(3);
    lanes = entry->getArgument(4);
    xGrad = entry->getArgument(5);
    derived().allocateBuffers(b, Mode::ReverseSaved);
    if (failed(derived().emitReverse(b, jets, cotangentIn, batch, tile)))
      return failure();
    func::ReturnOp::create(b, loc);
    return func;
  }

  /// No buffers of the builder's own unless it says so.
  void allocateBuffers(mlir::OpBuilder &, Mode) {}

  /// The buffer of forward step i for `tile`: a stack buffer, or that tile's
  /// slice of the workspace (the steps' jets in order).
  mlir::Value jetBuffer(mlir::OpBuilder &b, size_t i, mlir::Value tile) {
    if (!workspace)
      return stackJets[i];
    return sliceWorkspace(b, loc, workspace, tile, plan.workspacePerTile(),
                          jetOffset(i), plan.orders, plan.steps[i].width,
                          plan.tile, plan.element);
  }

  Derived &derived() { return static_cast<Derived &>(*this); }

  const Plan &plan;
  mlir::Location loc;
  GradLayout grads;
  mlir::Block *entry = nullptr;
  mlir::Value x, v, params, grad, xGrad, workspace, lanes;
  llvm::SmallVector<mlir::Value> stackJets;
  /// The tile functions (CPU), built by the first mode that calls each.
  mlir::func::FuncOp forwardBody, reverseBody;
};

//===----------------------------------------------------------------------===//
// Typed layers (TypedLayerBackward.cpp)
//===----------------------------------------------------------------------===//

/// Appends the step of `op` to `plan` when it is a typed layer; `writer` maps
/// each jet buffer to the step that last wrote it. Returns false when `op` is
/// no typed layer, failure (with an error) when it is a malformed one.
mlir::FailureOr<bool>
readTypedLayerStep(mlir::Operation *op, JetPlan &plan,
                   const llvm::DenseMap<mlir::Value, size_t> &writer);

/// The forward of typed-layer step `i` (`s`) into jets[i].
void emitTypedLayerForward(mlir::OpBuilder &b, mlir::Location loc,
                           const JetStep &s, llvm::ArrayRef<mlir::Value> jets,
                           size_t i, mlir::Value params);

/// The VJP rule of typed-layer step `s` (scale, fourier_project): from `bar`
/// to `inBar`, the parameter gradient into `lanes`. A residual add has no
/// rule of its own: the jet chain routes its cotangent.
void emitTypedLayerVjp(mlir::OpBuilder &b, mlir::Location loc, const JetStep &s,
                       mlir::Value input, mlir::Value params, mlir::Value bar,
                       mlir::Value lanes, mlir::Value inBar);

//===----------------------------------------------------------------------===//
// Partials kernels (PartialsBackward.cpp)
//===----------------------------------------------------------------------===//

/// Generates the reverse mode of the partials kernel `forward`.
mlir::LogicalResult generatePartialsBackward(mlir::ModuleOp module,
                                             mlir::func::FuncOp forward,
                                             GradLayout grads);

} // namespace ntp::backward

#endif // NTP_LIB_TRANSFORMS_BACKWARDPLAN_H
