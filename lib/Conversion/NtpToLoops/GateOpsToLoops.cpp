//===- GateOpsToLoops.cpp - Lower the modified MLP's gate to loops --------===//
//
// ntp.gate_jets (out = u + z (v - u) on jets) and ntp.gate_jets_vjp (issue
// 14, the gated layer). Both are elementwise in the neurons: one loop over
// the neurons with independent iterations (ntp.neuron_loop, which the GPU
// lanes mapping spreads over a warp), and in it the Leibniz sums over the
// orders on lane vectors (one order of one neuron for a whole tile), with the
// binomial coefficients as exact constants.
//
//===----------------------------------------------------------------------===//

#include "LoopUtils.h"

#include "ntp/Conversion/NtpToLoops/NtpToLoops.h"
#include "ntp/Dialect/Ntp/IR/JetBuffer.h"
#include "ntp/Dialect/Ntp/IR/NtpDialect.h"
#include "ntp/Dialect/Ntp/IR/NtpOps.h"
#include "ntp/Support/Combinatorics.h"

#include "mlir/IR/Builders.h"
#include "mlir/Transforms/DialectConversion.h"

using namespace mlir;
using namespace ntp;
using namespace ntp::loops;

namespace {

Value constantIndex(OpBuilder &b, Location loc, int64_t v) {
  return arith::ConstantIndexOp::create(b, loc, v);
}

/// Orders 0..live-1 of neuron j of `buffer`, one lane vector each.
SmallVector<Value> loadOrders(OpBuilder &b, Location loc, Value buffer,
                              VectorType type, int64_t live, Value j) {
  Value zero = constantIndex(b, loc, 0);
  SmallVector<Value> orders;
  for (int64_t k = 0; k < live; ++k)
    orders.push_back(vector::LoadOp::create(
        b, loc, type, buffer,
        JetBufferShape::indices(constantIndex(b, loc, k), j, zero)));
  return orders;
}

void storeOrders(OpBuilder &b, Location loc, ArrayRef<Value> orders,
                 Value buffer, Value j) {
  Value zero = constantIndex(b, loc, 0);
  for (auto [k, value] : llvm::enumerate(orders))
    vector::StoreOp::create(
        b, loc, value, buffer,
        JetBufferShape::indices(constantIndex(b, loc, k), j, zero));
}

/// acc + C(n, k) x y (the coefficient is left out when it is 1; without
/// acc, the product alone).
Value binomialFma(OpBuilder &b, Location loc, VectorType type, int64_t n,
                  int64_t k, Value x, Value y, Value acc) {
  int64_t c = binomial(n, k);
  if (c != 1)
    x = arith::MulFOp::create(b, loc, splat(b, loc, type, double(c)), x);
  if (!acc)
    return arith::MulFOp::create(b, loc, x, y);
  return math::FmaOp::create(b, loc, x, y, acc);
}

struct LowerGateJets : public OpConversionPattern<GateJetsOp> {
  using OpConversionPattern::OpConversionPattern;

  LogicalResult
  matchAndRewrite(GateJetsOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    JetBufferShape shape = JetBufferShape::of(op.getU().getType());
    VectorType type = shape.laneVectorType();
    int64_t live = op.getLiveOrders();
    emitNeuronLoop(rewriter, loc, shape.neurons(), /*independent=*/true,
                   [&](OpBuilder &b, Location loc, Value j) {
                     SmallVector<Value> u =
                         loadOrders(b, loc, adaptor.getU(), type, live, j);
                     SmallVector<Value> v =
                         loadOrders(b, loc, adaptor.getV(), type, live, j);
                     SmallVector<Value> z =
                         loadOrders(b, loc, adaptor.getZ(), type, live, j);
                     SmallVector<Value> w, out;
                     for (int64_t k = 0; k < live; ++k)
                       w.push_back(arith::SubFOp::create(b, loc, v[k], u[k]));
                     // out[k] = u[k] + sum_i C(k, i) z[i] w[k - i].
                     for (int64_t k = 0; k < live; ++k) {
                       Value acc = u[k];
                       for (int64_t i = 0; i <= k; ++i)
                         acc = binomialFma(b, loc, type, k, i, z[i], w[k - i],
                                           acc);
                       out.push_back(acc);
                     }
                     storeOrders(b, loc, out, adaptor.getOutput(), j);
                   });
    rewriter.eraseOp(op);
    return success();
  }
};

struct LowerGateJetsVjp : public OpConversionPattern<GateJetsVjpOp> {
  using OpConversionPattern::OpConversionPattern;

  LogicalResult
  matchAndRewrite(GateJetsVjpOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    JetBufferShape shape = JetBufferShape::of(op.getU().getType());
    VectorType type = shape.laneVectorType();
    int64_t live = op.getLiveOrders();
    bool accumulate = op.getAccumulate();
    emitNeuronLoop(
        rewriter, loc, shape.neurons(), /*independent=*/true,
        [&](OpBuilder &b, Location loc, Value j) {
          SmallVector<Value> u =
              loadOrders(b, loc, adaptor.getU(), type, live, j);
          SmallVector<Value> v =
              loadOrders(b, loc, adaptor.getV(), type, live, j);
          SmallVector<Value> z =
              loadOrders(b, loc, adaptor.getZ(), type, live, j);
          SmallVector<Value> bar =
              loadOrders(b, loc, adaptor.getOutCotangent(), type, live, j);
          SmallVector<Value> w;
          for (int64_t k = 0; k < live; ++k)
            w.push_back(arith::SubFOp::create(b, loc, v[k], u[k]));
          // zbar[i] = sum_{k >= i} C(k, i) w[k - i] bar[k], and wbar
          // likewise with z.
          SmallVector<Value> zBar, wBar;
          for (int64_t i = 0; i < live; ++i) {
            Value zAcc, wAcc;
            for (int64_t k = i; k < live; ++k) {
              zAcc = binomialFma(b, loc, type, k, i, w[k - i], bar[k], zAcc);
              wAcc = binomialFma(b, loc, type, k, i, z[k - i], bar[k], wAcc);
            }
            zBar.push_back(zAcc);
            wBar.push_back(wAcc);
          }
          SmallVector<Value> uBar, vBar = wBar;
          for (int64_t k = 0; k < live; ++k)
            uBar.push_back(arith::SubFOp::create(b, loc, bar[k], wBar[k]));
          if (accumulate) {
            SmallVector<Value> uOld =
                loadOrders(b, loc, adaptor.getUCotangent(), type, live, j);
            SmallVector<Value> vOld =
                loadOrders(b, loc, adaptor.getVCotangent(), type, live, j);
            for (int64_t k = 0; k < live; ++k) {
              uBar[k] = arith::AddFOp::create(b, loc, uOld[k], uBar[k]);
              vBar[k] = arith::AddFOp::create(b, loc, vOld[k], vBar[k]);
            }
          }
          storeOrders(b, loc, uBar, adaptor.getUCotangent(), j);
          storeOrders(b, loc, vBar, adaptor.getVCotangent(), j);
          storeOrders(b, loc, zBar, adaptor.getZCotangent(), j);
        });
    rewriter.eraseOp(op);
    return success();
  }
};

} // namespace

void ntp::populateGateOpsToLoopsPatterns(RewritePatternSet &patterns) {
  patterns.add<LowerGateJets, LowerGateJetsVjp>(patterns.getContext());
}
