//===- GpuEmulation.h - Emulated GPU kernels in the tests -------*- C++ -*-===//
//
// For the tests that run the CUDA kernels' logic on the host
// (ntp-gpu-emulation-pipeline: GpuEmulationTest, GpuPartialsEmulationTest,
// the GPU cases of LayersTest and GatedTest): the emulated target's options,
// compiling a network to an emulated artifact in a temporary directory, and
// the reverse mode's kernel functions called in the runtime's launch
// sequence.
//
//===----------------------------------------------------------------------===//
#ifndef NTP_TEST_UNIT_COMPILER_GPUEMULATION_H
#define NTP_TEST_UNIT_COMPILER_GPUEMULATION_H

#include "ntp/Compiler/Compiler.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <dlfcn.h>
#include <string>
#include <unistd.h>
#include <vector>

namespace ntp::test {

/// The NVPTX options of an emulated kernel: `mapping` (sample | lanes) and
/// `samplesPerBlock` samples per block.
inline ntp::NvptxTargetOptions emulatedTarget(const std::string &mapping,
                                              int64_t samplesPerBlock,
                                              bool backward) {
  ntp::NvptxTargetOptions gpu;
  gpu.mapping = mapping == "lanes" ? ntp::artifact::GpuMapping::Lanes
                                   : ntp::artifact::GpuMapping::Sample;
  gpu.samplesPerBlock = samplesPerBlock;
  gpu.backward = backward;
  return gpu;
}

/// The host emulation of `description`'s CUDA kernels for `gpu`, compiled
/// to `path`; `compiled` (if given) sees the module after compiling.
inline ::testing::AssertionResult
compileEmulation(const ntp::MlpDescription &description,
                 const ntp::NvptxTargetOptions &gpu, const std::string &path,
                 llvm::function_ref<void(mlir::ModuleOp)> compiled = nullptr) {
  mlir::DialectRegistry registry;
  ntp::registerNtpGpuCompilerDialects(registry);
  mlir::MLIRContext context(registry);
  context.disableMultithreading();
  mlir::OwningOpRef<mlir::ModuleOp> module =
      ntp::buildMlpModule(context, description);
  if (!module)
    return ::testing::AssertionFailure() << "the network is invalid";
  std::string error;
  if (!ntp::compileGpuEmulationToSharedObject(
          *module, gpu, ntp::CpuTargetOptions(), path, error))
    return ::testing::AssertionFailure() << error;
  if (compiled)
    compiled(*module);
  return ::testing::AssertionSuccess();
}

/// A temporary directory for one kernel file, removed (with the file) at
/// the end; `dir` is empty if it could not be made.
struct TempKernel {
  std::string dir, path;
  explicit TempKernel(const std::string &prefix = "ntp-gpu-emulation") {
    std::string pattern = "/tmp/" + prefix + "-XXXXXX";
    if (mkdtemp(pattern.data())) {
      dir = pattern;
      path = dir + "/kernel.so";
    }
  }
  ~TempKernel() {
    std::remove(path.c_str());
    rmdir(dir.c_str());
  }
};

/// The reverse mode of an emulated artifact: its forward-save,
/// backward-saved and reduce kernel functions (the container is a shared
/// object with bytes appended: dlopen maps it), called as the runtime
//// launches them (Dispatch.cpp) on a grid of `blocks` blocks. Each
/// memref<?xT> argument is passed as the lowered descriptor (allocated,
/// aligned, offset, size, stride), each index as an int64_t.
class EmulatedReverse {
public:
  explicit EmulatedReverse(const std::string &path)
      : library(dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL)) {
    if (!library)
      return;
    forwardSaveFn = dlsym(library, "ntp_kernel_forward_save_tiles");
    backwardSavedFn = dlsym(library, "ntp_kernel_backward_saved_tiles");
    reduceFn = dlsym(library, "ntp_kernel_reduce_params_grad_tiles");
  }
  ~EmulatedReverse() {
    if (library)
      dlclose(library);
  }
  EmulatedReverse(const EmulatedReverse &) = delete;
  EmulatedReverse &operator=(const EmulatedReverse &) = delete;

  /// Whether the artifact loaded and has the three functions.
  ::testing::AssertionResult loaded() const {
    if (!library)
      return ::testing::AssertionFailure() << dlerror();
    if (!forwardSaveFn || !backwardSavedFn || !reduceFn)
      return ::testing::AssertionFailure()
             << "the artifact lacks a reverse-mode function";
    return ::testing::AssertionSuccess();
  }
  /// A symbol of the artifact (null if absent).
  void *symbol(const char *name) const { return dlsym(library, name); }

// Each memref<?xT> argument is five scalar arguments (not a struct, which
// the C ABI would pass in memory).
#define NTP_DESC(T) T *, T *, int64_t, int64_t, int64_t
#define NTP_ARG(v) v.data(), v.data(), int64_t(0), int64_t(v.size()), int64_t(1)

  /// Forward-save: `out` and each block's saved jets. A partials kernel's
  /// direction argument `v` is params.
  template <class T>
  void forwardSave(std::vector<T> &x, std::vector<T> &v, std::vector<T> &params,
                   std::vector<T> &out, std::vector<T> &jets, int64_t batch,
                   int64_t blocks) const {
    using Fn = void (*)(NTP_DESC(T), NTP_DESC(T), NTP_DESC(T), NTP_DESC(T),
                        NTP_DESC(T), int64_t, int64_t, int64_t);
    reinterpret_cast<Fn>(forwardSaveFn)(NTP_ARG(x), NTP_ARG(v), NTP_ARG(params),
                                        NTP_ARG(out), NTP_ARG(jets), batch, 0,
                                        blocks);
  }

  /// Backward-saved over the same grid: a gradient column per sample,
  /// each block's sum in a `partials` row, and `xGrad`.
  template <class T>
  void backwardSaved(std::vector<T> &x, std::vector<T> &v,
                     std::vector<T> &params, std::vector<T> &cotangent,
                     std::vector<T> &columns, std::vector<T> &xGrad,
                     std::vector<T> &jets, std::vector<T> &partials,
                     int64_t batch, int64_t blocks) const {
    using Fn = void (*)(NTP_DESC(T), NTP_DESC(T), NTP_DESC(T), NTP_DESC(T),
                        NTP_DESC(T), NTP_DESC(T), NTP_DESC(T), NTP_DESC(T),
                        int64_t, int64_t, int64_t);
    reinterpret_cast<Fn>(backwardSavedFn)(
        NTP_ARG(x), NTP_ARG(v), NTP_ARG(params), NTP_ARG(cotangent),
        NTP_ARG(columns), NTP_ARG(xGrad), NTP_ARG(jets), NTP_ARG(partials),
        batch, 0, blocks);
  }

  /// The reduction of the `blocks` partials rows into `grad`, a thread per
  /// parameter (128 per block).
  template <class T>
  void reduce(std::vector<T> &partials, std::vector<T> &grad,
              int64_t blocks) const {
    using Fn = void (*)(NTP_DESC(T), NTP_DESC(T), int64_t, int64_t, int64_t);
    int64_t reduceBlocks = (int64_t(grad.size()) + 127) / 128;
    reinterpret_cast<Fn>(reduceFn)(NTP_ARG(partials), NTP_ARG(grad), blocks, 0,
                                   reduceBlocks);
  }

#undef NTP_ARG
#undef NTP_DESC

private:
  void *library = nullptr;
  void *forwardSaveFn = nullptr, *backwardSavedFn = nullptr,
       *reduceFn = nullptr;
};

} // namespace ntp::test

#endif // NTP_TEST_UNIT_COMPILER_GPUEMULATION_H
