//===- JetCorner.h - Sub-blocks of jet buffers ------------------*- C++ -*-===//
//
// Internal to lib/Transforms: the view of a block of a jet buffer that the
// kernel builders (ntp-decompose-mlp) and the reverse-mode generators
// (ntp-generate-backward) take of their ping-pong and stacked buffers.
//
//===----------------------------------------------------------------------===//

#ifndef NTP_LIB_TRANSFORMS_JETCORNER_H
#define NTP_LIB_TRANSFORMS_JETCORNER_H

#include "ntp/Dialect/Ntp/IR/JetBuffer.h"

#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/Builders.h"

namespace ntp {

/// The [orders, width, lanes] block of jet buffer `buffer` starting at order
/// `first` (and neuron 0): `buffer` itself when that is all of it, else a
/// subview.
inline mlir::Value jetCorner(mlir::OpBuilder &b, mlir::Location loc,
                             mlir::Value buffer, int64_t first, int64_t orders,
                             int64_t width, int64_t lanes) {
  JetBufferShape shape = JetBufferShape::of(buffer);
  if (first == 0 && shape.orders() == orders && shape.neurons() == width)
    return buffer;
  return mlir::memref::SubViewOp::create(
      b, loc, buffer, llvm::ArrayRef<int64_t>{first, 0, 0},
      JetBufferShape::shape(orders, width, lanes),
      llvm::ArrayRef<int64_t>{1, 1, 1});
}

} // namespace ntp

#endif // NTP_LIB_TRANSFORMS_JETCORNER_H
