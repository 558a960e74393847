// The usual MLIR pass-manager options work in ntp-compile.
// RUN: ntp-compile %s --emit=mlir --mlir-print-ir-after-all -o /dev/null 2>&1 | FileCheck %s --check-prefix=PRINT
// RUN: ntp-compile %s --emit=mlir --mlir-timing -o /dev/null 2>&1 | FileCheck %s --check-prefix=TIMING

// PRINT: IR Dump After NtpDecomposeMlp (ntp-decompose-mlp)
// PRINT: ntp.seed
// PRINT: IR Dump After NtpExpandActivationJets (ntp-expand-activation-jets)
// PRINT: IR Dump After ReconcileUnrealizedCastsPass
// PRINT: llvm.func

// TIMING: Execution time report
// TIMING: NtpDecomposeMlp
// TIMING: NtpExpandActivationJets
ntp.mlp @net layers [1, 4, 1] activation "tanh" order 2 : f32
