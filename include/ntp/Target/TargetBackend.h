//===- TargetBackend.h - One interface for every target ---------*- C++ -*-===//
//
// A target turns a module holding one ntp.mlp into an artifact: it builds the
// pipeline from ntp.mlp to its lowered form (stamping its facts on the
// module's #ntp.kernel), says which stages it can emit, and serializes the
// lowered module (text, object code, the runtime artifact). ntp-compile, the
// JIT and the tests reach every target through this interface and the
// registry below, and share one compile chain (ntp::compile, Compiler.h); in
// the manner of IREE's TargetBackend. docs/TARGETS.md lists what a new target
// touches.
//
//===----------------------------------------------------------------------===//

#ifndef NTP_TARGET_TARGETBACKEND_H
#define NTP_TARGET_TARGETBACKEND_H

#include "ntp/Support/FaaDiBruno.h"
#include "ntp/Target/Cpu/CpuTarget.h"
#include "ntp/Target/NVPTX/NVPTXTarget.h"
#include "ntp/artifact.hpp"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Support/LLVM.h"

#include <memory>
#include <string>
#include <vector>

namespace mlir {
class DialectRegistry;
class OpPassManager;
} // namespace mlir

namespace ntp {

/// What a compile produces. Jets and Loops are the target-independent
/// stages; the others are each target's to support.
enum class EmitStage {
  Jets,     // per-layer jet ops (ntp dialect)
  Loops,    // loops with the Faà di Bruno arithmetic
  Lowered,  // the target's lowered MLIR (LLVM dialect / gpu.module of NVVM)
  Llvm,     // optimized LLVM IR
  Asm,      // assembly (CPU) / PTX (NVPTX)
  Obj,      // an object file (CPU)
  Artifact, // what the runtime loads (CPU: a shared object; NVPTX: a CUDA
            // artifact)
  Cubin,    // a cubin from ptxas (NVPTX)
};

/// The image a CUDA artifact carries: PTX (the driver compiles it for the
/// GPU it meets), a cubin (ptxas; loads faster, runs on one architecture
/// family), or Auto: a cubin when ptxas is found, else PTX.
enum class CudaImageFormat { Auto, Ptx, Cubin };

/// Every option of a compile; each target reads its own.
struct CompileOptions {
  int64_t tileSize = 0; // 0: artifact::defaultTile (CPU)
  bool backward = true; // also generate the reverse-mode entry points (CPU)
  bool outline = true;  // share each neuron's expansion in one function
  /// Arithmetic of the activation jets (Auto: fewer flops per op).
  JetFormulation formulation = JetFormulation::Auto;
  /// The CPU target (name, features, symbol prefix).
  CpuTargetOptions target;
  /// The NVPTX target and the image of its artifact.
  NvptxTargetOptions gpu;
  CudaImageFormat gpuFormat = CudaImageFormat::Auto;
  /// Run ptxas for its -v report (CompileOutput::report) even for PTX.
  bool ptxasReport = false;
};

/// What a compile returns.
struct CompileOutput {
  /// The bytes of the emitted stage.
  std::string bytes;
  /// The kernel's facts, read from the lowered module's #ntp.kernel (empty
  /// name for the Jets and Loops stages of a module without one).
  artifact::KernelManifest manifest;
  /// Diagnostics of external tools worth showing (ptxas -v), if any ran.
  std::string report;
};

class TargetBackend {
public:
  virtual ~TargetBackend();
  /// The name --target takes ("cpu", "nvptx").
  virtual llvm::StringRef getName() const = 0;
  virtual llvm::StringRef getDescription() const = 0;
  /// The dialects and translations its pipeline and serializer need.
  virtual void registerDialects(mlir::DialectRegistry &registry) const = 0;
  virtual bool supports(EmitStage stage) const = 0;
  /// Checks the options before anything is built (the CPU name, the chip,
  /// the block shape): one sentence in `error` when they are invalid.
  virtual bool checkOptions(const CompileOptions &options,
                            std::string &error) const = 0;
  /// The pipeline from ntp.mlp to `stage`: Jets, Loops (this target's
  /// tile), or Lowered (and the stages after it), which ends with the
  /// target's facts on the module's #ntp.kernel.
  virtual bool buildPipeline(mlir::OpPassManager &pm,
                             const CompileOptions &options, EmitStage stage,
                             std::string &error) const = 0;
  /// From the lowered module (whose #ntp.kernel it reads, never changes) to
  /// the bytes of `stage` (a stage after Lowered).
  virtual bool serialize(mlir::ModuleOp lowered,
                         const artifact::KernelManifest &manifest,
                         EmitStage stage, const CompileOptions &options,
                         CompileOutput &output, std::string &error) const = 0;
};

/// Adds a target to the registry (once per name).
void registerTargetBackend(std::unique_ptr<TargetBackend> target);
/// The registered target called `name`, or null.
const TargetBackend *lookupTargetBackend(llvm::StringRef name);
/// Every registered target, in registration order.
std::vector<const TargetBackend *> getTargetBackends();

} // namespace ntp

#endif // NTP_TARGET_TARGETBACKEND_H
