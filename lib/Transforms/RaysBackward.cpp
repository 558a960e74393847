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
// the blocks. A gated network's block (the modified MLP: X feeds U, V and
// the first hidden layer, U and V every ntp.gate_rays) is a DAG, reversed
// step by step with ntp.gate_rays_vjp and its cotangents summed over each
// step's consumers (emitBlockReverseDag, as the per-ray gated reverse).
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
      // (A gated block's come from the pool of emitBlockReverseDag.)
      for (Value &buffer : MutableArrayRef<Value>(
               cotangents,
               plan.blocks.front().gated() ? 0 : plan.cotangentBuffers()))
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
        // A gated block's U, V and first hidden layer read X.
        AffineRaysOp::create(b, loc, jets[block.inputs[i][0]], params,
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
        GateRaysOp::create(b, loc, jets[block.inputs[i][0]],
                           jets[block.inputs[i][1]], jets[block.inputs[i][2]],
                           output, counts, orders, weights, collapsed);
        break;
      }
    }
  }

  /// Block k's VJP rules, top to seed: from `topBar` (its rows of the top
  /// cotangents) to `seedBar` (the seed's cotangent, every row).
  void emitBlockReverse(OpBuilder &b, size_t k, ArrayRef<Value> jets,
                        Value topBar, Value seedBar) {
    const RaysBlock &block = plan.blocks[k];
    if (block.gated())
      return emitBlockReverseDag(b, k, jets, topBar, seedBar);
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
        // Into the seed's cotangent only row 0 is read (x's gradient; the
        // directions are constants): the other rows' W^T is skipped.
        emitAffineVjp(b, s, jets[i - 1], bar, inBar, block.rows,
                      block.steps[i - 1].width, /*rowZeroInput=*/i == 1);
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

  /// A gated block's VJP rules, last step to first, as the per-ray gated
  /// reverse (PartialsBackward.cpp's emitRayReverseDag) on the ray layout:
  /// a step's cotangent is written by the first of its consumers reversed
  /// and added to by the others (U's and V's by ntp.gate_rays_vjp with
  /// `accumulate`, X's by ntp.add_jets over every row); the buffers come
  /// from a pool ([maxRows, maxWidth, tile] each, shared by the blocks), the
  /// seed's cotangent is `seedBar` and the top step's `topBar`.
  void emitBlockReverseDag(OpBuilder &b, size_t k, ArrayRef<Value> jets,
                           Value topBar, Value seedBar) {
    const RaysBlock &block = plan.blocks[k];
    auto counts = b.getDenseI64ArrayAttr(block.counts);
    auto orders = b.getDenseI64ArrayAttr(block.orders);
    auto weights = b.getDenseF64ArrayAttr(block.weights);
    auto collapsed = b.getI64IntegerAttr(block.collapsedOrder);
    constexpr int kTop = -1, kSeed = -2;
    size_t last = block.steps.size() - 1;
    DenseMap<size_t, int> slot;
    slot[last] = kTop;
    auto view = [&](int which, size_t step) -> Value {
      if (which == kTop)
        return topBar;
      if (which == kSeed)
        return seedBar;
      return corner(b, pool[which], 0, block.rows, block.steps[step].width);
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
          JetBufferShape::get(plan.maxRows, plan.maxWidth(), plan.tile,
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
    auto addInto = [&](size_t in, int target) {
      Value sum = view(slot[in], in);
      AddJetsOp::create(b, loc, sum, view(target, in), sum, block.rows);
      release(target);
    };
    std::fill(busy.begin(), busy.end(), false);
    for (size_t i = last; i > 0; --i) {
      const JetStep &s = block.steps[i];
      // A step no other step reads has no cotangent (none in
      // ntp-decompose-mlp's blocks).
      if (!slot.count(i))
        continue;
      int own = slot.lookup(i);
      Value bar = view(own, i);
      if (s.kind == JetStep::Kind::Gate) {
        size_t u = block.inputs[i][0], v = block.inputs[i][1],
               z = block.inputs[i][2];
        bool accumulate = slot.count(u);
        if (!accumulate) {
          slot[u] = acquire();
          slot[v] = acquire();
        }
        auto [zTarget, zFirst] = contribution(z);
        GateRaysVjpOp::create(
            b, loc, jets[u], jets[v], jets[z], bar, view(slot[u], u),
            view(slot[v], v), view(zTarget, z), counts, orders, weights,
            collapsed, accumulate ? b.getUnitAttr() : UnitAttr());
        if (!zFirst)
          addInto(z, zTarget);
      } else {
        size_t in = block.inputs[i][0];
        auto [target, first] = contribution(in);
        Value inBar = view(target, in);
        switch (s.kind) {
        case JetStep::Kind::Affine:
          emitAffineVjp(b, s, jets[in], bar, inBar, block.rows,
                        block.steps[in].width);
          break;
        case JetStep::Kind::Activate:
          ActivateRaysVjpOp::create(b, loc, b.getStringAttr(s.activation),
                                    jets[in], bar, inBar,
                                    b.getI64IntegerAttr(s.liveOrders), counts,
                                    orders, weights, collapsed);
          break;
        case JetStep::Kind::Scale:
        case JetStep::Kind::FourierProject:
          emitTypedLayerVjp(b, loc, s, jets[in], params, bar, lanes, inBar);
          break;
        default:
          llvm_unreachable("checked by generateRaysBackward");
        }
        if (!first)
          addInto(in, target);
      }
      release(own);
      slot.erase(i);
    }
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

  const RaysPlan &plan;
  Location loc;
  bool perSampleGrads;
  Value x, params, grad, xGrad, workspace, lanes;
  SmallVector<Value> directions, stackJets;
  Value cotangents[3], seedBars[2];
  Block *entry = nullptr;
  // A gated block's cotangent buffers (emitBlockReverseDag), shared by the
  // blocks.
  SmallVector<Value> pool;
  SmallVector<bool> busy;

public:
  /// Cotangent buffers the last function built took from the pool.
  size_t poolSize() const { return pool.size(); }
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
  if (plan->blocks.front().gated() && plan->hasAdd())
    return forward.emitError("the blocks of rays of a gated network with "
                             "residual layers have no reverse mode; use "
                             "partials-reverse-lowering=per-ray");
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
  RaysBackwardBuilder builder(*plan, forward.getLoc(), perSampleGrads);
  for (auto mode : {BackwardMode::ReverseSaved, BackwardMode::ForwardSave,
                    BackwardMode::Recompute})
    if (!perSampleGrads || mode != BackwardMode::Recompute) {
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
