//===- GateRaysVjpToLoops.cpp - Reverse of the gate on the ray layout -----===//
//
// ntp.gate_rays_vjp (the cotangents of U, V and Z of an ntp.gate_rays, see
// its description in NtpOps.td) shaped like the forward's lowering
// (GateRaysToLoops.cpp): one loop over the neurons with independent
// iterations (ntp.neuron_loop, which the GPU lanes mapping spreads over a
// warp); in it row 0's and the collapsed row's loads once, then each group
// of rays as a runtime loop computing the transposed Leibniz sums of the
// ray's orders on lane vectors. Row 0's cotangents receive a term from every
// order of every ray: they are the loop's carried values, stored after the
// last group. A weighted group's collapsed terms w C(N, j) Sbar are
// multiplied once per group, outside its loop.
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

struct LowerGateRaysVjp : public OpConversionPattern<GateRaysVjpOp> {
  using OpConversionPattern::OpConversionPattern;

  LogicalResult
  matchAndRewrite(GateRaysVjpOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    JetBufferShape shape = JetBufferShape::of(op.getU().getType());
    VectorType type = shape.laneVectorType();
    RayLayout layout = RayLayout::of(op);
    int64_t n = layout.collapsedOrder;
    bool accumulate = op.getAccumulate();
    Value u = adaptor.getU(), v = adaptor.getV(), z = adaptor.getZ(),
          outBar = adaptor.getOutCotangent(), uBar = adaptor.getUCotangent(),
          vBar = adaptor.getVCotangent(), zBar = adaptor.getZCotangent();
    emitNeuronLoop(
        rewriter, loc, shape.neurons(), /*independent=*/true,
        [&](OpBuilder &b, Location loc, Value j) {
          Value lane = indexConstant(b, loc, 0);
          auto load = [&](OpBuilder &b, Value buffer, Value row) -> Value {
            return vector::LoadOp::create(
                b, loc, type, buffer, JetBufferShape::indices(row, j, lane));
          };
          auto store = [&](OpBuilder &b, Value buffer, Value value, Value row) {
            vector::StoreOp::create(b, loc, value, buffer,
                                    JetBufferShape::indices(row, j, lane));
          };
          // A row's cotangents from Obar and Dbar: Zbar, then Ubar = Obar -
          // Dbar and Vbar = Dbar (added to with `accumulate`).
          auto storeRow = [&](OpBuilder &b, Value row, Value ob, Value zb,
                              Value db) {
            store(b, zBar, zb, row);
            Value ub = arith::SubFOp::create(b, loc, ob, db), vb = db;
            if (accumulate) {
              ub = arith::AddFOp::create(b, loc, load(b, uBar, row), ub);
              vb = arith::AddFOp::create(b, loc, load(b, vBar, row), vb);
            }
            store(b, uBar, ub, row);
            store(b, vBar, vb, row);
          };
          Value row0 = indexConstant(b, loc, 0);
          Value u0 = load(b, u, row0), z0 = load(b, z, row0),
                ob0 = load(b, outBar, row0);
          Value d0 = arith::SubFOp::create(b, loc, load(b, v, row0), u0);
          Value zb0 = arith::MulFOp::create(b, loc, d0, ob0);
          Value db0 = arith::MulFOp::create(b, loc, z0, ob0);
          // The collapsed row: S = S_U + Z0 S_D + S_Z D0 + (rays' terms).
          Value sBar, collapsedRow;
          if (n > 0) {
            collapsedRow = indexConstant(b, loc, layout.collapsedRow);
            sBar = load(b, outBar, collapsedRow);
            Value su = load(b, u, collapsedRow);
            Value sd =
                arith::SubFOp::create(b, loc, load(b, v, collapsedRow), su);
            zb0 = math::FmaOp::create(b, loc, sd, sBar, zb0);
            db0 = math::FmaOp::create(b, loc, load(b, z, collapsedRow), sBar,
                                      db0);
          }
          for (const RayLayout::Group &g : layout.groups) {
            // A weighted ray's collapsed terms read its orders 1..N-1:
            // w C(N, t) Sbar for t = 1..N-1, once per group.
            bool weighted = g.weight != 0 && n > 0;
            SmallVector<Value> collapsedScale(n, Value());
            if (weighted)
              for (int64_t t = 1; t < n; ++t)
                collapsedScale[t] = arith::MulFOp::create(
                    b, loc,
                    splat(b, loc, type, g.weight * double(binomial(n, t))),
                    sBar);
            auto loop = scf::ForOp::create(
                b, loc, indexConstant(b, loc, 0),
                indexConstant(b, loc, g.count), indexConstant(b, loc, 1),
                ValueRange{zb0, db0},
                [&](OpBuilder &b, Location loc, Value r, ValueRange acc) {
                  // Row of order k of ray r: base + k.
                  Value base = rowIndex(b, loc, g.base - 1, r, g.order);
                  SmallVector<Value> zs = {z0}, ds = {d0}, obs = {ob0};
                  SmallVector<Value> rows = {Value()};
                  for (int64_t k = 1; k <= g.order; ++k) {
                    Value row = rowIndex(b, loc, k, base, 1);
                    rows.push_back(row);
                    Value uk = load(b, u, row);
                    zs.push_back(load(b, z, row));
                    ds.push_back(
                        arith::SubFOp::create(b, loc, load(b, v, row), uk));
                    obs.push_back(load(b, outBar, row));
                  }
                  // Order 0's terms of every order k >= 1: C(k, 0) Z0 D_k
                  // and C(k, k) Z_k D0.
                  Value zAcc = acc[0], dAcc = acc[1];
                  for (int64_t k = 1; k <= g.order; ++k) {
                    zAcc = math::FmaOp::create(b, loc, ds[k], obs[k], zAcc);
                    dAcc = math::FmaOp::create(b, loc, zs[k], obs[k], dAcc);
                  }
                  for (int64_t jo = 1; jo <= g.order; ++jo) {
                    // sum_{k=jo..n_r} C(k, jo) (D|Z)_{k-jo} Obar_k: the
                    // coefficient multiplies Obar_k where it is not 1.
                    Value zb, db;
                    auto add = [&](Value acc, Value x, Value y) -> Value {
                      if (acc)
                        return math::FmaOp::create(b, loc, x, y, acc);
                      return arith::MulFOp::create(b, loc, x, y);
                    };
                    for (int64_t k = jo; k <= g.order; ++k) {
                      Value ob = obs[k];
                      if (int64_t c = binomial(k, jo); c != 1)
                        ob = arith::MulFOp::create(
                            b, loc, splat(b, loc, type, double(c)), ob);
                      zb = add(zb, ds[k - jo], ob);
                      db = add(db, zs[k - jo], ob);
                    }
                    if (weighted && jo < n) {
                      zb = add(zb, ds[n - jo], collapsedScale[jo]);
                      db = add(db, zs[n - jo], collapsedScale[jo]);
                    }
                    storeRow(b, rows[jo], obs[jo], zb, db);
                  }
                  scf::YieldOp::create(b, loc, ValueRange{zAcc, dAcc});
                });
            zb0 = loop.getResult(0);
            db0 = loop.getResult(1);
          }
          storeRow(b, row0, ob0, zb0, db0);
          if (n > 0)
            storeRow(b, collapsedRow, sBar,
                     arith::MulFOp::create(b, loc, d0, sBar),
                     arith::MulFOp::create(b, loc, z0, sBar));
        });
    rewriter.eraseOp(op);
    return success();
  }
};

} // namespace

void ntp::populateGateRaysVjpToLoopsPatterns(RewritePatternSet &patterns) {
  patterns.add<LowerGateRaysVjp>(patterns.getContext());
}
