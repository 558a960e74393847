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
#include "RayGroups.h"

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
// Workspace of one tile (forward-save / backward-saved): RayGroupsPlan's,
// C (its columns) the jet coefficients of all rays.

/// One ray of a partials kernel's forward: a group whose rows are the jet
/// coefficients propagated along its direction.
struct RayPlan : RayGroup {
  llvm::SmallVector<double> direction;
};

/// The rays of a partials kernel's forward (`groups`), in order.
struct PartialsPlan : RayGroupsPlan<RayPlan> {};

/// The plan of the per-ray rays `func` of the kernel `name`.
mlir::FailureOr<PartialsPlan> readPartialsPlan(mlir::func::FuncOp func,
                                               llvm::StringRef name);

} // namespace ntp::backward

#endif // NTP_LIB_TRANSFORMS_PARTIALSPLAN_H
