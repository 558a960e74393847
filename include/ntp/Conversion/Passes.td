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

    Register blocking: with `affine-outputs` = B > 1 the affine layer (and
    the input cotangent of its VJP) computes B output neurons at once, and
    with `affine-orders` = K > 0 it takes the live orders K at a time: per
    input neuron, B weight broadcasts and K jet loads feed B x K independent
    FMA chains (one load per B FMAs instead of one per FMA, and B x K chains
    in flight to cover the FMA latency). The order chunks are the outer
    loop, so a chunk's slice of the input jets is reread from L1 by every
    block where it fits there. The VJP's parameter gradient takes
    B input neurons at once. Each output's sum runs in the same order as
    unblocked, so every choice gives bitwise the same results; outputs past
    the last multiple of B take the unblocked loop. With affine-outputs=0,
    B and K are chosen per layer (ntp::chooseAffineBlock) from
    `machine-facts`, which the CPU target reads off the LLVM scheduling
    model of its CPU.

    The VJP's parameter gradient dW[o][i] = sum_k outbar_k[o] in_k[i] can
    instead take register tiles of `grad-outputs` x `grad-inputs` = a x b
    neurons: per order k, a cotangent and b input jet loads feed a x b FMAs
    whose accumulators stay in registers over all orders (the unblocked loop
    holds one output's cotangent jets of all orders, which spill where they
    are many, and loads one input jet per FMA). Each entry still sums the
    orders in order, bitwise as unblocked; the outputs and inputs past the
    last multiple of the tile take tiles of one. With affine-outputs=0 and
    no tile given, ntp::chooseGradientBlock picks the tile from
    `machine-facts` where its model predicts a gain of over 10%, else the
    unblocked loop.

    `ntp.affine_rays` (partials kernels) is blocked in rows of the ray
    buffer x output neurons: `ray-rows` x `ray-neurons`, else ntp::chooseRayBlock
    from `machine-facts`, else 2 x 2.
  }];
  let options = [
    Option<"affineOutputs", "affine-outputs", "int64_t", /*default=*/"1",
           "Output neurons per register block of an affine layer (0: chosen "
           "per layer from machine-facts)">,
    Option<"affineOrders", "affine-orders", "int64_t", /*default=*/"0",
           "Live orders per register block of an affine layer (0: all)">,
    ListOption<"machineFacts", "machine-facts", "int64_t",
               "The CPU's vector bits, vector registers, FMA latency, FMA "
               "pipes, load ports and optionally L1 data bytes (for "
               "affine-outputs=0)">,
    Option<"gradOutputs", "grad-outputs", "int64_t", /*default=*/"0",
           "Output neurons per register tile of an affine VJP's parameter "
           "gradient (with grad-inputs; 0: chosen with affine-outputs=0, "
           "else unblocked)">,
    Option<"gradInputs", "grad-inputs", "int64_t", /*default=*/"0",
           "Input neurons per register tile of an affine VJP's parameter "
           "gradient (with grad-outputs)">,
    Option<"rayRows", "ray-rows", "int64_t", /*default=*/"0",
           "Rows per register block of ntp.affine_rays (with ray-neurons; "
           "0: ntp::chooseRayBlock from machine-facts, 2 x 2 without them)">,
    Option<"rayNeurons", "ray-neurons", "int64_t", /*default=*/"0",
           "Output neurons per register block of ntp.affine_rays (with "
           "ray-rows; 0: chosen)">,
  ];
  let dependentDialects = ["mlir::arith::ArithDialect", "mlir::math::MathDialect",
                           "mlir::memref::MemRefDialect", "mlir::scf::SCFDialect",
                           "mlir::vector::VectorDialect"];
}

#endif // NTP_CONVERSION_PASSES_TD
