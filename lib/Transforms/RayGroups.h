//===- RayGroups.h - What the two partials reverse modes read ---*- C++ -*-===//
//
// Internal to lib/Transforms: the plan shared by the two reverse modes of a
// partials kernel. The per-ray reverse (PartialsPlan.h, PartialsBackward.cpp)
// reads rays of one direction each, the rays reverse (RaysPlan.h,
// RaysBackward.cpp) blocks of rays on a ray layout; both are groups of rows
// (a ray's rows are its jet coefficients) that run the same layers, write
// their rows of a stacked top buffer and are combined once. What a group and
// the whole forward hold, the buffers' sizes and the reading of the typed
// layers and the combine are one piece of code here, so that the two reverse
// modes cannot drift apart; RayVjpEmission.h builds their functions.
//
//===----------------------------------------------------------------------===//

#ifndef NTP_LIB_TRANSFORMS_RAYGROUPS_H
#define NTP_LIB_TRANSFORMS_RAYGROUPS_H

#include "BackwardPlan.h"

#include "ntp/Dialect/Ntp/IR/JetBuffer.h"
#include "ntp/Dialect/Ntp/IR/NtpOps.h"

#include "mlir/IR/Types.h"
#include "mlir/Support/LLVM.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/SmallVector.h"

#include <algorithm>
#include <string>
#include <vector>

namespace ntp::backward {

/// One group of rows propagated together through the layers: a per-ray
/// kernel's ray or a rays forward's block.
struct RayGroup {
  int64_t rows = 0;           // rows of its jet buffers
  int64_t firstColumn = 0;    // its first row of the stacked tops
  std::vector<JetStep> steps; // seed, affine, activate, ..., top affine
  /// The steps whose jets each step reads: the previous one along a chain;
  /// a gated group is a DAG (X, the seed or its Fourier features, feeds the
  /// affine layers of U, V and the first hidden layer, U and V every gate).
  std::vector<llvm::SmallVector<size_t, 3>> inputs;

  bool gated() const {
    return llvm::any_of(
        steps, [](const JetStep &s) { return s.kind == JetStep::Kind::Gate; });
  }
};

/// Whether two groups run the same layers: the same steps' kinds, widths,
/// parameters, activations and skips (their live orders may differ).
inline bool sameLayers(llvm::ArrayRef<JetStep> a, llvm::ArrayRef<JetStep> b) {
  if (a.size() != b.size())
    return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (a[i].kind != b[i].kind || a[i].width != b[i].width ||
        a[i].weightOffset != b[i].weightOffset ||
        a[i].activation != b[i].activation ||
        a[i].perNeuron != b[i].perNeuron || a[i].skip != b[i].skip)
      return false;
  return true;
}

/// The forward of a partials kernel as its groups (`Group`: RayPlan or
/// RaysBlock), then one ntp.combine_partials and one store.
///
/// Workspace of one tile: each group's jets below the top ([rows, width,
/// tile] per step, in order), then the groups' top rows stacked as the
/// forward stacks them ([columns, outputDim, tile]): columns * (sum of the
/// step widths) * tile elements.
template <typename Group> struct RayGroupsPlan {
  std::string name; // without the _forward_tiles suffix
  mlir::Type element;
  int64_t tile = 0, numParams = 0, inputDim = 0, outputDim = 0;
  int64_t columns = 0, requests = 0, storedLiveOrders = 0, maxRows = 0;
  std::vector<Group> groups;
  llvm::SmallVector<double> weights; // [requests, columns], row-major

  /// Every group's steps (they run the same layers).
  const std::vector<JetStep> &steps() const { return groups.front().steps; }
  /// Widths of a group's jets below the top (seed, affine, activate, ...).
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
  /// Whether the groups add jets (residual layers): their reverse keeps the
  /// skip connection's cotangent in a third buffer.
  bool hasAdd() const {
    return llvm::any_of(
        steps(), [](const JetStep &s) { return s.kind == JetStep::Kind::Add; });
  }
  /// Cotangent buffers of a group's reverse: a gated one's pool holds U's,
  /// V's and two along the chain (as GatedBackward.cpp's).
  int64_t cotangentBuffers() const {
    return groups.front().gated() ? 4 : hasAdd() ? 3 : 2;
  }
  /// Elements of one tile's workspace the groups save.
  int64_t workspaceNeeded() const {
    return columns * (lowerWidths() + outputDim) * tile;
  }
  /// Elements of the stacked top rows' offset in a tile's slice.
  int64_t topsOffset() const { return columns * lowerWidths() * tile; }
  /// Elements a recomputing backward tile keeps on the stack.
  int64_t recomputeStackElements() const {
    return (maxRows * lowerWidths() +
            cotangentBuffers() * maxRows * maxWidth() +
            (requests + columns) * outputDim + 2 * (maxRows + 1) * inputDim) *
           tile;
  }

  /// Appends `group` after the last one's rows of the stacked tops.
  void addGroup(Group group) {
    group.firstColumn =
        groups.empty() ? 0 : groups.back().firstColumn + groups.back().rows;
    maxRows = std::max(maxRows, group.rows);
    groups.push_back(std::move(group));
  }

  /// Reads typed layer `op` (scale, fourier_project, add_jets) into the last
  /// group's steps with the jet chain's rules (readTypedLayerStep).
  mlir::FailureOr<bool>
  readTypedLayer(mlir::Operation *op,
                 const llvm::DenseMap<mlir::Value, size_t> &writer) {
    JetPlan chain;
    chain.steps = std::move(groups.back().steps);
    chain.numParams = numParams;
    mlir::FailureOr<bool> layer = readTypedLayerStep(op, chain, writer);
    groups.back().steps = std::move(chain.steps);
    numParams = chain.numParams;
    return layer;
  }

  /// Reads the combine's shape and weights.
  void readCombine(CombinePartialsOp combine) {
    JetBufferShape output = JetBufferShape::of(combine.getOutput());
    columns = JetBufferShape::of(combine.getRays()).orders();
    requests = output.orders();
    outputDim = output.neurons();
    weights.assign(combine.getWeights().begin(), combine.getWeights().end());
  }
};

} // namespace ntp::backward

#endif // NTP_LIB_TRANSFORMS_RAYGROUPS_H
