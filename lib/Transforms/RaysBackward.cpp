//===- RaysBackward.cpp - Reverse mode of the ray lowerings ---------------===//
//
// Part of ntp-generate-backward (PartialsBackward.cpp dispatches here): the
// reverse mode of a partials kernel whose forward is the multi-direction or
// collapsed lowering (ntp-decompose-mlp's buildMultiPartials), generated from
// that forward itself rather than from per-ray rays beside it.
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
// the blocks.
//
// Workspace of one tile: each block's buffers below the top ([rows_b, width,
// tile] per step, in order), then the blocks' top rows stacked as the
// forward stacks them: C * (sum of the step widths) * tile elements with C
// the rows of all blocks, the per-ray layout's formula with rows for jet
// coefficients. The kernel's stated workspace (describeKernel, which knows
// the request but not the lowering) stays the per-ray reverse mode's, which
// is never smaller (a block's rows are at most its rays' coefficients:
// 1 + sum n_r (+ 1 collapsed row replacing at least one order-N row) <=
// sum (n_r + 1)); the tile's slice keeps that stride and uses its start.
//
//===----------------------------------------------------------------------===//

#include "RaysBackward.h"

#include "BackwardPlan.h"
#include "JetCorner.h"

#include "ntp/Compiler/KernelFacts.h"
#include "ntp/Dialect/Ntp/IR/JetBuffer.h"
#include "ntp/Dialect/Ntp/IR/NtpAttributes.h"
#include "ntp/Dialect/Ntp/IR/NtpDialect.h"
#include "ntp/Dialect/Ntp/IR/NtpOps.h"
#include "ntp/Dialect/Ntp/IR/RayLayout.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace ntp;
using namespace ntp::backward;

namespace {

/// One block of rays of the forward.
struct RaysBlock {
  SmallVector<int64_t> counts, orders;
  SmallVector<double> weights;
  int64_t collapsedOrder = 0;
  SmallVector<double> directions; // [rays, d], layout order
  int64_t rows = 0, firstColumn = 0;
  std::vector<JetStep> steps; // seed, ..., top affine

  DenseI64ArrayAttr countsAttr(OpBuilder &b) const {
    return b.getDenseI64ArrayAttr(counts);
  }
};

struct RaysPlan {
  std::string name;
  Type element;
  int64_t tile = 0, numParams = 0, inputDim = 0, outputDim = 0;
  int64_t columns = 0, requests = 0, storedLiveOrders = 0, maxRows = 0;
  std::vector<RaysBlock> blocks;
  SmallVector<double> weights; // [requests, columns]
  /// The tile's stride in the workspace (>= workspaceNeeded()).
  int64_t stride = 0;

  const std::vector<JetStep> &steps() const { return blocks.front().steps; }
  int64_t lowerWidths() const {
    int64_t total = 0;
    for (size_t i = 0; i + 1 < steps().size(); ++i)
      total += steps()[i].width;
    return total;
  }
  int64_t maxWidth() const {
    int64_t widest = 0;
    for (const JetStep &s : steps())
      widest = std::max(widest, s.width);
    return widest;
  }
  bool hasAdd() const {
    return llvm::any_of(
        steps(), [](const JetStep &s) { return s.kind == JetStep::Kind::Add; });
  }
  int64_t cotangentBuffers() const { return hasAdd() ? 3 : 2; }
  int64_t workspaceNeeded() const {
    return columns * (lowerWidths() + outputDim) * tile;
  }
  int64_t topsOffset() const { return columns * lowerWidths() * tile; }
  int64_t recomputeStackElements() const {
    return (maxRows * lowerWidths() +
            cotangentBuffers() * maxRows * maxWidth() +
            (requests + columns) * outputDim + 2 * (maxRows + 1) * inputDim) *
           tile;
  }
};

/// The constant directions ntp-decompose-mlp stores into the buffer a
/// seed_rays reads (an alloca, through a cast to a dynamic size).
LogicalResult readDirections(SeedRaysOp seed, int64_t count,
                             SmallVector<double> &directions) {
  Value buffer = seed.getDirections();
  if (auto cast = buffer.getDefiningOp<memref::CastOp>())
    buffer = cast.getSource();
  auto alloca = buffer.getDefiningOp<memref::AllocaOp>();
  if (!alloca)
    return seed.emitOpError("the directions of a partials kernel's block must "
                            "be a constant buffer");
  directions.assign(count, 0.0);
  SmallVector<bool> written(count, false);
  for (Operation *user : alloca->getUsers()) {
    auto store = dyn_cast<memref::StoreOp>(user);
    if (!store)
      continue;
    auto value = store.getValueToStore().getDefiningOp<arith::ConstantOp>();
    auto index = store.getIndices().front().getDefiningOp<arith::ConstantOp>();
    auto valueAttr = value ? dyn_cast<FloatAttr>(value.getValue()) : nullptr;
    auto indexAttr = index ? dyn_cast<IntegerAttr>(index.getValue()) : nullptr;
    if (!valueAttr || !indexAttr || indexAttr.getInt() < 0 ||
        indexAttr.getInt() >= count)
      return store.emitOpError("a block's directions must be stored as "
                               "constants at constant indices");
    directions[indexAttr.getInt()] = valueAttr.getValueAsDouble();
    written[indexAttr.getInt()] = true;
  }
  if (llvm::is_contained(written, false))
    return seed.emitOpError("not every entry of the block's directions is "
                            "stored as a constant");
  return success();
}

template <class OpTy> bool sameLayout(OpTy op, const RaysBlock &block) {
  return op.getRayCounts() == ArrayRef<int64_t>(block.counts) &&
         op.getRayOrders() == ArrayRef<int64_t>(block.orders) &&
         op.getCollapseWeights() == ArrayRef<double>(block.weights) &&
         static_cast<int64_t>(op.getCollapsedOrder()) == block.collapsedOrder;
}

FailureOr<RaysPlan> readRaysPlan(func::FuncOp func, StringRef name) {
  RaysPlan plan;
  plan.name = name.str();
  bool combined = false, stored = false;
  DenseMap<Value, size_t> writer; // the block's step that wrote a buffer
  WalkResult walk = func.walk([&](Operation *op) -> WalkResult {
    auto neurons = [](Value v) { return JetBufferShape::of(v).neurons(); };
    auto needBlock = [&]() -> LogicalResult {
      if (plan.blocks.empty() || combined)
        return op->emitOpError("expected inside a block of rays of a partials "
                               "kernel");
      return success();
    };
    // A chain step reads the previous step's jet.
    auto readsPrevious = [&](Value input) -> LogicalResult {
      auto it = writer.find(input);
      if (it == writer.end() ||
          it->second + 1 != plan.blocks.back().steps.size())
        return op->emitOpError("must read the jet its block's previous op "
                               "wrote");
      return success();
    };
    auto checkLayout = [&](auto rays) -> LogicalResult {
      if (!sameLayout(rays, plan.blocks.back()))
        return op->emitOpError("must have its block's ray layout");
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
      block.firstColumn = plan.blocks.empty() ? 0
                                              : plan.blocks.back().firstColumn +
                                                    plan.blocks.back().rows;
      if (failed(readDirections(seed, layout.rays * plan.inputDim,
                                block.directions)))
        return WalkResult::interrupt();
      block.steps.push_back({JetStep::Kind::Seed, jet.neurons(), 0, 0, ""});
      plan.maxRows = std::max(plan.maxRows, block.rows);
      plan.blocks.push_back(std::move(block));
      writer.clear();
      written = seed.getJet();
    } else if (auto affine = dyn_cast<AffineRaysOp>(op)) {
      if (failed(needBlock()) || failed(checkLayout(affine)) ||
          failed(readsPrevious(affine.getInput())))
        return WalkResult::interrupt();
      int64_t in = neurons(affine.getInput()),
              out = neurons(affine.getOutput());
      plan.numParams = std::max<int64_t>(
          plan.numParams, affine.getWeightOffset() + out * in + out);
      plan.blocks.back().steps.push_back(
          {JetStep::Kind::Affine, out,
           static_cast<int64_t>(affine.getLiveOrders()),
           static_cast<int64_t>(affine.getWeightOffset()), ""});
      written = affine.getOutput();
    } else if (auto activate = dyn_cast<ActivateRaysOp>(op)) {
      if (failed(needBlock()) || failed(checkLayout(activate)) ||
          failed(readsPrevious(activate.getInput())))
        return WalkResult::interrupt();
      plan.blocks.back().steps.push_back(
          {JetStep::Kind::Activate, neurons(activate.getOutput()),
           static_cast<int64_t>(activate.getLiveOrders()), 0,
           activate.getActivation().str()});
      written = activate.getOutput();
    } else if (isa<ScaleOp, FourierProjectOp, AddJetsOp>(op)) {
      // Typed layers: the jet chain's rules, on every row.
      if (failed(needBlock()))
        return WalkResult::interrupt();
      if (!isa<AddJetsOp>(op) && failed(readsPrevious(op->getOperand(0))))
        return WalkResult::interrupt();
      JetPlan chain;
      chain.steps = std::move(plan.blocks.back().steps);
      chain.numParams = plan.numParams;
      FailureOr<bool> layer = readTypedLayerStep(op, chain, writer);
      plan.blocks.back().steps = std::move(chain.steps);
      plan.numParams = chain.numParams;
      if (failed(layer))
        return WalkResult::interrupt();
      if (plan.blocks.back().steps.back().liveOrders != plan.blocks.back().rows)
        return op->emitOpError("must map every row of its block");
      written = TypeSwitch<Operation *, Value>(op)
                    .Case([](ScaleOp o) { return o.getOutput(); })
                    .Case([](AddJetsOp o) { return o.getOutput(); })
                    .Case([](FourierProjectOp o) { return o.getOutput(); });
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
      return op->emitOpError("has no reverse mode in a partials kernel's "
                             "blocks of rays");
    }
    if (written && !plan.blocks.empty() && !combined)
      writer[written] = plan.blocks.back().steps.size() - 1;
    return WalkResult::advance();
  });
  if (walk.wasInterrupted())
    return failure();
  if (plan.blocks.empty() || !combined || !stored)
    return func.emitError("a partials kernel function must propagate blocks "
                          "of rays, then combine and store them");
  const RaysBlock &last = plan.blocks.back();
  if (last.firstColumn + last.rows != plan.columns)
    return func.emitError("the blocks propagate ")
           << last.firstColumn + last.rows << " rows but the combine reads "
           << plan.columns;
  const std::vector<JetStep> &first = plan.blocks.front().steps;
  for (const RaysBlock &block : plan.blocks) {
    bool same = block.steps.size() == first.size() && block.steps.size() >= 2 &&
                block.steps.back().kind == JetStep::Kind::Affine &&
                block.steps.back().width == plan.outputDim;
    for (size_t i = 0; same && i < block.steps.size(); ++i)
      same = block.steps[i].kind == first[i].kind &&
             block.steps[i].width == first[i].width &&
             block.steps[i].weightOffset == first[i].weightOffset &&
             block.steps[i].activation == first[i].activation &&
             block.steps[i].perNeuron == first[i].perNeuron &&
             block.steps[i].skip == first[i].skip;
    if (!same)
      return func.emitError("the blocks of a partials kernel must run the "
                            "same layers, ending in an affine layer of the "
                            "output width");
  }
  return plan;
}

/// Builds the reverse-mode functions of a rays forward (signatures as for
/// every partials kernel; the direction argument is not read).
class RaysBackwardBuilder {
public:
  using Mode = BackwardMode;

  RaysBackwardBuilder(const RaysPlan &plan, Location loc, bool perSampleGrads)
      : plan(plan), loc(loc), perSampleGrads(perSampleGrads) {}

  func::FuncOp build(OpBuilder &b, Mode mode) {
    auto func =
        createFunction(b, loc, plan.element, plan.name, mode, plan.stride);
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

    // Each block's directions, constants written once per call.
    directions.clear();
    if (mode != Mode::ReverseSaved)
      for (const RaysBlock &block : plan.blocks) {
        int64_t count = static_cast<int64_t>(block.directions.size());
        Value buffer = memref::AllocaOp::create(
            b, loc,
            MemRefType::get({std::max<int64_t>(count, 1)}, plan.element));
        for (int64_t i = 0; i < count; ++i)
          memref::StoreOp::create(
              b, loc,
              arith::ConstantOp::create(
                  b, loc, b.getFloatAttr(plan.element, block.directions[i])),
              buffer, ValueRange{arith::ConstantIndexOp::create(b, loc, i)});
        directions.push_back(memref::CastOp::create(
            b, loc, MemRefType::get({ShapedType::kDynamic}, plan.element),
            buffer));
      }
    const std::vector<JetStep> &steps = plan.steps();
    stackJets.clear();
    if (mode == Mode::Recompute)
      for (size_t i = 0; i + 1 < steps.size(); ++i)
        stackJets.push_back(memref::AllocaOp::create(
            b, loc,
            JetBufferShape::get(plan.maxRows, steps[i].width, plan.tile,
                                plan.element)));
    Value outBar, topBar, combined;
    if (mode != Mode::ForwardSave) {
      for (Value &buffer :
           MutableArrayRef<Value>(cotangents, plan.cotangentBuffers()))
        buffer = memref::AllocaOp::create(
            b, loc,
            JetBufferShape::get(plan.maxRows, plan.maxWidth(), plan.tile,
                                plan.element));
      outBar = memref::AllocaOp::create(
          b, loc,
          JetBufferShape::get(plan.requests, plan.outputDim, plan.tile,
                              plan.element));
      topBar = memref::AllocaOp::create(
          b, loc,
          JetBufferShape::get(plan.columns, plan.outputDim, plan.tile,
                              plan.element));
      // Row 0: the x cotangent summed so far; rows 1..: a block's seed's.
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

    Value one = arith::ConstantIndexOp::create(b, loc, 1);
    if (mode != Mode::ForwardSave && !perSampleGrads)
      lanes =
          createZeroedLanes(b, loc, plan.element, plan.numParams, plan.tile);
    auto loop = scf::ForOp::create(b, loc, args[args.size() - 2],
                                   args[args.size() - 1], one);
    b.setInsertionPointToStart(loop.getBody());
    Value tile = loop.getInductionVar();
    if (mode != Mode::ForwardSave && perSampleGrads)
      lanes = createSampleColumn(b, loc, plan.element, plan.numParams, grad,
                                 tile, batch);

    if (mode == Mode::ForwardSave) {
      Value tops = workspaceSlice(b, tile, plan.topsOffset(), plan.columns,
                                  plan.outputDim);
      for (size_t k = 0; k < plan.blocks.size(); ++k)
        emitBlockForward(b, k, blockJets(b, k, tile),
                         corner(b, tops, plan.blocks[k].firstColumn,
                                plan.blocks[k].rows, plan.outputDim),
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
      CombinePartialsOp::create(b, loc, outBar, topBar,
                                b.getDenseF64ArrayAttr(transposed));
      int accumulator = 0;
      for (size_t k = 0; k < plan.blocks.size(); ++k) {
        const RaysBlock &block = plan.blocks[k];
        SmallVector<Value> jets = blockJets(b, k, tile);
        if (mode == Mode::Recompute)
          emitBlockForward(b, k, jets, Value(), batch, tile);
        Value seedBar =
            corner(b, seedBars[accumulator], 1, block.rows, plan.inputDim);
        emitBlockReverse(
            b, k, jets,
            corner(b, topBar, block.firstColumn, block.rows, plan.outputDim),
            seedBar);
        // Row 0 of the next accumulator = the sum so far + this block's
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

    b.setInsertionPointToEnd(entry);
    if (mode != Mode::ForwardSave && !perSampleGrads) {
      ReduceLanesOp::create(b, loc, lanes, grad);
      memref::DeallocOp::create(b, loc, lanes);
    }
    func::ReturnOp::create(b, loc);
    return func;
  }

private:
  Value corner(OpBuilder &b, Value buffer, int64_t first, int64_t rows,
               int64_t width) {
    return jetCorner(b, loc, buffer, first, rows, width, plan.tile);
  }

  Value workspaceSlice(OpBuilder &b, Value tile, int64_t offset, int64_t rows,
                       int64_t width) {
    return sliceWorkspace(b, loc, workspace, tile, plan.stride, offset, rows,
                          width, plan.tile, plan.element);
  }

  /// Block k's buffers below its top: stack corners, or workspace slices.
  SmallVector<Value> blockJets(OpBuilder &b, size_t k, Value tile) {
    const RaysBlock &block = plan.blocks[k];
    SmallVector<Value> jets;
    int64_t offset = block.firstColumn * plan.lowerWidths() * plan.tile;
    for (size_t i = 0; i + 1 < block.steps.size(); ++i) {
      int64_t width = block.steps[i].width;
      jets.push_back(workspace
                         ? workspaceSlice(b, tile, offset, block.rows, width)
                         : corner(b, stackJets[i], 0, block.rows, width));
      offset += block.rows * width * plan.tile;
    }
    return jets;
  }

  /// Block k's forward into `jets`; the top affine too when `top` is given.
  void emitBlockForward(OpBuilder &b, size_t k, ArrayRef<Value> jets, Value top,
                        Value batch, Value tile) {
    const RaysBlock &block = plan.blocks[k];
    auto counts = b.getDenseI64ArrayAttr(block.counts);
    auto orders = b.getDenseI64ArrayAttr(block.orders);
    auto weights = b.getDenseF64ArrayAttr(block.weights);
    auto collapsed = b.getI64IntegerAttr(block.collapsedOrder);
    for (size_t i = 0; i < block.steps.size(); ++i) {
      const JetStep &s = block.steps[i];
      bool isTop = i + 1 == block.steps.size();
      if (isTop && !top)
        break;
      Value output = isTop ? top : jets[i];
      switch (s.kind) {
      case JetStep::Kind::Seed:
        SeedRaysOp::create(b, loc, x, directions[k], output, batch, tile,
                           counts, orders, weights, collapsed);
        break;
      case JetStep::Kind::Affine:
        AffineRaysOp::create(b, loc, jets[i - 1], params,
                             b.getI64IntegerAttr(s.weightOffset), output,
                             b.getI64IntegerAttr(s.liveOrders), counts, orders,
                             weights, collapsed);
        break;
      case JetStep::Kind::Activate:
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
        llvm_unreachable("gated layers have no ray layout");
      }
    }
  }

  /// Block k's VJP rules, top to seed: from `topBar` (its rows of the top
  /// cotangents) to `seedBar` (the seed's cotangent, every row).
  void emitBlockReverse(OpBuilder &b, size_t k, ArrayRef<Value> jets,
                        Value topBar, Value seedBar) {
    const RaysBlock &block = plan.blocks[k];
    auto counts = b.getDenseI64ArrayAttr(block.counts);
    auto orders = b.getDenseI64ArrayAttr(block.orders);
    auto weights = b.getDenseF64ArrayAttr(block.weights);
    auto collapsed = b.getI64IntegerAttr(block.collapsedOrder);
    int current = -1; // topBar is in none of the cotangent buffers
    Value bar = topBar;
    // A residual add's cotangent, kept until the chain reaches the step
    // whose jet the add read (as PartialsBackward.cpp's rays).
    int kept = -1;
    Value pending;
    size_t pendingStep = 0;
    for (size_t i = block.steps.size() - 1; i > 0; --i) {
      const JetStep &s = block.steps[i];
      if (s.kind == JetStep::Kind::Add) {
        kept = current;
        pending = bar;
        pendingStep = s.skip;
        continue;
      }
      int target = 0;
      while (target == current || target == kept)
        ++target;
      Value inBar = i == 1 ? seedBar
                           : corner(b, cotangents[target], 0, block.rows,
                                    block.steps[i - 1].width);
      switch (s.kind) {
      case JetStep::Kind::Affine:
        emitAffineVjp(b, s, jets[i - 1], bar, inBar, block.rows,
                      block.steps[i - 1].width);
        break;
      case JetStep::Kind::Activate:
        ActivateRaysVjpOp::create(b, loc, b.getStringAttr(s.activation),
                                  jets[i - 1], bar, inBar,
                                  b.getI64IntegerAttr(s.liveOrders), counts,
                                  orders, weights, collapsed);
        break;
      case JetStep::Kind::Scale:
      case JetStep::Kind::FourierProject:
        emitTypedLayerVjp(b, loc, s, jets[i - 1], params, bar, lanes, inBar);
        break;
      default:
        llvm_unreachable("not a step of a block's chain");
      }
      current = target;
      bar = inBar;
      if (pending && i - 1 == pendingStep) {
        AddJetsOp::create(b, loc, bar, pending, bar, block.rows);
        kept = -1;
        pending = Value();
      }
    }
  }

  /// The VJP of an affine layer over every row of a block (rows the forward
  /// did not compute hold zeros on both sides: the seed writes them, and the
  /// activation's VJP writes 0 past live_orders), in blocks of kVjpRows
  /// rows: ntp.affine_vjp's lowering keeps a block's cotangents in
  /// registers, which a block of 34 rows spills. Row 0's block adds the
  /// bias gradient, the others skip it.
  void emitAffineVjp(OpBuilder &b, const JetStep &s, Value input, Value bar,
                     Value inBar, int64_t rows, int64_t inWidth) {
    int64_t outWidth = s.width;
    for (int64_t first = 0; first < rows; first += kVjpRows) {
      int64_t count = std::min(kVjpRows, rows - first);
      auto vjp = AffineVjpOp::create(
          b, loc, corner(b, input, first, count, inWidth), params,
          s.weightOffset, corner(b, bar, first, count, outWidth),
          corner(b, inBar, first, count, inWidth), lanes, count);
      if (first > 0)
        vjp.setSkipBias(true);
    }
  }

  static constexpr int64_t kVjpRows = 4;

  const RaysPlan &plan;
  Location loc;
  bool perSampleGrads;
  Value x, params, grad, xGrad, workspace, lanes;
  SmallVector<Value> directions, stackJets;
  Value cotangents[3], seedBars[2];
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
                                                  bool perSampleGrads) {
  StringRef name = forward.getSymName();
  if (!name.consume_back("_forward_tiles"))
    return forward.emitError("kernel function name must end in _forward_tiles");
  FailureOr<RaysPlan> plan = readRaysPlan(forward, name);
  if (failed(plan))
    return failure();
  if (perSampleGrads && plan->tile != 1)
    return forward.emitError("per-sample-grads needs tile size 1, got ")
           << plan->tile;
  int64_t elementBytes = plan->element.isF64() ? 8 : 4;
  if (!perSampleGrads && plan->recomputeStackElements() >
                             artifact::kMaxTileStackBytes / elementBytes)
    return forward.emitError("the reverse mode of one tile of ")
           << plan->tile << " samples needs more than "
           << artifact::kMaxTileStackBytes
           << " bytes of stack (kMaxTileStackBytes); use a smaller tile, "
              "narrower layers, fewer requests or partials-reverse-lowering="
              "per-ray";
  // The tile's stride: the kernel's stated workspace (the per-ray layout's,
  // never smaller), or without a #ntp.kernel of this kernel what the blocks
  // need.
  plan->stride = plan->workspaceNeeded();
  KernelAttr kernel = getKernelAttr(module);
  if (kernel && kernel.getName() == plan->name) {
    artifact::KernelManifest facts;
    std::string error;
    KernelTarget target = targetOf(kernel.getManifest());
    target.backward = true;
    if (!describeKernel(networkOf(kernel.getManifest()), target, facts, error))
      return forward.emitError(error);
    if (facts.workspacePerTile < plan->workspaceNeeded())
      return forward.emitError("the blocks of rays save ")
             << plan->workspaceNeeded()
             << " elements per tile, more than the kernel's workspace of "
             << facts.workspacePerTile;
    plan->stride = facts.workspacePerTile;
  }
  if (failed(stampBackwardFacts(module, forward, plan->name, plan->stride)))
    return failure();
  OpBuilder b(module.getContext());
  b.setInsertionPointAfter(forward);
  RaysBackwardBuilder builder(*plan, forward.getLoc(), perSampleGrads);
  for (auto mode : {BackwardMode::ReverseSaved, BackwardMode::ForwardSave,
                    BackwardMode::Recompute})
    if (!perSampleGrads || mode != BackwardMode::Recompute)
      builder.build(b, mode);
  return success();
}
