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

#include "LoopUtils.h"

#include "ntp/Conversion/NtpToLoops/NtpToLoops.h"
#include "ntp/Dialect/Ntp/IR/JetBuffer.h"
#include "ntp/Dialect/Ntp/IR/NtpOps.h"

#include "mlir/IR/Builders.h"
#include "mlir/Transforms/DialectConversion.h"

#include "mlir/Transforms/DialectConversion.h"
#include <cmath>

using namespace mlir;
using namespace ntp;
using namespace ntp::loops;

namespace {

Value constantIndex(OpBuilder &b, Location loc, int64_t v) {
  return arith::ConstantIndexOp::create(b, loc, v);
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
          Value lanes = gradLanesStart(b, loc, grad, index, zero, zeroVector);
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
          finishGradLanes(b, loc, grad, index, zero, lanes);
        });
    rewriter.eraseOp(op);
    return success();
  }
};

/// acc_k + sum_{r < count} w(r) * rows(r, k) for every k < live, the
/// accumulators in the loop's iter_args (one weight load per r).
SmallVector<Value>
emitWeightedSum(OpBuilder &b, Location loc, int64_t count, ArrayRef<Value> init,
                function_ref<Value(OpBuilder &, Value)> weight,
                function_ref<Value(OpBuilder &, Value, int64_t)> row) {
  auto vectorType = cast<VectorType>(init.front().getType());
  auto loop = scf::ForOp::create(b, loc, constantIndex(b, loc, 0),
                                 constantIndex(b, loc, count),
                                 constantIndex(b, loc, 1), init);
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(loop.getBody());
  Value r = loop.getInductionVar();
  Value w = vector::BroadcastOp::create(b, loc, vectorType, weight(b, r));
  SmallVector<Value> next;
  for (size_t k = 0; k < init.size(); ++k)
    next.push_back(
        math::FmaOp::create(b, loc, w, row(b, r, k), loop.getRegionIterArg(k)));
  scf::YieldOp::create(b, loc, next);
  return SmallVector<Value>(loop.getResults().begin(), loop.getResults().end());
}

/// Fourier features: z[r] = 2 pi B[r] . in and z[r + m] = z[r] + pi / 2 (at
/// order 0), each B row read once for both.
struct LowerFourierProject : public OpConversionPattern<FourierProjectOp> {
  using OpConversionPattern::OpConversionPattern;

  LogicalResult
  matchAndRewrite(FourierProjectOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    JetBufferShape in = JetBufferShape::of(op.getInput().getType());
    int64_t m = JetBufferShape::of(op.getOutput().getType()).neurons() / 2;
    int64_t d = in.neurons(), live = op.getLiveOrders();
    int64_t offset = op.getWeightOffset();
    VectorType vectorType = in.laneVectorType();
    emitNeuronLoop(
        rewriter, loc, m, true, [&](OpBuilder &b, Location loc, Value r) {
          Value zero = constantIndex(b, loc, 0);
          Value rowStart = arith::AddIOp::create(
              b, loc, constantIndex(b, loc, offset),
              arith::MulIOp::create(b, loc, r, constantIndex(b, loc, d)));
          SmallVector<Value> init(live, splat(b, loc, vectorType, 0));
          SmallVector<Value> sums = emitWeightedSum(
              b, loc, d, init,
              [&](OpBuilder &b, Value j) -> Value {
                return memref::LoadOp::create(
                    b, loc, adaptor.getParams(),
                    ValueRange{arith::AddIOp::create(b, loc, rowStart, j)});
              },
              [&](OpBuilder &b, Value j, int64_t k) -> Value {
                return vector::LoadOp::create(
                    b, loc, vectorType, adaptor.getInput(),
                    JetBufferShape::indices(constantIndex(b, loc, k), j, zero));
              });
          Value twoPi = splat(b, loc, vectorType, 2 * M_PI);
          Value cosine =
              arith::AddIOp::create(b, loc, r, constantIndex(b, loc, m));
          for (int64_t k = 0; k < live; ++k) {
            Value kIndex = constantIndex(b, loc, k);
            Value z = arith::MulFOp::create(b, loc, twoPi, sums[k]);
            vector::StoreOp::create(b, loc, z, adaptor.getOutput(),
                                    JetBufferShape::indices(kIndex, r, zero));
            if (k == 0)
              z = arith::AddFOp::create(b, loc, z,
                                        splat(b, loc, vectorType, M_PI / 2));
            vector::StoreOp::create(
                b, loc, z, adaptor.getOutput(),
                JetBufferShape::indices(kIndex, cosine, zero));
          }
        });
    rewriter.eraseOp(op);
    return success();
  }
};

struct LowerFourierProjectVjp
    : public OpConversionPattern<FourierProjectVjpOp> {
  using OpConversionPattern::OpConversionPattern;

  LogicalResult
  matchAndRewrite(FourierProjectVjpOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    JetBufferShape in = JetBufferShape::of(op.getInput().getType());
    int64_t m =
        JetBufferShape::of(op.getOutCotangent().getType()).neurons() / 2;
    int64_t d = in.neurons(), live = op.getLiveOrders();
    int64_t offset = op.getWeightOffset();
    VectorType vectorType = in.laneVectorType();
    Value grad = adaptor.getGrad(), outBar = adaptor.getOutCotangent();
    // The cotangent of z[r] from both of its uses, order k.
    auto rowBar = [&](OpBuilder &b, Value r, int64_t k) -> Value {
      Value zero = constantIndex(b, loc, 0), kIndex = constantIndex(b, loc, k);
      Value sine = vector::LoadOp::create(
          b, loc, vectorType, outBar, JetBufferShape::indices(kIndex, r, zero));
      Value cosine = vector::LoadOp::create(
          b, loc, vectorType, outBar,
          JetBufferShape::indices(
              kIndex,
              arith::AddIOp::create(b, loc, r, constantIndex(b, loc, m)),
              zero));
      return arith::AddFOp::create(b, loc, sine, cosine);
    };
    // grad_B[r][j] += 2 pi sum_k zbar_k[r] in_k[j].
    emitNeuronLoop(
        rewriter, loc, m, true, [&](OpBuilder &b, Location loc, Value r) {
          Value zero = constantIndex(b, loc, 0);
          Value twoPi = splat(b, loc, vectorType, 2 * M_PI);
          SmallVector<Value> bar;
          for (int64_t k = 0; k < live; ++k)
            bar.push_back(
                arith::MulFOp::create(b, loc, twoPi, rowBar(b, r, k)));
          Value rowStart = arith::AddIOp::create(
              b, loc, constantIndex(b, loc, offset),
              arith::MulIOp::create(b, loc, r, constantIndex(b, loc, d)));
          scf::ForOp::create(
              b, loc, zero, constantIndex(b, loc, d), constantIndex(b, loc, 1),
              ValueRange{},
              [&](OpBuilder &b, Location loc, Value j, ValueRange) {
                Value index = arith::AddIOp::create(b, loc, rowStart, j);
                Value lanes = gradLanesStart(b, loc, grad, index, zero,
                                             splat(b, loc, vectorType, 0));
                for (int64_t k = 0; k < live; ++k) {
                  Value y = vector::LoadOp::create(
                      b, loc, vectorType, adaptor.getInput(),
                      JetBufferShape::indices(constantIndex(b, loc, k), j,
                                              zero));
                  lanes = math::FmaOp::create(b, loc, bar[k], y, lanes);
                }
                finishGradLanes(b, loc, grad, index, zero, lanes);
                scf::YieldOp::create(b, loc);
              });
        });
    // inbar_k[j] = 2 pi sum_r B[r][j] zbar_k[r].
    emitNeuronLoop(
        rewriter, loc, d, true, [&](OpBuilder &b, Location loc, Value j) {
          Value zero = constantIndex(b, loc, 0);
          SmallVector<Value> init(live, splat(b, loc, vectorType, 0));
          SmallVector<Value> sums = emitWeightedSum(
              b, loc, m, init,
              [&](OpBuilder &b, Value r) -> Value {
                Value index = arith::AddIOp::create(
                    b, loc,
                    arith::AddIOp::create(
                        b, loc, constantIndex(b, loc, offset),
                        arith::MulIOp::create(b, loc, r,
                                              constantIndex(b, loc, d))),
                    j);
                return memref::LoadOp::create(b, loc, adaptor.getParams(),
                                              ValueRange{index});
              },
              [&](OpBuilder &b, Value r, int64_t k) -> Value {
                return rowBar(b, r, k);
              });
          Value twoPi = splat(b, loc, vectorType, 2 * M_PI);
          for (int64_t k = 0; k < live; ++k)
            vector::StoreOp::create(
                b, loc, arith::MulFOp::create(b, loc, twoPi, sums[k]),
                adaptor.getInCotangent(),
                JetBufferShape::indices(constantIndex(b, loc, k), j, zero));
        });
    rewriter.eraseOp(op);
    return success();
  }
};

} // namespace

void ntp::populateLayerOpsToLoopsPatterns(RewritePatternSet &patterns) {
  patterns.add<LowerScale, LowerAddJets, LowerScaleVjp, LowerFourierProject,
               LowerFourierProjectVjp>(patterns.getContext());
  populateGateOpsToLoopsPatterns(patterns);
}
