//===- RaysToLoops.cpp - Lower multi-direction jet ops to loops -----------===//
//
// ntp.seed_rays, ntp.affine_rays and ntp.activate_rays (the ray layout of
// ntp/Dialect/Ntp/IR/RayLayout.h) as vector loops whose code size does not
// grow with the number of rays: every group of rays of one order is a
// runtime loop, so a 462-direction request emits a few loops per layer,
// not 462 copies of the network.
//
//  - affine: the live rows (row 0, the rays', the collapsed row) in blocks
//    of up to R rows, every output neuron in register blocks of R rows x N
//    neurons accumulators (ntp::chooseRayBlock from the CPU's facts, or the
//    ray-rows/ray-neurons options; 2 x 2 without either); each weight is
//    loaded and broadcast once per block of rows (not once per ray and
//    order), and the block's input rows stay in L1 across the output
//    neurons;
//  - activation (ActivateRaysToLoops.cpp): per neuron, the primitives of y0
//    and every node of the
//    expansion that reads no order >= 1 are evaluated once, before the loops
//    over the rays, which evaluate only the nodes that read the ray's orders.
//
//===----------------------------------------------------------------------===//

#include "RayLoopUtils.h"
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
#include "mlir/Interfaces/FunctionInterfaces.h"
#include "mlir/Transforms/DialectConversion.h"

#include <algorithm>
#include <array>
#include <optional>
#include <vector>

using namespace mlir;
using namespace ntp;
using namespace ntp::rayloops;

namespace {

struct LowerSeedRays : public OpConversionPattern<SeedRaysOp> {
  using OpConversionPattern::OpConversionPattern;

  LogicalResult
  matchAndRewrite(SeedRaysOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    JetBufferShape shape = JetBufferShape::of(op.getJet().getType());
    int64_t dim = shape.neurons(), tile = shape.lanes();
    RayLayout layout = RayLayout::of(op);
    Value jet = adaptor.getJet(), zero = index(rewriter, loc, 0);
    Value base = arith::MulIOp::create(rewriter, loc, adaptor.getTile(),
                                       index(rewriter, loc, tile));
    Value last = arith::SubIOp::create(rewriter, loc, adaptor.getBatch(),
                                       index(rewriter, loc, 1));
    // Row 0: the samples (lanes past the batch repeat the last one).
    simpleLoop(rewriter, loc, tile, [&](OpBuilder &b, Location loc, Value s) {
      Value sample = arith::MinSIOp::create(
          b, loc, arith::AddIOp::create(b, loc, base, s), last);
      Value row = arith::MulIOp::create(b, loc, sample, index(b, loc, dim));
      simpleLoop(b, loc, dim, [&](OpBuilder &b, Location loc, Value j) {
        Value v = memref::LoadOp::create(
            b, loc, adaptor.getX(),
            ValueRange{arith::AddIOp::create(b, loc, row, j)});
        memref::StoreOp::create(b, loc, v, jet,
                                JetBufferShape::indices(zero, j, s));
      });
    });
    // Order 1 of each ray: its direction, the same for every sample.
    VectorType vectorType = shape.laneVectorType();
    // Orders >= 2 and the collapsed row: zeros. The ray ops never read them
    // before an activation fills them, but the typed layers' jet ops
    // (ntp.fourier_project, ntp.scale) map every row.
    Value zeros = arith::ConstantOp::create(
        rewriter, loc,
        DenseElementsAttr::get(vectorType,
                               rewriter.getFloatAttr(shape.elementType(), 0)));
    auto zeroRow = [&](OpBuilder &b, Location loc, Value row) {
      simpleLoop(b, loc, dim, [&](OpBuilder &b, Location loc, Value j) {
        vector::StoreOp::create(b, loc, zeros, jet,
                                JetBufferShape::indices(row, j, zero));
      });
    };
    for (const RayLayout::Group &g : layout.groups)
      if (g.order >= 2)
        simpleLoop(
            rewriter, loc, g.count, [&](OpBuilder &b, Location loc, Value r) {
              simpleLoop(
                  b, loc, g.order - 1,
                  [&](OpBuilder &b, Location loc, Value k) {
                    Value row = affineIndex(b, loc, g.base + 1, r, g.order);
                    zeroRow(b, loc, arith::AddIOp::create(b, loc, row, k));
                  });
            });
    if (layout.collapsedOrder > 0)
      zeroRow(rewriter, loc, index(rewriter, loc, layout.collapsedRow));
    for (const RayLayout::Group &g : layout.groups)
      simpleLoop(
          rewriter, loc, g.count, [&](OpBuilder &b, Location loc, Value r) {
            Value row = affineIndex(b, loc, g.base, r, g.order);
            Value first = affineIndex(b, loc, g.firstRay * dim, r, dim);
            simpleLoop(b, loc, dim, [&](OpBuilder &b, Location loc, Value j) {
              Value v = memref::LoadOp::create(
                  b, loc, adaptor.getDirections(),
                  ValueRange{arith::AddIOp::create(b, loc, first, j)});
              vector::StoreOp::create(
                  b, loc, vector::BroadcastOp::create(b, loc, vectorType, v),
                  jet, JetBufferShape::indices(row, j, zero));
            });
          });
    rewriter.eraseOp(op);
    return success();
  }
};

struct LowerAffineRays : public OpConversionPattern<AffineRaysOp> {
  LowerAffineRays(MLIRContext *context, AffineBlocking blocking)
      : OpConversionPattern(context), blocking(blocking) {}

  LogicalResult
  matchAndRewrite(AffineRaysOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    JetBufferShape in = JetBufferShape::of(op.getInput().getType());
    int64_t inWidth = in.neurons();
    int64_t outWidth = JetBufferShape::of(op.getOutput().getType()).neurons();
    int64_t weights = op.getWeightOffset();
    int64_t biases = weights + outWidth * inWidth;
    int64_t live = op.getLiveOrders();
    RayLayout layout = RayLayout::of(op);
    VectorType vectorType = in.laneVectorType();
    // The register block: as asked, else from the machine's facts (2 x 2
    // without them).
    RayBlock shape = blocking.rays;
    if (shape.rows < 1 || shape.neurons < 1)
      shape = chooseRayBlock(blocking.machine, in.lanes(),
                             in.elementType().getIntOrFloatBitWidth());
    Value input = adaptor.getInput(), output = adaptor.getOutput(),
          params = adaptor.getParams();
    Value zero = index(rewriter, loc, 0);
    Value zeroVector = arith::ConstantOp::create(
        rewriter, loc,
        DenseElementsAttr::get(vectorType,
                               rewriter.getFloatAttr(in.elementType(), 0)));

    // out[rows][i] = sum_j W[i][j] in[rows][j] + init for `rows` and the
    // `neurons` consecutive output neurons from `first`: rows x neurons
    // accumulators, so each weight load (a broadcast) feeds rows FMAs and
    // each input vector load feeds neurons FMAs. With `withBias`, rows[0]
    // is row 0 and starts from the bias.
    auto product = [&](OpBuilder &b, Location loc, ArrayRef<Value> rows,
                       Value first, int64_t neurons, bool withBias) {
      SmallVector<Value> rowStarts, init;
      for (int64_t n = 0; n < neurons; ++n) {
        Value i = affineIndex(b, loc, n, first, 1);
        rowStarts.push_back(affineIndex(b, loc, weights, i, inWidth));
        for (size_t u = 0; u < rows.size(); ++u) {
          if (withBias && u == 0) {
            Value bias = memref::LoadOp::create(
                b, loc, params, ValueRange{affineIndex(b, loc, biases, i, 1)});
            init.push_back(
                vector::BroadcastOp::create(b, loc, vectorType, bias));
          } else {
            init.push_back(zeroVector);
          }
        }
      }
      auto loop = forLoop(
          b, loc, zero, index(b, loc, inWidth), init,
          [&](OpBuilder &b, Location loc, Value j, ValueRange acc) {
            SmallVector<Value> y;
            for (Value row : rows)
              y.push_back(vector::LoadOp::create(
                  b, loc, vectorType, input,
                  JetBufferShape::indices(row, j, zero)));
            SmallVector<Value> next;
            for (int64_t n = 0; n < neurons; ++n) {
              Value w = memref::LoadOp::create(
                  b, loc, params,
                  ValueRange{arith::AddIOp::create(b, loc, rowStarts[n], j)});
              Value wv = vector::BroadcastOp::create(b, loc, vectorType, w);
              for (size_t u = 0; u < rows.size(); ++u)
                next.push_back(math::FmaOp::create(b, loc, wv, y[u],
                                                   acc[n * rows.size() + u]));
            }
            return next;
          });
      for (int64_t n = 0; n < neurons; ++n)
        for (size_t u = 0; u < rows.size(); ++u)
          vector::StoreOp::create(
              b, loc, loop.getResult(n * rows.size() + u), output,
              JetBufferShape::indices(rows[u], affineIndex(b, loc, n, first, 1),
                                      zero));
    };
    // Every output neuron for one block of rows: neurons in groups of
    // shape.neurons (the block's input rows stay in L1 across them), the
    // remainder as one smaller group.
    auto allNeurons = [&](OpBuilder &b, Location loc,
                          function_ref<SmallVector<Value>(OpBuilder &)> rows,
                          bool withBias) {
      int64_t group = std::max<int64_t>(1, shape.neurons);
      int64_t groups = outWidth / group, rest = outWidth % group;
      scf::ForOp loop =
          simpleLoop(b, loc, groups, [&](OpBuilder &b, Location loc, Value g) {
            product(b, loc, rows(b), affineIndex(b, loc, 0, g, group), group,
                    withBias);
          });
      loop->setAttr(kNeuronLoopAttrName, b.getUnitAttr());
      if (rest == 0)
        return;
      // One sample per tile (the GPU kernels) or a single neuron (the top
      // layer): the remainder is a neuron loop too, which the GPU lanes
      // mapping spreads over a warp (canonicalization folds one iteration).
      if (rest == 1 || in.lanes() == 1) {
        scf::ForOp remainder =
            simpleLoop(b, loc, rest, [&](OpBuilder &b, Location loc, Value n) {
              product(b, loc, rows(b),
                      affineIndex(b, loc, groups * group, n, 1), 1, withBias);
            });
        remainder->setAttr(kNeuronLoopAttrName, b.getUnitAttr());
        return;
      }
      product(b, loc, rows(b), index(b, loc, groups * group), rest, withBias);
    };
    // `count` rows `stride` apart from `start` (an index), as one block.
    auto block = [&](OpBuilder &b, Location loc, Value start, int64_t stride,
                     int64_t count, bool withBias) {
      allNeurons(
          b, loc,
          [&](OpBuilder &b) {
            SmallVector<Value> rows;
            for (int64_t u = 0; u < count; ++u)
              rows.push_back(affineIndex(b, loc, u * stride, start, 1));
            return rows;
          },
          withBias);
    };
    // The live rows as runs of `count` rows `stride` apart: row 0, the
    // rays' rows, the collapsed row if live; consecutive runs merge, so
    // that blocks span groups (a collapsed Laplacian's rows 0..d+1 are one
    // run).
    SmallVector<std::array<int64_t, 3>> runs; // start, stride, count
    auto addRun = [&](int64_t start, int64_t stride, int64_t count) {
      if (count == 1)
        stride = 1;
      if (stride == 1 && !runs.empty() && runs.back()[1] == 1 &&
          runs.back()[0] + runs.back()[2] == start) {
        runs.back()[2] += count;
        return;
      }
      runs.push_back({start, stride, count});
    };
    // Rows nothing reads ({ntp.needed_rows}: the top layer's rows the
    // combine does not weigh) are left out; a run missing some of its rows
    // becomes its needed rows, consecutive ones merged.
    std::vector<bool> needed = neededRows(op, layout.rows);
    auto addRows = [&](int64_t start, int64_t stride, int64_t count) {
      bool all = true;
      for (int64_t c = 0; c < count; ++c)
        all = all && needed[start + c * stride];
      if (all) {
        addRun(start, stride, count);
        return;
      }
      for (int64_t c = 0; c < count; ++c)
        if (needed[start + c * stride])
          addRun(start + c * stride, 1, 1);
    };
    addRows(0, 1, 1);
    for (const RayLayout::Group &g : layout.groups) {
      int64_t orders = std::min(live - 1, g.order);
      if (orders == g.order) {
        addRows(g.base, 1, g.count * g.order);
        continue;
      }
      for (int64_t k = 1; k <= orders; ++k)
        addRows(g.base + k - 1, g.order, g.count);
    }
    if (layout.collapsedOrder > 0 && layout.collapsedOrder < live)
      addRows(layout.collapsedRow, 1, 1);
    if (runs.empty()) {
      rewriter.eraseOp(op);
      return success();
    }
    // Row 0 (the one with the bias), if written, leads the first run.
    bool rowZero = runs.front()[0] == 0;
    // Rows other than row 0 that hold the same values in every tile (an
    // input written by ntp.seed_rays: its directions and zeros, so z1's
    // tangents are W1 v for every sample): computed on the call's first
    // tile and kept as scalars, then broadcast into the later tiles, so
    // that each tile computes only row 0 (at d = 32, 33 x 64 x 32 of the
    // kernel's ~312k FMAs per sample fall to 64 x 32 stores).
    int64_t invariantRows = rowZero ? -1 : 0;
    for (const auto &run : runs)
      invariantRows += run[2];
    bool invariant = op->hasAttr(kInvariantRaysAttrName) && in.lanes() > 1 &&
                     invariantRows > 0;
    Value saved, computed;
    if (invariant) {
      // Row 0 leads the first run (addRows(0, 1, 1) above): it alone, with
      // the bias, every tile.
      if (rowZero) {
        block(rewriter, loc, zero, 1, 1, /*withBias=*/true);
        if (runs.front()[2] == 1)
          runs.erase(runs.begin());
        else
          runs.front() = {1, 1, runs.front()[2] - 1};
      }
      // The saved rows and whether this call computed them, on the stack of
      // the call (the tiles function runs once per thread).
      auto func = op->getParentOfType<FunctionOpInterface>();
      OpBuilder::InsertionGuard guard(rewriter);
      rewriter.setInsertionPointToStart(&func.getFunctionBody().front());
      saved = memref::AllocaOp::create(
          rewriter, loc,
          MemRefType::get({invariantRows, outWidth}, in.elementType()));
      computed = memref::AllocaOp::create(
          rewriter, loc, MemRefType::get({}, rewriter.getI1Type()));
      memref::StoreOp::create(
          rewriter, loc,
          arith::ConstantIntOp::create(rewriter, loc, rewriter.getI1Type(), 0),
          computed, ValueRange{});
    }
    // The saved rows in run order: `visit(builder, row, k)` for the k-th.
    auto forSavedRows =
        [&](OpBuilder &b, Location loc,
            function_ref<void(OpBuilder &, Location, Value, Value)> visit) {
          int64_t k = 0;
          for (const auto &run : runs) {
            int64_t start = run[0], stride = run[1], count = run[2];
            simpleLoop(b, loc, count, [&](OpBuilder &b, Location loc, Value c) {
              visit(b, loc, affineIndex(b, loc, start, c, stride),
                    affineIndex(b, loc, k, c, 1));
            });
            k += count;
          }
        };
    std::optional<OpBuilder::InsertionGuard> thenGuard;
    scf::IfOp first;
    if (invariant) {
      Value done = memref::LoadOp::create(rewriter, loc, computed);
      Value notDone = arith::XOrIOp::create(
          rewriter, loc, done,
          arith::ConstantIntOp::create(rewriter, loc, rewriter.getI1Type(), 1));
      first = scf::IfOp::create(rewriter, loc, notDone, /*withElse=*/false);
      thenGuard.emplace(rewriter);
      rewriter.setInsertionPoint(first.thenBlock()->getTerminator());
    }
    // Each run in blocks of at most shape.rows rows, as even as possible
    // (34 rows by 6: 4 blocks of 6 and 2 of 5, not 5 of 6 and one of 4):
    // `large` blocks of size + 1, then the others of size, each kind a
    // runtime loop. Row 0 leads the first run: its first block, with the
    // bias, is emitted before the loops.
    int64_t maxRows = std::max<int64_t>(1, shape.rows);
    for (size_t r = 0; r < runs.size(); ++r) {
      int64_t start = runs[r][0], stride = runs[r][1], count = runs[r][2];
      int64_t blocks = (count + maxRows - 1) / maxRows;
      int64_t size = count / blocks, large = count % blocks;
      if (r == 0 && !invariant && rowZero) {
        int64_t first = large > 0 ? size + 1 : size;
        block(rewriter, loc, index(rewriter, loc, start), stride, first,
              /*withBias=*/true);
        start += first * stride;
        --blocks;
        if (large > 0)
          --large;
      }
      auto loopOf = [&](int64_t n, int64_t rows, int64_t from) {
        if (n == 1) {
          block(rewriter, loc, index(rewriter, loc, from), stride, rows,
                /*withBias=*/false);
          return;
        }
        if (n > 1)
          simpleLoop(
              rewriter, loc, n, [&](OpBuilder &b, Location loc, Value c) {
                block(b, loc, affineIndex(b, loc, from, c, rows * stride),
                      stride, rows, /*withBias=*/false);
              });
      };
      loopOf(large, size + 1, start);
      loopOf(blocks - large, size, start + large * (size + 1) * stride);
    }
    if (invariant) {
      // First tile: keep lane 0 of every computed row.
      forSavedRows(
          rewriter, loc, [&](OpBuilder &b, Location loc, Value row, Value k) {
            simpleLoop(
                b, loc, outWidth, [&](OpBuilder &b, Location loc, Value i) {
                  Value v = memref::LoadOp::create(
                      b, loc, output, JetBufferShape::indices(row, i, zero));
                  memref::StoreOp::create(b, loc, v, saved, ValueRange{k, i});
                });
          });
      memref::StoreOp::create(
          rewriter, loc,
          arith::ConstantIntOp::create(rewriter, loc, rewriter.getI1Type(), 1),
          computed, ValueRange{});
      thenGuard.reset();
      rewriter.setInsertionPointAfter(first);
      // Every tile: the saved rows, broadcast over the lanes.
      forSavedRows(
          rewriter, loc, [&](OpBuilder &b, Location loc, Value row, Value k) {
            simpleLoop(
                b, loc, outWidth, [&](OpBuilder &b, Location loc, Value i) {
                  Value v =
                      memref::LoadOp::create(b, loc, saved, ValueRange{k, i});
                  vector::StoreOp::create(
                      b, loc,
                      vector::BroadcastOp::create(b, loc, vectorType, v),
                      output, JetBufferShape::indices(row, i, zero));
                });
          });
    }
    rewriter.eraseOp(op);
    return success();
  }

private:
  AffineBlocking blocking;
};

} // namespace

void ntp::populateRaysToLoopsConversionPatterns(RewritePatternSet &patterns,
                                                AffineBlocking blocking) {
  patterns.add<LowerSeedRays>(patterns.getContext());
  rayloops::populateActivateRaysToLoopsPatterns(patterns);
  patterns.add<LowerAffineRays>(patterns.getContext(), blocking);
}
