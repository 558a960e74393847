//===- ntp-opt.cpp - The mlir-opt of the ntp dialect ----------------------===//

#include "ntp/Compiler/Compiler.h"
#include "ntp/Conversion/Passes.h"
#include "ntp/Pipelines/Pipelines.h"
#include "ntp/Transforms/Passes.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/InitAllPasses.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"

#include "llvm/Support/CommandLine.h"

/// Hides the options LLVM's libraries registered (backends, codegen, ...)
/// from --help, as clang does; --help-hidden still lists them. MLIR's own
/// options and the passes are registered after this, by MlirOptMain.
static void hideLlvmOptions() {
  for (auto &entry : llvm::cl::getRegisteredOptions()) {
    llvm::StringRef name = entry.first;
    if (name != "help" && name != "help-hidden" && name != "version")
      entry.second->setHiddenFlag(llvm::cl::Hidden);
  }
}

int main(int argc, char **argv) {
  hideLlvmOptions();
  mlir::registerAllPasses();
  ntp::registerNtpTransformsPasses();
  ntp::registerNtpConversionPasses();
  ntp::registerNtpPipelines();

  mlir::DialectRegistry registry;
  mlir::registerAllDialects(registry);
  mlir::registerAllExtensions(registry);
  ntp::registerNtpCompilerDialects(registry);
  return mlir::asMainReturnCode(
      mlir::MlirOptMain(argc, argv, "ntp optimizer driver\n", registry));
}
