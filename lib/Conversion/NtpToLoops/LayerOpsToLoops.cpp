//===- LayerOpsToLoops.cpp - Lower typed-layer jet ops to loops -----------===//
//
// The jet ops of typed layers (issue 14): ntp.scale (adaptive slopes),
// ntp.add_jets (residual connections and cotangent sums) and ntp.scale_vjp.
// As in NtpToLoops.cpp, one order of one neuron for a whole tile is one
// vector; every op here is elementwise in the neurons, so its neuron loop
// has independent iterations (ntp.neuron_loop) except where a per-layer
// slope's gradient sums over the neurons.
//
//===----------------------------------------------------------------------===//

#include "ntp/Conversion/NtpToLoops/NtpToLoops.h"
#include "ntp/Dialect/Ntp/IR/JetBuffer.h"
#include "ntp/Dialect/Ntp/IR/NtpOps.h"

#include "mlir/IR/Builders.h"
#include "mlir/Transforms/DialectConversion.h"

using namespace mlir;
using namespace ntp;

namespace {

Value constantIndex(OpBuilder &b, Location loc, int64_t v) {
  return arith::ConstantIndexOp::create(b, loc, v);
}

/// `for (j = 0; j < width; ++j) body(j)`, marked as a neuron loop when its
/// iterations are independent.
scf::ForOp
emitNeuronLoop(OpBuilder &b, Location loc, int64_t width, bool independent,
               function_ref<void(OpBuilder &, Location, Value)> body) {
  auto loop = scf::ForOp::create(
      b, loc, constantIndex(b, loc, 0), constantIndex(b, loc, width),
      constantIndex(b, loc, 1), ValueRange{},
      [&](OpBuilder &b, Location loc, Value j, ValueRange) {
        body(b, loc, j);
        scf::YieldOp::create(b, loc);
      });
  if (independent)
    loop->setAttr(kNeuronLoopAttrName, b.getUnitAttr());
  return loop;
}

/// The slope of neuron j: params[offset + j] or params[offset].
Value loadSlope(OpBuilder &b, Location loc, Value params, int64_t offset,
                bool perNeuron, Value j) {
  Value index = constantIndex(b, loc, offset);
  if (perNeuron)
    index = arith::AddIOp::create(b, loc, index, j);
  return memref::LoadOp::create(b, loc, params, ValueRange{index});
}

struct LowerScale : public OpConversionPattern<ScaleOp> {
  using OpConversionPattern::OpConversionPattern;

  LogicalResult
  matchAndRewrite(ScaleOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    JetBufferShape shape = JetBufferShape::of(op.getInput().getType());
    VectorType vectorType = shape.laneVectorType();
    int64_t live = op.getLiveOrders();
    emitNeuronLoop(rewriter, loc, shape.neurons(), true,
                   [&](OpBuilder &b, Location loc, Value j) {
                     Value zero = constantIndex(b, loc, 0);
                     Value a = vector::BroadcastOp::create(
                         b, loc, vectorType,
                         loadSlope(b, loc, adaptor.getParams(),
                                   op.getSlopeOffset(), op.getPerNeuron(), j));
                     for (int64_t k = 0; k < live; ++k) {
                       Value kIndex = constantIndex(b, loc, k);
                       Value y = vector::LoadOp::create(
                           b, loc, vectorType, adaptor.getInput(),
                           JetBufferShape::indices(kIndex, j, zero));
                       vector::StoreOp::create(
                           b, loc, arith::MulFOp::create(b, loc, a, y),
                           adaptor.getOutput(),
                           JetBufferShape::indices(kIndex, j, zero));
                     }
                   });
    rewriter.eraseOp(op);
    return success();
  }
};

struct LowerAddJets : public OpConversionPattern<AddJetsOp> {
  using OpConversionPattern::OpConversionPattern;

  LogicalResult
  matchAndRewrite(AddJetsOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    JetBufferShape shape = JetBufferShape::of(op.getLhs().getType());
    VectorType vectorType = shape.laneVectorType();
    int64_t live = op.getLiveOrders();
    emitNeuronLoop(
        rewriter, loc, shape.neurons(), true,
        [&](OpBuilder &b, Location loc, Value j) {
          Value zero = constantIndex(b, loc, 0);
          for (int64_t k = 0; k < live; ++k) {
            auto at =
                JetBufferShape::indices(constantIndex(b, loc, k), j, zero);
            Value l = vector::LoadOp::create(b, loc, vectorType,
                                             adaptor.getLhs(), at);
            Value r = vector::LoadOp::create(b, loc, vectorType,
                                             adaptor.getRhs(), at);
            vector::StoreOp::create(b, loc, arith::AddFOp::create(b, loc, l, r),
                                    adaptor.getOutput(), at);
          }
        });
    rewriter.eraseOp(op);
    return success();
  }
};

struct LowerScaleVjp : public OpConversionPattern<ScaleVjpOp> {
  using OpConversionPattern::OpConversionPattern;

  LogicalResult
  matchAndRewrite(ScaleVjpOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    JetBufferShape shape = JetBufferShape::of(op.getInput().getType());
    VectorType vectorType = shape.laneVectorType();
    int64_t live = op.getLiveOrders();
    bool perNeuron = op.getPerNeuron();
    Value grad = adaptor.getGrad();
    bool laneWise = cast<MemRefType>(grad.getType()).getRank() == 2;
    Value zeroVector = arith::ConstantOp::create(
        rewriter, loc,
        DenseElementsAttr::get(vectorType,
                               rewriter.getFloatAttr(shape.elementType(), 0)));
    // One slope for the layer: every neuron adds to the same gradient entry,
    // so the neuron loop is sequential.
    emitNeuronLoop(
        rewriter, loc, shape.neurons(), perNeuron,
        [&](OpBuilder &b, Location loc, Value j) {
          Value zero = constantIndex(b, loc, 0);
          Value a = vector::BroadcastOp::create(
              b, loc, vectorType,
              loadSlope(b, loc, adaptor.getParams(), op.getSlopeOffset(),
                        perNeuron, j));
          Value index = constantIndex(b, loc, op.getSlopeOffset());
          if (perNeuron)
            index = arith::AddIOp::create(b, loc, index, j);
          Value lanes =
              laneWise ? Value(vector::LoadOp::create(b, loc, vectorType, grad,
                                                      ValueRange{index, zero}))
                       : zeroVector;
          for (int64_t k = 0; k < live; ++k) {
            auto at =
                JetBufferShape::indices(constantIndex(b, loc, k), j, zero);
            Value bar = vector::LoadOp::create(b, loc, vectorType,
                                               adaptor.getOutCotangent(), at);
            Value y = vector::LoadOp::create(b, loc, vectorType,
                                             adaptor.getInput(), at);
            lanes = math::FmaOp::create(b, loc, bar, y, lanes);
            vector::StoreOp::create(b, loc,
                                    arith::MulFOp::create(b, loc, a, bar),
                                    adaptor.getInCotangent(), at);
          }
          if (laneWise) {
            vector::StoreOp::create(b, loc, lanes, grad,
                                    ValueRange{index, zero});
            return;
          }
          Value sum = vector::ReductionOp::create(
              b, loc, vector::CombiningKind::ADD, lanes);
          Value old = memref::LoadOp::create(b, loc, grad, ValueRange{index});
          memref::StoreOp::create(b, loc,
                                  arith::AddFOp::create(b, loc, old, sum), grad,
                                  ValueRange{index});
        });
    rewriter.eraseOp(op);
    return success();
  }
};

} // namespace

void ntp::populateLayerOpsToLoopsPatterns(RewritePatternSet &patterns) {
  patterns.add<LowerScale, LowerAddJets, LowerScaleVjp>(patterns.getContext());
}
