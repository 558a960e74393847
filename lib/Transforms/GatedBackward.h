//===- GatedBackward.h - Reverse mode of gated networks ---------*- C++ -*-===//
//
// The reverse mode of a kernel whose forward has ntp.gate_jets (the modified
// MLP): its jets form a DAG (U and V feed every gate, X feeds U, V and the
// first hidden layer), which the chain plan of GenerateBackward.cpp does not
// express. ntp-generate-backward hands such kernels to this file.
//
//===----------------------------------------------------------------------===//

#ifndef NTP_LIB_TRANSFORMS_GATEDBACKWARD_H
#define NTP_LIB_TRANSFORMS_GATEDBACKWARD_H

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"

namespace ntp {
namespace backward {
struct GradLayout;
} // namespace backward

/// Whether the kernel function `forward` gates its layers (has an
/// ntp.gate_jets).
bool isGatedKernel(mlir::func::FuncOp forward);

/// Generates the three reverse-mode functions of the gated kernel `forward`
/// (as ntp-generate-backward does for a chain) and stamps the module's
/// #ntp.kernel with the reverse mode.
mlir::LogicalResult generateGatedBackward(mlir::ModuleOp module,
                                          mlir::func::FuncOp forward,
                                          backward::GradLayout grads);

} // namespace ntp

#endif // NTP_LIB_TRANSFORMS_GATEDBACKWARD_H
