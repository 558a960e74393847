//===- EndToEndTest.cpp - Compiled kernels against the reference ----------===//
//
// Random networks are compiled with ntp::compileToSharedObject, loaded and
// run through the runtime's C API, and compared with the independent
// long-double Taylor reference (test/reference) on exactly the same
// dtype-rounded inputs: random networks of every activation and jet
// formulation, per-layer activations, explicit tile sizes. Orders past 16:
// EndToEndHighOrderTest.cpp; closed forms, linear networks and batch 0:
// EndToEndClosedFormTest.cpp. Every expected value comes from the reference
// or from formulas written here, never from the compiler.
//
//===----------------------------------------------------------------------===//
#include "EndToEndKernel.h"
#include "TaylorReference.h"

#include "ntp/Compiler/Compiler.h"
#include "ntp/runtime.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

namespace {

using namespace ntp::e2e_test;

//===----------------------------------------------------------------------===//
// Random networks against the reference
//===----------------------------------------------------------------------===//

struct NetworkCase {
  std::string activation;
  bool isF64;
  int order;
  std::vector<int> widths;
  std::vector<int64_t> batches;
  uint64_t seed;
  ntp::JetFormulation formulation = ntp::JetFormulation::Auto;
};

std::string caseName(const NetworkCase &c) {
  std::ostringstream os;
  std::string act = c.activation;
  std::replace(act.begin(), act.end(), ',', '_');
  os << act << "_" << (c.isF64 ? "f64" : "f32") << "_n" << c.order << "_w";
  for (size_t i = 0; i < c.widths.size(); ++i)
    os << (i ? "x" : "") << c.widths[i];
  if (c.formulation == ntp::JetFormulation::FaaDiBruno)
    os << "_fdb";
  else if (c.formulation == ntp::JetFormulation::Taylor)
    os << "_taylor";
  return os.str();
}

void PrintTo(const NetworkCase &c, std::ostream *os) { *os << caseName(c); }

/// Deterministic coverage: every activation x dtype x order in kOrders, with
/// architectures cycling through depths 1-5, widths 1-64, input and output
/// dims 1-3, and batch sizes 1, 37 (not a multiple of either tile), 256.
#ifndef NTP_E2E_SEED_BASE
#define NTP_E2E_SEED_BASE 1000
#endif
constexpr uint64_t kSeedBase = NTP_E2E_SEED_BASE;

/// The sweep's jet formulation: auto (what the compiler does by default), or
/// NTP_E2E_FORMULATION=faa-di-bruno|taylor to measure one of them.
ntp::JetFormulation sweepFormulation() {
  const char *name = std::getenv("NTP_E2E_FORMULATION");
  if (!name)
    return ntp::JetFormulation::Auto;
  std::optional<ntp::JetFormulation> f = ntp::parseJetFormulation(name);
  if (!f) {
    fprintf(stderr, "NTP_E2E_FORMULATION: unknown formulation '%s'\n", name);
    std::abort();
  }
  return *f;
}

std::vector<NetworkCase> networkCases() {
  static const std::vector<std::vector<int>> architectures = {
      {1, 16, 1},      {2, 32, 32, 3},
      {3, 8, 8, 8, 2}, {1, 24, 24, 24, 24, 1},
      {2, 64, 1},      {3, 1, 1, 3},
      {1, 64, 64, 1},  {2, 5, 7, 3, 1},
      {1, 1, 1},       {3, 17, 9, 33, 12, 2},
      {2, 2},          {1, 40, 1, 40, 1},
      {3, 12, 3},      {1, 64, 64, 64, 64, 1},
      {2, 3, 64, 2},   {1, 20, 20, 2},
      {3, 48, 48, 1},
  };
  static const int kOrders[] = {0, 1,  2,  3,  4,  5,  6,  7, 8,
                                9, 10, 11, 12, 13, 14, 15, 16};
  static const std::vector<std::vector<int64_t>> batchSets = {
      {1, 37}, {256}, {37}, {1, 256}};
  std::vector<NetworkCase> cases;
  size_t index = 0;
  for (const std::string &act :
       {"tanh", "sigmoid", "sin", "identity", "exp", "softplus", "cos", "silu",
        "gelu", "gelu_tanh"})
    for (bool isF64 : {true, false})
      for (int order : kOrders) {
        NetworkCase c;
        c.activation = act;
        c.isF64 = isF64;
        c.order = order;
        c.widths = architectures[index % architectures.size()];
        // exp of exp of ... overflows any evaluator beyond two hidden layers
        // of these widths; exp nets cycle through the shallower ones only.
        for (size_t skip = 1; act == std::string("exp") && c.widths.size() > 4;
             ++skip)
          c.widths = architectures[(index + skip) % architectures.size()];
        c.batches = batchSets[index % batchSets.size()];
        c.seed = kSeedBase + index;
        c.formulation = sweepFormulation();
        cases.push_back(c);
        ++index;
      }
  return cases;
}

class RandomNetworkTest : public ::testing::TestWithParam<NetworkCase> {};

TEST_P(RandomNetworkTest, MatchesReference) {
  const NetworkCase &c = GetParam();
  std::string error;
  std::unique_ptr<LoadedKernel> kernel =
      LoadedKernel::compile(c.widths, c.activation, c.order, c.isF64, error,
                            /*tileSize=*/0, c.formulation);
  ASSERT_TRUE(kernel) << error;

  const int d = c.widths.front(), q = c.widths.back();
  ntp_kernel_info info;
  ASSERT_EQ(ntp_kernel_info_get(kernel->get(), &info), NTP_OK)
      << ntp_last_error();
  EXPECT_EQ(info.order, c.order);
  EXPECT_EQ(info.input_dim, d);
  EXPECT_EQ(info.output_dim, q);
  EXPECT_EQ(info.num_params, ntp_ref::numParams(c.widths));
  EXPECT_EQ(info.dtype, c.isF64 ? NTP_DTYPE_F64 : NTP_DTYPE_F32);

  std::mt19937_64 rng(c.seed);
  std::vector<Ld> params = randomParams(c.widths, c.isF64, rng);
  std::vector<Ld> v = randomVector(d, -1.0, 1.0, c.isF64, rng);
  const std::vector<ntp_ref::Activation> acts = ntp_ref::parseActivationList(
      c.activation, static_cast<int>(c.widths.size()) - 2);
  // Pooled over the batch sizes of this case, so that a batch of one sample
  // is measured against the scale of the jet, not against one value that
  // may sit near a zero of sigma^(k) (pointwise relative error is unbounded
  // there for any floating-point algorithm).
  std::vector<Ld> maxDiff(c.order + 1, 0), maxRef(c.order + 1, 0),
      maxOut(c.order + 1, 0);
  for (int64_t batch : c.batches) {
    std::vector<Ld> x = randomVector(batch * d, -2.0, 2.0, c.isF64, rng);
    std::vector<Ld> ref =
        ntp_ref::jet(c.widths, acts, c.order, params, x, v, batch);
    ASSERT_TRUE(std::all_of(ref.begin(), ref.end(), [](Ld r) {
      return std::isfinite(r);
    })) << "invalid case: the reference jet overflows";
    std::vector<Ld> out;
    ASSERT_TRUE(run(kernel->get(), c.isF64, x, v, params, c.order, q, batch,
                    out, error))
        << error;
    for (int k = 0; k <= c.order; ++k)
      for (int64_t i = k * batch * q; i < (k + 1) * batch * q; ++i) {
        Ld diff = std::isnan(out[i]) ? std::numeric_limits<Ld>::infinity()
                                     : std::fabs(out[i] - ref[i]);
        maxDiff[k] = std::max(maxDiff[k], diff);
        maxRef[k] = std::max(maxRef[k], std::fabs(ref[i]));
        maxOut[k] = std::max(maxOut[k], std::fabs(out[i]));
      }
  }
  for (int k = 0; k <= c.order; ++k) {
    if (maxRef[k] == 0) {
      // Reference identically 0 at this order (linear network, k >= 2).
      EXPECT_LE(maxOut[k], kTinyAbsolute) << "order " << k;
      continue;
    }
    double err = static_cast<double>(maxDiff[k] / maxRef[k]);
    errorTable().record(c.isF64, c.activation, k, err, c.formulation);
    RecordProperty("err_k" + std::to_string(k), std::to_string(err));
    EXPECT_LE(err, tolerance(c.isF64, c.activation, k)) << "order " << k;
  }
}

INSTANTIATE_TEST_SUITE_P(Sweep, RandomNetworkTest,
                         ::testing::ValuesIn(networkCases()),
                         [](const ::testing::TestParamInfo<NetworkCase> &info) {
                           return caseName(info.param);
                         });

/// Each jet formulation forced explicitly (the sweep uses auto, which mixes
/// them by order), on a few activations and orders up to kMaxOrder, under
/// the same bounds.
std::vector<NetworkCase> formulationCases() {
  static const std::pair<const char *, int> kCases[] = {
      {"tanh", 2}, {"tanh", 9}, {"tanh", 16},     {"sigmoid", 6},
      {"sin", 12}, {"exp", 5},  {"softplus", 16}, {"identity", 4}};
  std::vector<NetworkCase> cases;
  uint64_t seed = kSeedBase + 700;
  for (ntp::JetFormulation f :
       {ntp::JetFormulation::FaaDiBruno, ntp::JetFormulation::Taylor})
    for (bool isF64 : {true, false})
      for (auto [act, order] : kCases) {
        NetworkCase c;
        c.activation = act;
        c.isF64 = isF64;
        c.order = order;
        c.widths = {2, 24, 24, 1};
        c.batches = {1, 37};
        c.seed = seed++;
        c.formulation = f;
        cases.push_back(c);
      }
  return cases;
}

INSTANTIATE_TEST_SUITE_P(Formulations, RandomNetworkTest,
                         ::testing::ValuesIn(formulationCases()),
                         [](const ::testing::TestParamInfo<NetworkCase> &info) {
                           return caseName(info.param);
                         });

//===----------------------------------------------------------------------===//
// Per-layer activations
//===----------------------------------------------------------------------===//

/// Random networks whose hidden layers have different activations (every
/// activation but exp, whose compositions overflow), including identity
/// (linear layers inside), at the sweep's bounds.
std::vector<NetworkCase> mixedCases() {
  static const char *kPool[] = {"tanh", "sigmoid",  "sin",  "identity", "cos",
                                "silu", "softplus", "gelu", "gelu_tanh"};
  static const std::vector<std::vector<int>> architectures = {
      {1, 16, 16, 1},
      {2, 24, 8, 24, 1},
      {3, 12, 12, 12, 12, 2},
      {1, 32, 32, 1}};
  std::vector<NetworkCase> cases;
  std::mt19937_64 rng(kSeedBase + 900);
  size_t index = 0;
  for (bool isF64 : {true, false})
    for (int order : {0, 1, 2, 3, 5, 8, 12, 16}) {
      NetworkCase c;
      c.isF64 = isF64;
      c.order = order;
      c.widths = architectures[index % architectures.size()];
      for (size_t l = 0; l + 2 < c.widths.size(); ++l)
        c.activation +=
            (l ? "," : "") + std::string(kPool[rng() % std::size(kPool)]);
      c.batches = {1, 37};
      c.seed = kSeedBase + 900 + index++;
      cases.push_back(c);
    }
  return cases;
}

INSTANTIATE_TEST_SUITE_P(Mixed, RandomNetworkTest,
                         ::testing::ValuesIn(mixedCases()),
                         [](const ::testing::TestParamInfo<NetworkCase> &info) {
                           return caseName(info.param);
                         });

//===----------------------------------------------------------------------===//
// Explicit tile sizes (tails, tiles larger than the batch)
//===----------------------------------------------------------------------===//

class TileSizeTest
    : public ::testing::TestWithParam<std::tuple<bool, int64_t>> {};

TEST_P(TileSizeTest, MatchesReference) {
  auto [isF64, tile] = GetParam();
  const std::vector<int> widths = {2, 12, 12, 2};
  const int order = 5;
  std::string error;
  std::unique_ptr<LoadedKernel> kernel =
      LoadedKernel::compile(widths, "tanh", order, isF64, error, tile);
  ASSERT_TRUE(kernel) << error;
  std::mt19937_64 rng(77 + tile);
  std::vector<Ld> params = randomParams(widths, isF64, rng);
  std::vector<Ld> v = randomVector(2, -1.0, 1.0, isF64, rng);
  for (int64_t batch : {1, 5, 37}) {
    std::vector<Ld> x = randomVector(batch * 2, -2.0, 2.0, isF64, rng);
    std::vector<Ld> ref = ntp_ref::jet(widths, ntp_ref::Activation::Tanh, order,
                                       params, x, v, batch);
    std::vector<Ld> out;
    ASSERT_TRUE(
        run(kernel->get(), isF64, x, v, params, order, 2, batch, out, error))
        << error;
    std::vector<Ld> errors = errorsPerOrder(out, ref, order, batch * 2);
    for (int k = 0; k <= order; ++k)
      EXPECT_LE(errors[k], tolerance(isF64, "tanh", k))
          << "batch " << batch << " order " << k;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Tiles, TileSizeTest,
    ::testing::Combine(::testing::Bool(), ::testing::Values(1, 3, 32)),
    [](const ::testing::TestParamInfo<std::tuple<bool, int64_t>> &info) {
      return std::string(std::get<0>(info.param) ? "f64" : "f32") + "_tile" +
             std::to_string(std::get<1>(info.param));
    });
} // namespace
