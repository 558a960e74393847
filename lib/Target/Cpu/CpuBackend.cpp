//===- CpuBackend.cpp - The CPU target ------------------------------------===//
//
// ntp-cpu-pipeline, then LLVM IR with the C-ABI entry points and manifest,
// O3, machine code for the chosen CPU, and a shared object.
//
//===----------------------------------------------------------------------===//

#include "ntp/Dialect/Ntp/IR/NtpDialect.h"
#include "ntp/Pipelines/Pipelines.h"
#include "ntp/Target/Cpu/CpuTarget.h"
#include "ntp/Target/TargetBackend.h"
#include "ntp/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/ControlFlow/IR/ControlFlow.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Target/LLVMIR/Dialect/Builtin/BuiltinToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/LLVMIR/LLVMToLLVMIRTranslation.h"

#include "llvm/ADT/SmallString.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/raw_ostream.h"

using namespace mlir;
using namespace ntp;

void ntp::registerCpuTargetDialects(DialectRegistry &registry) {
  registry
      .insert<NtpDialect, arith::ArithDialect, cf::ControlFlowDialect,
              func::FuncDialect, LLVM::LLVMDialect, math::MathDialect,
              memref::MemRefDialect, scf::SCFDialect, vector::VectorDialect>();
  registerBuiltinDialectTranslation(registry);
  registerLLVMDialectTranslation(registry);
}

namespace {

/// Removes a temporary file when it goes out of scope.
struct TemporaryFile {
  llvm::SmallString<128> path;
  ~TemporaryFile() {
    if (!path.empty())
      llvm::sys::fs::remove(path);
  }
};

class CpuBackend : public TargetBackend {
public:
  llvm::StringRef getName() const override { return "cpu"; }
  llvm::StringRef getDescription() const override {
    return "the host CPU (default)";
  }
  void registerDialects(DialectRegistry &registry) const override {
    registerCpuTargetDialects(registry);
  }
  bool supports(EmitStage stage) const override {
    return stage != EmitStage::Cubin;
  }

  bool checkOptions(const CompileOptions &options,
                    std::string &error) const override {
    if (options.tileSize < 0 || options.tileSize > artifact::kMaxTile) {
      error = "tile size must be in [1, " + std::to_string(artifact::kMaxTile) +
              "] (kMaxTile) or 0 for the default, got " +
              std::to_string(options.tileSize);
      return false;
    }
    return createCpuTargetMachine(options.target, error) != nullptr;
  }

  bool buildPipeline(OpPassManager &pm, const CompileOptions &options,
                     EmitStage stage, std::string &error) const override {
    CpuPipelineOptions pipeline;
    pipeline.tileSize = options.tileSize;
    pipeline.backward = options.backward;
    pipeline.outline = options.outline;
    pipeline.formulation = options.formulation;
    if (stage == EmitStage::Jets) {
      NtpDecomposeMlpOptions decompose;
      decompose.tileSize = options.tileSize;
      pm.addPass(createNtpDecomposeMlp(decompose));
      return true;
    }
    if (stage == EmitStage::Loops) {
      buildJetLoopsPipeline(pm, pipeline);
      return true;
    }
    std::unique_ptr<llvm::TargetMachine> machine =
        createCpuTargetMachine(options.target, error);
    if (!machine)
      return false;
    buildCpuPipeline(pm, pipeline);
    pm.addPass(createStampKernelTargetPass(stampCpuTarget(*machine)));
    return true;
  }

  bool serialize(ModuleOp lowered, const artifact::KernelManifest &manifest,
                 EmitStage stage, const CompileOptions &options,
                 CompileOutput &output, std::string &error) const override {
    CpuTargetOptions target = options.target;
    // Objects for static linking export the kernel's own name; the runtime
    // loads the default prefix.
    if (target.symbolPrefix.empty())
      target.symbolPrefix = stage == EmitStage::Obj
                                ? manifest.name
                                : std::string(artifact::kDefaultSymbolPrefix);
    std::unique_ptr<llvm::TargetMachine> machine =
        createCpuTargetMachine(target, error);
    if (!machine)
      return false;
    llvm::LLVMContext context;
    std::unique_ptr<llvm::Module> module =
        buildKernelLLVMModule(lowered, context, target, *machine, error);
    if (!module)
      return false;
    if (stage == EmitStage::Llvm) {
      llvm::raw_string_ostream os(output.bytes);
      module->print(os, nullptr);
      return true;
    }
    llvm::SmallString<0> code;
    llvm::raw_svector_ostream os(code);
    if (!emitMachineCode(*module, *machine, stage == EmitStage::Asm, os, error))
      return false;
    if (stage != EmitStage::Artifact) {
      output.bytes.assign(code.begin(), code.end());
      return true;
    }
    // The artifact: the object linked into a shared object.
    TemporaryFile object, shared;
    int fd;
    if (std::error_code ec = llvm::sys::fs::createTemporaryFile(
            "ntp-kernel", "o", fd, object.path)) {
      error = "cannot create a temporary object file: " + ec.message();
      return false;
    }
    {
      llvm::raw_fd_ostream file(fd, /*shouldClose=*/true);
      file << code;
      file.close();
      if (file.has_error()) {
        file.clear_error();
        error = "cannot write the temporary object file '" +
                object.path.str().str() + "'";
        return false;
      }
    }
    if (std::error_code ec = llvm::sys::fs::createTemporaryFile(
            "ntp-kernel", "so", shared.path)) {
      error = "cannot create a temporary shared object: " + ec.message();
      return false;
    }
    if (!linkSharedObject(object.path, shared.path, manifest, error))
      return false;
    auto bytes = llvm::MemoryBuffer::getFile(shared.path, /*IsText=*/false,
                                             /*RequiresNullTerminator=*/false);
    if (!bytes) {
      error =
          "cannot read the linked shared object: " + bytes.getError().message();
      return false;
    }
    output.bytes = (*bytes)->getBuffer().str();
    return true;
  }
};

} // namespace

void ntp::registerCpuTarget() {
  registerTargetBackend(std::make_unique<CpuBackend>());
}
