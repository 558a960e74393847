//===- NtpToLoops.h - Lower jet ops to vectorized loops ---------*- C++ -*-===//

#ifndef NTP_CONVERSION_NTPTOLOOPS_NTPTOLOOPS_H
#define NTP_CONVERSION_NTPTOLOOPS_NTPTOLOOPS_H

#include "ntp/Support/Schedule.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/Pass/Pass.h"

namespace mlir {
class RewritePatternSet;
} // namespace mlir

namespace ntp {

#define GEN_PASS_DECL_CONVERTNTPTOLOOPS
#include "ntp/Conversion/Passes.h.inc"

/// How the affine layers are register-blocked (convert-ntp-to-loops'
/// affine-outputs and affine-orders; 1 and 0: unblocked).
struct AffineBlocking {
  int64_t outputs = 1; // output neurons per block (0: chosen from machine)
  int64_t orders = 0;  // live orders per block (0: all)
  MachineVectorFacts machine;
  RayBlock rays = {0, 0}; // ntp.affine_rays' block (0 x 0: from machine)
  // The VJP's parameter-gradient tile; 0 x 0: chosen from machine where
  // outputs == 0, else the unblocked loop.
  GradientBlock gradient;
};

/// Patterns lowering ntp.seed, ntp.affine and ntp.store_jet to loops.
void populateNtpToLoopsConversionPatterns(mlir::RewritePatternSet &patterns,
                                          AffineBlocking blocking = {});

/// Patterns lowering the typed-layer ops (ntp.scale, ntp.add_jets,
/// ntp.scale_vjp; LayerOpsToLoops.cpp); part of the set above.
void populateLayerOpsToLoopsPatterns(mlir::RewritePatternSet &patterns);

/// Patterns lowering the gated layer's ops (ntp.gate_jets,
/// ntp.gate_jets_vjp; GateOpsToLoops.cpp); added by the one above.
void populateGateOpsToLoopsPatterns(mlir::RewritePatternSet &patterns);
/// Patterns lowering the multi-direction jet ops (ntp.seed_rays,
/// ntp.affine_rays, ntp.activate_rays) to loops (RaysToLoops.cpp); part of
/// populateNtpToLoopsConversionPatterns.
void populateRaysToLoopsConversionPatterns(mlir::RewritePatternSet &patterns,
                                           AffineBlocking blocking = {});

/// Patterns lowering the modified MLP's gate on the ray layout
/// (ntp.gate_rays; GateRaysToLoops.cpp); part of
/// populateNtpToLoopsConversionPatterns.
void populateGateRaysToLoopsPatterns(mlir::RewritePatternSet &patterns);
/// The reverse of the gate on the ray layout (ntp.gate_rays_vjp;
/// GateRaysVjpToLoops.cpp); part of populateNtpToLoopsConversionPatterns.
void populateGateRaysVjpToLoopsPatterns(mlir::RewritePatternSet &patterns);
/// ntp.activate_rays_vjp (RayVjpToLoops.cpp); part of
/// populateNtpToLoopsConversionPatterns.
void populateRayVjpToLoopsConversionPatterns(mlir::RewritePatternSet &patterns);
/// ntp.activate_poly, the multivariate Taylor lowering's activation
/// (PolyToLoops.cpp); part of populateNtpToLoopsConversionPatterns.
void populatePolyToLoopsConversionPatterns(mlir::RewritePatternSet &patterns);

} // namespace ntp

#endif // NTP_CONVERSION_NTPTOLOOPS_NTPTOLOOPS_H
