//===- NtpToLoops.cpp - Lower jet ops to vectorized loops -----------------===//
//
// Samples of a tile are the innermost dimension of every jet buffer, so one
// order of one neuron for a whole tile is one vector: all arithmetic here is
// on vectors across samples, and there is no cross-sample dependence.
//
//===----------------------------------------------------------------------===//

#include "ntp/Conversion/NtpToLoops/NtpToLoops.h"
#include "ntp/Dialect/Ntp/IR/JetBuffer.h"
#include "ntp/Dialect/Ntp/IR/NtpOps.h"

#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/IR/Builders.h"
#include "mlir/Transforms/DialectConversion.h"

namespace ntp {
#define GEN_PASS_DEF_CONVERTNTPTOLOOPS
#include "ntp/Conversion/Passes.h.inc"
} // namespace ntp

using namespace mlir;
using namespace ntp;

namespace {

Value indexConstant(OpBuilder &b, Location loc, int64_t v) {
  return arith::ConstantIndexOp::create(b, loc, v);
}

/// Emits `for (iv = 0; iv < end; ++iv) body(iv)` with no loop-carried values.
scf::ForOp emitLoop(OpBuilder &b, Location loc, Value end,
                    function_ref<void(OpBuilder &, Location, Value)> body) {
  return scf::ForOp::create(
      b, loc, indexConstant(b, loc, 0), end, indexConstant(b, loc, 1),
      ValueRange{}, [&](OpBuilder &b, Location loc, Value iv, ValueRange) {
        body(b, loc, iv);
        scf::YieldOp::create(b, loc);
      });
}

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
/// Returns the loops over outputs.
SmallVector<scf::ForOp> emitBlockedProducts(
    OpBuilder &b, Location loc, int64_t outCount, Value count, Value params,
    Value source, ArrayRef<Value> orderIndex, VectorType vectorType,
    AffineBlocking blocking,
    function_ref<Value(OpBuilder &, Location, Value, Value)> weightIndex,
    function_ref<Value(OpBuilder &, Location, Value, int64_t)> init,
    function_ref<void(OpBuilder &, Location, Value, int64_t, Value)> store) {
  int64_t live = orderIndex.size();
  int64_t block = std::max<int64_t>(1, std::min(blocking.outputs, outCount));
  int64_t chunk = blocking.orders > 0 ? std::min(blocking.orders, live) : live;
  int64_t blocked = outCount / block * block;
  Value zero = indexConstant(b, loc, 0);
  SmallVector<scf::ForOp> loops;
  auto emitOutputs = [&](int64_t begin, int64_t end, int64_t step) {
    auto loop = scf::ForOp::create(b, loc, indexConstant(b, loc, begin),
                                   indexConstant(b, loc, end),
                                   indexConstant(b, loc, step));
    loops.push_back(loop);
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPoint(loop.getBody()->getTerminator());
    SmallVector<Value> outputs;
    for (int64_t o = 0; o < step; ++o)
      outputs.push_back(
          o == 0 ? loop.getInductionVar()
                 : Value(arith::AddIOp::create(b, loc, loop.getInductionVar(),
                                               indexConstant(b, loc, o))));
    for (int64_t k0 = 0; k0 < live; k0 += chunk) {
      int64_t k1 = std::min(live, k0 + chunk), width = k1 - k0;
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
    }
  };
  if (blocked > 0)
    emitOutputs(0, blocked, block);
  if (blocked < outCount)
    emitOutputs(blocked, outCount, 1);
  return loops;
}

/// The block of a layer with `live` orders of `vectorType` jets: as given,
/// or (outputs == 0) chosen from the machine's facts.
AffineBlocking resolve(AffineBlocking blocking, VectorType vectorType,
                       int64_t live, int64_t width) {
  if (blocking.outputs != 0)
    return blocking;
  AffineBlock block = chooseAffineBlock(
      blocking.machine, vectorType.getNumElements(),
      vectorType.getElementType().getIntOrFloatBitWidth(), live, width);
  blocking.outputs = block.outputs;
  blocking.orders = block.orders;
  return blocking;
}

/// Whether `blocking` asks for anything but the unblocked loops.
bool isBlocked(AffineBlocking blocking, int64_t live) {
  return blocking.outputs > 1 ||
         (blocking.orders > 0 && blocking.orders < live);
}

struct LowerSeed : public OpConversionPattern<SeedOp> {
  using OpConversionPattern::OpConversionPattern;

  LogicalResult
  matchAndRewrite(SeedOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    JetBufferShape shape = JetBufferShape::of(op.getJet().getType());
    int64_t orders = shape.orders(), dim = shape.neurons(),
            tile = shape.lanes();
    Value jet = adaptor.getJet();
    Value tileSize = indexConstant(rewriter, loc, tile);
    Value dimValue = indexConstant(rewriter, loc, dim);
    Value zero = indexConstant(rewriter, loc, 0);
    Value base =
        arith::MulIOp::create(rewriter, loc, adaptor.getTile(), tileSize);
    Value last = arith::SubIOp::create(rewriter, loc, adaptor.getBatch(),
                                       indexConstant(rewriter, loc, 1));
    // Order 0: the samples, gathered lane by lane (x is [batch, d]).
    emitLoop(rewriter, loc, tileSize, [&](OpBuilder &b, Location loc, Value s) {
      // Lanes past the batch repeat the last sample (never stored).
      Value sample = arith::MinSIOp::create(
          b, loc, arith::AddIOp::create(b, loc, base, s), last);
      Value row = arith::MulIOp::create(b, loc, sample, dimValue);
      emitLoop(b, loc, dimValue, [&](OpBuilder &b, Location loc, Value j) {
        Value value = memref::LoadOp::create(
            b, loc, adaptor.getX(),
            ValueRange{arith::AddIOp::create(b, loc, row, j)});
        memref::StoreOp::create(b, loc, value, jet,
                                JetBufferShape::indices(zero, j, s));
      });
    });
    // Order 1: the direction, the same for every sample.
    if (orders > 1) {
      VectorType vectorType = shape.laneVectorType();
      Value one = indexConstant(rewriter, loc, 1);
      emitLoop(
          rewriter, loc, dimValue, [&](OpBuilder &b, Location loc, Value j) {
            Value v = memref::LoadOp::create(b, loc, adaptor.getDirection(),
                                             ValueRange{j});
            Value splat = vector::BroadcastOp::create(b, loc, vectorType, v);
            vector::StoreOp::create(b, loc, splat, jet,
                                    JetBufferShape::indices(one, j, zero));
          });
    }
    rewriter.eraseOp(op);
    return success();
  }
};

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

  int64_t inWidth, outWidth, live, weights, biases;
  VectorType vectorType;
  Value zero, zeroVector, inWidthValue;
  SmallVector<Value> orderIndex; // index constants 0..live-1
};

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
    int64_t outWidth = layer.outWidth, live = layer.live,
            weights = layer.weights, biases = layer.biases;
    VectorType vectorType = layer.vectorType;
    Value zero = layer.zero, zeroVector = layer.zeroVector,
          inWidthValue = layer.inWidthValue;
    ArrayRef<Value> orderIndex = layer.orderIndex;
    Value input = adaptor.getInput(), output = adaptor.getOutput(),
          params = adaptor.getParams();
    AffineBlocking blocking =
        resolve(this->blocking, vectorType, live, outWidth);

    if (isBlocked(blocking, live)) {
      // out[k][i] = b_i [k == 0] + sum_j W[i][j] in[k][j], blocked.
      SmallVector<scf::ForOp> loops = emitBlockedProducts(
          rewriter, loc, outWidth, inWidthValue, params, input, orderIndex,
          vectorType, blocking,
          [&](OpBuilder &b, Location loc, Value i, Value j) -> Value {
            return arith::AddIOp::create(
                b, loc,
                arith::AddIOp::create(
                    b, loc, indexConstant(b, loc, weights),
                    arith::MulIOp::create(b, loc, i, inWidthValue)),
                j);
          },
          [&](OpBuilder &b, Location loc, Value i, int64_t k) -> Value {
            if (k != 0)
              return zeroVector;
            Value bias = memref::LoadOp::create(
                b, loc, params,
                ValueRange{arith::AddIOp::create(
                    b, loc, indexConstant(b, loc, biases), i)});
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
                       b, loc, params,
                       ValueRange{arith::AddIOp::create(
                           b, loc, indexConstant(b, loc, biases), i)});
                   SmallVector<Value> init(live, zeroVector);
                   init[0] =
                       vector::BroadcastOp::create(b, loc, vectorType, bias);
                   Value rowStart = arith::AddIOp::create(
                       b, loc, indexConstant(b, loc, weights),
                       arith::MulIOp::create(b, loc, i, inWidthValue));
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

struct LowerStoreJet : public OpConversionPattern<StoreJetOp> {
  using OpConversionPattern::OpConversionPattern;

  LogicalResult
  matchAndRewrite(StoreJetOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    JetBufferShape shape = JetBufferShape::of(op.getJet().getType());
    int64_t orders = shape.orders(), width = shape.neurons(),
            tile = shape.lanes();
    int64_t live = op.getLiveOrders();
    Value jet = adaptor.getJet(), out = adaptor.getOut(),
          batch = adaptor.getBatch();
    Value tileSize = indexConstant(rewriter, loc, tile);
    Value widthValue = indexConstant(rewriter, loc, width);
    Value base =
        arith::MulIOp::create(rewriter, loc, adaptor.getTile(), tileSize);
    // The last tile may be partial: store only the samples below batch.
    Value count = arith::MinSIOp::create(
        rewriter, loc, tileSize,
        arith::SubIOp::create(rewriter, loc, batch, base));
    Value zeroValue = arith::ConstantOp::create(
        rewriter, loc, rewriter.getFloatAttr(shape.elementType(), 0));
    emitLoop(rewriter, loc, count, [&](OpBuilder &b, Location loc, Value s) {
      Value sample = arith::AddIOp::create(b, loc, base, s);
      for (int64_t k = 0; k < orders; ++k) {
        // out is [(n + 1), batch, q]: row (k * batch + sample).
        Value row = arith::AddIOp::create(
            b, loc,
            arith::MulIOp::create(b, loc, indexConstant(b, loc, k), batch),
            sample);
        Value rowStart = arith::MulIOp::create(b, loc, row, widthValue);
        Value kIndex = indexConstant(b, loc, k);
        emitLoop(b, loc, widthValue, [&](OpBuilder &b, Location loc, Value j) {
          Value value =
              k < live
                  ? Value(memref::LoadOp::create(
                        b, loc, jet, JetBufferShape::indices(kIndex, j, s)))
                  : zeroValue;
          memref::StoreOp::create(
              b, loc, value, out,
              ValueRange{arith::AddIOp::create(b, loc, rowStart, j)});
        });
      }
    });
    rewriter.eraseOp(op);
    return success();
  }
};

/// out[p][j][:] = sum_c w[p][c] rays[c][j][:]: unrolled over the requests
/// and their nonzero weights (the interpolation matrix is sparse), a loop
/// over the outputs j, one vector per (c, j) load.
struct LowerCombinePartials : public OpConversionPattern<CombinePartialsOp> {
  using OpConversionPattern::OpConversionPattern;

  LogicalResult
  matchAndRewrite(CombinePartialsOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    JetBufferShape rays = JetBufferShape::of(op.getRays().getType());
    JetBufferShape out = JetBufferShape::of(op.getOutput().getType());
    int64_t columns = rays.orders(), requests = out.orders();
    VectorType vectorType = rays.laneVectorType();
    ArrayRef<double> weights = op.getWeights();
    Value zero = indexConstant(rewriter, loc, 0);
    emitLoop(
        rewriter, loc, indexConstant(rewriter, loc, rays.neurons()),
        [&](OpBuilder &b, Location loc, Value j) {
          for (int64_t p = 0; p < requests; ++p) {
            Value acc;
            for (int64_t c = 0; c < columns; ++c) {
              double w = weights[p * columns + c];
              if (w == 0)
                continue;
              Value y = vector::LoadOp::create(
                  b, loc, vectorType, adaptor.getRays(),
                  JetBufferShape::indices(indexConstant(b, loc, c), j, zero));
              if (w != 1) {
                Value wv = arith::ConstantOp::create(
                    b, loc,
                    DenseElementsAttr::get(
                        vectorType, b.getFloatAttr(rays.elementType(), w)));
                y = acc ? Value(math::FmaOp::create(b, loc, wv, y, acc))
                        : Value(arith::MulFOp::create(b, loc, wv, y));
              } else if (acc) {
                y = arith::AddFOp::create(b, loc, acc, y);
              }
              acc = y;
            }
            if (!acc)
              acc = arith::ConstantOp::create(
                  b, loc,
                  DenseElementsAttr::get(
                      vectorType, b.getFloatAttr(rays.elementType(), 0)));
            vector::StoreOp::create(
                b, loc, acc, adaptor.getOutput(),
                JetBufferShape::indices(indexConstant(b, loc, p), j, zero));
          }
        });
    rewriter.eraseOp(op);
    return success();
  }
};

//===----------------------------------------------------------------------===//
// Reverse mode
//===----------------------------------------------------------------------===//

struct LowerLoadCotangent : public OpConversionPattern<LoadCotangentOp> {
  using OpConversionPattern::OpConversionPattern;

  LogicalResult
  matchAndRewrite(LoadCotangentOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    JetBufferShape shape = JetBufferShape::of(op.getJet().getType());
    int64_t orders = shape.orders(), width = shape.neurons(),
            tile = shape.lanes();
    Value batch = adaptor.getBatch();
    Value tileSize = indexConstant(rewriter, loc, tile);
    Value widthValue = indexConstant(rewriter, loc, width);
    Value base =
        arith::MulIOp::create(rewriter, loc, adaptor.getTile(), tileSize);
    Value last = arith::SubIOp::create(rewriter, loc, batch,
                                       indexConstant(rewriter, loc, 1));
    Value zeroValue = arith::ConstantOp::create(
        rewriter, loc, rewriter.getFloatAttr(shape.elementType(), 0));
    emitLoop(rewriter, loc, tileSize, [&](OpBuilder &b, Location loc, Value s) {
      // Padding lanes get a zero cotangent: they add nothing to gradients.
      Value sample = arith::AddIOp::create(b, loc, base, s);
      Value valid = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt,
                                          sample, batch);
      Value clamped = arith::MinSIOp::create(b, loc, sample, last);
      for (int64_t k = 0; k < orders; ++k) {
        Value row = arith::AddIOp::create(
            b, loc,
            arith::MulIOp::create(b, loc, indexConstant(b, loc, k), batch),
            clamped);
        Value rowStart = arith::MulIOp::create(b, loc, row, widthValue);
        Value kIndex = indexConstant(b, loc, k);
        emitLoop(b, loc, widthValue, [&](OpBuilder &b, Location loc, Value j) {
          Value c = memref::LoadOp::create(
              b, loc, adaptor.getCotangent(),
              ValueRange{arith::AddIOp::create(b, loc, rowStart, j)});
          Value value = arith::SelectOp::create(b, loc, valid, c, zeroValue);
          memref::StoreOp::create(b, loc, value, adaptor.getJet(),
                                  JetBufferShape::indices(kIndex, j, s));
        });
      }
    });
    rewriter.eraseOp(op);
    return success();
  }
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
    int64_t outWidth = layer.outWidth, live = layer.live,
            weights = layer.weights, biases = layer.biases;
    VectorType vectorType = layer.vectorType;
    Value zero = layer.zero, zeroVector = layer.zeroVector,
          inWidthValue = layer.inWidthValue;
    ArrayRef<Value> orderIndex = layer.orderIndex;
    Value input = adaptor.getInput(), outBar = adaptor.getOutCotangent(),
          params = adaptor.getParams(), grad = adaptor.getGrad();
    // One choice for the input cotangent's outputs (the input neurons).
    AffineBlocking blocking =
        resolve(this->blocking, vectorType, live, layer.inWidth);
    Value outWidthValue = indexConstant(rewriter, loc, outWidth);
    // Lane-wise grad [P, tile]: one vector add per weight and tile. Flat
    // grad [P]: a horizontal reduction per weight and tile.
    bool laneWise = cast<MemRefType>(grad.getType()).getRank() == 2;
    auto addToGrad = [&](OpBuilder &b, Location loc, Value index, Value lanes) {
      if (laneWise) {
        Value old = vector::LoadOp::create(b, loc, vectorType, grad,
                                           ValueRange{index, zero});
        vector::StoreOp::create(b, loc,
                                arith::AddFOp::create(b, loc, old, lanes), grad,
                                ValueRange{index, zero});
        return;
      }
      Value sum = vector::ReductionOp::create(
          b, loc, vector::CombiningKind::ADD, lanes);
      Value old = memref::LoadOp::create(b, loc, grad, ValueRange{index});
      memref::StoreOp::create(b, loc, arith::AddFOp::create(b, loc, old, sum),
                              grad, ValueRange{index});
    };

    // Parameter gradient: the cotangent of output neuron i (all live orders,
    // kept in registers) against every input neuron j. Both loops over
    // neurons have independent iterations (ntp.neuron_loop: the GPU lanes
    // mapping spreads them over a warp).
    scf::ForOp gradLoop = emitLoop(
        rewriter, loc, outWidthValue, [&](OpBuilder &b, Location loc, Value i) {
          SmallVector<Value> bar;
          for (int64_t k = 0; k < live; ++k)
            bar.push_back(vector::LoadOp::create(
                b, loc, vectorType, outBar,
                JetBufferShape::indices(orderIndex[k], i, zero)));
          addToGrad(
              b, loc,
              arith::AddIOp::create(b, loc, indexConstant(b, loc, biases), i),
              bar[0]);
          Value rowStart = arith::AddIOp::create(
              b, loc, indexConstant(b, loc, weights),
              arith::MulIOp::create(b, loc, i, inWidthValue));
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
              // Lane-wise: accumulate straight onto the stored lanes.
              lanes.push_back(laneWise ? Value(vector::LoadOp::create(
                                             b, loc, vectorType, grad,
                                             ValueRange{index.back(), zero}))
                                       : zeroVector);
            }
            for (int64_t k = 0; k < live; ++k)
              for (int64_t u = 0; u < step; ++u) {
                Value y = vector::LoadOp::create(
                    b, loc, vectorType, input,
                    JetBufferShape::indices(orderIndex[k], js[u], zero));
                lanes[u] = math::FmaOp::create(b, loc, bar[k], y, lanes[u]);
              }
            for (int64_t u = 0; u < step; ++u) {
              if (laneWise)
                vector::StoreOp::create(b, loc, lanes[u], grad,
                                        ValueRange{index[u], zero});
              else
                addToGrad(b, loc, index[u], lanes[u]);
            }
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

    gradLoop->setAttr(kNeuronLoopAttrName, rewriter.getUnitAttr());
    // Input cotangent: inbar_k[j] = sum_i W[i][j] outbar_k[i].
    Value inBar = adaptor.getInCotangent();
    if (inBar && isBlocked(blocking, live)) {
      SmallVector<scf::ForOp> loops = emitBlockedProducts(
          rewriter, loc, layer.inWidth, outWidthValue, params, outBar,
          orderIndex, vectorType, blocking,
          [&](OpBuilder &b, Location loc, Value j, Value i) -> Value {
            return arith::AddIOp::create(
                b, loc,
                arith::AddIOp::create(
                    b, loc, indexConstant(b, loc, weights),
                    arith::MulIOp::create(b, loc, i, inWidthValue)),
                j);
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
      scf::ForOp inLoop = emitLoop(
          rewriter, loc, inWidthValue,
          [&](OpBuilder &b, Location loc, Value j) {
            SmallVector<Value> init(live, zeroVector);
            // Column j of W: params[weights + i * inWidth + j] over i.
            SmallVector<Value> sums = emitOrderwiseProduct(
                b, loc, outWidthValue, params, outBar, orderIndex, init,
                [&](OpBuilder &b, Value i) -> Value {
                  return arith::AddIOp::create(
                      b, loc,
                      arith::AddIOp::create(
                          b, loc, indexConstant(b, loc, weights),
                          arith::MulIOp::create(b, loc, i, inWidthValue)),
                      j);
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

struct LowerReduceLanes : public OpConversionPattern<ReduceLanesOp> {
  using OpConversionPattern::OpConversionPattern;

  LogicalResult
  matchAndRewrite(ReduceLanesOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    MemRefType lanesType = op.getLanes().getType();
    auto vectorType =
        VectorType::get({lanesType.getDimSize(1)}, lanesType.getElementType());
    Value count = memref::DimOp::create(rewriter, loc, adaptor.getLanes(), 0);
    Value zero = indexConstant(rewriter, loc, 0);
    emitLoop(rewriter, loc, count, [&](OpBuilder &b, Location loc, Value i) {
      Value lanes = vector::LoadOp::create(
          b, loc, vectorType, adaptor.getLanes(), ValueRange{i, zero});
      Value sum = vector::ReductionOp::create(
          b, loc, vector::CombiningKind::ADD, lanes);
      Value old =
          memref::LoadOp::create(b, loc, adaptor.getGrad(), ValueRange{i});
      memref::StoreOp::create(b, loc, arith::AddFOp::create(b, loc, old, sum),
                              adaptor.getGrad(), ValueRange{i});
    });
    rewriter.eraseOp(op);
    return success();
  }
};

struct LowerSeedVjp : public OpConversionPattern<SeedVjpOp> {
  using OpConversionPattern::OpConversionPattern;

  LogicalResult
  matchAndRewrite(SeedVjpOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    JetBufferShape shape = JetBufferShape::of(op.getJetCotangent().getType());
    int64_t dim = shape.neurons(), tile = shape.lanes();
    Value tileSize = indexConstant(rewriter, loc, tile);
    Value dimValue = indexConstant(rewriter, loc, dim);
    Value zero = indexConstant(rewriter, loc, 0);
    Value base =
        arith::MulIOp::create(rewriter, loc, adaptor.getTile(), tileSize);
    Value count = arith::MinSIOp::create(
        rewriter, loc, tileSize,
        arith::SubIOp::create(rewriter, loc, adaptor.getBatch(), base));
    emitLoop(rewriter, loc, count, [&](OpBuilder &b, Location loc, Value s) {
      Value row = arith::MulIOp::create(
          b, loc, arith::AddIOp::create(b, loc, base, s), dimValue);
      emitLoop(b, loc, dimValue, [&](OpBuilder &b, Location loc, Value j) {
        Value value =
            memref::LoadOp::create(b, loc, adaptor.getJetCotangent(),
                                   JetBufferShape::indices(zero, j, s));
        memref::StoreOp::create(
            b, loc, value, adaptor.getXGrad(),
            ValueRange{arith::AddIOp::create(b, loc, row, j)});
      });
    });
    rewriter.eraseOp(op);
    return success();
  }
};

struct ConvertNtpToLoopsPass
    : public ntp::impl::ConvertNtpToLoopsBase<ConvertNtpToLoopsPass> {
  using ConvertNtpToLoopsBase::ConvertNtpToLoopsBase;
  void runOnOperation() override {
    MLIRContext *context = &getContext();
    ConversionTarget target(*context);
    // Every ntp op must be gone afterwards: an unexpanded ntp.activate is a
    // pipeline-order error, reported rather than silently kept.
    target.addIllegalDialect<NtpDialect>();
    target.addLegalDialect<arith::ArithDialect, math::MathDialect,
                           memref::MemRefDialect, scf::SCFDialect,
                           vector::VectorDialect>();
    target.markUnknownOpDynamicallyLegal([](Operation *op) {
      return !isa_and_nonnull<NtpDialect>(op->getDialect());
    });
    if (affineOutputs < 0 || affineOrders < 0) {
      getOperation()->emitError("affine-outputs and affine-orders must not "
                                "be negative, got ")
          << static_cast<int64_t>(affineOutputs) << " and "
          << static_cast<int64_t>(affineOrders);
      return signalPassFailure();
    }
    RewritePatternSet patterns(context);
    AffineBlocking blocking{affineOutputs, affineOrders, {}};
    SmallVector<int64_t> facts(machineFacts.begin(), machineFacts.end());
    if (!parseMachineFacts(facts.data(), facts.size(), blocking.machine)) {
      getOperation()->emitError("machine-facts takes 5 numbers (vector bits, "
                                "vector registers, FMA latency, FMA pipes, "
                                "load ports), got ")
          << machineFacts.size();
      return signalPassFailure();
    }
    populateNtpToLoopsConversionPatterns(patterns, blocking);
    if (failed(applyPartialConversion(getOperation(), target,
                                      std::move(patterns))))
      signalPassFailure();
  }
};

} // namespace

void ntp::populateNtpToLoopsConversionPatterns(RewritePatternSet &patterns,
                                               AffineBlocking blocking) {
  patterns.add<LowerSeed, LowerStoreJet, LowerCombinePartials,
               LowerLoadCotangent, LowerReduceLanes, LowerSeedVjp>(
      patterns.getContext());
  patterns.add<LowerAffine, LowerAffineVjp>(patterns.getContext(), blocking);
  populateLayerOpsToLoopsPatterns(patterns);
  populateRaysToLoopsConversionPatterns(patterns);
}
