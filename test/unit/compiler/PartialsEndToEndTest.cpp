//===- PartialsEndToEndTest.cpp - Partials kernels against the reference --===//
//
// Partials kernels (issue 12) compiled through the library path, run through
// the runtime (ntp_partials) and compared with the independent multivariate
// Taylor reference (test/reference/PartialsReference.h): every activation,
// d = 1..6, total orders 0..6 (mixed, pure, the Laplacian and the
// biharmonic), f64 and f32. The error of request p is
//   max_{b,j} |ntp - ref| / max(max_{b,j} |ref|, 1e-10 * M_n),
// M_n the largest |ref| over the requests of the same total order n (so that
// identically zero partials are judged fairly). Bounds: f64 1e-10, f32 1e-3
// (total orders <= 4). The worst error by total order is printed.
//
//===----------------------------------------------------------------------===//

#include "CompiledKernel.h"
#include "PartialsReference.h"
#include "PartialsTestUtil.h"
#include "ntp/Compiler/Compiler.h"
#include "ntp/Support/Partials.h"
#include "ntp/runtime.h"

#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/MLIRContext.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <map>
#include <random>
#include <unistd.h>

namespace {

using ntp::test::CompiledKernel;
using ntp::test::Ld;
using ntp::test::Rows;

const char *kActivations[] = {"tanh", "sigmoid",  "sin", "identity",
                              "exp",  "softplus", "cos", "silu",
                              "gelu", "gelu_tanh"};

/// A partials kernel, compiled and loaded. `lowering` forces
/// ntp.partials_lowering ("" = per-ray). Compiled forward-only.
std::unique_ptr<CompiledKernel>
compilePartials(const std::vector<int> &widths, const std::string &act,
                const Rows &rows, bool f64, std::string *errorOut = nullptr,
                const std::string &lowering = "",
                std::string *chosen = nullptr) {
  ntp::MlpDescription description =
      ntp::test::partialsDescription(widths, act, rows, f64);
  // "" is per-ray here: the forced lowerings are the other cases.
  description.partialsLowering = lowering.empty() ? "per-ray" : lowering;
  // Forward only: PartialsBackwardTest checks the reverse mode, whose
  // three more functions per kernel would triple these compiles (and which
  // only the per-ray lowering has).
  return ntp::test::compilePartialsKernel(description, /*backward=*/false,
                                          errorOut, chosen);
}

/// The rows exercised for d inputs up to total order `maxOrder`: f itself,
/// every partial of order 1 and 2 (d <= 3) or a few (d > 3), pure ones up to
/// maxOrder, mixed ones of orders 3..maxOrder over at most 3 coordinates,
/// the Laplacian (all and a subset) and the biharmonic (over <= 3
/// coordinates).
Rows requestRows(int d, int maxOrder) {
  Rows rows;
  auto add = [&](std::vector<int32_t> row) {
    for (const auto &r : rows)
      if (r == row)
        return;
    int64_t order = ntp::partials::totalOrder(row);
    if (order <= maxOrder)
      rows.push_back(row);
  };
  auto index = [&](std::initializer_list<std::pair<int, int>> entries) {
    std::vector<int32_t> row(d, 0);
    for (auto [l, v] : entries)
      if (l < d)
        row[l] += v;
    return row;
  };
  add(index({}));
  for (int l = 0; l < d; ++l)
    add(index({{l, 1}}));
  for (int l = 0; l < std::min(d, 3); ++l)
    for (int m = l; m < std::min(d, 3); ++m)
      add(index({{l, 1}, {m, 1}}));
  for (int n = 3; n <= maxOrder; ++n)
    add(index({{d - 1, n}}));
  if (d >= 2) {
    add(index({{0, 2}, {1, 1}}));
    add(index({{0, 2}, {1, 2}}));
    add(index({{0, 3}, {1, 2}}));
    add(index({{0, 3}, {1, 3}}));
  }
  if (d >= 3) {
    add(index({{0, 2}, {1, 1}, {2, 1}}));
    add(index({{0, 1}, {1, 2}, {2, 2}}));
    add(index({{0, 3}, {1, 2}, {2, 1}}));
  }
  if (d >= 6)
    add(index({{3, 1}, {4, 1}, {5, 1}}));
  // Operators: their rows after the multi-indices.
  std::string error;
  ntp::partials::Row row;
  if (maxOrder >= 2) {
    ntp::partials::operatorRow(ntp::partials::kLaplacian, {}, d, row, error);
    add(row);
    if (d >= 2) {
      ntp::partials::operatorRow(ntp::partials::kLaplacian, {0, d - 1}, d, row,
                                 error);
      add(row);
    }
  }
  if (maxOrder >= 4) {
    std::vector<int64_t> subset;
    for (int l = 0; l < std::min(d, 3); ++l)
      subset.push_back(l);
    ntp::partials::operatorRow(ntp::partials::kBiharmonic,
                               d <= 3 ? std::vector<int64_t>() : subset, d, row,
                               error);
    add(row);
  }
  return rows;
}

/// Worst error by total order over every case run (printed at the end).
std::map<std::pair<bool, int64_t>, double> &worstByOrder() {
  static std::map<std::pair<bool, int64_t>, double> worst;
  return worst;
}

/// Requests the collapsed lowering applies to (it sums an operator's top
/// order over rays no other request reads at that order): f, the first
/// partials and the operators: with `biharmonic`, the biharmonic (over <= 3
/// coordinates) and one mixed partial of order 3 (its rays then carry order
/// 3 for both); else the
/// Laplacian over all coordinates and over {0, d-1} (the second's rays are
/// then read by rows, the first's other rays collapsed).
Rows collapsedRows(int d, int maxOrder, bool biharmonic) {
  Rows rows;
  rows.push_back(std::vector<int32_t>(d, 0));
  for (int l = 0; l < d; ++l) {
    rows.push_back(std::vector<int32_t>(d, 0));
    rows.back()[l] = 1;
  }
  if (biharmonic && d >= 2) {
    rows.push_back(std::vector<int32_t>(d, 0));
    rows.back()[0] = 2;
    rows.back()[1] = 1;
  }
  std::string error;
  ntp::partials::Row row;
  if (biharmonic) {
    std::vector<int64_t> subset;
    for (int l = 0; l < std::min(d, 3); ++l)
      subset.push_back(l);
    ntp::partials::operatorRow(ntp::partials::kBiharmonic,
                               d <= 3 ? std::vector<int64_t>() : subset, d, row,
                               error);
    rows.push_back(row);
    return rows;
  }
  ntp::partials::operatorRow(ntp::partials::kLaplacian, {}, d, row, error);
  rows.push_back(row);
  if (d >= 3) {
    ntp::partials::operatorRow(ntp::partials::kLaplacian, {0, d - 1}, d, row,
                               error);
    rows.push_back(row);
  }
  return rows;
}

void checkCase(const std::string &act, int d, int maxOrder, bool f64,
               unsigned seed, const std::string &lowering = "",
               const Rows *requested = nullptr) {
  SCOPED_TRACE(act + " d=" + std::to_string(d) + " max order=" +
               std::to_string(maxOrder) + (f64 ? " f64" : " f32") +
               (lowering.empty() ? "" : " " + lowering));
  std::vector<int> widths = {d, 8, 6, 2};
  Rows rows = requested ? *requested : requestRows(d, maxOrder);
  std::string chosen;
  auto kernel =
      compilePartials(widths, act, rows, f64, nullptr, lowering, &chosen);
  ASSERT_TRUE(kernel);
  // The forced lowering is the one compiled (recorded on the module).
  if (!lowering.empty())
    EXPECT_EQ(chosen.substr(0, lowering.size()), lowering) << chosen;
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> u(-1, 1);
  const int64_t batch = 11; // a partial last tile
  std::vector<Ld> params(ntp_ref::numParams(widths)), x(batch * d);
  for (Ld &p : params)
    p = u(rng) * 0.9;
  for (Ld &v : x)
    v = u(rng);
  std::vector<std::vector<int>> refRows = ntp::test::referenceRows(rows);
  std::vector<Ld> ref = ntp_ref::partials(widths, ntp_ref::parseActivation(act),
                                          params, x, batch, refRows);
  int q = widths.back();
  std::vector<Ld> got(rows.size() * batch * q);
  ASSERT_EQ(ntp::test::runPartials(kernel->get(), f64, params, x, batch, got),
            NTP_OK)
      << ntp_last_error();
  if (!f64) {
    // The reference at the rounded inputs the kernel saw.
    auto rounded = [](const std::vector<Ld> &v) {
      std::vector<Ld> r;
      for (Ld e : v)
        r.push_back(Ld(float(e)));
      return r;
    };
    ref = ntp_ref::partials(widths, ntp_ref::parseActivation(act),
                            rounded(params), rounded(x), batch, refRows);
  }
  std::map<int64_t, Ld> largest;
  std::vector<Ld> rowMax(rows.size(), 0);
  for (size_t p = 0; p < rows.size(); ++p) {
    for (int64_t i = 0; i < batch * q; ++i)
      rowMax[p] = std::max(rowMax[p], std::fabs(ref[p * batch * q + i]));
    Ld &m = largest[ntp::partials::totalOrder(rows[p])];
    m = std::max(m, rowMax[p]);
  }
  double bound = f64 ? 1e-10 : 1e-3;
  for (size_t p = 0; p < rows.size(); ++p) {
    int64_t order = ntp::partials::totalOrder(rows[p]);
    Ld denom = std::max(rowMax[p], 1e-10L * largest[order]);
    Ld err = 0;
    for (int64_t i = 0; i < batch * q; ++i)
      err = std::max(
          err, std::fabs(got[p * batch * q + i] - ref[p * batch * q + i]));
    double rel =
        denom > 0 ? static_cast<double>(err / denom) : static_cast<double>(err);
    EXPECT_LE(rel, bound) << "request " << p << " ("
                          << ntp::partials::formatRows({rows[p]})
                          << "), total order " << order;
    double &w = worstByOrder()[{f64, order}];
    w = std::max(w, rel);
  }
}

class PartialsEndToEnd : public ::testing::TestWithParam<const char *> {};

TEST_P(PartialsEndToEnd, F64EveryDimensionToOrder6) {
  unsigned seed = 1;
  for (int d = 1; d <= 6; ++d)
    checkCase(GetParam(), d, d <= 3 ? 6 : 4, true, seed++);
}

TEST_P(PartialsEndToEnd, F32ToOrder4) {
  unsigned seed = 100;
  for (int d : {1, 2, 3, 5})
    checkCase(GetParam(), d, 4, false, seed++);
}

INSTANTIATE_TEST_SUITE_P(AllActivations, PartialsEndToEnd,
                         ::testing::ValuesIn(kActivations));

/// The multi-direction and collapsed lowerings (ntp/Support/
/// PartialsLowering.h), forced, on the same requests and bounds: every
/// activation, d = 1..6 in f64 (orders to 6 for d <= 3), f32 to order 4.
class PartialsLowerings
    : public ::testing::TestWithParam<std::tuple<const char *, const char *>> {
};

/// The collapsed lowering runs on collapsedRows (the Laplacian collapsed,
/// then the biharmonic); the others on requestRows.
void checkLowering(const std::string &act, const std::string &lowering, int d,
                   int maxOrder, bool f64, unsigned seed) {
  if (lowering != "collapsed")
    return checkCase(act, d, maxOrder, f64, seed, lowering);
  for (bool biharmonic : {false, true}) {
    if (biharmonic && maxOrder < 4)
      continue;
    Rows rows = collapsedRows(d, maxOrder, biharmonic);
    checkCase(act, d, maxOrder, f64, seed, lowering, &rows);
  }
}

TEST_P(PartialsLowerings, F64EveryDimensionToOrder6) {
  auto [act, lowering] = GetParam();
  unsigned seed = 1;
  for (int d = 1; d <= 6; ++d)
    checkLowering(act, lowering, d, d <= 3 ? 6 : 4, true, seed++);
}

TEST_P(PartialsLowerings, F32ToOrder4) {
  auto [act, lowering] = GetParam();
  unsigned seed = 100;
  for (int d : {1, 2, 3, 5})
    checkLowering(act, lowering, d, 4, false, seed++);
}

INSTANTIATE_TEST_SUITE_P(
    AllActivations, PartialsLowerings,
    ::testing::Combine(::testing::ValuesIn(kActivations),
                       ::testing::Values("multi-direction", "collapsed",
                                         "multivariate")),
    [](const ::testing::TestParamInfo<PartialsLowerings::ParamType> &info) {
      std::string name =
          std::string(std::get<0>(info.param)) + "_" + std::get<1>(info.param);
      for (char &c : name)
        if (c == '-')
          c = '_';
      return name;
    });

TEST(PartialsEndToEndOrder6, SixInputsAtOrderSix) {
  // d = 6 with total order 6: a pure and a mixed partial over 3
  // coordinates (28 directions), u. (A mixed partial over all 6, e.g.
  // [1,1,1,1,1,1], needs all 462 directions of order 6: this lowering
  // unrolls one jet per direction, which compiles for minutes.)
  std::vector<int> widths = {6, 8, 1};
  Rows rows = {{0, 0, 0, 0, 0, 6}, {2, 0, 0, 2, 0, 2}, {0, 0, 0, 0, 0, 0}};
  for (const char *act : {"tanh", "sin"}) {
    SCOPED_TRACE(act);
    auto kernel = compilePartials(widths, act, rows, true);
    ASSERT_TRUE(kernel);
    std::mt19937 rng(7);
    std::uniform_real_distribution<double> u(-1, 1);
    const int64_t batch = 5;
    std::vector<Ld> params(ntp_ref::numParams(widths)), x(batch * 6);
    for (Ld &p : params)
      p = u(rng) * 0.9;
    for (Ld &v : x)
      v = u(rng);
    std::vector<std::vector<int>> refRows = ntp::test::referenceRows(rows);
    auto ref = ntp_ref::partials(widths, ntp_ref::parseActivation(act), params,
                                 x, batch, refRows);
    std::vector<double> px(params.begin(), params.end()),
        xx(x.begin(), x.end()), out(rows.size() * batch, NAN);
    ASSERT_EQ(
        ntp_partials(kernel->get(), xx.data(), px.data(), out.data(), batch),
        NTP_OK)
        << ntp_last_error();
    Ld order6 = 0;
    for (size_t p : {0, 1})
      for (int b = 0; b < batch; ++b)
        order6 = std::max(order6, std::fabs(ref[p * batch + b]));
    for (size_t p = 0; p < rows.size(); ++p) {
      Ld m = 0, err = 0;
      for (int b = 0; b < batch; ++b) {
        m = std::max(m, std::fabs(ref[p * batch + b]));
        err = std::max(err, std::fabs(out[p * batch + b] - ref[p * batch + b]));
      }
      Ld denom = std::max(m, p == 2 ? 0 : 1e-10L * order6);
      double rel = static_cast<double>(err / denom);
      EXPECT_LE(rel, 1e-10) << "request " << p;
      double &w = worstByOrder()[{true, ntp::partials::totalOrder(rows[p])}];
      w = std::max(w, rel);
    }
  }
}

TEST(PartialsLoweringsSubset, HeatOperatorCollapsedAndValueOnly) {
  // u, u_t and the Laplacian over x, y only (collapsed); f alone
  // (multi-direction: row 0 and no ray).
  Rows heat = {{0, 0, 0}, {0, 0, 1}, {-2, -2, 0}};
  checkCase("tanh", 3, 2, true, 21, "collapsed", &heat);
  checkCase("silu", 3, 2, false, 22, "collapsed", &heat);
  Rows value = {{0, 0}};
  checkCase("tanh", 2, 0, true, 23, "multi-direction", &value);
}

TEST(PartialsLoweringsSubset, OperatorAloneComputesOnlyItsRows) {
  // The Laplacian (or the biharmonic) alone: the top layer and the
  // activation feeding it compute only the collapsed row
  // ({ntp.needed_rows}), multi-direction only the rays' top orders; with
  // u_x beside it, rows 0 and e_x's order 1 too. Batch 11: the first
  // tile's invariant rows are reused by the second.
  unsigned seed = 40;
  for (int d : {1, 2, 5}) {
    ntp::partials::Row lap, bi;
    std::string error;
    ASSERT_TRUE(ntp::partials::operatorRow(ntp::partials::kLaplacian, {}, d,
                                           lap, error))
        << error;
    ASSERT_TRUE(ntp::partials::operatorRow(ntp::partials::kBiharmonic, {}, d,
                                           bi, error))
        << error;
    std::vector<int32_t> ux(d, 0);
    ux[0] = 1;
    Rows alone = {lap}, biharmonic = {bi}, beside = {ux, lap};
    for (const char *act : {"tanh", "silu", "sin"})
      for (const char *lowering : {"collapsed", "multi-direction"}) {
        checkCase(act, d, 2, true, seed++, lowering, &alone);
        checkCase(act, d, 2, false, seed++, lowering, &alone);
        checkCase(act, d, 2, true, seed++, lowering, &beside);
      }
    checkCase("tanh", d, 4, true, seed++, "collapsed", &biharmonic);
  }
}

TEST(PartialsLowerings462, AllDirectionsOfOrderSixInSixInputs) {
  // [1,1,1,1,1,1] needs all 462 directions of order 6: per-ray it compiles
  // for minutes (one op chain per ray); multi-direction propagates them in
  // runtime loops over rays, in blocks within the stack bound.
  Rows rows = {{1, 1, 1, 1, 1, 1}, {0, 0, 0, 0, 0, 6}, {0, 0, 0, 0, 0, 0}};
  for (const char *act : {"tanh", "sin"})
    checkCase(act, 6, 6, true, 11, "multi-direction", &rows);
}

TEST(PartialsRuntime, EntryPointsRefuseTheOtherKind) {
  auto partials = compilePartials({2, 4, 1}, "tanh", {{1, 1}, {0, 0}}, true);
  ASSERT_TRUE(partials);
  double x[2] = {0.1, 0.2}, v[2] = {1, 0}, out[8];
  std::vector<double> params(17, 0.1);
  EXPECT_EQ(ntp_forward(partials->get(), x, v, params.data(), out, 1),
            NTP_ERROR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(ntp_last_error()).find("call ntp_partials"),
            std::string::npos)
      << ntp_last_error();
  int32_t alphas[4] = {9, 9, 9, 9}, count = -1;
  EXPECT_EQ(ntp_kernel_partials_get(partials->get(), alphas, 4, &count),
            NTP_OK);
  EXPECT_EQ(count, 2);
  EXPECT_EQ(std::vector<int32_t>(alphas, alphas + 4),
            (std::vector<int32_t>{1, 1, 0, 0}));
  EXPECT_EQ(ntp_kernel_partials_get(partials->get(), nullptr, 0, &count),
            NTP_OK);
  EXPECT_EQ(count, 2);
  EXPECT_EQ(ntp_kernel_partials_get(partials->get(), alphas, 3, &count),
            NTP_ERROR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(ntp_last_error()).find("capacity is 3"),
            std::string::npos);
  EXPECT_EQ(ntp_kernel_partials_get(partials->get(), alphas, 4, nullptr),
            NTP_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(ntp_partials(partials->get(), x, params.data(), out, -1),
            NTP_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(ntp_partials(partials->get(), nullptr, params.data(), out, 1),
            NTP_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(ntp_partials(partials->get(), x, params.data(), out, 0), NTP_OK);
  // Compiled without the reverse mode: the jet backward refuses it (as it
  // refuses any partials kernel; PartialsBackwardTest).
  std::vector<double> grad(17);
  EXPECT_NE(
      ntp_backward(partials->get(), x, v, params.data(), out, grad.data(), 1),
      NTP_OK);

  // A jet kernel: ntp_partials refuses it, partials_get counts 0.
  ntp::MlpDescription jet;
  jet.layers = {2, 4, 1};
  jet.order = 2;
  jet.isF64 = true;
  ntp::CompileOptions options;
  options.backward = false;
  auto jetKernel = CompiledKernel::compile(jet, options);
  ASSERT_TRUE(jetKernel);
  ntp_kernel *k = jetKernel->get();
  EXPECT_EQ(ntp_partials(k, x, params.data(), out, 1),
            NTP_ERROR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(ntp_last_error()).find("call ntp_forward"),
            std::string::npos)
      << ntp_last_error();
  EXPECT_EQ(ntp_kernel_partials_get(k, alphas, 4, &count), NTP_OK);
  EXPECT_EQ(count, 0);
}

TEST(PartialsRuntime, CompileRefusesBadRequests) {
  std::string error;
  EXPECT_FALSE(
      compilePartials({2, 4, 1}, "tanh", {{1, 1}, {1, 1}}, true, &error));
  EXPECT_FALSE(compilePartials({2, 4, 1}, "tanh", {{1}}, true, &error));
}

class PrintCurve : public ::testing::Environment {
public:
  void TearDown() override {
    std::printf("partials: worst relative error by total order (this run)\n"
                "| dtype | total order | worst error |\n|---|---|---|\n");
    for (auto &[key, worst] : worstByOrder())
      std::printf("| %s | %lld | %.2e |\n", key.first ? "f64" : "f32",
                  static_cast<long long>(key.second), worst);
  }
};
const auto *const kPrintCurve =
    ::testing::AddGlobalTestEnvironment(new PrintCurve);

} // namespace
