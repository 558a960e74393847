//===- ConstantBuffer.h - The seeds' constant directions --------*- C++ -*-===//
//
// Internal to lib/Transforms: the stack buffer of constants a partials
// kernel's seeds read their directions from, written once per call. The
// kernel builders (ntp-decompose-mlp: per ray, per block of rays, the
// multivariate monomials) and the reverse-mode generators
// (ntp-generate-backward, which recompute those forwards) write it the same
// way, so one helper writes it for all of them.
//
//===----------------------------------------------------------------------===//

#ifndef NTP_LIB_TRANSFORMS_CONSTANTBUFFER_H
#define NTP_LIB_TRANSFORMS_CONSTANTBUFFER_H

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/Builders.h"

#include <algorithm>

namespace ntp {

/// A stack buffer of max(values.size(), minSize) elements holding `values`
/// from index 0 (the rest unwritten): one memref.store of a constant each.
inline mlir::Value createConstantBuffer(mlir::OpBuilder &b, mlir::Location loc,
                                        mlir::Type element,
                                        llvm::ArrayRef<double> values,
                                        int64_t minSize = 1) {
  using namespace mlir;
  int64_t count = static_cast<int64_t>(values.size());
  Value buffer = memref::AllocaOp::create(
      b, loc, MemRefType::get({std::max<int64_t>(count, minSize)}, element));
  for (int64_t i = 0; i < count; ++i)
    memref::StoreOp::create(
        b, loc,
        arith::ConstantOp::create(b, loc, b.getFloatAttr(element, values[i])),
        buffer, ValueRange{arith::ConstantIndexOp::create(b, loc, i)});
  return buffer;
}

/// `buffer` behind a cast to a dynamic size (what ntp.seed_rays reads), or
/// itself when its size is dynamic already.
inline mlir::Value castToDynamic(mlir::OpBuilder &b, mlir::Location loc,
                                 mlir::Value buffer) {
  auto type = mlir::cast<mlir::MemRefType>(buffer.getType());
  if (type.isDynamicDim(0))
    return buffer;
  return mlir::memref::CastOp::create(
      b, loc,
      mlir::MemRefType::get({mlir::ShapedType::kDynamic},
                            type.getElementType()),
      buffer);
}

} // namespace ntp

#endif // NTP_LIB_TRANSFORMS_CONSTANTBUFFER_H
