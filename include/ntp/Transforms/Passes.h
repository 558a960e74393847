//===- Passes.h - ntp transformation passes ---------------------*- C++ -*-===//

#ifndef NTP_TRANSFORMS_PASSES_H
#define NTP_TRANSFORMS_PASSES_H

#include "ntp/Support/Schedule.h"
#include "ntp/Transforms/PassOptions.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/Pass/Pass.h"

namespace mlir {
class RewritePatternSet;
class TypeConverter;
} // namespace mlir

namespace ntp {

#define GEN_PASS_DECL
#include "ntp/Transforms/Passes.h.inc"

/// A partials kernel with the reverse mode whose forward is lowered
/// multi-direction or collapsed: ntp-decompose-mlp also builds the per-ray
/// rays as the private @<name>_reverse_rays_tiles and names it in the
/// forward's ntp.partials_reverse_rays attribute; ntp-generate-backward
/// generates the reverse mode from it and erases it.
inline constexpr llvm::StringLiteral kReverseRaysSuffix = "_reverse_rays_tiles";
inline constexpr llvm::StringLiteral kReverseRaysAttrName =
    "ntp.partials_reverse_rays";

/// Patterns that rewrite ntp.activate (and ntp.activate_vjp) into the
/// arithmetic of `formulation`; with `outline`, the arithmetic of one neuron
/// goes into a shared private function of the enclosing module (see
/// ntp-expand-activation-jets).
void populateExpandActivationJetsPatterns(
    mlir::RewritePatternSet &patterns, bool outline = false,
    JetFormulation formulation = JetFormulation::Auto, int64_t interleave = 1,
    MachineVectorFacts machine = {}, bool hoistPrimitives = false);

#define GEN_PASS_REGISTRATION
#include "ntp/Transforms/Passes.h.inc"

} // namespace ntp

#endif // NTP_TRANSFORMS_PASSES_H
