//===- CpuTarget.cpp - LLVM IR, objects and shared objects for CPUs -------===//

#include "ntp/Target/Cpu/CpuTarget.h"
#include "ntp/Compiler/KernelFacts.h"
#include "ntp/Dialect/Ntp/IR/JetBuffer.h"
#include "ntp/Dialect/Ntp/IR/NtpAttributes.h"
#include "ntp/Target/LLVMOptimize.h"

#include "mlir/Target/LLVMIR/Dialect/Builtin/BuiltinToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/LLVMIR/LLVMToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Export.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/SmallString.h"
#include "llvm/Analysis/TargetTransformInfo.h"
#include "llvm/IR/Constants.h"
#include "llvm/IR/IRBuilder.h"
#include "llvm/IR/InstIterator.h"
#include "llvm/IR/LegacyPassManager.h"
#include "llvm/IR/Verifier.h"
#include "llvm/MC/MCInstrInfo.h"
#include "llvm/MC/MCSchedule.h"
#include "llvm/MC/MCSubtargetInfo.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/Passes/PassBuilder.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/TargetParser/Host.h"

#include <cstdlib>
#include <sstream>

using namespace ntp;
namespace art = ntp::artifact;

llvm::Triple ntp::cpuTargetTriple(const CpuTargetOptions &options) {
  return llvm::Triple(options.triple.empty()
                          ? llvm::sys::getDefaultTargetTriple()
                          : llvm::Triple::normalize(options.triple));
}

bool ntp::isHostArchitecture(const llvm::Triple &triple) {
  return triple.getArch() ==
         llvm::Triple(llvm::sys::getProcessTriple()).getArch();
}

std::unique_ptr<llvm::TargetMachine>
ntp::createCpuTargetMachine(const CpuTargetOptions &options,
                            std::string &error) {
  llvm::Triple triple = cpuTargetTriple(options);
  bool host = isHostArchitecture(triple);
  if (host) {
    llvm::InitializeNativeTarget();
    llvm::InitializeNativeTargetAsmPrinter();
  } else {
    llvm::InitializeAllTargetInfos();
    llvm::InitializeAllTargets();
    llvm::InitializeAllTargetMCs();
    llvm::InitializeAllAsmPrinters();
  }
  std::string lookupError;
  const llvm::Target *target =
      llvm::TargetRegistry::lookupTarget(triple, lookupError);
  if (!target || triple.getArch() == llvm::Triple::UnknownArch) {
    error = "unknown target triple '" + options.triple +
            "': this LLVM has no target for it";
    return nullptr;
  }
  if (!triple.isX86() && !triple.isAArch64()) {
    error = "the CPU target emits x86-64 and AArch64 code, not '" +
            triple.str() + "'";
    return nullptr;
  }
  if (options.sveVectorBits != 0 &&
      (!triple.isAArch64() || options.sveVectorBits < 256 ||
       options.sveVectorBits > 2048 || options.sveVectorBits % 128 != 0)) {
    error = "the SVE vector length is for AArch64 and must be a multiple of "
            "128 in 256..2048, got " +
            std::to_string(options.sveVectorBits);
    return nullptr;
  }
  std::string cpu = options.cpu, features = options.features;
  if (cpu == "native") {
    if (!host) {
      error = "--target-cpu=native names this machine's CPU, which cannot "
              "run " +
              triple.str() + " code; name a CPU of that architecture";
      return nullptr;
    }
    cpu = llvm::sys::getHostCPUName().str();
    for (const auto &feature : llvm::sys::getHostCPUFeatures())
      features += (features.empty() ? "" : ",") +
                  std::string(feature.second ? "+" : "-") +
                  feature.first().str();
  }
  // An unknown CPU name would silently fall back to a generic model (asked
  // of a generic subtarget, so that LLVM prints no warning of its own).
  std::unique_ptr<llvm::MCSubtargetInfo> subtarget(
      target->createMCSubtargetInfo(triple, "", ""));
  if (!subtarget || !subtarget->isCPUStringValid(cpu)) {
    error = "unknown target CPU '" + options.cpu + "'";
    if (!host)
      error += " for " + triple.str() +
               " (the default CPU is x86's; name one of that architecture, "
               "e.g. generic)";
    return nullptr;
  }
  llvm::TargetOptions targetOptions;
  std::unique_ptr<llvm::TargetMachine> machine(target->createTargetMachine(
      triple, cpu, features, targetOptions, llvm::Reloc::PIC_, std::nullopt,
      llvm::CodeGenOptLevel::Aggressive));
  if (!machine)
    error = "cannot create a target machine for '" + cpu + "'";
  return machine;
}

namespace {
/// (latency, issues per cycle) of the instruction named `name` in the
/// scheduling model of `info`; (0, 0) if the target has no such opcode or
/// the model says nothing about it.
std::pair<int64_t, int64_t> scheduleOf(const llvm::MCSubtargetInfo &info,
                                       const llvm::MCInstrInfo &instrs,
                                       llvm::StringRef name) {
  const llvm::MCSchedModel &model = info.getSchedModel();
  if (!model.hasInstrSchedModel())
    return {0, 0};
  for (unsigned opcode = 0, e = instrs.getNumOpcodes(); opcode < e; ++opcode) {
    if (instrs.getName(opcode) != name)
      continue;
    const llvm::MCSchedClassDesc *desc =
        model.getSchedClassDesc(instrs.get(opcode).getSchedClass());
    if (!desc || !desc->isValid() || desc->isVariant())
      return {0, 0};
    int latency = llvm::MCSchedModel::computeInstrLatency(info, *desc);
    double inverse = llvm::MCSchedModel::getReciprocalThroughput(info, *desc);
    if (latency <= 0 || inverse <= 0)
      return {0, 0};
    return {latency, std::max<int64_t>(1, std::lround(1 / inverse))};
  }
  return {0, 0};
}
} // namespace

MachineVectorFacts ntp::cpuVectorFacts(llvm::TargetMachine &machine,
                                       int64_t sveVectorBits) {
  MachineVectorFacts facts;
  // What LLVM legalizes vectors to for this CPU (prefer-vector-width
  // included), asked of a function compiled for it.
  llvm::LLVMContext context;
  llvm::Module module("facts", context);
  module.setTargetTriple(machine.getTargetTriple());
  auto *function = llvm::Function::Create(
      llvm::FunctionType::get(llvm::Type::getVoidTy(context), false),
      llvm::GlobalValue::ExternalLinkage, "f", module);
  // The attributes buildKernelLLVMModule gives the kernel's functions:
  // without them LLVM reports the 256-bit width it prefers on Intel's
  // AVX-512 CPUs while the code it emits uses zmm registers.
  function->addFnAttr("min-legal-vector-width", "512");
  function->addFnAttr("prefer-vector-width", "512");
  if (sveVectorBits > 0)
    function->addFnAttr(llvm::Attribute::getWithVScaleRangeArgs(
        context, sveVectorBits / 128, sveVectorBits / 128));
  llvm::TargetTransformInfo tti = machine.getTargetTransformInfo(*function);
  facts.vectorBits =
      tti.getRegisterBitWidth(llvm::TargetTransformInfo::RGK_FixedWidthVector)
          .getFixedValue();
  facts.vectorRegisters =
      tti.getNumberOfRegisters(tti.getRegisterClassForType(/*Vector=*/true));
  const llvm::MCSubtargetInfo &info = *machine.getMCSubtargetInfo();
  const llvm::MCInstrInfo &instrs = *machine.getMCInstrInfo();
  // The packed single-precision FMA and load of that width (the double ones
  // have the same timing on every modelled CPU).
  std::string fma, load;
  if (machine.getTargetTriple().isX86()) {
    const char *suffix = facts.vectorBits >= 512   ? "Z"
                         : facts.vectorBits >= 256 ? "Y"
                                                   : "";
    fma = std::string("VFMADD231PS") + suffix + "r";
    load = std::string("VMOVUPS") + suffix + "rm";
  } else if (machine.getTargetTriple().isAArch64()) {
    fma = "FMLAv4f32";
    load = "LDRQui";
  }
  auto [fmaLatency, fmaPipes] = scheduleOf(info, instrs, fma);
  auto [loadLatency, loadPorts] = scheduleOf(info, instrs, load);
  (void)loadLatency;
  if (!fmaLatency || !loadPorts || facts.vectorBits <= 0)
    return {};
  facts.fmaLatency = fmaLatency;
  facts.fmaPipes = fmaPipes;
  facts.loadPorts = loadPorts;
  // LLVM's X86 answer is 32 KiB for every CPU (Emerald Rapids has 48, Zen
  // 3/4 32); where it has none, 32 KiB, the smallest L1d of the CPUs ntp
  // schedules for.
  facts.l1DataBytes =
      tti.getCacheSize(llvm::TargetTransformInfo::CacheLevel::L1D)
          .value_or(32 * 1024);
  // LLVM 22 models one zmm FMA per cycle on Intel's server cores since Ice
  // Lake-SP (as on its client cores, whose port 5 has none); the Xeons have
  // a second 512-bit FMA unit on port 5 (as its skylake-avx512 model says):
  // an Emerald Rapids reached 164 GFLOP/s f32 on one core at ~2.6 GHz in
  // ntp-bench's FMA peak, two zmm FMAs per cycle.
  if (machine.getTargetTriple().isX86() && facts.vectorBits >= 512 &&
      llvm::is_contained(
          std::initializer_list<llvm::StringRef>{
              "icelake-server", "sapphirerapids", "emeraldrapids",
              "graniterapids", "graniterapids-d"},
          machine.getTargetCPU()))
    facts.fmaPipes = std::max<int64_t>(facts.fmaPipes, 2);
  return facts;
}

namespace {
/// The buffers a generated kernel function takes, in order.
enum class Buffer { X, Direction, Params, Jet, Grad, XGrad, Workspace };

/// The buffers of each entry point; each takes pointers for its buffers,
/// then (batch, tile_begin, tile_end).
std::vector<Buffer> entryPointBuffers(art::EntryPoint entry) {
  switch (entry) {
  case art::EntryPoint::Forward:
    return {Buffer::X, Buffer::Direction, Buffer::Params, Buffer::Jet};
  case art::EntryPoint::Backward:
    return {Buffer::X,   Buffer::Direction, Buffer::Params,
            Buffer::Jet, Buffer::Grad,      Buffer::XGrad};
  case art::EntryPoint::ForwardSave:
    return {Buffer::X, Buffer::Direction, Buffer::Params, Buffer::Jet,
            Buffer::Workspace};
  case art::EntryPoint::BackwardSaved:
    return {Buffer::X,    Buffer::Direction, Buffer::Params,   Buffer::Jet,
            Buffer::Grad, Buffer::XGrad,     Buffer::Workspace};
  }
  return {};
}
} // namespace

std::vector<std::string>
ntp::recordedCpuFeatures(const llvm::MCSubtargetInfo &info,
                         const llvm::Triple &triple) {
  std::vector<std::string> features;
  if (!triple.isX86())
    return features;
  for (std::string_view name : art::kRecordedCpuFeatures)
    if (info.checkFeatures("+" + std::string(name)))
      features.emplace_back(name);
  return features;
}

KernelTargetUpdate ntp::stampCpuTarget(const llvm::TargetMachine &machine) {
  std::string cpu = machine.getTargetCPU().str();
  std::vector<std::string> features = recordedCpuFeatures(
      *machine.getMCSubtargetInfo(), machine.getTargetTriple());
  return [=](KernelTarget &target, std::string &) {
    target.device = art::Device::Cpu;
    target.cpu = cpu;
    target.cpuFeatures = features;
    return true;
  };
}

/// Adds `void <prefix>_<suffix>(T *buffers..., int64_t batch, int64_t
/// tile_begin, int64_t tile_end)` for each entry point of the kernel,
/// expanding each pointer into the memref descriptor fields (allocated and
/// aligned pointer, offset, size, stride) that the lowered function takes.
static bool addEntryPoints(llvm::Module &module,
                           const art::KernelManifest &spec,
                           const CpuTargetOptions &options,
                           std::string &error) {
  llvm::LLVMContext &context = module.getContext();
  auto *ptr = llvm::PointerType::getUnqual(context);
  auto *i64 = llvm::Type::getInt64Ty(context);
  std::vector<std::string> symbols = entryPointSymbols(spec);
  for (size_t e = 0; e < symbols.size(); ++e) {
    art::EntryPoint entryPoint = art::kEntryPoints[e];
    llvm::Function *inner = module.getFunction(symbols[e]);
    if (!inner) {
      error = "lowered module has no function '" + symbols[e] + "'";
      return false;
    }
    std::vector<Buffer> buffers = entryPointBuffers(entryPoint);
    std::vector<llvm::Type *> params(buffers.size(), ptr);
    params.insert(params.end(), {i64, i64, i64});
    auto *type = llvm::FunctionType::get(llvm::Type::getVoidTy(context), params,
                                         /*isVarArg=*/false);
    std::string name = art::entryPointSymbol(options.symbolPrefix, entryPoint);
    if (name == inner->getName())
      inner->setName(name + "_impl");
    auto *entry = llvm::Function::Create(
        type, llvm::GlobalValue::ExternalLinkage, name, module);
    llvm::IRBuilder<> b(llvm::BasicBlock::Create(context, "entry", entry));
    unsigned numBuffers = buffers.size();
    llvm::Value *batch = entry->getArg(numBuffers);
    auto timesBatch = [&](int64_t n) {
      return b.CreateMul(batch, b.getInt64(n));
    };
    std::vector<llvm::Value *> args;
    for (unsigned i = 0; i < numBuffers; ++i) {
      llvm::Value *size = nullptr;
      switch (buffers[i]) {
      case Buffer::X:
      case Buffer::XGrad:
        size = timesBatch(spec.inputDim());
        break;
      case Buffer::Direction:
        size = b.getInt64(spec.inputDim());
        break;
      case Buffer::Params:
      case Buffer::Grad:
        size = b.getInt64(spec.numParams);
        break;
      case Buffer::Jet:
        size = timesBatch((spec.order + 1) * spec.outputDim());
        break;
      case Buffer::Workspace: {
        llvm::Value *tiles =
            b.CreateSDiv(b.CreateAdd(batch, b.getInt64(spec.tile - 1)),
                         b.getInt64(spec.tile));
        size = b.CreateMul(tiles, b.getInt64(spec.workspacePerTile));
        break;
      }
      }
      llvm::Value *p = entry->getArg(i);
      args.insert(args.end(), {p, p, b.getInt64(0), size, b.getInt64(1)});
    }
    args.insert(args.end(), {batch, entry->getArg(numBuffers + 1),
                             entry->getArg(numBuffers + 2)});
    b.CreateCall(inner, args);
    b.CreateRetVoid();
    // Only entry points and the manifest are exported; bodies get inlined.
    inner->setLinkage(llvm::GlobalValue::InternalLinkage);
  }

  auto *text = llvm::ConstantDataArray::getString(
      context, art::serializeManifest(spec), /*AddNull=*/true);
  new llvm::GlobalVariable(module, text->getType(), /*isConstant=*/true,
                           llvm::GlobalValue::ExternalLinkage, text,
                           art::manifestSymbol(options.symbolPrefix));
  return true;
}

std::unique_ptr<llvm::Module>
ntp::buildKernelLLVMModule(mlir::ModuleOp lowered, llvm::LLVMContext &context,
                           const CpuTargetOptions &options,
                           llvm::TargetMachine &machine, std::string &error) {
  KernelAttr kernel = getKernelAttr(lowered);
  if (!kernel) {
    error = "the lowered module carries no #ntp.kernel attribute";
    return nullptr;
  }
  art::KernelManifest spec = kernel.getManifest();
  if (spec.device != art::Device::Cpu ||
      spec.targetCpu != machine.getTargetCPU()) {
    error = "the module's #ntp.kernel is for " +
            (spec.device == art::Device::Cpu ? "CPU '" + spec.targetCpu + "'"
                                             : std::string("a CUDA device")) +
            ", not for CPU '" + machine.getTargetCPU().str() + "'";
    return nullptr;
  }
  mlir::DialectRegistry registry;
  mlir::registerBuiltinDialectTranslation(registry);
  mlir::registerLLVMDialectTranslation(registry);
  lowered->getContext()->appendDialectRegistry(registry);
  std::unique_ptr<llvm::Module> module =
      mlir::translateModuleToLLVMIR(lowered, context, spec.name);
  if (!module) {
    error = "cannot translate the lowered module to LLVM IR";
    return nullptr;
  }
  if (!addEntryPoints(*module, spec, options, error))
    return nullptr;
  module->setTargetTriple(machine.getTargetTriple());
  module->setDataLayout(machine.createDataLayout());
  for (llvm::Function &f : *module) {
    if (f.isDeclaration())
      continue;
    // The outlined neuron expansions are called only from this module:
    // internal linkage makes their calls direct (no PLT in the shared
    // object) and lets LLVM's interprocedural passes specialise them.
    if (f.getName().starts_with("__ntp_"))
      f.setLinkage(llvm::GlobalValue::InternalLinkage);
    f.addFnAttr("target-cpu", machine.getTargetCPU());
    if (!machine.getTargetFeatureString().empty())
      f.addFnAttr("target-features", machine.getTargetFeatureString());
    // The IR is explicitly vectorized across a tile (up to 512 bits): keep
    // those vectors whole where the CPU has such registers.
    f.addFnAttr("min-legal-vector-width", "512");
    f.addFnAttr("prefer-vector-width", "512");
    if (options.sveVectorBits > 0)
      f.addFnAttr(llvm::Attribute::getWithVScaleRangeArgs(
          context, options.sveVectorBits / 128, options.sveVectorBits / 128));
    // The jets on the stack start on a cache line
    // (JetBufferShape::kAlignmentBytes): with the element's alignment (8)
    // they began 16 bytes into a line, and every zmm load or store of an
    // AVX-512 tile was split (1-64-64-64-1 order 9 ran its forward 1.5x
    // slower on an Emerald Rapids).
    llvm::Align line(JetBufferShape::kAlignmentBytes);
    for (llvm::Instruction &instruction : llvm::instructions(f))
      if (auto *alloca = llvm::dyn_cast<llvm::AllocaInst>(&instruction))
        if (alloca->getAlign() < line)
          alloca->setAlignment(line);
  }
  if (llvm::verifyModule(*module, &llvm::errs())) {
    error = "generated LLVM IR is invalid";
    return nullptr;
  }

  optimizeLLVMModule(*module, machine);
  return module;
}

bool ntp::emitMachineCode(llvm::Module &module, llvm::TargetMachine &machine,
                          bool assembly, llvm::raw_pwrite_stream &os,
                          std::string &error) {
  llvm::legacy::PassManager pm;
  if (machine.addPassesToEmitFile(pm, os, nullptr,
                                  assembly
                                      ? llvm::CodeGenFileType::AssemblyFile
                                      : llvm::CodeGenFileType::ObjectFile)) {
    error = "the target cannot emit this file type";
    return false;
  }
  pm.run(module);
  return true;
}

bool ntp::linkSharedObject(llvm::StringRef objectPath,
                           llvm::StringRef outputPath,
                           const ntp::artifact::KernelManifest &manifest,
                           std::string &error) {
  return linkSharedObject(std::vector<std::string>{objectPath.str()},
                          outputPath, manifest, error);
}

bool ntp::emitManifestObject(const art::KernelManifest &manifest,
                             llvm::StringRef prefix,
                             llvm::TargetMachine &machine, std::string &bytes,
                             std::string &error) {
  llvm::LLVMContext context;
  llvm::Module module("manifest", context);
  module.setTargetTriple(machine.getTargetTriple());
  module.setDataLayout(machine.createDataLayout());
  auto *text = llvm::ConstantDataArray::getString(
      context, art::serializeManifest(manifest), /*AddNull=*/true);
  new llvm::GlobalVariable(module, text->getType(), /*isConstant=*/true,
                           llvm::GlobalValue::ExternalLinkage, text,
                           art::manifestSymbol(prefix.str()));
  llvm::SmallString<0> code;
  llvm::raw_svector_ostream os(code);
  if (!emitMachineCode(module, machine, /*assembly=*/false, os, error))
    return false;
  bytes.assign(code.begin(), code.end());
  return true;
}

void ntp::internalizeHelpers(llvm::Module &module, llvm::StringRef prefix) {
  std::vector<std::string> exported = {art::manifestSymbol(prefix.str())};
  for (art::EntryPoint entry : art::kEntryPoints)
    exported.push_back(art::entryPointSymbol(prefix.str(), entry));
  auto hide = [&](llvm::GlobalValue &value) {
    if (!value.isDeclaration() && !value.hasLocalLinkage() &&
        !llvm::is_contained(exported, value.getName().str()))
      value.setLinkage(llvm::GlobalValue::InternalLinkage);
  };
  for (llvm::Function &function : module)
    hide(function);
  for (llvm::GlobalVariable &global : module.globals())
    hide(global);
}

bool ntp::linkSharedObject(llvm::ArrayRef<std::string> objectPaths,
                           llvm::StringRef outputPath,
                           const ntp::artifact::KernelManifest &manifest,
                           std::string &error) {
  const char *configured = std::getenv("NTP_LINKER");
  std::string driver = configured && *configured ? configured : "cc";
  auto program = llvm::sys::findProgramByName(driver);
  if (!program) {
    error = "cannot find the linker driver '" + driver +
            "' (set NTP_LINKER to a C compiler driver)";
    return false;
  }
  // Link next to the output, then seal into the output: a reader never
  // sees an unsealed or partial artifact under the output's name.
  std::string linked = outputPath.str() + ".unsealed.tmp";
  llvm::SmallVector<llvm::StringRef> args = {*program, "-shared", "-o", linked};
  for (const std::string &objectPath : objectPaths)
    args.push_back(objectPath);
  args.push_back("-lm");
  std::string message;
  int status = llvm::sys::ExecuteAndWait(*program, args, std::nullopt, {}, 0, 0,
                                         &message);
  if (status != 0) {
    llvm::sys::fs::remove(linked);
    error = "linking '" + outputPath.str() + "' failed" +
            (message.empty() ? "" : ": " + message);
    return false;
  }
  auto library = llvm::MemoryBuffer::getFile(linked, /*IsText=*/false,
                                             /*RequiresNullTerminator=*/false);
  llvm::sys::fs::remove(linked);
  if (!library) {
    error = "cannot read the linked '" + linked +
            "': " + library.getError().message();
    return false;
  }
  std::string sealedPath = outputPath.str() + ".sealed.tmp";
  {
    std::error_code ec;
    llvm::raw_fd_ostream os(sealedPath, ec, llvm::sys::fs::OF_None);
    if (!ec) {
      os << ntp::artifact::sealArtifact((*library)->getBuffer(), manifest);
      os.close();
      if (os.has_error())
        ec = os.error(), os.clear_error();
    }
    if (ec) {
      llvm::sys::fs::remove(sealedPath);
      error = "cannot write '" + outputPath.str() + "': " + ec.message();
      return false;
    }
  }
  // A shared object should stay executable (cc made it so).
  llvm::sys::fs::setPermissions(sealedPath, llvm::sys::fs::all_read |
                                                llvm::sys::fs::all_exe |
                                                llvm::sys::fs::owner_write);
  if (std::error_code ec = llvm::sys::fs::rename(sealedPath, outputPath)) {
    llvm::sys::fs::remove(sealedPath);
    error = "cannot write '" + outputPath.str() + "': " + ec.message();
    return false;
  }
  return true;
}

/// The header of a partials kernel's object: its requests (the rows
/// ntp_kernel_partials_get gives), sizes and forward entry point, which
/// takes the jet kernel's arguments and does not read the direction.
static std::string generatePartialsCHeader(const art::KernelManifest &spec,
                                           const std::string &p,
                                           const std::string &upper) {
  const char *t = cTypeName(spec.dtype);
  std::ostringstream os;
  os << "/* Generated by ntp-compile: partials kernel '" << spec.name << "' ("
     << spec.activation << ", layers";
  for (int64_t w : spec.layers)
    os << " " << w;
  os << ", " << spec.partials.size() << " requests, "
     << art::dtypeName(spec.dtype) << ", cpu " << spec.targetCpu
     << "). Do not edit. */\n"
     << "#ifndef " << upper << "_H\n#define " << upper << "_H\n\n"
     << "#include <stdint.h>\n\n#ifdef __cplusplus\nextern \"C\" {\n#endif\n\n"
     << "enum {\n  " << upper << "_NUM_REQUESTS = " << spec.partials.size()
     << ",\n  " << upper << "_MAX_ORDER = " << spec.order << ",\n  " << upper
     << "_INPUT_DIM = " << spec.inputDim() << ",\n  " << upper
     << "_OUTPUT_DIM = " << spec.outputDim() << ",\n  " << upper
     << "_NUM_PARAMS = " << spec.numParams << ",\n  " << upper
     << "_TILE = " << spec.tile << "\n};\n\n"
     << "/* The requests, one row of INPUT_DIM per row of out, as\n"
     << " * ntp_kernel_partials_get gives them: a multi-index alpha (out =\n"
     << " * D^alpha f), or an operator's row holding -2 (laplacian) or -4\n"
     << " * (biharmonic) in the coordinates it sums over and 0 elsewhere. */\n"
     << "static const int32_t " << p << "_requests[" << upper
     << "_NUM_REQUESTS * " << upper << "_INPUT_DIM] = {";
  bool first = true;
  for (const std::vector<int32_t> &row : spec.partials) {
    os << (first ? "" : ",") << "\n   ";
    first = false;
    for (size_t i = 0; i < row.size(); ++i)
      os << " " << row[i] << (i + 1 < row.size() ? "," : "");
  }
  os << "};\n\n"
     << "/* The manifest text the runtime checks when loading a .so. */\n"
     << "extern const char " << p << "_manifest[];\n\n"
     << "/* Partials for samples [tile_begin * TILE, min(tile_end * TILE,\n"
     << " * batch)): out[r][b][j] = D^{request r} f_j(x_b).\n"
     << " * x: [batch, INPUT_DIM], params: [NUM_PARAMS] (torch.nn.Linear\n"
     << " * order), out: [NUM_REQUESTS, batch, OUTPUT_DIM]; v is not read\n"
     << " * (the jet kernel's signature). */\n"
     << "void " << p << "_forward_tiles(const " << t << " *x, const " << t
     << " *v, const " << t << " *params, " << t
     << " *out, int64_t batch, int64_t tile_begin, int64_t tile_end);\n\n"
     << "/* The whole batch on the calling thread (ntp_partials' meaning). */\n"
     << "static inline void " << p << "_partials(const " << t << " *x, const "
     << t << " *params, " << t << " *out, int64_t batch) {\n"
     << "  if (batch > 0)\n    " << p
     << "_forward_tiles(x, params, params, out, batch, 0, (batch + " << upper
     << "_TILE - 1) / " << upper << "_TILE);\n}\n\n"
     << "#ifdef __cplusplus\n}\n#endif\n\n#endif\n";
  return os.str();
}

std::string ntp::generateCHeader(const art::KernelManifest &spec,
                                 const CpuTargetOptions &options) {
  const std::string &p = options.symbolPrefix;
  std::string upper;
  for (char c : p)
    upper += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (spec.isPartials())
    return generatePartialsCHeader(spec, p, upper);
  const char *t = cTypeName(spec.dtype);
  std::ostringstream os;
  os << "/* Generated by ntp-compile: jet kernel '" << spec.name << "' ("
     << spec.activation << ", layers";
  for (int64_t w : spec.layers)
    os << " " << w;
  os << ", order " << spec.order << ", " << art::dtypeName(spec.dtype)
     << ", cpu " << options.cpu << "). Do not edit. */\n"
     << "#ifndef " << upper << "_H\n#define " << upper << "_H\n\n"
     << "#include <stdint.h>\n\n#ifdef __cplusplus\nextern \"C\" {\n#endif\n\n"
     << "enum {\n  " << upper << "_ORDER = " << spec.order << ",\n  " << upper
     << "_INPUT_DIM = " << spec.inputDim() << ",\n  " << upper
     << "_OUTPUT_DIM = " << spec.outputDim() << ",\n  " << upper
     << "_NUM_PARAMS = " << spec.numParams << ",\n  " << upper
     << "_TILE = " << spec.tile << "\n};\n\n"
     << "/* The manifest text the runtime checks when loading a .so. */\n"
     << "extern const char " << p << "_manifest[];\n\n"
     << "/* Jet for samples [tile_begin * TILE, min(tile_end * TILE, batch)).\n"
     << " * x: [batch, INPUT_DIM], v: [INPUT_DIM], params: [NUM_PARAMS]\n"
     << " * (torch.nn.Linear order), out: [ORDER + 1, batch, OUTPUT_DIM]. */\n"
     << "void " << p << "_forward_tiles(const " << t << " *x, const " << t
     << " *v, const " << t << " *params, " << t
     << " *out, int64_t batch, int64_t tile_begin, int64_t tile_end);\n\n"
     << "/* The whole batch on the calling thread. */\n"
     << "static inline void " << p << "_forward(const " << t << " *x, const "
     << t << " *v, const " << t << " *params, " << t
     << " *out, int64_t batch) {\n  if (batch > 0)\n    " << p
     << "_forward_tiles(x, v, params, out, batch, 0, (batch + " << upper
     << "_TILE - 1) / " << upper << "_TILE);\n}\n\n"
     << "#ifdef __cplusplus\n}\n#endif\n\n#endif\n";
  return os.str();
}
