//===- PartialsTestUtil.h - Helpers of the partials tests -------*- C++ -*-===//
//
// For the compiler's tests of partials kernels (PartialsEndToEndTest,
// PartialsBackwardTest, PartialsLayersTest, GpuPartialsEmulationTest): the
// description of a partials kernel, compiling one (reading back the
// lowerings the compiler chose), operator rows, the reference's spelling of
// rows and typed layers, ntp_partials into long double, the reference
// loss's gradients by central differences and the table of worst errors.
//
//===----------------------------------------------------------------------===//
#ifndef NTP_TEST_UNIT_COMPILER_PARTIALSTESTUTIL_H
#define NTP_TEST_UNIT_COMPILER_PARTIALSTESTUTIL_H

#include "CompiledKernel.h"
#include "GradientCheck.h"
#include "PartialsReference.h"
#include "ntp/Compiler/Compiler.h"
#include "ntp/Support/Partials.h"
#include "ntp/runtime.h"

#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/BuiltinOps.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace ntp::test {

using Rows = std::vector<std::vector<int32_t>>;

/// The largest total order of `rows` (0 when empty).
inline int64_t maxOrderOf(const Rows &rows) {
  int64_t n = 0;
  for (const auto &row : rows)
    n = std::max<int64_t>(n, ntp::partials::totalOrder(row));
  return n;
}

/// A partials kernel of `widths`, `activation` (one, or one per hidden
/// layer) and `rows`; its order is the rows' largest total order.
inline ntp::MlpDescription partialsDescription(const std::vector<int> &widths,
                                               const std::string &activation,
                                               const Rows &rows, bool isF64) {
  ntp::MlpDescription description;
  description.layers.assign(widths.begin(), widths.end());
  description.activation = activation;
  description.isF64 = isF64;
  description.partials = rows;
  description.order = maxOrderOf(rows);
  return description;
}

/// `description` compiled (with the reverse mode when `backward`) and
/// loaded; a compile error goes to `errorOut` when given. `chosen` and
/// `reverse` receive the module's summaries of the forward's and the reverse
/// mode's lowerings ("" when absent).
inline std::unique_ptr<CompiledKernel>
compilePartialsKernel(const ntp::MlpDescription &description, bool backward,
                      std::string *errorOut = nullptr,
                      std::string *chosen = nullptr,
                      std::string *reverse = nullptr) {
  if (chosen)
    *chosen = "";
  if (reverse)
    *reverse = "";
  ntp::CompileOptions options;
  options.backward = backward;
  return CompiledKernel::compile(
      description, options, errorOut, [&](mlir::ModuleOp module) {
        if (chosen)
          *chosen = kernelLowering(module, /*reverse=*/false);
        if (reverse)
          *reverse = kernelLowering(module, /*reverse=*/true);
      });
}

/// The row of operator `kind` (laplacian, biharmonic) over `subset` (empty:
/// every coordinate) of d inputs; a failure of the test when it has none.
inline ntp::partials::Row operatorRow(int32_t kind, int d,
                                      std::vector<int64_t> subset = {}) {
  ntp::partials::Row row;
  std::string error;
  EXPECT_TRUE(ntp::partials::operatorRow(kind, subset, d, row, error)) << error;
  return row;
}

/// The reference's spelling of `rows`.
inline std::vector<std::vector<int>> referenceRows(const Rows &rows) {
  std::vector<std::vector<int>> out;
  for (const auto &row : rows)
    out.emplace_back(row.begin(), row.end());
  return out;
}

/// The reference's spelling of typed layers `kinds`.
inline ntp_ref::Layers referenceLayers(const ntp::artifact::LayerKinds &kinds) {
  ntp_ref::Layers l;
  for (ntp::artifact::Slope s : kinds.slopes)
    l.slopes.push_back(s == ntp::artifact::Slope::None    ? 0
                       : s == ntp::artifact::Slope::Layer ? 1
                                                          : 2);
  l.residual = kinds.residual;
  l.fourier = static_cast<int>(kinds.fourier);
  l.gated = kinds.gated;
  return l;
}

/// ntp_partials of `kernel` (f64 or f32 by `f64`) at `params` and `x`
/// rounded to the kernel's type, into `got` (its size is the output's;
/// unwritten entries are NaN). Returns the call's status.
inline ntp_status runPartials(ntp_kernel *kernel, bool f64,
                              const std::vector<Ld> &params,
                              const std::vector<Ld> &x, int64_t batch,
                              std::vector<Ld> &got) {
  auto run = [&](auto zero) {
    using T = decltype(zero);
    std::vector<T> p(params.begin(), params.end()), xs(x.begin(), x.end()),
        out(got.size(), T(NAN));
    ntp_status status =
        ntp_partials(kernel, xs.data(), p.data(), out.data(), batch);
    got.assign(out.begin(), out.end());
    return status;
  };
  return f64 ? run(double()) : run(float());
}

/// The gradients of loss(params, x) by 4th-order central differences of
/// step `h`, one coordinate of params (then of x) at a time.
template <class Loss>
void lossGradientsByDifferences(const std::vector<Ld> &params,
                                const std::vector<Ld> &x, Loss loss, Ld h,
                                std::vector<Ld> &paramsGrad,
                                std::vector<Ld> &xGrad) {
  paramsGrad.assign(params.size(), 0);
  xGrad.assign(x.size(), 0);
  for (size_t i = 0; i < params.size(); ++i)
    paramsGrad[i] = centralDifference(
        [&](Ld t) {
          std::vector<Ld> moved = params;
          moved[i] += t;
          return loss(moved, x);
        },
        h);
  for (size_t i = 0; i < x.size(); ++i)
    xGrad[i] = centralDifference(
        [&](Ld t) {
          std::vector<Ld> moved = x;
          moved[i] += t;
          return loss(params, moved);
        },
        h);
}

/// The worst errors over the cases run, by what was measured (each test
/// binary prints its own table at the end).
inline std::map<std::string, double> &worst() {
  static std::map<std::string, double> w;
  return w;
}
inline void record(const std::string &what, double error) {
  double &w = worst()[what];
  w = std::max(w, error);
}

} // namespace ntp::test

#endif // NTP_TEST_UNIT_COMPILER_PARTIALSTESTUTIL_H
