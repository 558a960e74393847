//===- GpuKernelUtils.h - What the GPU kernel passes share ------*- C++ -*-===//
//
// Internal to lib/Transforms: the contract between ntp-gpu-kernel, which
// builds the gpu.func kernels, and ntp-gpu-emulate, which runs them on the
// host.
//
//===----------------------------------------------------------------------===//

#ifndef NTP_LIB_TRANSFORMS_GPUKERNELUTILS_H
#define NTP_LIB_TRANSFORMS_GPUKERNELUTILS_H

#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/Operation.h"

namespace ntp {

/// On each kernel: how many samples one block evaluates (the grid is
/// ceil(batch / it)); read by ntp-gpu-emulate.
constexpr llvm::StringLiteral kSamplesPerBlockAttrName =
    "ntp.samples_per_block";

/// Re-infers the result type of every subview in `root` from its source:
/// the sources changed memory space or layout.
inline void reinferSubviewTypes(mlir::Operation *root) {
  root->walk([](mlir::memref::SubViewOp view) {
    view.getResult().setType(
        mlir::memref::SubViewOp::inferRankReducedResultType(
            view.getType().getShape(), view.getSourceType(),
            view.getMixedOffsets(), view.getMixedSizes(),
            view.getMixedStrides()));
  });
}

} // namespace ntp

#endif // NTP_LIB_TRANSFORMS_GPUKERNELUTILS_H
