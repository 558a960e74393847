//===- CpuTarget.h - LLVM IR, objects and shared objects for CPUs -*- C++ -*-=//
//
// From the LLVM dialect module that ntp-cpu-pipeline produced to an artifact:
// translation to LLVM IR, the exported C-ABI entry point and manifest, O3,
// machine code for a chosen CPU, and linking into a shared object.
//
//===----------------------------------------------------------------------===//

#ifndef NTP_TARGET_CPU_CPUTARGET_H
#define NTP_TARGET_CPU_CPUTARGET_H

#include "ntp/Support/Schedule.h"
#include "ntp/Target/KernelSpec.h"
#include "ntp/Target/StampKernel.h"
#include "ntp/Target/TargetBackend.h"

#include "mlir/IR/BuiltinOps.h"

#include "llvm/IR/LLVMContext.h"
#include "llvm/IR/Module.h"
#include "llvm/MC/MCSubtargetInfo.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/Target/TargetMachine.h"

#include <memory>
#include <string>

namespace mlir {
class DialectRegistry;
} // namespace mlir

namespace ntp {

/// The CPU target's options (CompileOptions::get<CpuTargetOptions>()).
struct CpuTargetOptions : TargetOptions<CpuTargetOptions> {
  static constexpr llvm::StringLiteral kTargetName = "cpu";
  /// LLVM CPU name, or "native" for the host (its name and features).
  /// The default is a stated baseline that runs on any x86-64 with AVX2+FMA.
  std::string cpu = "x86-64-v3";
  /// Extra LLVM target features ("+avx512f,...").
  std::string features;
  /// LLVM target triple; empty: the host's. Another architecture's code
  /// (e.g. aarch64-linux-gnu) is emitted as LLVM IR, assembly or an object
  /// for its own toolchain, never linked or loaded here.
  std::string triple;
  /// AArch64 SVE: the vector length in bits the code may assume (a multiple
  /// of 128 in 256..2048; the function attribute vscale_range, as clang's
  /// -msve-vector-bits), so that the tile's fixed-width vectors become SVE
  /// registers. 0: NEON (128-bit) vectors.
  int64_t sveVectorBits = 0;
  /// Prefix of the exported symbols: <prefix>_forward_tiles and
  /// <prefix>_manifest. The runtime loads "ntp_kernel".
  std::string symbolPrefix = "ntp_kernel";
  /// The schedule of the lowering (0: chosen from the CPU's LLVM scheduling
  /// model, cpuVectorFacts): neurons whose activation jets are interleaved
  /// (1: one at a time), and the register block of the affine layers
  /// (output neurons, 1: unblocked; live orders, 0: all).
  int64_t interleave = 0;
  int64_t affineOutputs = 0;
  int64_t affineOrders = 0;
  /// The register block of the multi-direction affine layers
  /// (ntp.affine_rays): rows x output neurons; 0 x 0 chosen from the CPU's
  /// scheduling model (ntp::chooseRayBlock).
  int64_t rayRows = 0;
  int64_t rayNeurons = 0;
  /// The register tile of the affine VJPs' parameter gradients: output x
  /// input neurons; 0 x 0 chosen with affineOutputs == 0
  /// (ntp::chooseGradientBlock), else the unblocked loop.
  int64_t gradOutputs = 0;
  int64_t gradInputs = 0;
  /// Bits of the reverse mode's lane-wise parameter-gradient accumulators
  /// (ntp-generate-backward grad-lane-bits): -1, chosen per kernel
  /// (ntp::chooseGradLaneBits: the CPU's vector register, or half of it
  /// where few orders share each accumulator's load and store), into which
  /// a tile of several registers folds its lanes; 0, one lane per sample of
  /// the tile.
  int64_t gradLaneBits = -1;
  /// Evaluate each layer's activation primitives (tanh(y_0), ...) in a loop
  /// of their own before the loop of its jets (ntp-expand-activation-jets
  /// hoist-primitives): off the jets' dependency chains.
  bool hoistPrimitives = true;
  /// Several CPUs (ntp-compile --target-cpu=a,b,...): one artifact carrying
  /// a kernel per CPU, the runtime loading the best one the host supports
  /// (compileCpuVariants, docs/TARGETS.md). Empty or one entry: `cpu` alone.
  std::vector<std::string> variants;
  /// Set by compileCpuVariants for each variant's object: every function
  /// but the entry points and manifest internal (internalizeHelpers), so
  /// that the variants link side by side. Off otherwise: some artifacts
  /// (the GPU emulation's) export more functions.
  bool internalizeHelpers = false;
};

/// The vector facts of `machine`'s CPU that the lowering schedules for
/// (ntp::chooseAffineBlock, ntp::chooseInterleave): the vector width and
/// register count LLVM uses for it, and the latency and issue rate of a
/// vector FMA and of a vector load in its LLVM scheduling model. Unknown
/// (all 0) where the CPU has no such model.
MachineVectorFacts cpuVectorFacts(llvm::TargetMachine &machine,
                                  int64_t sveVectorBits = 0);

/// The triple `options` compile for: options.triple normalized, else the
/// host's.
llvm::Triple cpuTargetTriple(const CpuTargetOptions &options);

/// Whether code for `triple` runs on this host (same architecture).
bool isHostArchitecture(const llvm::Triple &triple);

/// A target machine for `options` (PIC, aggressive optimization).
std::unique_ptr<llvm::TargetMachine>
createCpuTargetMachine(const CpuTargetOptions &options, std::string &error);

/// The features of artifact::kRecordedCpuFeatures that `info` has (x86
/// only): what a CPU artifact records and the runtime checks on the host.
std::vector<std::string> recordedCpuFeatures(const llvm::MCSubtargetInfo &info,
                                             const llvm::Triple &triple);

/// The CPU facts of a kernel for the module's #ntp.kernel: the concrete CPU
/// name of `machine` and the instruction-set features of
/// artifact::kRecordedCpuFeatures it has.
KernelTargetUpdate stampCpuTarget(const llvm::TargetMachine &machine);

/// Translates the lowered module to LLVM IR, adds the exported entry points
/// and the manifest of its #ntp.kernel (which must be for `machine`'s CPU),
/// and optimizes it at O3 for `machine`. Null on error.
std::unique_ptr<llvm::Module>
buildKernelLLVMModule(mlir::ModuleOp lowered, llvm::LLVMContext &context,
                      const CpuTargetOptions &options,
                      llvm::TargetMachine &machine, std::string &error);

/// Writes machine code: an object file, or assembly text.
bool emitMachineCode(llvm::Module &module, llvm::TargetMachine &machine,
                     bool assembly, llvm::raw_pwrite_stream &os,
                     std::string &error);

/// Links an object file into a shared object with the system C compiler
/// driver ($NTP_LINKER, else cc), then seals it into an artifact with
/// `manifest` (ntp::artifact::sealArtifact; the runtime refuses unsealed
/// shared objects). The output is replaced atomically.
bool linkSharedObject(llvm::StringRef objectPath, llvm::StringRef outputPath,
                      const ntp::artifact::KernelManifest &manifest,
                      std::string &error);

/// The same for several objects linked into one shared object (the
/// variants of a multi-variant artifact and its manifest object).
bool linkSharedObject(llvm::ArrayRef<std::string> objectPaths,
                      llvm::StringRef outputPath,
                      const ntp::artifact::KernelManifest &manifest,
                      std::string &error);
/// An object file for `machine` defining only the symbol <prefix>_manifest
/// holding `manifest` serialized (a multi-variant artifact's manifest).
bool emitManifestObject(const ntp::artifact::KernelManifest &manifest,
                        llvm::StringRef prefix, llvm::TargetMachine &machine,
                        std::string &bytes, std::string &error);
/// Gives every function and global defined in `module` but not exported
/// (the entry points and manifest of `prefix`) internal linkage, so that
/// the objects of several variants link into one shared object.
void internalizeHelpers(llvm::Module &module, llvm::StringRef prefix);
/// A C header declaring the entry point of an object built with
/// `options.symbolPrefix`, with a convenience wrapper over all tiles.
std::string generateCHeader(const artifact::KernelManifest &manifest,
                            const CpuTargetOptions &options);

/// The dialects and translations of the CPU pipeline and serializer.
void registerCpuTargetDialects(mlir::DialectRegistry &registry);

/// Adds the CPU target ("cpu") to the target registry.
void registerCpuTarget();

} // namespace ntp

#endif // NTP_TARGET_CPU_CPUTARGET_H
