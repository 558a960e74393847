//===- RaysPlan.h - The plan of a rays forward's blocks ---------*- C++ -*-===//
//
// What the reverse mode of a multi-direction, collapsed or multivariate
// partials kernel (RaysBackward.cpp) reads off its forward (RaysPlan.cpp):
// the blocks of rays, their layouts, constant directions and steps (a
// multivariate forward: one block whose activations are ntp.activate_poly
// over its monomials), and the combine's weights.
//
//===----------------------------------------------------------------------===//

#ifndef NTP_LIB_TRANSFORMS_RAYSPLAN_H
#define NTP_LIB_TRANSFORMS_RAYSPLAN_H

#include "BackwardPlan.h"
#include "RayGroups.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/Types.h"
#include "mlir/Support/LLVM.h"
#include "llvm/ADT/SmallVector.h"

#include <string>
#include <vector>

namespace ntp::backward {

using llvm::SmallVector;

/// One block of rays of the forward: a group whose rows are its ray
/// layout's.
struct RaysBlock : RayGroup {
  SmallVector<int64_t> counts, orders;
  SmallVector<double> weights;
  int64_t collapsedOrder = 0;
  SmallVector<double> directions; // [rays, d], layout order
  /// A multivariate forward's block (ntp.activate_poly on its rows): the
  /// monomials of its rows, flat, `variables` exponents each; empty
  /// otherwise.
  SmallVector<int64_t> monomials;
  int64_t variables = 0;

  bool multivariate() const { return !monomials.empty(); }
};

/// The blocks of rays of the forward (`groups`), in order.
struct RaysPlan : RayGroupsPlan<RaysBlock> {
  /// The tile's stride in the workspace (>= workspaceNeeded()).
  int64_t stride = 0;
};

/// Reads the rays forward `func` (ntp-decompose-mlp's buildMultiPartials)
/// into its plan; `name` is the kernel's name without _forward_tiles.
mlir::FailureOr<RaysPlan> readRaysPlan(mlir::func::FuncOp func,
                                       llvm::StringRef name);

} // namespace ntp::backward

#endif // NTP_LIB_TRANSFORMS_RAYSPLAN_H
