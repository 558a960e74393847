//===- RayVjpEmission.h - The partials reverse modes' builder ---*- C++ -*-===//
//
// Internal to lib/Transforms: the reverse-mode functions of a partials
// kernel, shared by the per-ray reverse (PartialsBackward.cpp: rays of one
// direction, ntp.seed / ntp.affine / ntp.activate / ntp.gate_jets) and the
// rays reverse (RaysBackward.cpp: blocks of rays, their ntp.*_rays ops).
// Both run the same algorithm on groups of rows (RayGroups.h): the combine's
// VJP (W^T), then per group its forward (recomputed or from the workspace)
// and its VJP rules top to seed, x's gradient summed over the seeds'
// row 0; a chain's cotangents ping-pong between two buffers (three with a
// residual add), a gated group's DAG takes them from a pool. Only the ops of
// a step differ, so those are what `Derived` (CRTP) supplies:
//
//   Value createDirections(OpBuilder &, const Group &)  the seed's constants
//   void emitStepForward(OpBuilder &, size_t k, size_t i, ArrayRef<Value> jets,
//                        Value output, Value batch, Value tile)
//   void emitStepVjp(OpBuilder &, const Group &, const JetStep &, Value input,
//                    int64_t inWidth, Value bar, Value inBar,
//                    bool rowZeroInput)  affine, activate, scale, fourier
//   void emitGateVjp(OpBuilder &, const Group &, const JetStep &,
//                    Value u, Value v, Value z, Value bar, Value uBar,
//                    Value vBar, Value zBar, bool accumulate)
//   int64_t addedRows(const Group &, int64_t liveOrders)  the rows an
//                    ntp.add_jets of two cotangents sums
//   bool sameBody(const Group &, const Group &)  optional: whether two
//                    groups' tile functions are the same code
//
// On the CPU a group's forward (below its top) and its reverse are each a
// never-inlined function of the tile, `__ntp_<kernel>_group<k>_tile_forward`
// and `_tile_reverse`, shared by the groups that run the same rows and live
// orders (a ray's direction is an argument) and by the three entry points.
//
//===----------------------------------------------------------------------===//

#ifndef NTP_LIB_TRANSFORMS_RAYVJPEMISSION_H
#define NTP_LIB_TRANSFORMS_RAYVJPEMISSION_H

#include "BackwardPlan.h"
#include "ConstantBuffer.h"
#include "JetCorner.h"
#include "RayGroups.h"

#include "ntp/Dialect/Ntp/IR/JetBuffer.h"
#include "ntp/Dialect/Ntp/IR/NtpOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"

#include <algorithm>
#include <utility>

namespace ntp::backward {

/// Builds the reverse-mode functions of a partials kernel from its plan
/// (`Plan`: a RayGroupsPlan; signatures as a jet kernel's, the direction
/// argument is not read). `workspacePerTile`: the tile's stride in the
/// workspace.
template <typename Derived, typename Plan> class RayGroupsReverseBuilder {
public:
  using Mode = BackwardMode;
  using Group = typename decltype(Plan::groups)::value_type;

  /// With `grads.perSample` (the GPU kernels, tile size 1) each sample's
  /// parameter gradient goes into its own column of `grad`, as for a jet
  /// kernel.
  RayGroupsReverseBuilder(const Plan &plan, mlir::Location loc,
                          GradLayout grads, int64_t workspacePerTile)
      : plan(plan), loc(loc), grads(grads), workspacePerTile(workspacePerTile) {
  }

  mlir::func::FuncOp build(mlir::OpBuilder &b, Mode mode) {
    using namespace mlir;
    bool sharedBodies = !grads.perSample;
    if (sharedBodies)
      buildBodies(b, mode);
    auto func =
        createFunction(b, loc, plan.element, plan.name, mode, workspacePerTile);
    func->setAttr("ntp.partials", b.getUnitAttr());
    OpBuilder::InsertionGuard guard(b);
    entry = func.addEntryBlock();
    pool.clear();
    busy.clear();
    b.setInsertionPointToStart(entry);
    BackwardArguments args = readArguments(entry, mode);
    x = args.x;
    params = args.params;
    Value outOrCotangent = args.outOrCotangent;
    grad = args.grad;
    xGrad = args.xGrad;
    workspace = args.workspace;
    lanes = Value();
    Value batch = args.batch;

    // The groups' directions, constants written once per call.
    directions.clear();
    if (mode != Mode::ReverseSaved)
      for (const Group &group : plan.groups)
        directions.push_back(derived().createDirections(b, group));
    // Stack buffers: one group's jets below the top (recompute), two
    // cotangent ping-pong buffers of the widest layer (three with a residual
    // add), the output and top cotangents, and the x-cotangent accumulators.
    const std::vector<JetStep> &steps = plan.steps();
    stackJets.clear();
    // The tile functions read a group's jets at constant offsets from one
    // base: the recomputing backward's are one stack buffer laid out like a
    // group's workspace slice.
    Value stackBase;
    if (mode == Mode::Recompute && sharedBodies)
      stackBase = castToDynamic(
          b, loc,
          memref::AllocaOp::create(
              b, loc,
              MemRefType::get({plan.maxRows * plan.lowerWidths() * plan.tile},
                              plan.element)));
    else if (mode == Mode::Recompute)
      for (size_t i = 0; i + 1 < steps.size(); ++i)
        stackJets.push_back(memref::AllocaOp::create(
            b, loc,
            JetBufferShape::get(plan.maxRows, steps[i].width, plan.tile,
                                plan.element)));
    Value outBar, topBar, combined;
    if (mode != Mode::ForwardSave) {
      // (The tile functions have their own.)
      if (!sharedBodies)
        allocateCotangents(b);
      outBar = memref::AllocaOp::create(
          b, loc,
          JetBufferShape::get(plan.requests, plan.outputDim, plan.tile,
                              plan.element));
      topBar = memref::AllocaOp::create(
          b, loc,
          JetBufferShape::get(plan.columns, plan.outputDim, plan.tile,
                              plan.element));
      // Row 0: the x cotangent summed so far; rows 1..: a group's seed's.
      for (Value &buffer : seedBars)
        buffer = memref::AllocaOp::create(
            b, loc,
            JetBufferShape::get(plan.maxRows + 1, plan.inputDim, plan.tile,
                                plan.element));
    } else {
      combined = memref::AllocaOp::create(
          b, loc,
          JetBufferShape::get(plan.requests, plan.outputDim, plan.tile,
                              plan.element));
    }

    Value tile = beginTileLoop(b, loc, args, mode, grads, plan.element,
                               plan.numParams, plan.tile, lanes);
    if (mode != Mode::ForwardSave && grads.perSample)
      lanes = createSampleColumn(b, loc, plan.element, plan.numParams, grad,
                                 tile, batch);

    if (mode == Mode::ForwardSave) {
      Value tops = workspaceSlice(b, tile, plan.topsOffset(), plan.columns,
                                  plan.outputDim);
      for (size_t k = 0; k < plan.groups.size(); ++k) {
        Value top = corner(b, tops, plan.groups[k].firstColumn,
                           plan.groups[k].rows, plan.outputDim);
        direction = directions[k];
        if (!sharedBodies) {
          emitGroupForward(b, k, groupJets(b, k, tile), top, batch, tile);
          continue;
        }
        // The layers below the top in the tile function, the top here.
        func::CallOp::create(
            b, loc, forwardBodies.lookup(bodyOf[k]),
            ValueRange{x, params, castToDynamic(b, loc, direction), workspace,
                       groupStart(b, k, tile), batch, tile});
        emitTopForward(b, k, top, batch, tile);
      }
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
      CombinePartialsOp::create(b, loc, outBar, topBar,
                                b.getDenseF64ArrayAttr(transposed));
      int accumulator = 0;
      for (size_t k = 0; k < plan.groups.size(); ++k) {
        const Group &group = plan.groups[k];
        Value seedBar =
            corner(b, seedBars[accumulator], 1, group.rows, plan.inputDim);
        Value groupTopBar =
            corner(b, topBar, group.firstColumn, group.rows, plan.outputDim);
        if (sharedBodies) {
          // The group's jets: its workspace slice, or the stack buffer.
          Value base = workspace ? workspace : stackBase;
          Value start = workspace
                            ? groupStart(b, k, tile)
                            : Value(arith::ConstantIndexOp::create(b, loc, 0));
          if (mode == Mode::Recompute)
            func::CallOp::create(
                b, loc, forwardBodies.lookup(bodyOf[k]),
                ValueRange{x, params, castToDynamic(b, loc, directions[k]),
                           base, start, batch, tile});
          func::CallOp::create(b, loc, reverseBodies.lookup(bodyOf[k]),
                               ValueRange{x, params,
                                          castToDynamicOffset(b, groupTopBar),
                                          castToDynamicOffset(b, seedBar),
                                          lanes, base, start, batch, tile});
        } else {
          SmallVector<Value> jets = groupJets(b, k, tile);
          direction = mode == Mode::Recompute ? directions[k] : Value();
          if (mode == Mode::Recompute)
            emitGroupForward(b, k, jets, Value(), batch, tile);
          emitGroupReverse(b, group, jets, groupTopBar, seedBar);
        }
        // Row 0 of the next accumulator = the sum so far + this group's
        // row 0 (the directions are constants).
        Value next = corner(b, seedBars[accumulator ^ 1], 0, 1, plan.inputDim);
        if (k == 0)
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

    endFunction(b, loc, entry, args, mode, grads, lanes);
    return func;
  }

  /// The most cotangent buffers a function built so far took from the pool.
  size_t poolSize() const { return std::max(maxPool, pool.size()); }

protected:
  /// Whether two groups' forward and reverse are the same code (their
  /// directions are arguments of the tile functions): the same rows, steps
  /// and live orders. A Derived whose ops carry more of the group (a block
  /// of rays' layout) extends it.
  bool sameBody(const Group &a, const Group &b) const {
    if (a.rows != b.rows || a.inputs != b.inputs ||
        !sameLayers(a.steps, b.steps))
      return false;
    for (size_t i = 0; i < a.steps.size(); ++i)
      if (a.steps[i].liveOrders != b.steps[i].liveOrders)
        return false;
    return true;
  }

  /// The tile functions of the groups (CPU), one forward (the layers below
  /// the top) and one reverse per distinct group (sameBody), built by the
  /// first mode that calls each. Inlined per group and mode, the 22 rays of
  /// all 35 partials of order <= 4 of a 3-64-64-64-1 network were 88 bodies
  /// (45 s in ntp-compile, against 2.5 s).
  void buildBodies(mlir::OpBuilder &b, Mode mode) {
    if (bodyOf.empty())
      for (size_t k = 0; k < plan.groups.size(); ++k) {
        bodyOf.push_back(k);
        for (size_t j = 0; j < k; ++j)
          if (bodyOf[j] == j &&
              derived().sameBody(plan.groups[j], plan.groups[k])) {
            bodyOf[k] = j;
            break;
          }
      }
    for (size_t k = 0; k < plan.groups.size(); ++k) {
      if (bodyOf[k] != k)
        continue;
      if (mode != Mode::ReverseSaved && !forwardBodies.count(k))
        forwardBodies[k] = buildForwardBody(b, k);
      if (mode != Mode::ForwardSave && !reverseBodies.count(k))
        reverseBodies[k] = buildReverseBody(b, k);
    }
  }

  /// A private, never inlined function for group k's tile: (x, params,
  /// `extra`..., jets, start, batch, tile), the group's jets below its top
  /// in `jets` from element `start` on, laid out as in its workspace slice;
  /// `b` inside its entry, `jets` the views.
  mlir::func::FuncOp beginBody(mlir::OpBuilder &b, size_t k,
                               llvm::StringRef what,
                               llvm::ArrayRef<mlir::Type> extra,
                               llvm::SmallVectorImpl<mlir::Value> &jets,
                               mlir::Value &batch, mlir::Value &tile) {
    using namespace mlir;
    TileFunction body = createTileFunction(b, loc, plan.element,
                                           plan.name + "_group" +
                                               std::to_string(k) + what.str(),
                                           /*leading=*/2, extra);
    entry = body.entry;
    x = entry->getArgument(0);
    params = entry->getArgument(1);
    batch = body.batch;
    tile = body.tile;
    const Group &group = plan.groups[k];
    jets.clear();
    for (size_t i = 0; i + 1 < group.steps.size(); ++i)
      jets.push_back(sliceWorkspace(
          b, loc, body.jets, body.start, 1, groupJetOffset(group, i),
          group.rows, group.steps[i].width, plan.tile, plan.element));
    return body.func;
  }

  /// (x, params, direction, jets, start, batch, tile).
  mlir::func::FuncOp buildForwardBody(mlir::OpBuilder &b, size_t k) {
    using namespace mlir;
    OpBuilder::InsertionGuard guard(b);
    SmallVector<Value> jets;
    Value batch, tile;
    auto flat = MemRefType::get({ShapedType::kDynamic}, plan.element);
    func::FuncOp func =
        beginBody(b, k, "_tile_forward", {flat}, jets, batch, tile);
    direction = entry->getArgument(2);
    emitGroupForward(b, k, jets, Value(), batch, tile);
    func::ReturnOp::create(b, loc);
    return func;
  }

  /// (x, params, top cotangent, seed cotangent, lanes, jets, start, batch,
  /// tile); its cotangent buffers on its own stack.
  mlir::func::FuncOp buildReverseBody(mlir::OpBuilder &b, size_t k) {
    using namespace mlir;
    OpBuilder::InsertionGuard guard(b);
    const Group &group = plan.groups[k];
    auto lanesType = grads.lanesType(plan.numParams, plan.tile, plan.element);
    SmallVector<Value> jets;
    Value batch, tile;
    func::FuncOp func =
        beginBody(b, k, "_tile_reverse",
                  {dynamicOffsetType(group.rows, plan.outputDim),
                   dynamicOffsetType(group.rows, plan.inputDim), lanesType},
                  jets, batch, tile);
    Value groupTopBar = entry->getArgument(2);
    Value seedBar = entry->getArgument(3);
    lanes = entry->getArgument(4);
    pool.clear();
    busy.clear();
    allocateCotangents(b);
    emitGroupReverse(b, group, jets, groupTopBar, seedBar);
    maxPool = std::max(maxPool, pool.size());
    pool.clear();
    busy.clear();
    func::ReturnOp::create(b, loc);
    return func;
  }

  /// The ping-pong cotangent buffers of a chain (a gated group's come from
  /// the pool of emitGroupReverseDag).
  void allocateCotangents(mlir::OpBuilder &b) {
    using namespace mlir;
    for (Value &buffer : MutableArrayRef<Value>(
             cotangents,
             plan.groups.front().gated() ? 0 : plan.cotangentBuffers()))
      buffer = allocateCotangent(b);
  }

  /// One cotangent buffer of the widest layer, its rows not a multiple of
  /// 4 KiB apart (JetBufferShape::paddedNeurons: a neuron's rows, which the
  /// activations' VJPs read together, would otherwise share one L1 set;
  /// measured 0-10% on the 35 partials' reverse at width 64, which still
  /// runs ~1.2x slower than at 63 or 65: the saved jets' rows are 4 KiB
  /// apart too, in the workspace's layout).
  mlir::Value allocateCotangent(mlir::OpBuilder &b) {
    return mlir::memref::AllocaOp::create(
        b, loc,
        JetBufferShape::get(plan.maxRows,
                            JetBufferShape::paddedNeurons(
                                plan.maxWidth(), plan.tile, plan.element),
                            plan.tile, plan.element));
  }

  /// [rows, width, tile] row-major at a dynamic offset.
  mlir::MemRefType dynamicOffsetType(int64_t rows, int64_t width) {
    return dynamicOffsetJetType(rows, width, plan.tile, plan.element);
  }

  /// `buffer` ([rows, width, tile], any row-major offset) as
  /// dynamicOffsetType, the tile functions' argument type.
  mlir::Value castToDynamicOffset(mlir::OpBuilder &b, mlir::Value buffer) {
    JetBufferShape shape = JetBufferShape::of(buffer);
    mlir::MemRefType type = dynamicOffsetType(shape.orders(), shape.neurons());
    if (buffer.getType() == type)
      return buffer;
    return mlir::memref::CastOp::create(b, loc, type, buffer);
  }

  /// The element where group k's jets start in `tile`'s workspace slice.
  mlir::Value groupStart(mlir::OpBuilder &b, size_t k, mlir::Value tile) {
    using namespace mlir;
    Value first = arith::MulIOp::create(
        b, loc, tile, arith::ConstantIndexOp::create(b, loc, workspacePerTile));
    return arith::AddIOp::create(
        b, loc, first,
        arith::ConstantIndexOp::create(b, loc, groupOffset(plan.groups[k])));
  }

  /// Group k's top step (its affine layer) into `top`, reading the jets in
  /// `tile`'s workspace slice.
  void emitTopForward(mlir::OpBuilder &b, size_t k, mlir::Value top,
                      mlir::Value batch, mlir::Value tile) {
    const Group &group = plan.groups[k];
    size_t last = group.steps.size() - 1;
    // Only the views the top step reads (null for the others).
    llvm::SmallVector<mlir::Value> jets(last);
    for (size_t i : group.inputs[last])
      jets[i] =
          workspaceSlice(b, tile, groupOffset(group) + groupJetOffset(group, i),
                         group.rows, group.steps[i].width);
    derived().emitStepForward(b, k, last, jets, top, batch, tile);
  }

  /// The [rows, width, tile] block of `buffer` starting at row `first`.
  mlir::Value corner(mlir::OpBuilder &b, mlir::Value buffer, int64_t first,
                     int64_t rows, int64_t width) {
    return jetCorner(b, loc, buffer, first, rows, width, plan.tile);
  }

  /// `tile`'s [rows, width, tile] block of the workspace at `offset`
  /// elements into the tile's slice.
  mlir::Value workspaceSlice(mlir::OpBuilder &b, mlir::Value tile,
                             int64_t offset, int64_t rows, int64_t width) {
    return sliceWorkspace(b, loc, workspace, tile, workspacePerTile, offset,
                          rows, width, plan.tile, plan.element);
  }

  /// Group k's jets below its top: stack corners, or workspace slices.
  llvm::SmallVector<mlir::Value> groupJets(mlir::OpBuilder &b, size_t k,
                                           mlir::Value tile) {
    const Group &group = plan.groups[k];
    llvm::SmallVector<mlir::Value> jets;
    for (size_t i = 0; i + 1 < group.steps.size(); ++i) {
      int64_t width = group.steps[i].width;
      jets.push_back(workspace ? workspaceSlice(b, tile,
                                                groupOffset(group) +
                                                    groupJetOffset(group, i),
                                                group.rows, width)
                               : corner(b, stackJets[i], 0, group.rows, width));
    }
    return jets;
  }

  /// Elements before `group`'s jets in a tile's workspace slice.
  int64_t groupOffset(const Group &group) const {
    return group.firstColumn * plan.lowerWidths() * plan.tile;
  }

  /// Elements before step i's jet among `group`'s (their layout in its
  /// workspace slice and in the tile functions' base).
  int64_t groupJetOffset(const Group &group, size_t i) const {
    int64_t offset = 0;
    for (size_t j = 0; j < i; ++j)
      offset += group.rows * group.steps[j].width * plan.tile;
    return offset;
  }

  /// Group k's forward into `jets`; the top affine too when `top` is given.
  void emitGroupForward(mlir::OpBuilder &b, size_t k,
                        llvm::ArrayRef<mlir::Value> jets, mlir::Value top,
                        mlir::Value batch, mlir::Value tile) {
    const std::vector<JetStep> &steps = plan.groups[k].steps;
    for (size_t i = 0; i < steps.size(); ++i) {
      bool isTop = i + 1 == steps.size();
      if (isTop && !top)
        break;
      derived().emitStepForward(b, k, i, jets, isTop ? top : jets[i], batch,
                                tile);
    }
  }

  /// A group's VJP rules, top to seed: from `topBar` (its rows of the top
  /// cotangents) to `seedBar` (the seed's cotangent, every row).
  void emitGroupReverse(mlir::OpBuilder &b, const Group &group,
                        llvm::ArrayRef<mlir::Value> jets, mlir::Value topBar,
                        mlir::Value seedBar) {
    using namespace mlir;
    if (group.gated())
      return emitGroupReverseDag(b, group, jets, topBar, seedBar);
    // The chain's last cotangent is the seed's, which only step 1 writes.
    auto inBarOf = [&](size_t i, int target) {
      return i == 1 ? seedBar
                    : corner(b, cotangents[target], 0, group.rows,
                             group.steps[i - 1].width);
    };
    // Into the seed's cotangent only row 0 is read (x's gradient; the
    // directions are constants).
    auto vjp = [&](size_t i, Value bar, Value inBar) {
      derived().emitStepVjp(b, group, group.steps[i], jets[i - 1],
                            group.steps[i - 1].width, bar, inBar,
                            /*rowZeroInput=*/i == 1);
    };
    // The skip's cotangent joins the chain's (orders the step after
    // pendingStep reads; the others are structural zeros).
    auto join = [&](Value bar, Value pending, size_t pendingStep) {
      AddJetsOp::create(
          b, loc, bar, pending, bar,
          derived().addedRows(group, group.steps[pendingStep + 1].liveOrders));
    };
    // topBar is in none of the cotangent buffers.
    reverseChain(group.steps, /*current=*/-1, topBar, inBarOf, vjp, join);
  }

  /// A gated group's VJP rules, last step to first, as GatedBackward.cpp
  /// reverses a gated jet kernel: a step's cotangent is written by the first
  /// of its consumers reversed and added to by the others (U's and V's by the
  /// gate's VJP with `accumulate`, X's by ntp.add_jets); the buffers come
  /// from a pool ([maxRows, maxWidth, tile] each, shared by the groups), the
  /// seed's cotangent is `seedBar` and the top step's `topBar`.
  void emitGroupReverseDag(mlir::OpBuilder &b, const Group &group,
                           llvm::ArrayRef<mlir::Value> jets, mlir::Value topBar,
                           mlir::Value seedBar) {
    using namespace mlir;
    constexpr int kTop = -1, kSeed = -2;
    size_t last = group.steps.size() - 1;
    DenseMap<size_t, int> slot;
    slot[last] = kTop;
    auto view = [&](int which, size_t step) -> Value {
      if (which == kTop)
        return topBar;
      if (which == kSeed)
        return seedBar;
      return corner(b, pool[which], 0, group.rows, group.steps[step].width);
    };
    auto acquire = [&]() -> int {
      for (size_t i = 0; i < pool.size(); ++i)
        if (!busy[i]) {
          busy[i] = true;
          return static_cast<int>(i);
        }
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(entry);
      pool.push_back(allocateCotangent(b));
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
    auto addInto = [&](size_t in, int target, int64_t liveOrders) {
      Value sum = view(slot[in], in);
      AddJetsOp::create(b, loc, sum, view(target, in), sum,
                        derived().addedRows(group, liveOrders));
      release(target);
    };
    std::fill(busy.begin(), busy.end(), false);
    for (size_t i = last; i > 0; --i) {
      const JetStep &s = group.steps[i];
      // A step no other step reads has no cotangent (none in
      // ntp-decompose-mlp's groups).
      if (!slot.count(i))
        continue;
      int own = slot.lookup(i);
      Value bar = view(own, i);
      if (s.kind == JetStep::Kind::Gate) {
        size_t u = group.inputs[i][0], v = group.inputs[i][1],
               z = group.inputs[i][2];
        bool accumulate = slot.count(u);
        if (!accumulate) {
          slot[u] = acquire();
          slot[v] = acquire();
        }
        auto [zTarget, zFirst] = contribution(z);
        Value uBar = view(slot[u], u);
        Value vBar = view(slot[v], v);
        Value zBar = view(zTarget, z);
        derived().emitGateVjp(b, group, s, jets[u], jets[v], jets[z], bar, uBar,
                              vBar, zBar, accumulate);
        if (!zFirst)
          addInto(z, zTarget, s.liveOrders);
      } else {
        size_t in = group.inputs[i][0];
        auto [target, first] = contribution(in);
        Value inBar = view(target, in);
        derived().emitStepVjp(b, group, s, jets[in], group.steps[in].width, bar,
                              inBar, /*rowZeroInput=*/false);
        if (!first)
          addInto(in, target, s.liveOrders);
      }
      release(own);
      slot.erase(i);
    }
  }

  Derived &derived() { return static_cast<Derived &>(*this); }

  const Plan &plan;
  mlir::Location loc;
  GradLayout grads;
  int64_t workspacePerTile;
  mlir::Value x, params, grad, xGrad, workspace, lanes;
  llvm::SmallVector<mlir::Value> directions, stackJets;
  /// The direction the seed of the group being emitted reads.
  mlir::Value direction;
  /// Group k's tile functions are those of group bodyOf[k] (CPU).
  llvm::SmallVector<size_t> bodyOf;
  llvm::DenseMap<size_t, mlir::func::FuncOp> forwardBodies, reverseBodies;
  size_t maxPool = 0;
  mlir::Value cotangents[3], seedBars[2];
  mlir::Block *entry = nullptr;
  // A gated group's cotangent buffers (emitGroupReverseDag), shared by the
  // groups.
  llvm::SmallVector<mlir::Value> pool;
  llvm::SmallVector<bool> busy;
};

} // namespace ntp::backward

#endif // NTP_LIB_TRANSFORMS_RAYVJPEMISSION_H
