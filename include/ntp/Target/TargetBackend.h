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
#include "ntp/artifact.hpp"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Support/LLVM.h"

#include "llvm/ADT/StringRef.h"

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace mlir {
class DialectRegistry;
class OpPassManager;
} // namespace mlir

namespace llvm::cl {
class OptionCategory;
} // namespace llvm::cl

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

/// A target's own options (its CPU, its chip, where its tools are). Each
/// target declares one struct in its folder, deriving from
/// TargetOptions<itself> and naming its target:
///
///   struct CpuTargetOptions : TargetOptions<CpuTargetOptions> {
///     static constexpr llvm::StringLiteral kTargetName = "cpu";
///     std::string cpu = "x86-64-v3";
///   };
///
/// CompileOptions carries them by target name, so that the compile chain,
/// and this header, know no target's options.
struct TargetOptionsBase {
  virtual ~TargetOptionsBase();
  virtual std::unique_ptr<TargetOptionsBase> clone() const = 0;
};

template <typename Derived> struct TargetOptions : TargetOptionsBase {
  std::unique_ptr<TargetOptionsBase> clone() const override {
    return std::make_unique<Derived>(static_cast<const Derived &>(*this));
  }
};

/// Every option of a compile: those of the target-independent stages, and
/// each target's own (only the compiled target's are read).
struct CompileOptions {
  int64_t tileSize = 0; // 0: artifact::defaultTile (CPU)
  bool backward = true; // also generate the reverse-mode entry points (CPU)
  bool outline = true;  // share each neuron's expansion in one function
  /// Arithmetic of the activation jets (Auto: fewer flops per op).
  JetFormulation formulation = JetFormulation::Auto;

  CompileOptions() = default;
  CompileOptions(const CompileOptions &other) { *this = other; }
  CompileOptions &operator=(const CompileOptions &other);
  CompileOptions(CompileOptions &&) = default;
  CompileOptions &operator=(CompileOptions &&) = default;

  /// The options of target T, created with their defaults on first use.
  template <typename T> T &get() {
    std::unique_ptr<TargetOptionsBase> &slot =
        targetOptions[std::string(T::kTargetName)];
    if (!slot)
      slot = std::make_unique<T>();
    return static_cast<T &>(*slot);
  }
  /// The options of target T as set, or its defaults.
  template <typename T> T get() const {
    auto it = targetOptions.find(std::string(T::kTargetName));
    return it == targetOptions.end() ? T()
                                     : static_cast<const T &>(*it->second);
  }

private:
  std::map<std::string, std::unique_ptr<TargetOptionsBase>> targetOptions;
};

/// What a compile returns.
struct CompileOutput {
  /// The bytes of the emitted stage.
  std::string bytes;
  /// The kernel's facts, read from the lowered module's #ntp.kernel (empty
  /// name for the Jets and Loops stages of a module without one); for a
  /// partials kernel they include the lowerings ntp-decompose-mlp chose
  /// (partialsLowering, partialsReverseLowering).
  artifact::KernelManifest manifest;
  /// Diagnostics of external tools worth showing (ptxas -v), if any ran.
  std::string report;
  /// A C header declaring the emitted object's entry points, where the
  /// target makes one (the CPU's objects for static linking).
  std::string header;
};

class TargetBackend {
public:
  virtual ~TargetBackend();
  /// The name --target takes ("cpu", "nvptx").
  virtual llvm::StringRef getName() const = 0;
  virtual llvm::StringRef getDescription() const = 0;
  /// --emit values of this target's own beyond the common ones (jets,
  /// loops, mlir, llvm, asm, obj, so): "ptx" and "cubin" for NVPTX.
  struct EmitName {
    llvm::StringRef name;
    EmitStage stage;
    llvm::StringRef description;
  };
  virtual std::vector<EmitName> getEmitNames() const { return {}; }

  /// Registers the target's command-line flags and returns their category
  /// (null if it has none). Only a driver calls this (ntp-compile), before
  /// parsing: the flags are not static options of the target's library, so
  /// no other binary linking it gets them (ntp-bench has its own
  /// --target-cpu; libntp_jit.so must add no flag to its host process).
  /// Calling it again returns the same category.
  virtual llvm::cl::OptionCategory *registerCommandLineOptions() const {
    return nullptr;
  }
  /// Copies the parsed flags into this target's options in `options`; false
  /// with one sentence (naming the flag) in `error` for a value out of range.
  /// Only after registerCommandLineOptions and parsing.
  virtual bool applyCommandLineOptions(CompileOptions &options,
                                       std::string &error) const {
    return true;
  }
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
