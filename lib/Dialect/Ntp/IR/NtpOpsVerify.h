//===- NtpOpsVerify.h - What the op verifiers share -------------*- C++ -*-===//
//
// Internal to lib/Dialect/Ntp/IR: the rules several ops' verifiers check,
// defined once in NtpOps.cpp and used by the verifiers of each op family
// (MlpOps.cpp, JetOps.cpp, LayerOps.cpp, RayOps.cpp).
//
//===----------------------------------------------------------------------===//

#ifndef NTP_LIB_DIALECT_NTP_IR_NTPOPSVERIFY_H
#define NTP_LIB_DIALECT_NTP_IR_NTPOPSVERIFY_H

#include "mlir/IR/Operation.h"

namespace ntp::detail {

/// The activation must be one of the registered activations.
mlir::LogicalResult verifyActivationName(mlir::Operation *op,
                                         llvm::StringRef name);

/// The element type must be f32 or f64.
mlir::LogicalResult verifyElementType(mlir::Operation *op, mlir::Type type);

/// The element type of every buffer an op touches must agree.
mlir::LogicalResult verifySameElementType(mlir::Operation *op,
                                          mlir::ValueRange buffers);

/// Jet buffers must have static shape [orders, width, tile] with unit stride
/// along the tile, so that a tile of one order of one neuron is a vector.
mlir::LogicalResult verifyJetBuffer(mlir::Operation *op, mlir::Value buffer,
                                    llvm::StringRef what);

/// Every buffer must have the first one's shape; else `error`, one
/// sentence naming them.
mlir::LogicalResult verifySameShape(mlir::Operation *op,
                                    mlir::ValueRange buffers,
                                    llvm::StringRef error);

/// live_orders may not exceed the number of orders of `jet`.
mlir::LogicalResult verifyLiveOrders(mlir::Operation *op, uint64_t live,
                                     mlir::Value jet);

/// A VJP op's input, output cotangent and input cotangent are jet buffers.
mlir::LogicalResult verifyCotangentJets(mlir::Operation *op, mlir::Value input,
                                        mlir::Value outCotangent,
                                        mlir::Value inCotangent);

/// A lane-wise grad [P, lanes] must have a number of lanes dividing the tile's
/// samples (a tile of several vector registers may fold its lanes); a
/// flat grad [P] passes.
mlir::LogicalResult verifyLaneWiseGrad(mlir::Operation *op, mlir::Value grad,
                                       int64_t tile);

} // namespace ntp::detail

#endif // NTP_LIB_DIALECT_NTP_IR_NTPOPSVERIFY_H
