//===- NtpAttributes.h - ntp attributes -------------------------*- C++ -*-===//

#ifndef NTP_DIALECT_NTP_IR_NTPATTRIBUTES_H
#define NTP_DIALECT_NTP_IR_NTPATTRIBUTES_H

#include "mlir/IR/Attributes.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/BuiltinOps.h"

#include "ntp/artifact.hpp"

#define GET_ATTRDEF_CLASSES
#include "ntp/Dialect/Ntp/IR/NtpAttributes.h.inc"

namespace ntp {

/// Name of the module attribute that holds the #ntp.kernel facts.
constexpr llvm::StringLiteral kKernelAttrName = "ntp.kernel";

/// The #ntp.kernel of `module`; null if it has none.
KernelAttr getKernelAttr(mlir::ModuleOp module);

/// The facts of the kernel `module` holds: its #ntp.kernel, read back.
/// Emits an error and fails if the module carries none.
mlir::FailureOr<artifact::KernelManifest>
readKernelManifest(mlir::ModuleOp module);

} // namespace ntp

#endif // NTP_DIALECT_NTP_IR_NTPATTRIBUTES_H
