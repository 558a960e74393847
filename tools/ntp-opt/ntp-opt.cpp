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

int main(int argc, char **argv) {
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
