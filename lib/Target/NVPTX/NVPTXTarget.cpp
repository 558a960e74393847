//===- NVPTXTarget.cpp - PTX, cubin and CUDA artifacts --------------------===//

#include "ntp/Target/NVPTX/NVPTXTarget.h"
#include "ntp/Target/LLVMOptimize.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Target/LLVMIR/Export.h"

#include "llvm/ADT/SmallString.h"
#include "llvm/IR/IRBuilder.h"
#include "llvm/IR/Intrinsics.h"
#include "llvm/IR/LegacyPassManager.h"
#include "llvm/IR/Module.h"
#include "llvm/IR/Verifier.h"
#include "llvm/IRReader/IRReader.h"
#include "llvm/Linker/Linker.h"
#include "llvm/MC/MCSubtargetInfo.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/Passes/PassBuilder.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/Target/TargetMachine.h"
#include "llvm/TargetParser/Triple.h"

#include <cstdlib>
#include <sstream>

using namespace ntp;

static std::string fromEnvironment(const char *name) {
  const char *value = std::getenv(name);
  return value && *value ? value : "";
}

std::string ntp::findLibdevice(const NvptxTargetOptions &options) {
  for (std::string candidate :
       {options.libdevice, fromEnvironment("NTP_LIBDEVICE"),
        fromEnvironment("CUDA_HOME").empty()
            ? std::string()
            : fromEnvironment("CUDA_HOME") + "/nvvm/libdevice/libdevice.10.bc",
        std::string("/usr/local/cuda/nvvm/libdevice/libdevice.10.bc")})
    if (!candidate.empty() && llvm::sys::fs::exists(candidate))
      return candidate;
  return "";
}

std::string ntp::findPtxas(const NvptxTargetOptions &options) {
  for (std::string candidate : {options.ptxas, fromEnvironment("NTP_PTXAS"),
                                std::string("/usr/local/cuda/bin/ptxas")})
    if (!candidate.empty() && llvm::sys::fs::can_execute(candidate))
      return candidate;
  if (auto found = llvm::sys::findProgramByName("ptxas"))
    return *found;
  return "";
}

static const llvm::Target *nvptxTarget(std::string &error) {
  LLVMInitializeNVPTXTarget();
  LLVMInitializeNVPTXTargetInfo();
  LLVMInitializeNVPTXTargetMC();
  LLVMInitializeNVPTXAsmPrinter();
  const llvm::Target *target = llvm::TargetRegistry::lookupTarget(
      llvm::Triple("nvptx64-nvidia-cuda"), error);
  if (!target)
    error = "this LLVM has no NVPTX backend: " + error;
  return target;
}

bool ntp::checkNvptxChip(const std::string &chip, std::string &error) {
  const llvm::Target *target = nvptxTarget(error);
  if (!target)
    return false;
  // A subtarget for no CPU in particular: one for an unknown CPU would make
  // LLVM print a warning on stderr.
  std::unique_ptr<llvm::MCSubtargetInfo> subtarget(
      target->createMCSubtargetInfo(llvm::Triple("nvptx64-nvidia-cuda"), "",
                                    ""));
  if (chip.empty() || !subtarget || !subtarget->isCPUStringValid(chip)) {
    error = "unknown NVIDIA architecture '" + chip +
            "' (expected sm_XX, e.g. sm_80 or sm_90)";
    return false;
  }
  return true;
}

KernelTargetUpdate ntp::stampCudaTarget(std::string chip,
                                        artifact::GpuMapping mapping,
                                        int64_t blockSize,
                                        int64_t samplesPerBlock) {
  return [=](KernelTarget &target, std::string &error) {
    if (!checkNvptxChip(chip, error))
      return false;
    target.device = artifact::Device::Cuda;
    // backward: as ntp-generate-backward left it (the GPU reverse mode).
    target.cpu.clear();
    target.cpuFeatures.clear();
    target.chip = chip;
    target.mapping = mapping;
    target.blockSize = blockSize;
    target.samplesPerBlock = samplesPerBlock;
    return true;
  };
}

static std::unique_ptr<llvm::TargetMachine>
createNvptxTargetMachine(const NvptxTargetOptions &options,
                         std::string &error) {
  const llvm::Target *target = nvptxTarget(error);
  if (!target || !checkNvptxChip(options.chip, error))
    return nullptr;
  llvm::Triple triple("nvptx64-nvidia-cuda");
  llvm::TargetOptions targetOptions;
  std::unique_ptr<llvm::TargetMachine> machine(target->createTargetMachine(
      triple, options.chip, options.features, targetOptions, std::nullopt,
      std::nullopt, llvm::CodeGenOptLevel::Aggressive));
  if (!machine)
    error = "cannot create an NVPTX target machine for " + options.chip;
  return machine;
}

bool ntp::emitPtx(mlir::ModuleOp lowered, const NvptxTargetOptions &options,
                  std::string &ptx, std::string &error, bool llvmIR) {
  auto gpuModules = llvm::to_vector(lowered.getOps<mlir::gpu::GPUModuleOp>());
  if (gpuModules.size() != 1) {
    error = "expected exactly one gpu.module after ntp-gpu-pipeline";
    return false;
  }
  auto machine = createNvptxTargetMachine(options, error);
  if (!machine)
    return false;
  llvm::LLVMContext context;
  std::unique_ptr<llvm::Module> module =
      mlir::translateModuleToLLVMIR(gpuModules.front(), context, "ntp_kernels");
  if (!module) {
    error = "cannot translate the GPU kernel to LLVM IR";
    return false;
  }
  module->setTargetTriple(machine->getTargetTriple());
  module->setDataLayout(machine->createDataLayout());

  // __nv_* functions with a native PTX instruction are defined here by the
  // LLVM intrinsic, so that only f64 transcendental functions need libdevice.
  static const std::pair<const char *, llvm::Intrinsic::ID> native[] = {
      {"fabs", llvm::Intrinsic::fabs},
      {"floor", llvm::Intrinsic::floor},
      {"ceil", llvm::Intrinsic::ceil},
      {"sqrt", llvm::Intrinsic::sqrt},
      {"copysign", llvm::Intrinsic::copysign},
      {"fma", llvm::Intrinsic::fma},
      {"fmin", llvm::Intrinsic::minnum},
      {"fmax", llvm::Intrinsic::maxnum},
      {"trunc", llvm::Intrinsic::trunc},
      {"rint", llvm::Intrinsic::rint}};
  for (llvm::Function &f : *module) {
    if (!f.isDeclaration() || !f.getName().starts_with("__nv_"))
      continue;
    llvm::StringRef base = f.getName().drop_front(5);
    if (base.ends_with("f"))
      base = base.drop_back();
    for (auto [name, id] : native) {
      if (base != name)
        continue;
      auto *block = llvm::BasicBlock::Create(context, "entry", &f);
      llvm::IRBuilder<> builder(block);
      llvm::SmallVector<llvm::Value *> args;
      for (llvm::Argument &arg : f.args())
        args.push_back(&arg);
      builder.CreateRet(builder.CreateIntrinsic(id, {f.getReturnType()}, args));
      f.setLinkage(llvm::GlobalValue::InternalLinkage);
      break;
    }
  }

  // Calls to libdevice (__nv_tanh, ...) remain only for f64 math.
  bool needsLibdevice = false;
  for (llvm::Function &f : *module)
    if (f.isDeclaration() && f.getName().starts_with("__nv_"))
      needsLibdevice = true;
  if (needsLibdevice) {
    std::string path = findLibdevice(options);
    if (path.empty()) {
      error = "f64 math in this kernel needs libdevice (libdevice.10.bc from "
              "the CUDA toolkit): pass --libdevice=<path> or set NTP_LIBDEVICE";
      return false;
    }
    llvm::SMDiagnostic diagnostic;
    std::unique_ptr<llvm::Module> library =
        llvm::parseIRFile(path, diagnostic, context);
    if (!library) {
      error = "cannot read libdevice '" + path +
              "': " + diagnostic.getMessage().str();
      return false;
    }
    library->setTargetTriple(machine->getTargetTriple());
    library->setDataLayout(machine->createDataLayout());
    if (llvm::Linker::linkModules(*module, std::move(library),
                                  llvm::Linker::Flags::LinkOnlyNeeded)) {
      error = "cannot link libdevice '" + path + "'";
      return false;
    }
    // No flush-to-zero: the same denormal behaviour as the CPU kernels.
    module->addModuleFlag(llvm::Module::Override, "nvvm-reflect-ftz",
                          static_cast<uint32_t>(0));
  }
  // Everything but the kernel is internal and always inlined (outlined
  // activation jets, libdevice): a call on the GPU passes its arguments
  // through the stack, and the kernel must stay one fused body.
  for (llvm::Function &f : *module)
    if (!f.isDeclaration() &&
        f.getCallingConv() != llvm::CallingConv::PTX_Kernel) {
      f.setLinkage(llvm::GlobalValue::InternalLinkage);
      f.removeFnAttr(llvm::Attribute::NoInline);
      f.removeFnAttr(llvm::Attribute::OptimizeNone);
      f.addFnAttr(llvm::Attribute::AlwaysInline);
    }
  if (llvm::verifyModule(*module, &llvm::errs())) {
    error = "generated LLVM IR for the GPU kernel is invalid";
    return false;
  }

  optimizeLLVMModule(*module, *machine);

  llvm::raw_string_ostream os(ptx);
  if (llvmIR) {
    module->print(os, nullptr);
    return true;
  }
  llvm::SmallString<0> buffer;
  llvm::raw_svector_ostream bufferStream(buffer);
  llvm::legacy::PassManager pm;
  if (machine->addPassesToEmitFile(pm, bufferStream, nullptr,
                                   llvm::CodeGenFileType::AssemblyFile)) {
    error = "the NVPTX backend cannot emit PTX";
    return false;
  }
  pm.run(*module);
  os << buffer;
  return true;
}

bool ntp::assembleCubin(const std::string &ptx,
                        const NvptxTargetOptions &options, std::string &cubin,
                        std::string &error, std::string *report) {
  std::string ptxas = findPtxas(options);
  if (ptxas.empty()) {
    error = "ptxas not found (install the CUDA toolkit, or set NTP_PTXAS); "
            "--emit=ptx needs no toolkit";
    return false;
  }
  llvm::SmallString<128> ptxPath, cubinPath, logPath;
  int fd;
  if (llvm::sys::fs::createTemporaryFile("ntp-kernel", "ptx", fd, ptxPath) ||
      llvm::sys::fs::createTemporaryFile("ntp-kernel", "cubin", cubinPath) ||
      llvm::sys::fs::createTemporaryFile("ntp-ptxas", "log", logPath)) {
    error = "cannot create temporary files for ptxas";
    return false;
  }
  {
    llvm::raw_fd_ostream os(fd, /*shouldClose=*/true);
    os << ptx;
  }
  std::string arch = "-arch=" + options.chip;
  llvm::SmallVector<llvm::StringRef> args = {ptxas,   arch, "-O3",    "-v",
                                             ptxPath, "-o", cubinPath};
  std::optional<llvm::StringRef> redirects[] = {std::nullopt, logPath.str(),
                                                logPath.str()};
  std::string message;
  int rc = llvm::sys::ExecuteAndWait(ptxas, args, std::nullopt, redirects, 0, 0,
                                     &message);
  std::string log;
  if (auto buffer = llvm::MemoryBuffer::getFile(logPath))
    log = (*buffer)->getBuffer().str();
  if (report)
    *report = log;
  bool ok = rc == 0;
  if (ok) {
    auto buffer = llvm::MemoryBuffer::getFile(cubinPath, /*IsText=*/false,
                                              /*RequiresNullTerminator=*/false);
    if (buffer)
      cubin = (*buffer)->getBuffer().str();
    else
      ok = false, error = "ptxas wrote no cubin";
  } else {
    error = "ptxas failed" + (message.empty() ? "" : " (" + message + ")") +
            ":\n" + log;
  }
  llvm::sys::fs::remove(ptxPath);
  llvm::sys::fs::remove(cubinPath);
  llvm::sys::fs::remove(logPath);
  return ok;
}
