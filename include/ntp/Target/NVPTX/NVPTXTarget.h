//===- NVPTXTarget.h - PTX, cubin and CUDA artifacts ------------*- C++ -*-===//
//
// From the gpu.module that ntp-gpu-pipeline produced to an artifact the
// runtime loads through the CUDA driver: translation to LLVM IR, libdevice
// (only when f64 math needs it), LLVM's NVPTX backend (PTX, no CUDA toolkit
// needed), optionally ptxas (cubin), and the artifact container.
//
// Artifact container: the one of every ntp artifact (ntp/artifact.hpp,
// docs/NVPTX.md): the PTX text or cubin, then the manifest (device=cuda
// with the CUDA keys chip, format, mapping, block_size, samples_per_block,
// image_bytes), then the trailer with sizes, checksum and ABI version.
//
//===----------------------------------------------------------------------===//

#ifndef NTP_TARGET_NVPTX_NVPTXTARGET_H
#define NTP_TARGET_NVPTX_NVPTXTARGET_H

#include "ntp/Target/KernelSpec.h"
#include "ntp/Target/StampKernel.h"
#include "ntp/Target/TargetBackend.h"

#include "mlir/IR/BuiltinOps.h"

#include <string>

namespace mlir {
class DialectRegistry;
} // namespace mlir

namespace ntp {

struct GpuPipelineOptions;

/// The image a CUDA artifact carries: PTX (the driver compiles it for the
/// GPU it meets), a cubin (ptxas; loads faster, runs on one architecture
/// family), or Auto: a cubin when ptxas is found, else PTX.
enum class CudaImageFormat { Auto, Ptx, Cubin };

/// The NVPTX target's options (CompileOptions::get<NvptxTargetOptions>()).
struct NvptxTargetOptions : TargetOptions<NvptxTargetOptions> {
  static constexpr llvm::StringLiteral kTargetName = "nvptx";
  /// NVIDIA architecture, sm_XX.
  std::string chip = "sm_90";
  /// LLVM NVPTX features (+ptx80 ...); empty: the backend's default.
  std::string features;
  /// Threads per block (must match the pipeline's block-size).
  int64_t blockSize = 128;
  /// Sample (a thread per sample) or Lanes (a warp per sample; the block is
  /// then 32 * samplesPerBlock threads).
  artifact::GpuMapping mapping = artifact::GpuMapping::Sample;
  int64_t samplesPerBlock = 4;
  /// Also the reverse-mode kernels (forward-save, backward-saved and the
  /// gradient reduction; docs/NVPTX.md).
  bool backward = false;

  /// Threads per block and samples per block of the kernel's launch.
  int64_t threadsPerBlock() const {
    return mapping == artifact::GpuMapping::Lanes ? 32 * samplesPerBlock
                                                  : blockSize;
  }
  int64_t samplesPerLaunchBlock() const {
    return mapping == artifact::GpuMapping::Lanes ? samplesPerBlock : blockSize;
  }
  /// libdevice bitcode; empty: $NTP_LIBDEVICE, else the CUDA toolkit's
  /// (/usr/local/cuda/nvvm/libdevice/libdevice.10.bc) if present. Needed only
  /// by f64 transcendental functions.
  std::string libdevice;
  /// ptxas; empty: $NTP_PTXAS, else /usr/local/cuda/bin/ptxas, else PATH.
  std::string ptxas;
  /// The image of the artifact (--emit=so).
  CudaImageFormat imageFormat = CudaImageFormat::Auto;
  /// Run ptxas for its -v report (CompileOutput::report) even for PTX.
  bool ptxasReport = false;
};

/// Whether LLVM's NVPTX backend knows `chip` (sm_XX); else `error` says so
/// in one sentence. Checked before any pipeline runs.
bool checkNvptxChip(const std::string &chip, std::string &error);

/// The CUDA facts of a kernel for the module's #ntp.kernel (device, chip,
/// mapping, block shape), after checkNvptxChip.
KernelTargetUpdate stampCudaTarget(std::string chip,
                                   artifact::GpuMapping mapping,
                                   int64_t blockSize, int64_t samplesPerBlock);

/// The libdevice file to use, or "" if none is found.
std::string findLibdevice(const NvptxTargetOptions &options);
/// The ptxas program to use, or "" if none is found.
std::string findPtxas(const NvptxTargetOptions &options);

/// Translates the gpu.module in `lowered` to LLVM IR, links libdevice if
/// needed, optimizes at O3 and emits PTX. With `llvmIR`, the optimized LLVM
/// IR text is written there instead of PTX. False (and `error`) on failure.
bool emitPtx(mlir::ModuleOp lowered, const NvptxTargetOptions &options,
             std::string &ptx, std::string &error, bool llvmIR = false);

/// Runs ptxas on `ptx` for options.chip. `report` (if not null) receives
/// ptxas's -v output (registers, spills, shared memory).
bool assembleCubin(const std::string &ptx, const NvptxTargetOptions &options,
                   std::string &cubin, std::string &error,
                   std::string *report = nullptr);

/// The options of ntp-gpu-pipeline for `options` (the one place that copies
/// them).
void fillGpuPipelineOptions(const NvptxTargetOptions &options,
                            GpuPipelineOptions &pipeline);

/// The dialects and translations of the NVPTX pipeline and serializer.
void registerNvptxTargetDialects(mlir::DialectRegistry &registry);

/// Adds the NVPTX target ("nvptx") to the target registry.
void registerNvptxTarget();

} // namespace ntp

#endif // NTP_TARGET_NVPTX_NVPTXTARGET_H
