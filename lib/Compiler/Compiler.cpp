//===- Compiler.cpp - From a network description to an artifact ----------===//

#include "ntp/Compiler/Compiler.h"
#include "ntp/Dialect/Ntp/IR/NtpOps.h"
#include "ntp/Pipelines/Pipelines.h"

#include "mlir/Conversion/ConvertToLLVM/ToLLVMInterface.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/ControlFlow/IR/ControlFlow.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Target/LLVMIR/Dialect/Builtin/BuiltinToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/LLVMIR/LLVMToLLVMIRTranslation.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"

using namespace mlir;
using namespace ntp;

void ntp::registerNtpCompilerDialects(DialectRegistry &registry) {
  registry
      .insert<NtpDialect, arith::ArithDialect, cf::ControlFlowDialect,
              func::FuncDialect, LLVM::LLVMDialect, math::MathDialect,
              memref::MemRefDialect, scf::SCFDialect, vector::VectorDialect>();
  registerBuiltinDialectTranslation(registry);
  registerLLVMDialectTranslation(registry);
}

OwningOpRef<ModuleOp> ntp::buildMlpModule(MLIRContext &context,
                                          const MlpDescription &description) {
  context.loadDialect<NtpDialect>();
  OpBuilder b(&context);
  Location loc = b.getUnknownLoc();
  OwningOpRef<ModuleOp> module = ModuleOp::create(loc);
  b.setInsertionPointToEnd(module->getBody());
  Type element = description.isF64 ? Type(b.getF64Type()) : b.getF32Type();
  MlpOp::create(b, loc, description.name, description.layers,
                description.activation, description.order, element);
  if (failed(verify(*module)))
    return nullptr;
  return module;
}

FailureOr<KernelSpec> ntp::lowerToLLVMDialect(ModuleOp module, PassManager &pm,
                                              const CompileOptions &options) {
  FailureOr<KernelSpec> spec = getKernelSpec(module, options.tileSize);
  if (failed(spec))
    return failure();
  spec->hasBackward = options.backward;
  CpuPipelineOptions pipeline;
  pipeline.tileSize = spec->tile;
  pipeline.backward = options.backward;
  pipeline.outline = options.outline;
  pipeline.formulation = options.formulation;
  buildCpuPipeline(pm, pipeline);
  if (failed(pm.run(module)))
    return failure();
  return spec;
}

/// From a module lowered to the LLVM dialect to a loadable shared object.
static bool writeSharedObject(ModuleOp module, const KernelSpec &spec,
                              const CpuTargetOptions &target,
                              const std::string &outputPath,
                              std::string &error) {
  std::unique_ptr<llvm::TargetMachine> machine =
      createCpuTargetMachine(target, error);
  if (!machine)
    return false;
  llvm::LLVMContext context;
  std::unique_ptr<llvm::Module> llvmModule =
      buildKernelLLVMModule(module, context, spec, target, *machine, error);
  if (!llvmModule)
    return false;

  // Write the object next to the output, then link; the object is temporary.
  llvm::SmallString<256> objectPath;
  int fd;
  if (std::error_code ec = llvm::sys::fs::createTemporaryFile("ntp-kernel", "o",
                                                              fd, objectPath)) {
    error = "cannot create a temporary object file: " + ec.message();
    return false;
  }
  {
    llvm::raw_fd_ostream os(fd, /*shouldClose=*/true);
    if (!emitMachineCode(*llvmModule, *machine, /*assembly=*/false, os, error))
      return false;
  }
  bool linked = linkSharedObject(objectPath, outputPath,
                                 cpuKernelManifest(spec, *machine), error);
  llvm::sys::fs::remove(objectPath);
  return linked;
}

bool ntp::compileToSharedObject(ModuleOp module, const CompileOptions &options,
                                const std::string &outputPath,
                                std::string &error) {
  PassManager pm(module.getContext());
  FailureOr<KernelSpec> spec = lowerToLLVMDialect(module, pm, options);
  if (failed(spec)) {
    error = "lowering the network to LLVM failed";
    return false;
  }
  return writeSharedObject(module, *spec, options.target, outputPath, error);
}

bool ntp::compileGpuEmulationToSharedObject(ModuleOp module,
                                            const NvptxTargetOptions &target,
                                            const CpuTargetOptions &host,
                                            const std::string &outputPath,
                                            std::string &error) {
  FailureOr<KernelSpec> spec =
      getKernelSpec(module, target.samplesPerLaunchBlock());
  if (failed(spec)) {
    error = "the module holds no valid ntp.mlp";
    return false;
  }
  spec->tile = target.samplesPerLaunchBlock();
  spec->hasBackward = false;
  GpuPipelineOptions pipeline;
  pipeline.chip = target.chip;
  pipeline.blockSize = target.blockSize;
  std::optional<GpuMapping> mapping = parseGpuMapping(target.mapping);
  if (!mapping) {
    error = "unknown GPU mapping '" + target.mapping + "'";
    return false;
  }
  pipeline.mapping = *mapping;
  pipeline.samplesPerBlock = target.samplesPerBlock;
  PassManager pm(module.getContext());
  buildGpuEmulationPipeline(pm, pipeline);
  if (failed(pm.run(module))) {
    error = "lowering the GPU kernel to its host emulation failed";
    return false;
  }
  return writeSharedObject(module, *spec, host, outputPath, error);
}
