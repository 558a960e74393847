//===- Pipelines.cpp - Named ntp pipelines --------------------------------===//

#include "ntp/Pipelines/Pipelines.h"
#include "ntp/Conversion/Passes.h"
#include "ntp/Transforms/Passes.h"

#include "mlir/Conversion/Passes.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/MemRef/Transforms/Passes.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/Passes.h"

using namespace mlir;

void ntp::buildJetLoopsPipeline(OpPassManager &pm,
                                const CpuPipelineOptions &options) {
  NtpDecomposeMlpOptions decompose;
  decompose.tileSize = options.tileSize;
  pm.addPass(createNtpDecomposeMlp(decompose));
  if (options.backward)
    pm.addPass(createNtpGenerateBackward());
  OpPassManager &func = pm.nest<func::FuncOp>();
  func.addPass(createNtpExpandFaaDiBruno());
  func.addPass(createConvertNtpToLoops());
}

void ntp::buildCpuPipeline(OpPassManager &pm,
                           const CpuPipelineOptions &options) {
  buildJetLoopsPipeline(pm, options);
  OpPassManager &func = pm.nest<func::FuncOp>();
  func.addPass(createNtpApproximateMath());
  func.addPass(createCanonicalizerPass());
  func.addPass(createCSEPass());
  func.addPass(createLoopInvariantCodeMotionPass());
  // fma/abs/... become LLVM intrinsics; what has none (f64 tanh, ...) becomes
  // a libm call.
  pm.addPass(createConvertMathToLLVMPass());
  pm.addPass(createConvertMathToLibmPass());
  // Subviews of the ping-pong buffers become plain offset arithmetic.
  pm.addPass(memref::createExpandStridedMetadataPass());
  pm.addPass(createLowerAffinePass());
  pm.addPass(createSCFToControlFlowPass());
  pm.addPass(createConvertVectorToLLVMPass());
  pm.addPass(createFinalizeMemRefToLLVMConversionPass());
  pm.addPass(createArithToLLVMConversionPass());
  pm.addPass(createConvertControlFlowToLLVMPass());
  pm.addPass(createConvertFuncToLLVMPass());
  pm.addPass(createReconcileUnrealizedCastsPass());
}

void ntp::registerNtpPipelines() {
  PassPipelineRegistration<CpuPipelineOptions>(
      "ntp-jet-loops-pipeline",
      "Lower ntp.mlp to vectorized loops of Faà di Bruno arithmetic",
      buildJetLoopsPipeline);
  PassPipelineRegistration<CpuPipelineOptions>(
      "ntp-cpu-pipeline", "Lower ntp.mlp to the LLVM dialect for the host CPU",
      buildCpuPipeline);
}
