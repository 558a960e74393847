//===- Compiler.h - From a network description to an artifact --*- C++ -*-===//
//
// The compiler as a library: what ntp-compile, the tests and (later) the JIT
// share. Thin tool drivers call these functions.
//
//===----------------------------------------------------------------------===//

#ifndef NTP_COMPILER_COMPILER_H
#define NTP_COMPILER_COMPILER_H

#include "ntp/Support/FaaDiBruno.h"
#include "ntp/Target/Cpu/CpuTarget.h"
#include "ntp/Target/NVPTX/NVPTXTarget.h"

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

/// Registers every dialect and translation interface the ntp pipelines use.
void registerNtpCompilerDialects(mlir::DialectRegistry &registry);

/// A network described by flags rather than IR.
struct MlpDescription {
  std::string name = "ntp_kernel";
  std::vector<int64_t> layers;
  std::string activation = "tanh";
  int64_t order = 0;
  bool isF64 = false;
};

/// Builds a module holding one verified ntp.mlp; null (with a diagnostic)
/// if the description is invalid.
mlir::OwningOpRef<mlir::ModuleOp>
buildMlpModule(mlir::MLIRContext &context, const MlpDescription &description);

struct CompileOptions {
  CpuTargetOptions target;
  int64_t tileSize = 0; // 0: 16 for f32, 8 for f64
  bool backward = true; // also generate the reverse-mode entry points
  bool outline = true;  // share each neuron's expansion in one function
  /// Arithmetic of the activation jets (Auto: fewer flops per op).
  JetFormulation formulation = JetFormulation::Auto;
};

/// Runs ntp-cpu-pipeline on `module` (in place) through `pm`, which the
/// caller may have configured (IR printing, timing). Returns the kernel spec.
mlir::FailureOr<KernelSpec> lowerToLLVMDialect(mlir::ModuleOp module,
                                               mlir::PassManager &pm,
                                               const CompileOptions &options);

/// The whole path: lowers `module` and writes a loadable shared object.
bool compileToSharedObject(mlir::ModuleOp module, const CompileOptions &options,
                           const std::string &outputPath, std::string &error);

//===----------------------------------------------------------------------===//
// CUDA (NVPTX) kernels
//===----------------------------------------------------------------------===//

/// registerNtpCompilerDialects plus what ntp-gpu-pipeline and the NVVM
/// translation need.
void registerNtpGpuCompilerDialects(mlir::DialectRegistry &registry);

/// The image a CUDA artifact carries: PTX (the driver compiles it for the
/// GPU it meets), a cubin (ptxas; loads faster, runs on one architecture
/// family), or Auto: a cubin when ptxas is found, else PTX.
enum class CudaImageFormat { Auto, Ptx, Cubin };

/// Runs ntp-gpu-pipeline on `module` (in place) through `pm`. Returns the
/// kernel spec: one sample per thread, forward only.
mlir::FailureOr<KernelSpec> lowerToNVVM(mlir::ModuleOp module,
                                        mlir::PassManager &pm,
                                        const NvptxTargetOptions &target);

/// From the PTX of a lowered module to the bytes of a CUDA artifact
/// (manifest + image) that ntp_kernel_load / ntp_kernel_load_memory accept.
/// `ptxasReport`, when given, receives ptxas -v (registers, spills) whenever
/// ptxas ran.
bool buildCudaArtifact(const std::string &ptx, const KernelSpec &spec,
                       const NvptxTargetOptions &target, CudaImageFormat format,
                       std::string &artifact, std::string &error,
                       std::string *ptxasReport = nullptr);

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
