//===- EndToEndKernel.h - Compiled kernels for the e2e tests ----*- C++ -*-===//
//
// For ntp-e2e-tests (EndToEndTest.cpp, EndToEndHighOrderTest.cpp,
// EndToEndClosedFormTest.cpp): compiling and loading a network, running it
// on given (dtype-rounded) inputs, random inputs, the per-order errors
// against the reference, their bounds and the table of worst errors.
//
//===----------------------------------------------------------------------===//
#ifndef NTP_TEST_UNIT_COMPILER_ENDTOENDKERNEL_H
#define NTP_TEST_UNIT_COMPILER_ENDTOENDKERNEL_H

#include "ntp/Compiler/Compiler.h"
#include "ntp/runtime.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <tuple>
#include <unistd.h>
#include <vector>

namespace ntp::e2e_test {

using Ld = long double;

//===----------------------------------------------------------------------===//
// Compiling and loading
//===----------------------------------------------------------------------===//

/// One MLIR context for the whole process; registering dialects once keeps
/// each compile to the pipeline itself.
inline mlir::MLIRContext &context() {
  static mlir::MLIRContext *ctx = [] {
    mlir::DialectRegistry registry;
    ntp::registerNtpCompilerDialects(registry);
    auto *c = new mlir::MLIRContext(registry);
    c->disableMultithreading();
    return c;
  }();
  return *ctx;
}

/// A compiled and loaded kernel; the artifact and its temporary directory are
/// removed on destruction.
class LoadedKernel {
public:
  ~LoadedKernel() {
    if (kernel)
      ntp_kernel_free(kernel);
    if (!path.empty())
      std::remove(path.c_str());
    if (!dir.empty())
      rmdir(dir.c_str());
  }
  ntp_kernel *get() const { return kernel; }

  /// Compiles (layers, activation, order, dtype) and loads it; on failure,
  /// returns null and sets `error`.
  static std::unique_ptr<LoadedKernel>
  compile(const std::vector<int> &widths, const std::string &activation,
          int order, bool isF64, std::string &error, int64_t tileSize = 0,
          ntp::JetFormulation formulation = ntp::JetFormulation::Auto) {
    auto result = std::make_unique<LoadedKernel>();
    char pattern[] = "/tmp/ntp-e2e-XXXXXX";
    if (!mkdtemp(pattern)) {
      error = "mkdtemp failed";
      return nullptr;
    }
    result->dir = pattern;
    result->path = result->dir + "/kernel.so";

    ntp::MlpDescription description;
    description.layers.assign(widths.begin(), widths.end());
    description.activation = activation;
    description.order = order;
    description.isF64 = isF64;
    ntp::CompileOptions options;
    options.tileSize = tileSize;
    options.formulation = formulation;
    // Forward accuracy only; the backward has its own tests (and doubles
    // the compile time).
    options.backward = false;
    {
      // MLIRContext is not safe for concurrent use; gtest is single-threaded
      // but keep it explicit.
      static std::mutex mutex;
      std::lock_guard<std::mutex> lock(mutex);
      mlir::OwningOpRef<mlir::ModuleOp> module =
          ntp::buildMlpModule(context(), description);
      if (!module) {
        error = "buildMlpModule rejected the description";
        return nullptr;
      }
      if (!ntp::compileToSharedObject(*module, options, result->path, error))
        return nullptr;
    }
    if (ntp_kernel_load(result->path.c_str(), &result->kernel) != NTP_OK) {
      error = std::string("ntp_kernel_load: ") + ntp_last_error();
      return nullptr;
    }
    return result;
  }

private:
  ntp_kernel *kernel = nullptr;
  std::string dir, path;
};

//===----------------------------------------------------------------------===//
// Running a kernel on given (already dtype-rounded) inputs
//===----------------------------------------------------------------------===//

/// Runs the kernel with the inputs converted to T; returns out as long
/// double, or sets `error`.
template <typename T>
bool runAs(ntp_kernel *k, const std::vector<Ld> &x, const std::vector<Ld> &v,
           const std::vector<Ld> &params, int64_t batch, int64_t outCount,
           std::vector<Ld> &out, std::string &error) {
  std::vector<T> xs(x.begin(), x.end()), vs(v.begin(), v.end()),
      ps(params.begin(), params.end());
  std::vector<T> os(outCount, std::numeric_limits<T>::quiet_NaN());
  int status = ntp_forward_checked(
      k, xs.data(), static_cast<int64_t>(xs.size()), vs.data(),
      static_cast<int64_t>(vs.size()), ps.data(),
      static_cast<int64_t>(ps.size()), os.data(), outCount, batch);
  if (status != NTP_OK) {
    error = std::string("ntp_forward_checked: ") + ntp_last_error();
    return false;
  }
  out.assign(os.begin(), os.end());
  return true;
}

inline bool run(ntp_kernel *k, bool isF64, const std::vector<Ld> &x,
                const std::vector<Ld> &v, const std::vector<Ld> &params,
                int order, int q, int64_t batch, std::vector<Ld> &out,
                std::string &error) {
  int64_t outCount = (order + 1) * batch * q;
  return isF64 ? runAs<double>(k, x, v, params, batch, outCount, out, error)
               : runAs<float>(k, x, v, params, batch, outCount, out, error);
}

/// Rounds to the kernel's dtype, so that kernel and reference see the very
/// same numbers.
inline Ld roundTo(bool isF64, double value) {
  return isF64 ? static_cast<Ld>(value)
               : static_cast<Ld>(static_cast<float>(value));
}

/// PyTorch's default nn.Linear init, U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for
/// W and b, in torch.nn.Linear order.
inline std::vector<Ld> randomParams(const std::vector<int> &widths, bool isF64,
                                    std::mt19937_64 &rng) {
  std::vector<Ld> params;
  for (size_t l = 1; l < widths.size(); ++l) {
    double bound = 1.0 / std::sqrt(static_cast<double>(widths[l - 1]));
    std::uniform_real_distribution<double> dist(-bound, bound);
    for (int i = 0; i < widths[l] * widths[l - 1] + widths[l]; ++i)
      params.push_back(roundTo(isF64, dist(rng)));
  }
  return params;
}

inline std::vector<Ld> randomVector(size_t n, double lo, double hi, bool isF64,
                                    std::mt19937_64 &rng) {
  std::uniform_real_distribution<double> dist(lo, hi);
  std::vector<Ld> r(n);
  for (Ld &value : r)
    value = roundTo(isF64, dist(rng));
  return r;
}

/// Per order k: max_{b,j} |out - ref| / max_{b,j} |ref|; if the reference is
/// identically 0 at that order, max_{b,j} |out| instead (reported negated
/// so callers can tell the two apart).
inline std::vector<Ld> errorsPerOrder(const std::vector<Ld> &out,
                                      const std::vector<Ld> &ref, int order,
                                      int64_t perOrder) {
  std::vector<Ld> errors;
  for (int k = 0; k <= order; ++k) {
    Ld maxDiff = 0, maxRef = 0, maxOut = 0;
    for (int64_t i = k * perOrder; i < (k + 1) * perOrder; ++i) {
      Ld diff = std::fabs(out[i] - ref[i]);
      if (std::isnan(out[i]))
        diff = std::numeric_limits<Ld>::infinity();
      maxDiff = std::max(maxDiff, diff);
      maxRef = std::max(maxRef, std::fabs(ref[i]));
      maxOut = std::max(maxOut, std::fabs(out[i]));
    }
    errors.push_back(maxRef > 0 ? maxDiff / maxRef : -maxDiff);
  }
  return errors;
}

//===----------------------------------------------------------------------===//
// Error bounds (measured; see the table printed at the end of a run)
//===----------------------------------------------------------------------===//

/// The bound a kernel's relative error at order k must meet. Measured over
/// this sweep with three seed bases (1000, 5000, 9000; NTP_E2E_SEED_BASE,
/// NTP_E2E_PRINT_ERRORS=1 prints the table), then rounded up with a margin
/// of 2-15x.
///
/// tanh, sin, exp, identity follow the targets (f64: 1e-12 up to order 12,
/// f32: 1e-4) except where noted. sigmoid and softplus do not: ntp writes
/// sigma^(k) as an integer polynomial in s = sigmoid(y), and in that basis
/// the polynomials are ill-conditioned (max_s sum |c_i| s^i over max_s
/// |Q_k(s)| is 1e3 at k = 4, 2e8 at k = 12, 8e10 at k = 16), so rounding
/// errors grow about 4x per order. The bounds below document that defect
/// (reported); they should be tightened once sigmoid derivatives are
/// evaluated in a better-conditioned basis (e.g. tanh(y/2)). tanh's power
/// basis is ill-conditioned too, but only 7e4 at k = 16.
inline double tolerance(bool isF64, const std::string &activation, int k) {
  // Measured (three seed bases, 204 networks): f64 <= 2.1e-13 for k <= 12
  // and <= 1.4e-12 (tanh at k = 16) above; f32 <= 5e-5 for k <= 10 and
  // <= 5.3e-4 (tanh at k = 16) above. tanh, sigmoid and softplus share the
  // worst case: sigmoid is expanded in tanh(y/2), so its derivative
  // polynomials are tanh's scaled by powers of two. Rounding grows with the
  // coefficients of tanh's polynomials (1e10 at k = 12), past the stated
  // targets only for k > 12 (f64) and k > 10 (f32).
  (void)activation;
  if (isF64)
    return k <= 12 ? 1e-12 : 1e-11;
  return k <= 10 ? 1e-4 : 2e-3;
}

/// Where the reference is identically 0 (linear networks, orders >= 2), the
/// kernel must give 0 up to this (it should be exactly 0: W * 0 = 0).
constexpr Ld kTinyAbsolute = 1e-30L;

/// Worst measured error per (dtype, activation, order, requested jet
/// formulation), printed at exit.
struct ErrorTable {
  std::map<std::tuple<bool, std::string, int, std::string>, double> worst;
  void record(bool isF64, const std::string &act, int k, double e,
              ntp::JetFormulation formulation) {
    double &w = worst[{isF64, act, k, ntp::jetFormulationName(formulation)}];
    w = std::max(w, e);
  }
  ~ErrorTable() {
    if (worst.empty() || !std::getenv("NTP_E2E_PRINT_ERRORS"))
      return;
    fprintf(stderr, "\nworst relative error per (dtype, activation, order, "
                    "formulation)\n");
    for (const auto &[key, e] : worst)
      fprintf(stderr, "%s %-9s k=%2d  %.3e  %s\n",
              std::get<0>(key) ? "f64" : "f32", std::get<1>(key).c_str(),
              std::get<2>(key), e, std::get<3>(key).c_str());
  }
};
inline ErrorTable &errorTable() {
  static ErrorTable table;
  return table;
}

} // namespace ntp::e2e_test

#endif // NTP_TEST_UNIT_COMPILER_ENDTOENDKERNEL_H
