//===- JetBuffer.h - The layout of a jet buffer, by name --------*- C++ -*-===//
//
// Every jet op reads and writes jet buffers: memref<(n+1) x width x tile x T>,
// element [k, j, s] being order k of neuron j for lane s (a sample of the
// tile). Lanes are innermost, so one order of one neuron for the whole tile
// is one vector. The passes and the lowerings read the three extents through
// JetBufferShape instead of by position.
//
//===----------------------------------------------------------------------===//

#ifndef NTP_DIALECT_NTP_IR_JETBUFFER_H
#define NTP_DIALECT_NTP_IR_JETBUFFER_H

#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Value.h"
#include "llvm/ADT/SmallVector.h"

namespace ntp {

class JetBufferShape {
public:
  /// The position of each extent in the memref shape (and in the indices of
  /// a load or store).
  static constexpr unsigned kOrderDim = 0, kNeuronDim = 1, kLaneDim = 2;
  /// The bytes a CPU kernel aligns the buffers it allocates to (its stack
  /// jets, the gradient accumulators): a cache line, so that no vector of a
  /// tile (64 bytes at most) straddles two.
  static constexpr int64_t kAlignmentBytes = 64;

  static JetBufferShape of(mlir::MemRefType type) {
    return JetBufferShape(type);
  }
  static JetBufferShape of(mlir::Value buffer) {
    return of(mlir::cast<mlir::MemRefType>(buffer.getType()));
  }

  /// The memref type of a jet buffer (identity layout unless `layout`).
  static mlir::MemRefType get(int64_t orders, int64_t neurons, int64_t lanes,
                              mlir::Type element,
                              mlir::MemRefLayoutAttrInterface layout = {}) {
    return mlir::MemRefType::get(shape(orders, neurons, lanes), element,
                                 layout);
  }
  /// The neuron rows to allocate for a stack buffer holding up to `neurons`
  /// rows (layers use a subview of the first rows): one more where the order
  /// planes would be a multiple of 4 KiB apart. Such a stride (64 or 128
  /// neurons of one 64-byte vector) maps all n + 1 orders of a neuron to
  /// one set of a 32 KiB 8-way L1, so from order 8 on the jet evicts itself
  /// (measured: 1-128-128-1 f64 order 9 ran at 0.6x the flop rate of
  /// widths 120 and 136).
  static int64_t paddedNeurons(int64_t neurons, int64_t lanes,
                               mlir::Type element) {
    int64_t planeBytes =
        neurons * lanes * (element.getIntOrFloatBitWidth() / 8);
    return planeBytes % 4096 == 0 ? neurons + 1 : neurons;
  }
  /// {orders, neurons, lanes} in memref order: sizes of a subview, ...
  static llvm::SmallVector<int64_t, 3> shape(int64_t orders, int64_t neurons,
                                             int64_t lanes) {
    llvm::SmallVector<int64_t, 3> s(3);
    s[kOrderDim] = orders;
    s[kNeuronDim] = neurons;
    s[kLaneDim] = lanes;
    return s;
  }
  /// The indices of element [order k, neuron j, lane s] in memref order.
  static llvm::SmallVector<mlir::Value, 3>
  indices(mlir::Value order, mlir::Value neuron, mlir::Value lane) {
    llvm::SmallVector<mlir::Value, 3> i(3);
    i[kOrderDim] = order;
    i[kNeuronDim] = neuron;
    i[kLaneDim] = lane;
    return i;
  }

  /// Number of orders stored, n + 1.
  int64_t orders() const { return type.getDimSize(kOrderDim); }
  /// The derivative order n.
  int64_t derivativeOrder() const { return orders() - 1; }
  /// Number of neurons (the width of the layer).
  int64_t neurons() const { return type.getDimSize(kNeuronDim); }
  /// Number of lanes: samples per tile.
  int64_t lanes() const { return type.getDimSize(kLaneDim); }
  mlir::Type elementType() const { return type.getElementType(); }
  /// One order of one neuron across the tile: vector<lanes x T>.
  mlir::VectorType laneVectorType() const {
    return mlir::VectorType::get({lanes()}, elementType());
  }
  mlir::MemRefType getType() const { return type; }

private:
  explicit JetBufferShape(mlir::MemRefType type) : type(type) {}
  mlir::MemRefType type;
};

} // namespace ntp

#endif // NTP_DIALECT_NTP_IR_JETBUFFER_H
