//===- RaysPlan.h - The plan of a rays forward's blocks ---------*- C++ -*-===//
//
// What the reverse mode of a multi-direction or collapsed partials kernel
// (RaysBackward.cpp) reads off its forward (RaysPlan.cpp): the blocks of
// rays, their layouts, constant directions and steps, and the combine's
// weights.
//
//===----------------------------------------------------------------------===//

#ifndef NTP_LIB_TRANSFORMS_RAYSPLAN_H
#define NTP_LIB_TRANSFORMS_RAYSPLAN_H

#include "BackwardPlan.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/Types.h"
#include "mlir/Support/LLVM.h"
#include "llvm/ADT/SmallVector.h"

#include <string>
#include <vector>

namespace ntp::backward {

using llvm::SmallVector;
using mlir::DenseI64ArrayAttr;
using mlir::OpBuilder;
using mlir::Type;

/// One block of rays of the forward.
struct RaysBlock {
  SmallVector<int64_t> counts, orders;
  SmallVector<double> weights;
  int64_t collapsedOrder = 0;
  SmallVector<double> directions; // [rays, d], layout order
  int64_t rows = 0, firstColumn = 0;
  std::vector<JetStep> steps; // seed, ..., top affine
  /// The steps whose jets each step reads: the previous one along a chain;
  /// a gated block is a DAG (X, the seed or its Fourier features, feeds
  /// the affine layers of U, V and the first hidden layer, U and V every
  /// ntp.gate_rays).
  std::vector<SmallVector<size_t, 3>> inputs;

  bool gated() const {
    return llvm::any_of(
        steps, [](const JetStep &s) { return s.kind == JetStep::Kind::Gate; });
  }

  DenseI64ArrayAttr countsAttr(OpBuilder &b) const {
    return b.getDenseI64ArrayAttr(counts);
  }
};

struct RaysPlan {
  std::string name;
  Type element;
  int64_t tile = 0, numParams = 0, inputDim = 0, outputDim = 0;
  int64_t columns = 0, requests = 0, storedLiveOrders = 0, maxRows = 0;
  std::vector<RaysBlock> blocks;
  SmallVector<double> weights; // [requests, columns]
  /// The tile's stride in the workspace (>= workspaceNeeded()).
  int64_t stride = 0;

  const std::vector<JetStep> &steps() const { return blocks.front().steps; }
  int64_t lowerWidths() const {
    int64_t total = 0;
    for (size_t i = 0; i + 1 < steps().size(); ++i)
      total += steps()[i].width;
    return total;
  }
  int64_t maxWidth() const {
    int64_t widest = 0;
    for (const JetStep &s : steps())
      widest = std::max(widest, s.width);
    return widest;
  }
  bool hasAdd() const {
    return llvm::any_of(
        steps(), [](const JetStep &s) { return s.kind == JetStep::Kind::Add; });
  }
  /// Cotangent buffers of a block's reverse: a gated one's pool holds U's,
  /// V's and two along the chain (as the per-ray gated reverse's).
  int64_t cotangentBuffers() const {
    return blocks.front().gated() ? 4 : hasAdd() ? 3 : 2;
  }
  int64_t workspaceNeeded() const {
    return columns * (lowerWidths() + outputDim) * tile;
  }
  int64_t topsOffset() const { return columns * lowerWidths() * tile; }
  int64_t recomputeStackElements() const {
    return (maxRows * lowerWidths() +
            cotangentBuffers() * maxRows * maxWidth() +
            (requests + columns) * outputDim + 2 * (maxRows + 1) * inputDim) *
           tile;
  }
};

/// Reads the rays forward `func` (ntp-decompose-mlp's buildMultiPartials)
/// into its plan; `name` is the kernel's name without _forward_tiles.
mlir::FailureOr<RaysPlan> readRaysPlan(mlir::func::FuncOp func,
                                       llvm::StringRef name);

} // namespace ntp::backward

#endif // NTP_LIB_TRANSFORMS_RAYSPLAN_H
