//===- NtpToLoops.cpp - Lower jet ops to vectorized loops -----------------===//
//
// Samples of a tile are the innermost dimension of every jet buffer, so one
// order of one neuron for a whole tile is one vector: all arithmetic here is
// on vectors across samples, and there is no cross-sample dependence.
//
// This file: the seeds, stores, combines and their reverse-mode ops, and the
// pass. The affine layers are in AffineToLoops.cpp, the typed layers in
// LayerOpsToLoops.cpp, the multi-direction ops in RaysToLoops.cpp.
//
//===----------------------------------------------------------------------===//

#include "LoopUtils.h"

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
using namespace ntp::loops;

namespace {

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
      finishGradLanes(b, loc, adaptor.getGrad(), i, zero, lanes);
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
    AffineBlocking blocking;
    blocking.outputs = affineOutputs;
    blocking.orders = affineOrders;
    SmallVector<int64_t> facts(machineFacts.begin(), machineFacts.end());
    if (!parseMachineFacts(facts.data(), facts.size(), blocking.machine)) {
      getOperation()->emitError(kMachineFactsUsage)
          << ", got " << machineFacts.size();
      return signalPassFailure();
    }
    if (rayRows < 0 || rayRows > 8 || rayNeurons < 0 || rayNeurons > 8 ||
        (rayRows == 0) != (rayNeurons == 0)) {
      getOperation()->emitError("ray-rows and ray-neurons must both be in "
                                "1..8, or both 0 (chosen), got ")
          << static_cast<int64_t>(rayRows) << " and "
          << static_cast<int64_t>(rayNeurons);
      return signalPassFailure();
    }
    blocking.rays = {rayRows, rayNeurons};
    if (gradOutputs < 0 || gradOutputs > 8 || gradInputs < 0 ||
        gradInputs > 8 || (gradOutputs == 0) != (gradInputs == 0)) {
      getOperation()->emitError("grad-outputs and grad-inputs must both be "
                                "in 1..8, or both 0 (chosen), got ")
          << static_cast<int64_t>(gradOutputs) << " and "
          << static_cast<int64_t>(gradInputs);
      return signalPassFailure();
    }
    blocking.gradient = {gradOutputs, gradInputs};
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
  populateAffineToLoopsPatterns(patterns, blocking);
  populateLayerOpsToLoopsPatterns(patterns);
  populateRaysToLoopsConversionPatterns(patterns, blocking);
  populateGateRaysToLoopsPatterns(patterns);
  populateGateRaysVjpToLoopsPatterns(patterns);
  populateRayVjpToLoopsConversionPatterns(patterns);
  populatePolyToLoopsConversionPatterns(patterns);
}
