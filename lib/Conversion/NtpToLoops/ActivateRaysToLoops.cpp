//===- ActivateRaysToLoops.cpp - Lower ntp.activate_rays to loops ---------===//
//
// The activation of a block of rays: each neuron's jet expansion split into
// what every ray shares (primitives, polynomials in them) and what each ray
// computes, emitted once per neuron inside loops over the rays.
//
//===----------------------------------------------------------------------===//

#include "RayLoopUtils.h"

#include "ntp/Conversion/NtpToLoops/NtpToLoops.h"
#include "ntp/Dialect/Ntp/IR/JetBuffer.h"
#include "ntp/Dialect/Ntp/IR/NtpDialect.h"
#include "ntp/Dialect/Ntp/IR/NtpOps.h"
#include "ntp/Dialect/Ntp/IR/RayLayout.h"
#include "ntp/Support/ActivationJet.h"
#include "ntp/Support/PartialsLowering.h"
#include "ntp/Support/Primitives.h"
#include "ntp/Support/VectorMath.h"

#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/IR/Builders.h"
#include "mlir/Interfaces/FunctionInterfaces.h"
#include "mlir/Transforms/DialectConversion.h"

#include <algorithm>
#include <array>
#include <optional>
#include <vector>

using namespace mlir;
using namespace mlir;
using namespace ntp;
using namespace ntp::rayloops;

namespace {

/// One activation expansion emitted in two parts: the nodes every ray shares
/// (primitives of y0 and polynomials in them), once per neuron, and the
/// nodes that read a ray's orders >= 1, once per ray.
class SplitExpansion {
public:
  SplitExpansion(const ActivationRule &rule, int64_t order, int64_t live,
                 ArrayRef<int64_t> outputOrders)
      : rule(rule), expansion(expandActivationJet(
                        rule, static_cast<unsigned>(order),
                        static_cast<unsigned>(std::min(live, order + 1)))) {
    for (int64_t k : outputOrders)
      outputs.push_back(expansion.outputs[k]);
    ray = partials::perRayNodes(expansion.graph);
    needed = expansion.graph.neededBy(outputs);
  }

  /// Emits the shared nodes (y0 is order 0 of the neuron).
  void emitShared(OpBuilder &b, Location loc, Value y0) {
    shared.assign(expansion.graph.getNodes().size(), Value());
    emit(b, loc, shared, /*rayPart=*/false, {y0});
  }

  /// Emits the per-ray nodes; inputs[k] is order k (k >= 1) of the ray.
  SmallVector<Value> emitRay(OpBuilder &b, Location loc,
                             ArrayRef<Value> inputs) {
    SmallVector<Value> values(shared.begin(), shared.end());
    emit(b, loc, values, /*rayPart=*/true, inputs);
    SmallVector<Value> results;
    for (int o : outputs)
      results.push_back(values[o]);
    return results;
  }

private:
  void emit(OpBuilder &b, Location loc, SmallVector<Value> &values,
            bool rayPart, ArrayRef<Value> inputs) {
    const auto &nodes = expansion.graph.getNodes();
    for (size_t i = 0; i < nodes.size(); ++i) {
      if (!needed[i] || ray[i] != rayPart)
        continue;
      const JetExpression &n = nodes[i];
      auto type = cast<VectorType>(
          (rayPart ? inputs.back() : inputs.front()).getType());
      switch (n.kind) {
      case JetExpression::Kind::Input:
        values[i] = rayPart ? inputs[n.index] : inputs[0];
        break;
      case JetExpression::Kind::Primitive: {
        VectorMath m{b, loc, type};
        values[i] =
            evaluatePrimitive(rule.getPrimitives()[n.index], inputs[0], m);
        break;
      }
      default:
        values[i] = VectorMath{b, loc, type}.arithmeticNode(n, values);
        break;
      }
    }
  }

  const ActivationRule &rule;
  ActivationJetExpansion expansion;
  SmallVector<int> outputs;
  std::vector<bool> ray, needed;
  SmallVector<Value> shared;
};

struct LowerActivateRays : public OpConversionPattern<ActivateRaysOp> {
  using OpConversionPattern::OpConversionPattern;

  LogicalResult
  matchAndRewrite(ActivateRaysOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    const ActivationRule *rule = lookupActivation(op.getActivation().str());
    if (!rule)
      return rewriter.notifyMatchFailure(op, "unknown activation");
    Location loc = op.getLoc();
    JetBufferShape in = JetBufferShape::of(op.getInput().getType());
    int64_t live = op.getLiveOrders();
    RayLayout layout = RayLayout::of(op);
    if (layout.maxOrder > kMaxOrder)
      return op.emitOpError("derivative order ")
             << layout.maxOrder << " exceeds the maximum " << kMaxOrder;
    int64_t collapsed = layout.collapsedOrder;
    VectorType vectorType = in.laneVectorType();
    Value input = adaptor.getInput(), output = adaptor.getOutput();
    Value zero = index(rewriter, loc, 0);
    // Only the rows something reads ({ntp.needed_rows}: the activation
    // feeding the top layer writes the rows the combine weighs): a group's
    // orders if any of its rows is needed, the collapsed row (and the R_N
    // terms summed into it) if it is.
    std::vector<bool> needed = neededRows(op, layout.rows);
    bool collapsedNeeded = collapsed > 0 && needed[layout.collapsedRow];
    // Groups of order-1 rays collapsed into order 2 (the Laplacian's): their
    // sum of y1^2 per neuron is one FMA per ray.
    auto sumsSquares = [&](const RayLayout::Group &g) {
      return g.order == 1 && g.weight != 0 && collapsedNeeded &&
             collapsed == 2 && live >= 2;
    };
    // {ntp.invariant_rays}: the input's rows past row 0 hold the same values
    // in every tile and lane (the first layer's W v), so do those sums: they
    // are summed on the call's first tile (lane 0) and kept per neuron.
    bool invariant = op->hasAttr(kInvariantRaysAttrName) && in.lanes() > 1 &&
                     llvm::any_of(layout.groups, sumsSquares);
    Value sums; // [groups, neurons]
    if (invariant) {
      Type element = in.elementType();
      Value computed;
      {
        auto func = op->getParentOfType<FunctionOpInterface>();
        OpBuilder::InsertionGuard guard(rewriter);
        rewriter.setInsertionPointToStart(&func.getFunctionBody().front());
        sums = memref::AllocaOp::create(
            rewriter, loc,
            MemRefType::get(
                {static_cast<int64_t>(layout.groups.size()), in.neurons()},
                element));
        computed = memref::AllocaOp::create(
            rewriter, loc, MemRefType::get({}, rewriter.getI1Type()));
        memref::StoreOp::create(rewriter, loc,
                                arith::ConstantIntOp::create(
                                    rewriter, loc, rewriter.getI1Type(), 0),
                                computed, ValueRange{});
      }
      Value done = memref::LoadOp::create(rewriter, loc, computed);
      Value notDone = arith::XOrIOp::create(
          rewriter, loc, done,
          arith::ConstantIntOp::create(rewriter, loc, rewriter.getI1Type(), 1));
      auto first =
          scf::IfOp::create(rewriter, loc, notDone, /*withElse=*/false);
      OpBuilder::InsertionGuard guard(rewriter);
      rewriter.setInsertionPoint(first.thenBlock()->getTerminator());
      for (auto [number, g] : llvm::enumerate(layout.groups)) {
        if (!sumsSquares(g))
          continue;
        Value groupIndex = index(rewriter, loc, number);
        // g by an init-capture: capturing a structured binding is C++20.
        simpleLoop(
            rewriter, loc, in.neurons(),
            [&, &g = g](OpBuilder &b, Location loc, Value j) {
              Value init =
                  arith::ConstantOp::create(b, loc, b.getFloatAttr(element, 0));
              auto loop = forLoop(
                  b, loc, zero, index(b, loc, g.count), {init},
                  [&](OpBuilder &b, Location loc, Value r, ValueRange acc) {
                    Value y = memref::LoadOp::create(
                        b, loc, input,
                        JetBufferShape::indices(
                            affineIndex(b, loc, g.base, r, 1), j, zero));
                    return SmallVector<Value>{
                        math::FmaOp::create(b, loc, y, y, acc.front())};
                  });
              memref::StoreOp::create(b, loc, loop.getResult(0), sums,
                                      ValueRange{groupIndex, j});
            });
      }
      memref::StoreOp::create(
          rewriter, loc,
          arith::ConstantIntOp::create(rewriter, loc, rewriter.getI1Type(), 1),
          computed, ValueRange{});
    }

    scf::ForOp neurons = simpleLoop(
        rewriter, loc, in.neurons(), [&](OpBuilder &b, Location loc, Value i) {
          auto load = [&](Value row) -> Value {
            return vector::LoadOp::create(
                b, loc, vectorType, input,
                JetBufferShape::indices(row, i, zero));
          };
          auto store = [&](OpBuilder &b, Value v, Value row) {
            vector::StoreOp::create(b, loc, v, output,
                                    JetBufferShape::indices(row, i, zero));
          };
          Value y0 = load(zero);
          if (needed[0]) {
            SplitExpansion value(*rule, 0, 1, {0});
            value.emitShared(b, loc, y0);
            store(b, value.emitRay(b, loc, {y0}).front(), zero);
          }
          Value sum; // sum_r w_r R_N(y^(r))
          for (auto [groupNumber, g] : llvm::enumerate(layout.groups)) {
            bool rays = std::any_of(needed.begin() + g.base,
                                    needed.begin() + g.base + g.count * g.order,
                                    [](bool row) { return row; });
            bool collapses = g.weight != 0 && collapsedNeeded;
            if (!rays && !collapses)
              continue;
            SmallVector<int64_t> orders;
            for (int64_t k = 1; k <= g.order; ++k)
              orders.push_back(k);
            std::optional<SplitExpansion> jet;
            if (rays) {
              jet.emplace(*rule, g.order, live, orders);
              jet->emitShared(b, loc, y0);
            }
            std::optional<SplitExpansion> rest;
            if (collapses) {
              rest.emplace(*rule, collapsed, std::min(live, collapsed),
                           ArrayRef<int64_t>{collapsed});
              rest->emitShared(b, loc, y0);
            }
            Value weight = arith::ConstantOp::create(
                b, loc,
                DenseElementsAttr::get(
                    vectorType, b.getFloatAttr(in.elementType(), g.weight)));
            // Order-1 rays of a collapsed order 2 (the Laplacian's): the
            // ray's R_2 = f''(y0) / 2 y1^2 is c y1^2 with c shared, so the
            // loop sums y1^2 (one FMA per ray, not R_2's products and the
            // weight's FMA) and c w scales the sum once per neuron.
            Value factor;
            if (rest && g.order == 1 && collapsed == 2 && live >= 2) {
              Value one = arith::ConstantOp::create(
                  b, loc,
                  DenseElementsAttr::get(vectorType,
                                         b.getFloatAttr(in.elementType(), 1)));
              factor = rest->emitRay(b, loc, {y0, one}).front();
              if (g.weight != 1)
                factor = arith::MulFOp::create(b, loc, factor, weight);
            }
            // Kept from the call's first tile ({ntp.invariant_rays}).
            Value keptSum;
            if (factor && invariant)
              keptSum = vector::BroadcastOp::create(
                  b, loc, vectorType,
                  memref::LoadOp::create(
                      b, loc, sums, ValueRange{index(b, loc, groupNumber), i}));
            SmallVector<Value> init;
            if (rest && !keptSum)
              init.push_back(arith::ConstantOp::create(
                  b, loc,
                  DenseElementsAttr::get(vectorType,
                                         b.getFloatAttr(in.elementType(), 0))));
            // g by an init-capture, as above.
            auto loop = forLoop(
                b, loc, zero, index(b, loc, g.count), init,
                [&, &g = g](OpBuilder &b, Location loc, Value r,
                            ValueRange acc) {
                  Value base = affineIndex(b, loc, g.base - 1, r, g.order);
                  SmallVector<Value> inputs = {y0};
                  for (int64_t k = 1; k < std::min(live, g.order + 1); ++k)
                    inputs.push_back(load(affineIndex(b, loc, k, base, 1)));
                  if (jet) {
                    SmallVector<Value> z = jet->emitRay(b, loc, inputs);
                    for (int64_t k = 1; k <= g.order; ++k)
                      store(b, z[k - 1], affineIndex(b, loc, k, base, 1));
                  }
                  SmallVector<Value> next;
                  if (keptSum) {
                    // Summed on the call's first tile.
                  } else if (factor) {
                    next.push_back(math::FmaOp::create(b, loc, inputs[1],
                                                       inputs[1], acc.front()));
                  } else if (rest) {
                    SmallVector<Value> restInputs(
                        inputs.begin(),
                        inputs.begin() +
                            std::min<int64_t>(inputs.size(),
                                              std::min(live, collapsed)));
                    Value r = rest->emitRay(b, loc, restInputs).front();
                    next.push_back(
                        math::FmaOp::create(b, loc, weight, r, acc.front()));
                  }
                  return next;
                });
            if (rest) {
              Value term = keptSum ? keptSum : loop.getResult(0);
              if (factor)
                term = arith::MulFOp::create(b, loc, factor, term);
              sum =
                  sum ? Value(arith::AddFOp::create(b, loc, sum, term)) : term;
            }
          }
          if (collapsedNeeded) {
            Value row = index(b, loc, layout.collapsedRow);
            // sigma'(y0) S, the term linear in the collapsed order.
            if (collapsed < live) {
              SplitExpansion linear(*rule, 1, 2, {1});
              linear.emitShared(b, loc, y0);
              Value s = linear.emitRay(b, loc, {y0, load(row)}).front();
              sum = sum ? Value(arith::AddFOp::create(b, loc, sum, s)) : s;
            }
            store(b, sum, row);
          }
        });
    neurons->setAttr(kNeuronLoopAttrName, rewriter.getUnitAttr());
    rewriter.eraseOp(op);
    return success();
  }
};

} // namespace

void ntp::rayloops::populateActivateRaysToLoopsPatterns(
    RewritePatternSet &patterns) {
  patterns.add<LowerActivateRays>(patterns.getContext());
}
