//===- Passes.td - ntp conversion passes -------------------*- tablegen -*-===//

#ifndef NTP_CONVERSION_PASSES_TD
#define NTP_CONVERSION_PASSES_TD

include "mlir/Pass/PassBase.td"

def ConvertNtpToLoops : Pass<"convert-ntp-to-loops"> {
  let summary = "Lower the remaining jet ops to vectorized loops";
  let description = [{
    Lowers `ntp.seed`, `ntp.affine` and `ntp.store_jet` to scf loops over
    memrefs with vector arithmetic across the samples of a tile. The affine
    layer keeps one accumulator vector per live order in registers while it
    walks the input neurons: every weight is loaded once and reused for all
    orders. Any ntp op left afterwards (e.g. an unexpanded `ntp.activate`) is
    an error.
  }];
  let dependentDialects = ["mlir::arith::ArithDialect", "mlir::math::MathDialect",
                           "mlir::memref::MemRefDialect", "mlir::scf::SCFDialect",
                           "mlir::vector::VectorDialect"];
}

#endif // NTP_CONVERSION_PASSES_TD
