//===- CompiledKernel.h - A test kernel compiled and loaded -----*- C++ -*-===//
//
// For the compiler's end-to-end tests: compiles an MLP (any description and
// options) through the library path (compileToSharedObject) into a
// temporary directory, loads it with the runtime, and removes both when
// destroyed.
//
//===----------------------------------------------------------------------===//
#ifndef NTP_TEST_UNIT_COMPILER_COMPILEDKERNEL_H
#define NTP_TEST_UNIT_COMPILER_COMPILEDKERNEL_H

#include "ntp/Compiler/Compiler.h"
#include "ntp/Dialect/Ntp/IR/NtpAttributes.h"
#include "ntp/runtime.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/MLIRContext.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <memory>
#include <string>
#include <unistd.h>
#include <vector>

namespace ntp::test {

class CompiledKernel {
public:
  /// Null (with a test failure) if compiling or loading fails.
  template <class Width = int>
  static std::unique_ptr<CompiledKernel>
  compile(const std::vector<Width> &widths, const std::string &activation,
          int order, bool isF64, bool backward = true) {
    ntp::MlpDescription description;
    description.layers.assign(widths.begin(), widths.end());
    description.activation = activation;
    description.order = order;
    description.isF64 = isF64;
    return compile(description, backward);
  }

  /// Any description (typed layers, partials requests).
  static std::unique_ptr<CompiledKernel>
  compile(const ntp::MlpDescription &description, bool backward = true) {
    ntp::CompileOptions options;
    options.backward = backward;
    return compile(description, options);
  }

  /// Any description and options (a forced schedule, forward only). With
  /// `errorOut`, a compile error is returned there instead of failing the
  /// test; `compiled` (if given) sees the module after compiling.
  static std::unique_ptr<CompiledKernel>
  compile(const ntp::MlpDescription &description,
          const ntp::CompileOptions &options, std::string *errorOut = nullptr,
          llvm::function_ref<void(mlir::ModuleOp)> compiled = nullptr) {
    auto k = std::unique_ptr<CompiledKernel>(new CompiledKernel);
    char pattern[] = "/tmp/ntp-kernel-XXXXXX";
    if (!mkdtemp(pattern))
      return nullptr;
    k->dir = pattern;
    k->path_ = k->dir + "/kernel.so";
    mlir::DialectRegistry registry;
    ntp::registerNtpCompilerDialects(registry);
    mlir::MLIRContext context(registry);
    auto module = ntp::buildMlpModule(context, description);
    std::string error;
    if (!module ||
        !ntp::compileToSharedObject(*module, options, k->path_, error)) {
      if (errorOut)
        *errorOut = error;
      else
        ADD_FAILURE() << "compile failed: " << error;
      return nullptr;
    }
    if (compiled)
      compiled(*module);
    if (ntp_kernel_load(k->path_.c_str(), &k->kernel) != NTP_OK) {
      ADD_FAILURE() << "load failed: " << ntp_last_error();
      return nullptr;
    }
    return k;
  }
  ~CompiledKernel() {
    ntp_kernel_free(kernel);
    unlink(path_.c_str());
    rmdir(dir.c_str());
  }
  ntp_kernel *get() const { return kernel; }
  /// The artifact's file (for tests that open it themselves).
  const std::string &path() const { return path_; }

private:
  CompiledKernel() = default;
  ntp_kernel *kernel = nullptr;
  std::string dir, path_;
};

/// The lowering #ntp.kernel records for the forward, or with `reverse` for
/// the reverse mode ("" when none).
inline std::string kernelLowering(mlir::ModuleOp module, bool reverse) {
  ntp::KernelAttr kernel = ntp::getKernelAttr(module);
  if (!kernel)
    return "";
  return (reverse ? kernel.getPartialsReverseLowering()
                  : kernel.getPartialsLowering())
      .str();
}

} // namespace ntp::test

#endif // NTP_TEST_UNIT_COMPILER_COMPILEDKERNEL_H
