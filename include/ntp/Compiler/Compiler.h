//===- Compiler.h - From a network description to an artifact --*- C++ -*-===//
//
// The compiler as a library: the one compile chain that ntp-compile, the JIT
// and the tests share. A compile picks a registered target
// (ntp/Target/TargetBackend.h), runs its pipeline and serializes the result;
// the kernel's facts travel on the module's #ntp.kernel attribute.
//
//===----------------------------------------------------------------------===//

#ifndef NTP_COMPILER_COMPILER_H
#define NTP_COMPILER_COMPILER_H

#include "ntp/Compiler/KernelFacts.h"
#include "ntp/Target/Cpu/CpuTarget.h"
#include "ntp/Target/NVPTX/NVPTXTarget.h"
#include "ntp/Target/TargetBackend.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"

#include <string>
#include <vector>

namespace mlir {
class DialectRegistry;
class MLIRContext;
class PassManager;
} // namespace mlir

namespace ntp {

/// Registers every target ntp has (the one place that names them).
void registerAllTargets();

/// The target called `name` ("cpu", "nvptx") after registerAllTargets, or
/// null.
const TargetBackend *getTarget(llvm::StringRef name);

/// Registers every dialect and translation interface the CPU pipeline uses.
void registerNtpCompilerDialects(mlir::DialectRegistry &registry);
/// registerNtpCompilerDialects plus what ntp-gpu-pipeline and the NVVM
/// translation need.
void registerNtpGpuCompilerDialects(mlir::DialectRegistry &registry);

/// A network described by flags rather than IR.
struct MlpDescription {
  std::string name = "ntp_kernel";
  std::vector<int64_t> layers;
  std::string activation = "tanh";
  int64_t order = 0;
  bool isF64 = false;
  /// A partials kernel's request: multi-indices and operator rows (-2
  /// laplacian / -4 biharmonic marks, ntp/Support/Partials.h), in the order
  /// of out; empty for a jet kernel. `order` bounds their total orders.
  std::vector<std::vector<int32_t>> partials;
  /// Typed layers: adaptive slopes and residual flags per hidden layer
  /// (artifact::LayerKinds); empty for a plain MLP.
  artifact::LayerKinds kinds;
  /// How a partials kernel propagates its rays ("per-ray",
  /// "multi-direction", "collapsed", "multivariate"; empty: the pass
  /// option's choice, automatic by default), set as the ntp.mlp's
  /// ntp.partials_lowering.
  std::string partialsLowering;
  /// How its reverse mode propagates them ("auto": the forward's lowering
  /// where it fits, else the cheapest ray blocks that fit, else per ray;
  /// "per-ray"; empty: the pass option's, auto by default), set as the
  /// ntp.mlp's ntp.partials_reverse_lowering.
  std::string partialsReverseLowering;
};

/// Builds a module holding one verified ntp.mlp; null (with a diagnostic)
/// if the description is invalid.
mlir::OwningOpRef<mlir::ModuleOp>
buildMlpModule(mlir::MLIRContext &context, const MlpDescription &description);

/// The compile chain: checks `options` for `target`, runs its pipeline up to
/// `stage` through `pm` (which the caller may have configured: IR printing,
/// timing), and serializes the module to `output`. `module` is lowered in
/// place. On failure returns false; `error` holds one sentence, or is empty
/// when the failure was reported as an MLIR diagnostic.
bool compile(mlir::ModuleOp module, const TargetBackend &target,
             EmitStage stage, const CompileOptions &options,
             mlir::PassManager &pm, CompileOutput &output, std::string &error);

/// The CPU variants of `options.variants` (a --target-cpu list) in the order
/// a multi-variant artifact lists them, which is the runtime's preference:
/// more recorded instruction-set features first, the list's order among
/// equals. Empty and `error` set for an unknown CPU or two CPUs with the
/// same features (the runtime could never pick the second).
std::vector<artifact::CpuVariant>
orderCpuVariants(const CpuTargetOptions &options, std::string &error);

/// compile() for a CPU target with several variants (CpuTargetOptions::
/// variants): one artifact (stage Artifact only) with a kernel per CPU
/// (symbols ntp_kernel_v<i>_*) and a manifest with cpu_variants; compile()
/// calls it. `module` is not lowered (copies are).
bool compileCpuVariants(mlir::ModuleOp module, const TargetBackend &target,
                        EmitStage stage, const CompileOptions &options,
                        CompileOutput &output, std::string &error);

/// Writes `bytes` to `path` ("-": stdout); false and one sentence in
/// `error` if it cannot (a missing folder, a full disk), leaving no partial
/// file behind.
bool writeOutputFile(llvm::StringRef path, llvm::StringRef bytes,
                     std::string &error);

/// compile() for the CPU target's artifact, written to `outputPath`.
bool compileToSharedObject(mlir::ModuleOp module, const CompileOptions &options,
                           const std::string &outputPath, std::string &error);

/// For tests without a GPU: the CUDA kernel of `target` (its mapping and
/// block shape) turned into a host shared object by
/// ntp-gpu-emulation-pipeline, which the runtime loads like a CPU kernel
/// (one GPU block per tile). Forward only.
bool compileGpuEmulationToSharedObject(mlir::ModuleOp module,
                                       const NvptxTargetOptions &target,
                                       const CpuTargetOptions &host,
                                       const std::string &outputPath,
                                       std::string &error);

} // namespace ntp

#endif // NTP_COMPILER_COMPILER_H
