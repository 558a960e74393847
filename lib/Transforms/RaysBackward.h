//===- RaysBackward.h - Reverse mode of the ray lowerings -------*- C++ -*-===//
//
// Internal to lib/Transforms: the reverse mode of a partials kernel whose
// forward propagates blocks of rays (the multi-direction and collapsed
// lowerings: ntp.seed_rays, ntp.affine_rays, ntp.activate_rays), generated
// from that forward itself (RaysBackward.cpp), and the bound ntp-decompose-mlp
// checks before choosing it.
//
//===----------------------------------------------------------------------===//

#ifndef NTP_LIB_TRANSFORMS_RAYSBACKWARD_H
#define NTP_LIB_TRANSFORMS_RAYSBACKWARD_H

#include "ntp/artifact.hpp"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"

#include <cstdint>
#include <optional>
#include <vector>

namespace ntp::backward {

struct GradLayout;

/// Whether `forward` propagates blocks of rays (it holds an ntp.seed_rays).
bool isRaysForward(mlir::func::FuncOp forward);

/// Generates the three reverse-mode functions of the partials kernel
/// `forward` from the blocks of rays of `rays` (the forward itself, or the
/// rays beside a forward whose own blocks do not fit): each block's buffers
/// saved or recomputed, then reversed layer by layer (ntp.affine_vjp over
/// every row, ntp.activate_rays_vjp or for a multivariate block
/// ntp.activate_poly_vjp, the typed layers' VJP ops on every row).
mlir::LogicalResult generateRaysBackward(mlir::ModuleOp module,
                                         mlir::func::FuncOp forward,
                                         mlir::func::FuncOp rays,
                                         GradLayout grads);

/// An upper bound of the stack elements one tile of the recomputing reverse
/// mode of a rays forward takes (ntp-decompose-mlp keeps the per-ray reverse
/// mode where it exceeds kMaxTileStackBytes): every layer's jets of the
/// largest block, three cotangent buffers of the widest layer, the output
/// and top cotangents, the seed's cotangents. nullopt on overflow.
std::optional<int64_t>
raysReverseStackElements(const std::vector<int64_t> &layers,
                         const artifact::LayerKinds &kinds, int64_t maxRows,
                         int64_t columns, int64_t requests, int64_t tile);

} // namespace ntp::backward

#endif // NTP_LIB_TRANSFORMS_RAYSBACKWARD_H
