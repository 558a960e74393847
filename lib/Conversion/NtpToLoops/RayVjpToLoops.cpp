//===- RayVjpToLoops.cpp - Lower the ray ops' reverse mode to loops -------===//
//
// ntp.activate_rays_vjp (the ray layout of ntp/Dialect/Ntp/IR/RayLayout.h) as
// vector loops shaped like ntp.activate_rays' lowering (RaysToLoops.cpp):
// per neuron, the primitives of y0 and every node of the VJP expansion that
// reads no ray are evaluated once, and each group of rays is a runtime loop
// evaluating only the nodes that read the ray's orders or cotangents, the
// rays' order-0 terms summed in the loop's carried value.
//
// The expansions are ntp::differentiateActivationJet's (the DAG
// ntp.activate_vjp emits): a ray of order n runs the univariate VJP of order n
// with its own order-0 cotangent left out (0: row 0's cotangent counts once,
// below); a ray of a weighted group (order N - 1) runs the VJP of order N with
// the cotangent w Zbar of order N and y_N absent, which is the VJP of R_N, the
// collapsed row's term. Row 0 and the collapsed row S are the VJP of order 1
// of the jet (y0, S): sigma'(y0) zbar_0 + sigma''(y0) S Zbar and
// sigma'(y0) Zbar.
//
//===----------------------------------------------------------------------===//

#include "LoopUtils.h"

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
#include "mlir/Transforms/DialectConversion.h"

using namespace mlir;
using namespace ntp;
using namespace ntp::loops;

namespace {

/// A VJP expansion emitted in two parts, as SplitExpansion in RaysToLoops.cpp
/// emits a forward one: the nodes reading only y0 (primitives, polynomials in
/// them) once, and the nodes reading Input(k), k >= 1 (a ray's orders and
/// every cotangent), once per ray.
class SplitVjp {
public:
  SplitVjp(const ActivationRule &rule, int64_t order, int64_t live)
      : rule(rule), order(order), live(live),
        vjp(differentiateActivationJet(rule, static_cast<unsigned>(order),
                                       static_cast<unsigned>(live))) {
    ray = partials::perRayNodes(vjp.graph);
    needed = vjp.graph.neededBy(vjp.inputCotangents);
  }

  void emitShared(OpBuilder &b, Location loc, Value y0) {
    shared.assign(vjp.graph.getNodes().size(), Value());
    SmallVector<Value> inputs(2 * (order + 1), y0);
    emit(b, loc, shared, /*rayPart=*/false, inputs);
  }

  /// ys[k], k < live: the input orders (ys[0] is y0); bars[m], m <= order:
  /// the output cotangents. Returns ybar_k, k < live.
  SmallVector<Value> emitRay(OpBuilder &b, Location loc, ArrayRef<Value> ys,
                             ArrayRef<Value> bars) {
    SmallVector<Value> inputs(2 * (order + 1), ys.front());
    for (int64_t k = 0; k < live; ++k)
      inputs[k] = ys[k];
    for (int64_t m = 0; m <= order; ++m)
      inputs[order + 1 + m] = bars[m];
    SmallVector<Value> values(shared.begin(), shared.end());
    emit(b, loc, values, /*rayPart=*/true, inputs);
    SmallVector<Value> results;
    for (int o : vjp.inputCotangents)
      results.push_back(values[o]);
    return results;
  }

private:
  void emit(OpBuilder &b, Location loc, SmallVector<Value> &values,
            bool rayPart, ArrayRef<Value> inputs) {
    const auto &nodes = vjp.graph.getNodes();
    auto type = cast<VectorType>(inputs.front().getType());
    for (size_t i = 0; i < nodes.size(); ++i) {
      if (!needed[i] || ray[i] != rayPart)
        continue;
      const JetExpression &n = nodes[i];
      switch (n.kind) {
      case JetExpression::Kind::Input:
        values[i] = inputs[n.index];
        break;
      case JetExpression::Kind::Primitive: {
        VectorMath m{b, loc, type};
        values[i] =
            evaluatePrimitive(rule.getPrimitives()[n.index], inputs[0], m);
        break;
      }
      case JetExpression::Kind::Constant:
        values[i] = splat(b, loc, type, n.value);
        break;
      case JetExpression::Kind::Add:
        values[i] = arith::AddFOp::create(b, loc, values[n.lhs], values[n.rhs]);
        break;
      case JetExpression::Kind::Mul:
        values[i] = arith::MulFOp::create(b, loc, values[n.lhs], values[n.rhs]);
        break;
      case JetExpression::Kind::Fma:
        values[i] = math::FmaOp::create(b, loc, values[n.lhs], values[n.rhs],
                                        values[n.acc]);
        break;
      }
    }
  }

  const ActivationRule &rule;
  int64_t order, live;
  ActivationJetVjp vjp;
  std::vector<bool> ray, needed;
  SmallVector<Value> shared;
};

struct LowerActivateRaysVjp : public OpConversionPattern<ActivateRaysVjpOp> {
  using OpConversionPattern::OpConversionPattern;

  LogicalResult
  matchAndRewrite(ActivateRaysVjpOp op, OpAdaptor adaptor,
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
    bool sLive = collapsed > 0 && collapsed < live;
    VectorType vectorType = in.laneVectorType();
    Value input = adaptor.getInput(), outBar = adaptor.getOutCotangent(),
          inBar = adaptor.getInCotangent();
    Value zero = indexConstant(rewriter, loc, 0);

    auto neurons = scf::ForOp::create(
        rewriter, loc, zero, indexConstant(rewriter, loc, in.neurons()),
        indexConstant(rewriter, loc, 1), ValueRange{},
        [&](OpBuilder &b, Location loc, Value i, ValueRange) {
          auto load = [&](Value buffer, Value row) -> Value {
            return vector::LoadOp::create(
                b, loc, vectorType, buffer,
                JetBufferShape::indices(row, i, zero));
          };
          auto store = [&](OpBuilder &b, Location loc, Value v, Value row) {
            vector::StoreOp::create(b, loc, v, inBar,
                                    JetBufferShape::indices(row, i, zero));
          };
          Value zeros = splat(b, loc, vectorType, 0);
          Value y0 = load(input, zero), zbar0 = load(outBar, zero);
          // Row 0 and the collapsed row: the VJP of order 1 of (y0, S), or
          // of order 0 without a collapsed row.
          Value y0bar;
          Value zbarN; // Zbar, the collapsed row's cotangent
          if (collapsed > 0) {
            Value row = indexConstant(b, loc, layout.collapsedRow);
            zbarN = load(outBar, row);
            SplitVjp head(*rule, 1, sLive ? 2 : 1);
            head.emitShared(b, loc, y0);
            SmallVector<Value> ys = {y0};
            if (sLive)
              ys.push_back(load(input, row));
            SmallVector<Value> bars = head.emitRay(b, loc, ys, {zbar0, zbarN});
            y0bar = bars[0];
            store(b, loc, sLive ? bars[1] : zeros, row);
          } else {
            SplitVjp head(*rule, 0, 1);
            head.emitShared(b, loc, y0);
            y0bar = head.emitRay(b, loc, {y0}, {zbar0}).front();
          }
          for (const RayLayout::Group &g : layout.groups) {
            bool weighted = g.weight != 0;
            int64_t order = weighted ? collapsed : g.order;
            int64_t rayLive = std::min(live, g.order + 1);
            SplitVjp vjp(*rule, order, rayLive);
            vjp.emitShared(b, loc, y0);
            Value topBar =
                weighted
                    ? Value(arith::MulFOp::create(
                          b, loc, splat(b, loc, vectorType, g.weight), zbarN))
                    : Value();
            auto loop = scf::ForOp::create(
                b, loc, zero, indexConstant(b, loc, g.count),
                indexConstant(b, loc, 1), ValueRange{zeros},
                [&](OpBuilder &b, Location loc, Value r, ValueRange acc) {
                  // Row of the ray's order k: base + k.
                  Value base = arith::AddIOp::create(
                      b, loc,
                      arith::MulIOp::create(b, loc, r,
                                            indexConstant(b, loc, g.order)),
                      indexConstant(b, loc, g.base - 1));
                  auto rowOf = [&](int64_t k) {
                    return arith::AddIOp::create(b, loc, base,
                                                 indexConstant(b, loc, k));
                  };
                  SmallVector<Value> ys = {y0};
                  for (int64_t k = 1; k < rayLive; ++k)
                    ys.push_back(load(input, rowOf(k)));
                  SmallVector<Value> bars = {zeros};
                  for (int64_t m = 1; m <= g.order; ++m)
                    bars.push_back(load(outBar, rowOf(m)));
                  if (weighted)
                    bars.push_back(topBar);
                  SmallVector<Value> ybar = vjp.emitRay(b, loc, ys, bars);
                  for (int64_t k = 1; k <= g.order; ++k)
                    store(b, loc, k < rayLive ? ybar[k] : zeros, rowOf(k));
                  scf::YieldOp::create(b, loc,
                                       ValueRange{arith::AddFOp::create(
                                           b, loc, acc.front(), ybar.front())});
                });
            y0bar = arith::AddFOp::create(b, loc, y0bar, loop.getResult(0));
          }
          store(b, loc, y0bar, zero);
          scf::YieldOp::create(b, loc);
        });
    neurons->setAttr(kNeuronLoopAttrName, rewriter.getUnitAttr());
    rewriter.eraseOp(op);
    return success();
  }
};

} // namespace

void ntp::populateRayVjpToLoopsConversionPatterns(RewritePatternSet &patterns) {
  patterns.add<LowerActivateRaysVjp>(patterns.getContext());
}
