//===- AffineToLoops.cpp - Lower affine layers to blocked loops -----------===//
//
// ntp.affine and its VJP ntp.affine_vjp as vector loops, register-blocked as
// convert-ntp-to-loops' affine-outputs and affine-orders (or the machine's
// facts) say. As in NtpToLoops.cpp, one order of one neuron for a whole tile
// is one vector.
//
//===----------------------------------------------------------------------===//

#include "LoopUtils.h"

#include "ntp/Dialect/Ntp/IR/JetBuffer.h"
#include "ntp/Dialect/Ntp/IR/NtpOps.h"

#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/IR/Builders.h"
#include "mlir/Transforms/DialectConversion.h"

using namespace mlir;
using namespace ntp;
using namespace ntp::loops;

namespace {

/// acc_k + sum_{r < count} params[weightIndex(r)] * source[k][r][:] for every
/// k < orderIndex.size(): the matrix-vector product of an affine layer (and of
/// its transpose), with one accumulator vector per order in the loop's
/// iter_args so that each weight is loaded and broadcast once for all orders.
SmallVector<Value>
emitOrderwiseProduct(OpBuilder &b, Location loc, Value count, Value params,
                     Value source, ArrayRef<Value> orderIndex,
                     ArrayRef<Value> init,
                     function_ref<Value(OpBuilder &, Value)> weightIndex) {
  auto vectorType = cast<VectorType>(init.front().getType());
  Value zero = indexConstant(b, loc, 0);
  auto loop =
      scf::ForOp::create(b, loc, zero, count, indexConstant(b, loc, 1), init);
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(loop.getBody());
  Value r = loop.getInductionVar();
  Value w =
      memref::LoadOp::create(b, loc, params, ValueRange{weightIndex(b, r)});
  Value wv = vector::BroadcastOp::create(b, loc, vectorType, w);
  SmallVector<Value> next;
  for (size_t k = 0; k < orderIndex.size(); ++k) {
    Value y =
        vector::LoadOp::create(b, loc, vectorType, source,
                               JetBufferShape::indices(orderIndex[k], r, zero));
    next.push_back(
        math::FmaOp::create(b, loc, wv, y, loop.getRegionIterArg(k)));
  }
  scf::YieldOp::create(b, loc, next);
  return SmallVector<Value>(loop.getResults().begin(), loop.getResults().end());
}

/// Register blocking of an affine product: for every output o < outCount
/// and live order k, store(o, k, init(o, k) + sum_{r < count}
/// params[weightIndex(o, r)] * source[k][r][:]). Outputs go `blocking.outputs`
/// at a time and orders `blocking.orders` at a time (0: all): per r, one
/// broadcast per output and one load per order feed outputs x orders
/// independent FMA chains. Each sum runs over r in order, as unblocked. The
/// outputs past the last multiple of the block take a loop of one output.
/// Returns the loops over outputs (those of each order chunk in turn).
SmallVector<scf::ForOp> emitBlockedProducts(
    OpBuilder &b, Location loc, int64_t outCount, Value count, Value params,
    Value source, ArrayRef<Value> orderIndex, VectorType vectorType,
    AffineBlocking blocking,
    function_ref<Value(OpBuilder &, Location, Value, Value)> weightIndex,
    function_ref<Value(OpBuilder &, Location, Value, int64_t)> init,
    function_ref<void(OpBuilder &, Location, Value, int64_t, Value)> store) {
  int64_t live = orderIndex.size();
  int64_t chunk = blocking.orders > 0 ? std::min(blocking.orders, live) : live;
  Value zero = indexConstant(b, loc, 0);
  // Order chunks outside the blocks of outputs: a chunk's slice of the
  // source jets (source neurons x chunk orders) is read once per block, so
  // where it fits in L1 and the whole jet does not (1-128-128-1 at order 9:
  // 80 KiB of f64 jets, 40 KiB per chunk of 5), the blocks reread it from
  // L1 instead of streaming the whole jet from L2 per block.
  SmallVector<scf::ForOp> loops;
  for (int64_t k0 = 0; k0 < live; k0 += chunk) {
    int64_t k1 = std::min(live, k0 + chunk), width = k1 - k0;
    auto emitOutputs = [&](OpBuilder &b, Location loc,
                           ArrayRef<Value> outputs) {
      int64_t step = outputs.size();
      SmallVector<Value> initValues;
      for (int64_t o = 0; o < step; ++o)
        for (int64_t k = k0; k < k1; ++k)
          initValues.push_back(init(b, loc, outputs[o], k));
      auto inner = scf::ForOp::create(b, loc, zero, count,
                                      indexConstant(b, loc, 1), initValues);
      {
        OpBuilder::InsertionGuard guard(b);
        b.setInsertionPointToStart(inner.getBody());
        Value r = inner.getInductionVar();
        SmallVector<Value> w;
        for (int64_t o = 0; o < step; ++o)
          w.push_back(vector::BroadcastOp::create(
              b, loc, vectorType,
              memref::LoadOp::create(
                  b, loc, params,
                  ValueRange{weightIndex(b, loc, outputs[o], r)})));
        SmallVector<Value> next(initValues.size());
        for (int64_t k = k0; k < k1; ++k) {
          Value y = vector::LoadOp::create(
              b, loc, vectorType, source,
              JetBufferShape::indices(orderIndex[k], r, zero));
          for (int64_t o = 0; o < step; ++o) {
            int64_t slot = o * width + (k - k0);
            next[slot] = math::FmaOp::create(b, loc, w[o], y,
                                             inner.getRegionIterArg(slot));
          }
        }
        scf::YieldOp::create(b, loc, next);
      }
      for (int64_t o = 0; o < step; ++o)
        for (int64_t k = k0; k < k1; ++k)
          store(b, loc, outputs[o], k, inner.getResult(o * width + (k - k0)));
    };
    llvm::append_range(
        loops, emitTiledLoops(b, loc, outCount, blocking.outputs, emitOutputs));
  }
  return loops;
}

/// The block of a product of `width` outputs over `sourceWidth` neurons
/// with `live` orders of `vectorType` jets: as given, or (outputs == 0)
/// chosen from the machine's facts.
AffineBlocking resolve(AffineBlocking blocking, VectorType vectorType,
                       int64_t live, int64_t width, int64_t sourceWidth) {
  if (blocking.outputs != 0)
    return blocking;
  AffineBlock block =
      chooseAffineBlock(blocking.machine, vectorType.getNumElements(),
                        vectorType.getElementType().getIntOrFloatBitWidth(),
                        live, width, sourceWidth);
  blocking.outputs = block.outputs;
  blocking.orders = block.orders;
  return blocking;
}

/// Whether `blocking` asks for anything but the unblocked loops.
bool isBlocked(AffineBlocking blocking, int64_t live) {
  return blocking.outputs > 1 ||
         (blocking.orders > 0 && blocking.orders < live);
}

/// What the forward and the VJP lowering of an affine layer share: its
/// shape, where its weights and biases sit in params, and the constants its
/// loops index with.
struct AffineLayer {
  AffineLayer(OpBuilder &b, Location loc, MemRefType inType, int64_t outWidth,
              int64_t live, int64_t weights)
      : inWidth(JetBufferShape::of(inType).neurons()), outWidth(outWidth),
        live(live), weights(weights), biases(weights + outWidth * inWidth),
        vectorType(JetBufferShape::of(inType).laneVectorType()) {
    zero = indexConstant(b, loc, 0);
    for (int64_t k = 0; k < live; ++k)
      orderIndex.push_back(indexConstant(b, loc, k));
    zeroVector = arith::ConstantOp::create(
        b, loc,
        DenseElementsAttr::get(vectorType,
                               b.getFloatAttr(inType.getElementType(), 0)));
    inWidthValue = indexConstant(b, loc, inWidth);
  }

  /// The params index of W[i][0]: weights + i * inWidth.
  Value rowStart(OpBuilder &b, Location loc, Value i) const {
    return arith::AddIOp::create(
        b, loc, indexConstant(b, loc, weights),
        arith::MulIOp::create(b, loc, i, inWidthValue));
  }
  /// The params index of W[i][j].
  Value weightIndex(OpBuilder &b, Location loc, Value i, Value j) const {
    return arith::AddIOp::create(b, loc, rowStart(b, loc, i), j);
  }
  /// The params index of b_i.
  Value biasIndex(OpBuilder &b, Location loc, Value i) const {
    return arith::AddIOp::create(b, loc, indexConstant(b, loc, biases), i);
  }

  int64_t inWidth, outWidth, live, weights, biases;
  VectorType vectorType;
  Value zero, zeroVector, inWidthValue;
  SmallVector<Value> orderIndex; // index constants 0..live-1
};

/// The parameter gradient of an affine VJP in `tile.outputs` x
/// `tile.inputs` register tiles: per live order k, the tile's output
/// cotangents and input jets are loaded once and feed outputs x inputs
/// FMAs, the accumulators kept in registers across the orders. Each entry
/// dW[o][i] still sums k = 0, 1, ... in order onto the same start (its
/// stored lanes, or zero), as the unblocked loop: bitwise the same. The
/// outputs and inputs past the last multiple of the tile take tiles of one.
/// Returns the loops over outputs.
SmallVector<scf::ForOp> emitBlockedGradient(OpBuilder &b, Location loc,
                                            const AffineLayer &layer,
                                            GradientBlock tile, Value input,
                                            Value outBar, Value grad,
                                            bool skipBias) {
  VectorType vectorType = layer.vectorType;
  Value zero = layer.zero;
  int64_t live = layer.live;
  // One a x b tile at outputs `outs` and input neurons `js`.
  auto emitTile = [&](OpBuilder &b, Location loc, ArrayRef<Value> outs,
                      ArrayRef<Value> js) {
    int64_t inputs = js.size();
    SmallVector<Value> index, acc;
    for (Value o : outs) {
      Value rowStart = layer.rowStart(b, loc, o);
      for (Value j : js) {
        index.push_back(arith::AddIOp::create(b, loc, rowStart, j));
        acc.push_back(
            gradLanesStart(b, loc, grad, index.back(), zero, layer.zeroVector));
      }
    }
    for (int64_t k = 0; k < live; ++k) {
      SmallVector<Value> bars, ys;
      for (Value o : outs)
        bars.push_back(vector::LoadOp::create(
            b, loc, vectorType, outBar,
            JetBufferShape::indices(layer.orderIndex[k], o, zero)));
      for (Value j : js)
        ys.push_back(vector::LoadOp::create(
            b, loc, vectorType, input,
            JetBufferShape::indices(layer.orderIndex[k], j, zero)));
      for (size_t o = 0; o < outs.size(); ++o)
        for (int64_t u = 0; u < inputs; ++u) {
          Value &sum = acc[o * inputs + u];
          sum = math::FmaOp::create(b, loc, bars[o], ys[u], sum);
        }
    }
    for (size_t e = 0; e < acc.size(); ++e)
      finishGradLanes(b, loc, grad, index[e], zero, acc[e]);
  };
  // Per block of outputs: their bias gradients, then the input neurons b
  // at a time, then one at a time.
  return emitTiledLoops(
      b, loc, layer.outWidth, tile.outputs,
      [&](OpBuilder &b, Location loc, ArrayRef<Value> outs) {
        if (!skipBias)
          for (Value o : outs)
            addGradLanes(
                b, loc, grad, layer.biasIndex(b, loc, o), zero,
                vector::LoadOp::create(
                    b, loc, vectorType, outBar,
                    JetBufferShape::indices(layer.orderIndex[0], o, zero)));
        emitTiledLoops(b, loc, layer.inWidth, tile.inputs,
                       [&](OpBuilder &b, Location loc, ArrayRef<Value> js) {
                         emitTile(b, loc, outs, js);
                       });
      });
}

struct LowerAffine : public OpConversionPattern<AffineOp> {
  LowerAffine(MLIRContext *context, AffineBlocking blocking)
      : OpConversionPattern(context), blocking(blocking) {}

  LogicalResult
  matchAndRewrite(AffineOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    AffineLayer layer(rewriter, loc, op.getInput().getType(),
                      JetBufferShape::of(op.getOutput().getType()).neurons(),
                      op.getLiveOrders(), op.getWeightOffset());
    int64_t outWidth = layer.outWidth, live = layer.live;
    VectorType vectorType = layer.vectorType;
    Value zero = layer.zero, zeroVector = layer.zeroVector,
          inWidthValue = layer.inWidthValue;
    ArrayRef<Value> orderIndex = layer.orderIndex;
    Value input = adaptor.getInput(), output = adaptor.getOutput(),
          params = adaptor.getParams();
    AffineBlocking blocking =
        resolve(this->blocking, vectorType, live, outWidth, layer.inWidth);

    if (isBlocked(blocking, live)) {
      // out[k][i] = b_i [k == 0] + sum_j W[i][j] in[k][j], blocked.
      SmallVector<scf::ForOp> loops = emitBlockedProducts(
          rewriter, loc, outWidth, inWidthValue, params, input, orderIndex,
          vectorType, blocking,
          [&](OpBuilder &b, Location loc, Value i, Value j) -> Value {
            return layer.weightIndex(b, loc, i, j);
          },
          [&](OpBuilder &b, Location loc, Value i, int64_t k) -> Value {
            if (k != 0)
              return zeroVector;
            Value bias = memref::LoadOp::create(
                b, loc, params, ValueRange{layer.biasIndex(b, loc, i)});
            return vector::BroadcastOp::create(b, loc, vectorType, bias);
          },
          [&](OpBuilder &b, Location loc, Value i, int64_t k, Value sum) {
            vector::StoreOp::create(
                b, loc, sum, output,
                JetBufferShape::indices(orderIndex[k], i, zero));
          });
      for (scf::ForOp loop : loops)
        loop->setAttr(kNeuronLoopAttrName, rewriter.getUnitAttr());
      rewriter.eraseOp(op);
      return success();
    }

    scf::ForOp neurons =
        emitLoop(rewriter, loc, indexConstant(rewriter, loc, outWidth),
                 [&](OpBuilder &b, Location loc, Value i) {
                   // One accumulator per live order: each weight is loaded once
                   // and multiplies every order of its input neuron.
                   Value bias = memref::LoadOp::create(
                       b, loc, params, ValueRange{layer.biasIndex(b, loc, i)});
                   SmallVector<Value> init(live, zeroVector);
                   init[0] =
                       vector::BroadcastOp::create(b, loc, vectorType, bias);
                   Value rowStart = layer.rowStart(b, loc, i);
                   SmallVector<Value> sums = emitOrderwiseProduct(
                       b, loc, inWidthValue, params, input, orderIndex, init,
                       [&](OpBuilder &b, Value j) -> Value {
                         return arith::AddIOp::create(b, loc, rowStart, j);
                       });
                   for (int64_t k = 0; k < live; ++k)
                     vector::StoreOp::create(
                         b, loc, sums[k], output,
                         JetBufferShape::indices(orderIndex[k], i, zero));
                 });
    neurons->setAttr(kNeuronLoopAttrName, rewriter.getUnitAttr());
    rewriter.eraseOp(op);
    return success();
  }

  AffineBlocking blocking;
};

struct LowerAffineVjp : public OpConversionPattern<AffineVjpOp> {
  LowerAffineVjp(MLIRContext *context, AffineBlocking blocking)
      : OpConversionPattern(context), blocking(blocking) {}

  LogicalResult
  matchAndRewrite(AffineVjpOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    AffineLayer layer(
        rewriter, loc, op.getInput().getType(),
        JetBufferShape::of(op.getOutCotangent().getType()).neurons(),
        op.getLiveOrders(), op.getWeightOffset());
    int64_t outWidth = layer.outWidth, live = layer.live;
    VectorType vectorType = layer.vectorType;
    Value zero = layer.zero, zeroVector = layer.zeroVector,
          inWidthValue = layer.inWidthValue;
    ArrayRef<Value> orderIndex = layer.orderIndex;
    Value input = adaptor.getInput(), outBar = adaptor.getOutCotangent(),
          params = adaptor.getParams(), grad = adaptor.getGrad();
    // One choice for the input cotangent's outputs (the input neurons).
    AffineBlocking blocking =
        resolve(this->blocking, vectorType, live, layer.inWidth, outWidth);
    Value outWidthValue = indexConstant(rewriter, loc, outWidth);
    // Parameter gradient in register tiles, as forced or (affine-outputs=0)
    // where the machine's facts predict a gain.
    GradientBlock tile = this->blocking.gradient;
    if (!tile.blocked() && this->blocking.outputs == 0)
      tile = chooseGradientBlock(
          blocking.machine, vectorType.getNumElements(),
          vectorType.getElementType().getIntOrFloatBitWidth(), live, outWidth,
          layer.inWidth, blocking.outputs);
    if (tile.blocked())
      for (scf::ForOp loop :
           emitBlockedGradient(rewriter, loc, layer, tile, input, outBar, grad,
                               op.getSkipBias()))
        loop->setAttr(kNeuronLoopAttrName, rewriter.getUnitAttr());
    // Else the cotangent of output neuron i (all live orders, kept in
    // registers) against every input neuron j. Both loops over
    // neurons have independent iterations (ntp.neuron_loop: the GPU lanes
    // mapping spreads them over a warp).
    scf::ForOp gradLoop;
    if (!tile.blocked())
      gradLoop = emitLoop(
          rewriter, loc, outWidthValue,
          [&](OpBuilder &b, Location loc, Value i) {
            SmallVector<Value> bar;
            for (int64_t k = 0; k < live; ++k)
              bar.push_back(vector::LoadOp::create(
                  b, loc, vectorType, outBar,
                  JetBufferShape::indices(orderIndex[k], i, zero)));
            if (!op.getSkipBias())
              addGradLanes(b, loc, grad, layer.biasIndex(b, loc, i), zero,
                           bar[0]);
            Value rowStart = layer.rowStart(b, loc, i);
            // Blocked: `step` input neurons at once, their chains over k
            // interleaved (each still sums k in order).
            auto gradBlock = [&](OpBuilder &b, Location loc, Value j0,
                                 int64_t step) {
              SmallVector<Value> js, index, lanes;
              for (int64_t u = 0; u < step; ++u) {
                Value j = u == 0 ? j0
                                 : Value(arith::AddIOp::create(
                                       b, loc, j0, indexConstant(b, loc, u)));
                js.push_back(j);
                index.push_back(arith::AddIOp::create(b, loc, rowStart, j));
                lanes.push_back(gradLanesStart(b, loc, grad, index.back(), zero,
                                               zeroVector));
              }
              for (int64_t k = 0; k < live; ++k)
                for (int64_t u = 0; u < step; ++u) {
                  Value y = vector::LoadOp::create(
                      b, loc, vectorType, input,
                      JetBufferShape::indices(orderIndex[k], js[u], zero));
                  lanes[u] = math::FmaOp::create(b, loc, bar[k], y, lanes[u]);
                }
              for (int64_t u = 0; u < step; ++u)
                finishGradLanes(b, loc, grad, index[u], zero, lanes[u]);
            };
            int64_t inWidth = layer.inWidth;
            int64_t step =
                std::max<int64_t>(1, std::min(blocking.outputs, inWidth));
            int64_t blocked = inWidth / step * step;
            if (step > 1) {
              scf::ForOp::create(
                  b, loc, indexConstant(b, loc, 0),
                  indexConstant(b, loc, blocked), indexConstant(b, loc, step),
                  ValueRange{},
                  [&](OpBuilder &b, Location loc, Value j, ValueRange) {
                    gradBlock(b, loc, j, step);
                    scf::YieldOp::create(b, loc);
                  });
            }
            if (blocked < inWidth || step == 1)
              scf::ForOp::create(
                  b, loc, indexConstant(b, loc, step == 1 ? 0 : blocked),
                  inWidthValue, indexConstant(b, loc, 1), ValueRange{},
                  [&](OpBuilder &b, Location loc, Value j, ValueRange) {
                    gradBlock(b, loc, j, 1);
                    scf::YieldOp::create(b, loc);
                  });
          });

    if (gradLoop)
      gradLoop->setAttr(kNeuronLoopAttrName, rewriter.getUnitAttr());
    // Input cotangent: inbar_k[j] = sum_i W[i][j] outbar_k[i].
    Value inBar = adaptor.getInCotangent();
    if (inBar && isBlocked(blocking, live)) {
      SmallVector<scf::ForOp> loops = emitBlockedProducts(
          rewriter, loc, layer.inWidth, outWidthValue, params, outBar,
          orderIndex, vectorType, blocking,
          [&](OpBuilder &b, Location loc, Value j, Value i) -> Value {
            return layer.weightIndex(b, loc, i, j);
          },
          [&](OpBuilder &, Location, Value, int64_t) { return zeroVector; },
          [&](OpBuilder &b, Location loc, Value j, int64_t k, Value sum) {
            vector::StoreOp::create(
                b, loc, sum, inBar,
                JetBufferShape::indices(orderIndex[k], j, zero));
          });
      for (scf::ForOp loop : loops)
        loop->setAttr(kNeuronLoopAttrName, rewriter.getUnitAttr());
    } else if (inBar) {
      scf::ForOp inLoop =
          emitLoop(rewriter, loc, inWidthValue,
                   [&](OpBuilder &b, Location loc, Value j) {
                     SmallVector<Value> init(live, zeroVector);
                     // Column j of W: params[weights + i * inWidth + j] over i.
                     SmallVector<Value> sums = emitOrderwiseProduct(
                         b, loc, outWidthValue, params, outBar, orderIndex,
                         init, [&](OpBuilder &b, Value i) -> Value {
                           return layer.weightIndex(b, loc, i, j);
                         });
                     for (int64_t k = 0; k < live; ++k)
                       vector::StoreOp::create(
                           b, loc, sums[k], inBar,
                           JetBufferShape::indices(orderIndex[k], j, zero));
                   });
      inLoop->setAttr(kNeuronLoopAttrName, rewriter.getUnitAttr());
    }
    rewriter.eraseOp(op);
    return success();
  }

  AffineBlocking blocking;
};

} // namespace

void ntp::loops::populateAffineToLoopsPatterns(RewritePatternSet &patterns,
                                               AffineBlocking blocking) {
  patterns.add<LowerAffine, LowerAffineVjp>(patterns.getContext(), blocking);
}
