//===- ExpandFaaDiBruno.cpp - ntp.activate -> Faà di Bruno arithmetic -----===//
//
// The algebra (which products, which exact coefficients, what is shared and
// what folds to zero) is computed once per op by ntp::expandActivationJet in
// lib/Support/FaaDiBruno.cpp; this file only turns that DAG into vector
// arithmetic inside a loop over the neurons of the layer.
//
//===----------------------------------------------------------------------===//

#include "ntp/Dialect/Ntp/IR/NtpOps.h"
#include "ntp/Support/FaaDiBruno.h"
#include "ntp/Transforms/Passes.h"

#include "mlir/IR/Builders.h"
#include "mlir/Transforms/DialectConversion.h"

namespace ntp {
#define GEN_PASS_DEF_NTPEXPANDFAADIBRUNO
#include "ntp/Transforms/Passes.h.inc"
} // namespace ntp

using namespace mlir;
using namespace ntp;

namespace {

/// Emits sigma-specific primitives of y_0 as vector math.
Value emitPrimitive(OpBuilder &b, Location loc, Primitive primitive, Value y) {
  auto splat = [&](double v) -> Value {
    auto type = cast<VectorType>(y.getType());
    return arith::ConstantOp::create(
        b, loc, DenseElementsAttr::get(
                    type, b.getFloatAttr(type.getElementType(), v)));
  };
  switch (primitive) {
  case Primitive::Identity:
    return y;
  case Primitive::Tanh:
    return math::TanhOp::create(b, loc, y);
  case Primitive::Sigmoid: {
    // 1 / (1 + exp(-y)): exp overflows to +inf for very negative y and the
    // quotient correctly becomes 0.
    Value e = math::ExpOp::create(b, loc, arith::NegFOp::create(b, loc, y));
    return arith::DivFOp::create(
        b, loc, splat(1), arith::AddFOp::create(b, loc, splat(1), e));
  }
  case Primitive::Sin:
    return math::SinOp::create(b, loc, y);
  case Primitive::Cos:
    return math::CosOp::create(b, loc, y);
  case Primitive::Exp:
    return math::ExpOp::create(b, loc, y);
  case Primitive::Softplus: {
    // max(y, 0) + log1p(exp(-|y|)) never overflows.
    Value absY = math::AbsFOp::create(b, loc, y);
    Value e = math::ExpOp::create(b, loc, arith::NegFOp::create(b, loc, absY));
    return arith::AddFOp::create(b, loc,
                                 arith::MaximumFOp::create(b, loc, y, splat(0)),
                                 math::Log1pOp::create(b, loc, e));
  }
  }
  llvm_unreachable("unknown primitive");
}

/// Emits the expansion DAG for one neuron; inputs[k] holds y_k.
SmallVector<Value> emitExpansion(OpBuilder &b, Location loc,
                                 const ActivationRule &rule,
                                 const ActivationJetExpansion &expansion,
                                 ArrayRef<Value> inputs) {
  auto type = cast<VectorType>(inputs.front().getType());
  const auto &nodes = expansion.graph.getNodes();
  SmallVector<Value> values(nodes.size());
  // Nodes are created operands-first, so one forward walk is a topological
  // order. Only nodes the outputs reach are emitted.
  std::vector<bool> needed(nodes.size(), false);
  for (int out : expansion.outputs)
    needed[out] = true;
  for (int i = static_cast<int>(nodes.size()) - 1; i >= 0; --i) {
    if (!needed[i])
      continue;
    for (int operand : {nodes[i].lhs, nodes[i].rhs, nodes[i].acc})
      if (operand >= 0)
        needed[operand] = true;
  }
  for (size_t i = 0; i < nodes.size(); ++i) {
    if (!needed[i])
      continue;
    const JetExpression &n = nodes[i];
    switch (n.kind) {
    case JetExpression::Kind::Input:
      values[i] = inputs[n.index];
      break;
    case JetExpression::Kind::Primitive:
      values[i] =
          emitPrimitive(b, loc, rule.getPrimitives()[n.index], inputs[0]);
      break;
    case JetExpression::Kind::Constant:
      values[i] = arith::ConstantOp::create(
          b, loc,
          DenseElementsAttr::get(
              type, b.getFloatAttr(type.getElementType(), n.value)));
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
  SmallVector<Value> outputs;
  for (int out : expansion.outputs)
    outputs.push_back(values[out]);
  return outputs;
}

struct ExpandActivation : public OpConversionPattern<ActivateOp> {
  using OpConversionPattern::OpConversionPattern;

  LogicalResult
  matchAndRewrite(ActivateOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    const ActivationRule *rule = lookupActivation(op.getActivation().str());
    if (!rule)
      return rewriter.notifyMatchFailure(op, "unknown activation");
    auto inType = cast<MemRefType>(op.getInput().getType());
    int64_t orders = inType.getDimSize(0), width = inType.getDimSize(1),
            tile = inType.getDimSize(2);
    if (orders - 1 > kMaxOrder)
      return op.emitOpError("derivative order ")
             << orders - 1 << " exceeds the maximum " << kMaxOrder;
    ActivationJetExpansion expansion =
        expandActivationJet(*rule, orders - 1, op.getLiveOrders());

    Location loc = op.getLoc();
    auto vectorType = VectorType::get({tile}, inType.getElementType());
    Value zero = arith::ConstantIndexOp::create(rewriter, loc, 0);
    Value one = arith::ConstantIndexOp::create(rewriter, loc, 1);
    Value end = arith::ConstantIndexOp::create(rewriter, loc, width);
    SmallVector<Value> orderIndex;
    for (int64_t k = 0; k < orders; ++k)
      orderIndex.push_back(arith::ConstantIndexOp::create(rewriter, loc, k));
    Value input = adaptor.getInput(), output = adaptor.getOutput();
    scf::ForOp::create(
        rewriter, loc, zero, end, one, ValueRange{},
        [&](OpBuilder &b, Location loc, Value neuron, ValueRange) {
          SmallVector<Value> y;
          for (int64_t k = 0, e = op.getLiveOrders(); k < e; ++k)
            y.push_back(vector::LoadOp::create(
                b, loc, vectorType, input,
                ValueRange{orderIndex[k], neuron, zero}));
          SmallVector<Value> z = emitExpansion(b, loc, *rule, expansion, y);
          for (int64_t k = 0; k < orders; ++k)
            vector::StoreOp::create(b, loc, z[k], output,
                                    ValueRange{orderIndex[k], neuron, zero});
          scf::YieldOp::create(b, loc);
        });
    rewriter.eraseOp(op);
    return success();
  }
};

struct ExpandFaaDiBrunoPass
    : public ntp::impl::NtpExpandFaaDiBrunoBase<ExpandFaaDiBrunoPass> {
  void runOnOperation() override {
    MLIRContext *context = &getContext();
    ConversionTarget target(*context);
    target.addIllegalOp<ActivateOp>();
    target.markUnknownOpDynamicallyLegal([](Operation *) { return true; });
    RewritePatternSet patterns(context);
    populateExpandFaaDiBrunoPatterns(patterns);
    if (failed(applyPartialConversion(getOperation(), target,
                                      std::move(patterns))))
      signalPassFailure();
  }
};

} // namespace

void ntp::populateExpandFaaDiBrunoPatterns(RewritePatternSet &patterns) {
  patterns.add<ExpandActivation>(patterns.getContext());
}
