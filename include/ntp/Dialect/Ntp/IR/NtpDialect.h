//===- NtpDialect.h - The ntp dialect ---------------------------*- C++ -*-===//

#ifndef NTP_DIALECT_NTP_IR_NTPDIALECT_H
#define NTP_DIALECT_NTP_IR_NTPDIALECT_H

#include "mlir/IR/Dialect.h"

#include "ntp/Dialect/Ntp/IR/NtpOpsDialect.h.inc"

namespace ntp {
/// Discardable unit attribute on the scf.for over the neurons of one layer
/// (affine layers, activation jets) that the lowering emits: its iterations
/// are independent and each writes only its own neuron's jet, so a target
/// may run them in parallel (the NVPTX lanes mapping spreads them over a
/// warp).
constexpr llvm::StringLiteral kNeuronLoopAttrName = "ntp.neuron_loop";
/// Discardable unit attribute on an ntp.affine_rays whose input rows other
/// than row 0 hold the same values in every tile of a call (they are
/// ntp.seed_rays' directions and zeros): the lowering computes those rows
/// of the output once per call and broadcasts them into later tiles.
constexpr llvm::StringLiteral kInvariantRaysAttrName = "ntp.invariant_rays";
} // namespace ntp

#endif // NTP_DIALECT_NTP_IR_NTPDIALECT_H
