//===- PartialsPlan.h - The plan of a partials kernel's rays ----*- C++ -*-===//
//
// What the reverse mode of a partials kernel (PartialsBackward.cpp) reads off
// its per-ray forward (PartialsPlan.cpp): the rays, their steps and the
// combine's weights.
//
//===----------------------------------------------------------------------===//

#ifndef NTP_LIB_TRANSFORMS_PARTIALSPLAN_H
#define NTP_LIB_TRANSFORMS_PARTIALSPLAN_H

#include "BackwardPlan.h"

#include "ntp/artifact.hpp"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Types.h"
#include "mlir/Support/LLVM.h"
#include "llvm/ADT/SmallVector.h"

namespace ntp::backward {

//===----------------------------------------------------------------------===//
// Partials kernels (issue 12 item 4)
//===----------------------------------------------------------------------===//
//
// A partials kernel's forward is a sequence of rays (one univariate jet each,
// seeded with a constant direction; the top affine writes its rows of a
// stacked `rays` buffer), one ntp.combine_partials with the exact weights W
// and one store. The combine is linear, so its VJP is the combine with W^T:
// the cotangent of every ray's top coefficients comes from the output
// cotangent alone, and each ray then runs the jet VJP rules in reverse on its
// own. The rays are reversed one after another, so the recomputing backward
// holds one ray's jets at a time. The direction of a ray is a constant, so
// the x gradient is the sum over rays of each seed's order-0 cotangent,
// accumulated with ntp.combine_partials (weights 1) in two ping-pong buffers.
//
// Workspace of one tile (forward-save / backward-saved): for each ray, its
// jets below the top ([orders_r, width, tile] per step, in order), then the
// rays' top coefficients stacked as the forward stacks them ([C, q, tile]):
// C * (sum of step widths) * tile elements, C the jet coefficients of all
// rays.

/// One ray of a partials kernel's forward.
struct RayPlan {
  llvm::SmallVector<double> direction;
  int64_t orders = 0;         // jet coefficients propagated along the ray
  int64_t firstColumn = 0;    // its first row of the stacked rays
  std::vector<JetStep> steps; // seed, affine, activate, ..., top affine
  /// The steps whose jets each step reads (a gated ray is a DAG: X feeds
  /// U, V and the first hidden layer, U and V every gate).
  std::vector<llvm::SmallVector<size_t, 3>> inputs;

  bool gated() const {
    return llvm::any_of(
        steps, [](const JetStep &s) { return s.kind == JetStep::Kind::Gate; });
  }
};

struct PartialsPlan {
  std::string name; // without the _forward_tiles suffix
  mlir::Type element;
  int64_t tile = 0, numParams = 0, inputDim = 0, outputDim = 0;
  int64_t columns = 0, requests = 0, maxOrders = 0, storedLiveOrders = 0;
  std::vector<RayPlan> rays;
  llvm::SmallVector<double> weights; // [requests, columns], row-major

  /// Widths of one ray's jets below the top (seed, affine, activate, ...).
  int64_t lowerWidths() const {
    int64_t total = 0;
    const std::vector<JetStep> &steps = rays.front().steps;
    for (size_t i = 0; i + 1 < steps.size(); ++i)
      total += steps[i].width;
    return total;
  }
  int64_t maxWidth() const {
    int64_t widest = 0;
    for (const JetStep &s : rays.front().steps)
      widest = std::max(widest, s.width);
    return widest;
  }
  int64_t workspacePerTile() const {
    return columns * (lowerWidths() + outputDim) * tile;
  }
  /// Elements of the stacked top coefficients' offset in a tile's slice.
  int64_t topsOffset() const { return columns * lowerWidths() * tile; }
  /// Elements a recomputing backward tile keeps on the stack.
  /// Whether the rays add jets (residual layers): their reverse keeps the
  /// skip connection's cotangent in a third buffer.
  bool hasAdd() const {
    return llvm::any_of(rays.front().steps, [](const JetStep &s) {
      return s.kind == JetStep::Kind::Add;
    });
  }
  /// Cotangent buffers of a ray's reverse: a gated one's pool holds U's,
  /// V's and two along the chain (as GatedBackward.cpp's).
  int64_t cotangentBuffers() const {
    return rays.front().gated() ? 4 : hasAdd() ? 3 : 2;
  }
  int64_t recomputeStackElements() const {
    return (maxOrders * lowerWidths() +
            cotangentBuffers() * maxOrders * maxWidth() +
            (requests + columns) * outputDim + 2 * (maxOrders + 1) * inputDim) *
           tile;
  }
};

/// The plan of the per-ray rays `func` of the kernel `name`.
mlir::FailureOr<PartialsPlan> readPartialsPlan(mlir::func::FuncOp func,
                                               llvm::StringRef name);

} // namespace ntp::backward

#endif // NTP_LIB_TRANSFORMS_PARTIALSPLAN_H
