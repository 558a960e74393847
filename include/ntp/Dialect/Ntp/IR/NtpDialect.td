//===- NtpDialect.td - The ntp dialect ---------------------*- tablegen -*-===//

#ifndef NTP_DIALECT_TD
#define NTP_DIALECT_TD

include "mlir/IR/OpBase.td"

def Ntp_Dialect : Dialect {
  let name = "ntp";
  let summary = "Higher-order input derivatives (jets) of neural networks";
  let description = [{
    The `ntp` dialect describes a multilayer perceptron and a derivative order
    (`ntp.mlp`), and the per-layer jet operations it decomposes into
    (`ntp.seed`, `ntp.affine`, `ntp.activate`, `ntp.store_jet`).

    A jet of order n of a value u along a direction v is the vector
    (u, du/dt, ..., d^n u/dt^n) at t = 0 for the input x + t v. Jet buffers are
    memrefs of shape `[n + 1, width, tile]`: every order of every neuron of a
    tile of samples, with the samples innermost so that arithmetic vectorizes
    across samples.
  }];
  let cppNamespace = "::ntp";
  let useDefaultAttributePrinterParser = 1;
  let hasOperationAttrVerify = 1;
  let extraClassDeclaration = [{
    void registerAttributes();
  }];
}

class Ntp_Op<string mnemonic, list<Trait> traits = []>
    : Op<Ntp_Dialect, mnemonic, traits>;

#endif // NTP_DIALECT_TD
