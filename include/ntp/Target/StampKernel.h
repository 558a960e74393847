//===- StampKernel.h - A target's facts on the module's #ntp.kernel -*- C++
//-*-//
//
// How a target adds what it decides (the CPU and its features, the CUDA chip,
// mapping and block shape) to the #ntp.kernel that ntp-decompose-mlp stamped:
// the facts are derived again by ntp::describeKernel from the network and the
// updated target, never patched field by field.
//
//===----------------------------------------------------------------------===//

#ifndef NTP_TARGET_STAMPKERNEL_H
#define NTP_TARGET_STAMPKERNEL_H

#include "ntp/Compiler/KernelFacts.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"

#include <functional>
#include <memory>
#include <string>

namespace ntp {

/// Sets the target facts a target decides on `target` (read from the
/// module's #ntp.kernel); false with one sentence in `error` if they are
/// invalid.
using KernelTargetUpdate =
    std::function<bool(KernelTarget &target, std::string &error)>;

/// Replaces the module's #ntp.kernel by describeKernel(network, updated
/// target). Emits an error and fails if there is no #ntp.kernel, or if the
/// update or describeKernel fails.
mlir::LogicalResult stampKernelTarget(mlir::ModuleOp module,
                                      const KernelTargetUpdate &update);

/// stampKernelTarget as a pass (ntp-stamp-kernel-target), for pipelines.
std::unique_ptr<mlir::Pass>
createStampKernelTargetPass(KernelTargetUpdate update);

} // namespace ntp

#endif // NTP_TARGET_STAMPKERNEL_H
