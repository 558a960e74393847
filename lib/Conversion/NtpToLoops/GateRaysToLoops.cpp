//===- GateRaysToLoops.cpp - The modified MLP's gate on the ray layout ----===//
//
// ntp.gate_rays (out = u + z (v - u) on a multi-direction jet buffer, see
// ntp/Dialect/Ntp/IR/RayLayout.h): one loop over the neurons with
// independent iterations (ntp.neuron_loop, which the GPU lanes mapping
// spreads over a warp); in it order 0 once, then each group of rays as a
// runtime loop (code size does not grow with the rays) computing the Leibniz
// sums of the ray's orders on lane vectors, sharing z0 and d0 = v0 - u0; the
// collapsed row from the operands' collapsed rows and the rays' orders
// 1..N-1 (carried as loop accumulators, one per term of the sum).
//
//===----------------------------------------------------------------------===//

#include "LoopUtils.h"

#include "ntp/Conversion/NtpToLoops/NtpToLoops.h"
#include "ntp/Dialect/Ntp/IR/JetBuffer.h"
#include "ntp/Dialect/Ntp/IR/NtpDialect.h"
#include "ntp/Dialect/Ntp/IR/NtpOps.h"
#include "ntp/Dialect/Ntp/IR/RayLayout.h"
#include "ntp/Support/Combinatorics.h"

#include "mlir/IR/Builders.h"
#include "mlir/Transforms/DialectConversion.h"

using namespace mlir;
using namespace ntp;
using namespace ntp::loops;

namespace {

struct LowerGateRays : public OpConversionPattern<GateRaysOp> {
  using OpConversionPattern::OpConversionPattern;

  LogicalResult
  matchAndRewrite(GateRaysOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    JetBufferShape shape = JetBufferShape::of(op.getU().getType());
    VectorType type = shape.laneVectorType();
    RayLayout layout = RayLayout::of(op);
    int64_t n = layout.collapsedOrder;
    Value u = adaptor.getU(), v = adaptor.getV(), z = adaptor.getZ(),
          output = adaptor.getOutput();
    emitNeuronLoop(
        rewriter, loc, shape.neurons(), /*independent=*/true,
        [&](OpBuilder &b, Location loc, Value j) {
          Value lane = indexConstant(b, loc, 0);
          auto load = [&](OpBuilder &b, Value buffer, Value row) -> Value {
            return vector::LoadOp::create(
                b, loc, type, buffer, JetBufferShape::indices(row, j, lane));
          };
          auto store = [&](OpBuilder &b, Value value, Value row) {
            vector::StoreOp::create(b, loc, value, output,
                                    JetBufferShape::indices(row, j, lane));
          };
          Value row0 = indexConstant(b, loc, 0);
          Value u0 = load(b, u, row0), z0 = load(b, z, row0);
          Value d0 = arith::SubFOp::create(b, loc, load(b, v, row0), u0);
          store(b, math::FmaOp::create(b, loc, z0, d0, u0), row0);
          // The collapsed row's terms of order 0 in Z or D:
          // S_U + Z0 (S_V - S_U) + S_Z D0.
          Value sum, collapsedRow;
          if (n > 0) {
            collapsedRow = indexConstant(b, loc, layout.collapsedRow);
            Value su = load(b, u, collapsedRow);
            Value sd =
                arith::SubFOp::create(b, loc, load(b, v, collapsedRow), su);
            sum = math::FmaOp::create(b, loc, z0, sd, su);
            sum =
                math::FmaOp::create(b, loc, load(b, z, collapsedRow), d0, sum);
          }
          for (const RayLayout::Group &g : layout.groups) {
            // A weighted ray adds w C(N, t) Z_t D_{N-t}, t = 1..N-1: one
            // accumulator per t, scaled once after the loop.
            int64_t terms = g.weight != 0 && n > 0 ? n - 1 : 0;
            SmallVector<Value> init(terms, splat(b, loc, type, 0.0));
            auto loop = scf::ForOp::create(
                b, loc, indexConstant(b, loc, 0),
                indexConstant(b, loc, g.count), indexConstant(b, loc, 1), init,
                [&](OpBuilder &b, Location loc, Value r, ValueRange acc) {
                  // Row of order k of ray r: base + k.
                  Value base = rowIndex(b, loc, g.base - 1, r, g.order);
                  SmallVector<Value> zs = {z0}, ds = {d0}, us = {u0};
                  SmallVector<Value> rows = {Value()};
                  for (int64_t k = 1; k <= g.order; ++k) {
                    Value row = rowIndex(b, loc, k, base, 1);
                    rows.push_back(row);
                    us.push_back(load(b, u, row));
                    zs.push_back(load(b, z, row));
                    ds.push_back(
                        arith::SubFOp::create(b, loc, load(b, v, row), us[k]));
                  }
                  // out_k = u_k + sum_i C(k, i) z_i d_{k-i} (the coefficient
                  // multiplies z_i where it is not 1).
                  for (int64_t k = 1; k <= g.order; ++k) {
                    Value out = us[k];
                    for (int64_t i = 0; i <= k; ++i) {
                      Value zi = zs[i];
                      if (int64_t c = binomial(k, i); c != 1)
                        zi = arith::MulFOp::create(
                            b, loc, splat(b, loc, type, double(c)), zi);
                      out = math::FmaOp::create(b, loc, zi, ds[k - i], out);
                    }
                    store(b, out, rows[k]);
                  }
                  SmallVector<Value> next;
                  for (int64_t t = 1; t <= terms; ++t)
                    next.push_back(math::FmaOp::create(b, loc, zs[t], ds[n - t],
                                                       acc[t - 1]));
                  scf::YieldOp::create(b, loc, next);
                });
            for (int64_t t = 1; t <= terms; ++t)
              sum = math::FmaOp::create(
                  b, loc,
                  splat(b, loc, type, g.weight * double(binomial(n, t))),
                  loop.getResult(t - 1), sum);
          }
          if (n > 0)
            store(b, sum, collapsedRow);
        });
    rewriter.eraseOp(op);
    return success();
  }
};

} // namespace

void ntp::populateGateRaysToLoopsPatterns(RewritePatternSet &patterns) {
  patterns.add<LowerGateRays>(patterns.getContext());
}
