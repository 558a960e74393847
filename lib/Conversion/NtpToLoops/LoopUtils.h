//===- LoopUtils.h - What the NtpToLoops lowerings share --------*- C++ -*-===//
//
// Internal to lib/Conversion/NtpToLoops: the loop and constant helpers of the
// jet-op lowerings, how a VJP lowering adds its lanes to the parameter
// gradient, and the affine patterns (AffineToLoops.cpp) that
// populateNtpToLoopsConversionPatterns adds.
//
//===----------------------------------------------------------------------===//

#ifndef NTP_LIB_CONVERSION_NTPTOLOOPS_LOOPUTILS_H
#define NTP_LIB_CONVERSION_NTPTOLOOPS_LOOPUTILS_H

#include "ntp/Conversion/NtpToLoops/NtpToLoops.h"
#include "ntp/Dialect/Ntp/IR/NtpDialect.h"

#include "mlir/IR/Builders.h"

#include <algorithm>

namespace ntp::loops {

inline mlir::Value indexConstant(mlir::OpBuilder &b, mlir::Location loc,
                                 int64_t v) {
  return mlir::arith::ConstantIndexOp::create(b, loc, v);
}

/// A vector of `type` holding `value` in every lane.
inline mlir::Value splat(mlir::OpBuilder &b, mlir::Location loc,
                         mlir::VectorType type, double value) {
  return mlir::arith::ConstantOp::create(
      b, loc,
      mlir::DenseElementsAttr::get(
          type, b.getFloatAttr(type.getElementType(), value)));
}

/// a + s * c for index values.
inline mlir::Value rowIndex(mlir::OpBuilder &b, mlir::Location loc, int64_t a,
                            mlir::Value s, int64_t c) {
  mlir::Value scaled =
      c == 1 ? s
             : mlir::arith::MulIOp::create(b, loc, s, indexConstant(b, loc, c));
  return a == 0 ? scaled
                : mlir::arith::AddIOp::create(b, loc, scaled,
                                              indexConstant(b, loc, a));
}

/// Emits `for (iv = 0; iv < end; ++iv) body(iv)` with no loop-carried values.
inline mlir::scf::ForOp emitLoop(
    mlir::OpBuilder &b, mlir::Location loc, mlir::Value end,
    llvm::function_ref<void(mlir::OpBuilder &, mlir::Location, mlir::Value)>
        body) {
  return mlir::scf::ForOp::create(b, loc, indexConstant(b, loc, 0), end,
                                  indexConstant(b, loc, 1), mlir::ValueRange{},
                                  [&](mlir::OpBuilder &b, mlir::Location loc,
                                      mlir::Value iv, mlir::ValueRange) {
                                    body(b, loc, iv);
                                    mlir::scf::YieldOp::create(b, loc);
                                  });
}

/// `first`, `first` + 1, ..., `first` + `count` - 1 for index values.
inline llvm::SmallVector<mlir::Value> consecutiveIndices(mlir::OpBuilder &b,
                                                         mlir::Location loc,
                                                         mlir::Value first,
                                                         int64_t count) {
  llvm::SmallVector<mlir::Value> indices;
  for (int64_t u = 0; u < count; ++u)
    indices.push_back(u == 0 ? first
                             : mlir::Value(mlir::arith::AddIOp::create(
                                   b, loc, first, indexConstant(b, loc, u))));
  return indices;
}

/// The loops over [0, count) taking `step` consecutive indices per
/// iteration up to the last multiple of `step`, then one at a time (a
/// register tile and its remainder): body(indices) per iteration. Returns
/// the loops, one or two.
inline llvm::SmallVector<mlir::scf::ForOp>
emitTiledLoops(mlir::OpBuilder &b, mlir::Location loc, int64_t count,
               int64_t step,
               llvm::function_ref<void(mlir::OpBuilder &, mlir::Location,
                                       llvm::ArrayRef<mlir::Value>)>
                   body) {
  step = std::max<int64_t>(1, std::min(step, count));
  int64_t blocked = count / step * step;
  llvm::SmallVector<mlir::scf::ForOp> loops;
  auto emit = [&](int64_t begin, int64_t end, int64_t perIteration) {
    auto loop = mlir::scf::ForOp::create(b, loc, indexConstant(b, loc, begin),
                                         indexConstant(b, loc, end),
                                         indexConstant(b, loc, perIteration));
    loops.push_back(loop);
    mlir::OpBuilder::InsertionGuard guard(b);
    b.setInsertionPoint(loop.getBody()->getTerminator());
    body(b, loc,
         consecutiveIndices(b, loc, loop.getInductionVar(), perIteration));
  };
  if (blocked > 0)
    emit(0, blocked, step);
  if (blocked < count)
    emit(blocked, count, 1);
  return loops;
}

/// Emits `for (j = 0; j < width; ++j) body(j)` over the neurons of a jet
/// buffer, marked as a neuron loop (ntp.neuron_loop: the GPU lanes mapping
/// spreads it over a warp) when its iterations are independent.
inline mlir::scf::ForOp emitNeuronLoop(
    mlir::OpBuilder &b, mlir::Location loc, int64_t width, bool independent,
    llvm::function_ref<void(mlir::OpBuilder &, mlir::Location, mlir::Value)>
        body) {
  mlir::Value begin = indexConstant(b, loc, 0);
  mlir::Value end = indexConstant(b, loc, width);
  mlir::Value step = indexConstant(b, loc, 1);
  auto loop =
      mlir::scf::ForOp::create(b, loc, begin, end, step, mlir::ValueRange{},
                               [&](mlir::OpBuilder &b, mlir::Location loc,
                                   mlir::Value j, mlir::ValueRange) {
                                 body(b, loc, j);
                                 mlir::scf::YieldOp::create(b, loc);
                               });
  if (independent)
    loop->setAttr(kNeuronLoopAttrName, b.getUnitAttr());
  return loop;
}

/// Whether `grad` is lane-wise with one lane per sample of `vectorType`'s
/// tile: a tile's accumulation then starts from the stored lanes
/// (gradLanesStart) and ends by storing them (finishGradLanes).
inline bool holdsTileLanes(mlir::Value grad, mlir::VectorType vectorType) {
  auto type = mlir::cast<mlir::MemRefType>(grad.getType());
  return type.getRank() == 2 &&
         type.getDimSize(1) == vectorType.getNumElements();
}

/// Where a tile's accumulation for parameter `index` of `grad` starts: its
/// stored lanes where grad holds one lane per sample of the tile, else
/// `zeroVector` (the sum is then added by finishGradLanes).
inline mlir::Value gradLanesStart(mlir::OpBuilder &b, mlir::Location loc,
                                  mlir::Value grad, mlir::Value index,
                                  mlir::Value zero, mlir::Value zeroVector) {
  auto vectorType = mlir::cast<mlir::VectorType>(zeroVector.getType());
  if (!holdsTileLanes(grad, vectorType))
    return zeroVector;
  return mlir::vector::LoadOp::create(b, loc, vectorType, grad,
                                      mlir::ValueRange{index, zero});
}

/// Adds `lanes`, a tile's contributions to parameter `index`, to `grad`. A
/// lane-wise grad [P, L]: the tile's lanes folded to L (the sum of its
/// L-wide slices, in order; L divides the tile) and added to the stored
/// ones. A flat grad [P]: a horizontal reduction added to the entry. `zero`
/// is an index constant 0.
inline void addGradLanes(mlir::OpBuilder &b, mlir::Location loc,
                         mlir::Value grad, mlir::Value index, mlir::Value zero,
                         mlir::Value lanes) {
  auto type = mlir::cast<mlir::MemRefType>(grad.getType());
  if (type.getRank() == 2) {
    int64_t count = type.getDimSize(1);
    auto vectorType = mlir::cast<mlir::VectorType>(lanes.getType());
    mlir::Value sum = lanes;
    if (count != vectorType.getNumElements()) {
      auto slice = [&](int64_t part) -> mlir::Value {
        return mlir::vector::ExtractStridedSliceOp::create(
            b, loc, lanes, {part * count}, {count}, {1});
      };
      sum = slice(0);
      for (int64_t part = 1; part < vectorType.getNumElements() / count; ++part)
        sum = mlir::arith::AddFOp::create(b, loc, sum, slice(part));
    }
    mlir::Value old = mlir::vector::LoadOp::create(
        b, loc, sum.getType(), grad, mlir::ValueRange{index, zero});
    mlir::vector::StoreOp::create(b, loc,
                                  mlir::arith::AddFOp::create(b, loc, old, sum),
                                  grad, mlir::ValueRange{index, zero});
    return;
  }
  mlir::Value sum = mlir::vector::ReductionOp::create(
      b, loc, mlir::vector::CombiningKind::ADD, lanes);
  mlir::Value old =
      mlir::memref::LoadOp::create(b, loc, grad, mlir::ValueRange{index});
  mlir::memref::StoreOp::create(b, loc,
                                mlir::arith::AddFOp::create(b, loc, old, sum),
                                grad, mlir::ValueRange{index});
}

/// Ends a tile's accumulation for parameter `index`, begun at
/// gradLanesStart: lanes that started from the stored ones are stored as
/// they are; else they are added (addGradLanes).
inline void finishGradLanes(mlir::OpBuilder &b, mlir::Location loc,
                            mlir::Value grad, mlir::Value index,
                            mlir::Value zero, mlir::Value lanes) {
  if (holdsTileLanes(grad, mlir::cast<mlir::VectorType>(lanes.getType()))) {
    mlir::vector::StoreOp::create(b, loc, lanes, grad,
                                  mlir::ValueRange{index, zero});
    return;
  }
  addGradLanes(b, loc, grad, index, zero, lanes);
}

/// Patterns lowering ntp.affine and ntp.affine_vjp, register-blocked as
/// `blocking` says (AffineToLoops.cpp); part of
/// populateNtpToLoopsConversionPatterns.
void populateAffineToLoopsPatterns(mlir::RewritePatternSet &patterns,
                                   AffineBlocking blocking);

} // namespace ntp::loops

#endif // NTP_LIB_CONVERSION_NTPTOLOOPS_LOOPUTILS_H
