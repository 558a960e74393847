//===- EndToEndTest.cpp - Compiled kernels against the reference ----------===//
//
// Random networks are compiled with ntp::compileToSharedObject, loaded and
// run through the runtime's C API, and compared with the independent
// long-double Taylor reference (test/reference) on exactly the same
// dtype-rounded inputs. Closed-form one-neuron cases, linear networks and
// batch 0 are checked too. Every expected value comes from the reference or
// from formulas written here, never from the compiler.
//
//===----------------------------------------------------------------------===//
#include "TaylorReference.h"

#include "ntp/Compiler/Compiler.h"
#include "ntp/runtime.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <unistd.h>
#include <vector>

namespace {

using Ld = long double;

//===----------------------------------------------------------------------===//
// Compiling and loading
//===----------------------------------------------------------------------===//

/// One MLIR context for the whole process; registering dialects once keeps
/// each compile to the pipeline itself.
mlir::MLIRContext &context() {
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

bool run(ntp_kernel *k, bool isF64, const std::vector<Ld> &x,
         const std::vector<Ld> &v, const std::vector<Ld> &params, int order,
         int q, int64_t batch, std::vector<Ld> &out, std::string &error) {
  int64_t outCount = (order + 1) * batch * q;
  return isF64 ? runAs<double>(k, x, v, params, batch, outCount, out, error)
               : runAs<float>(k, x, v, params, batch, outCount, out, error);
}

/// Rounds to the kernel's dtype, so that kernel and reference see the very
/// same numbers.
Ld roundTo(bool isF64, double value) {
  return isF64 ? static_cast<Ld>(value)
               : static_cast<Ld>(static_cast<float>(value));
}

/// PyTorch's default nn.Linear init, U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for
/// W and b, in torch.nn.Linear order.
std::vector<Ld> randomParams(const std::vector<int> &widths, bool isF64,
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

std::vector<Ld> randomVector(size_t n, double lo, double hi, bool isF64,
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
std::vector<Ld> errorsPerOrder(const std::vector<Ld> &out,
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
double tolerance(bool isF64, const std::string &activation, int k) {
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
ErrorTable &errorTable() {
  static ErrorTable table;
  return table;
}

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
// Orders past 16 (the Taylor recurrence, up to kMaxOrder = 32)
//===----------------------------------------------------------------------===//

/// The stated bounds past order 16 (f64), where the Taylor recurrence alone
/// is used past each activation's maxFaaDiBrunoOrder(). Measured (see the
/// README's error curve) and rounded up with a margin.
double highOrderTolerance(bool isF64, int k) {
  // Measured (1-16-16-1 and 1-24-24-24-1, PyTorch's init, 3 seeds): f64
  // <= 5.5e-15, f32 <= 2.8e-6 at orders 17..32.
  if (k <= 16)
    return tolerance(isF64, "", k);
  return isF64 ? 1e-12 : 1e-4;
}

struct HighOrderCase {
  std::string activation;
  bool isF64;
  int order;
};

void PrintTo(const HighOrderCase &c, std::ostream *os) {
  *os << c.activation << (c.isF64 ? " f64" : " f32") << " order " << c.order;
}

class HighOrderTest : public ::testing::TestWithParam<HighOrderCase> {};

/// Max relative error per order (pooled over the batch) of one compiled
/// network against the reference; NaN/overflow counts as infinite.
std::vector<double> measuredErrors(const std::vector<int> &widths,
                                   const std::string &activation, int order,
                                   bool isF64, uint64_t seed,
                                   std::string &error,
                                   std::vector<double> *maxAbs = nullptr) {
  std::unique_ptr<LoadedKernel> kernel =
      LoadedKernel::compile(widths, activation, order, isF64, error);
  if (!kernel)
    return {};
  std::mt19937_64 rng(seed);
  std::vector<Ld> params = randomParams(widths, isF64, rng);
  std::vector<Ld> v = randomVector(widths.front(), -1.0, 1.0, isF64, rng);
  const int64_t batch = 37;
  std::vector<Ld> x =
      randomVector(batch * widths.front(), -2.0, 2.0, isF64, rng);
  std::vector<Ld> ref =
      ntp_ref::jet(widths,
                   ntp_ref::parseActivationList(
                       activation, static_cast<int>(widths.size()) - 2),
                   order, params, x, v, batch);
  std::vector<Ld> out;
  if (!run(kernel->get(), isF64, x, v, params, order, widths.back(), batch, out,
           error))
    return {};
  std::vector<Ld> errors =
      errorsPerOrder(out, ref, order, batch * widths.back());
  if (maxAbs) {
    const int64_t perOrder = batch * widths.back();
    maxAbs->assign(order + 1, 0);
    for (int k = 0; k <= order; ++k)
      for (int64_t i = k * perOrder; i < (k + 1) * perOrder; ++i)
        (*maxAbs)[k] =
            std::max((*maxAbs)[k], static_cast<double>(std::fabs(ref[i])));
  }
  std::vector<double> result;
  for (Ld e : errors)
    result.push_back(static_cast<double>(e < 0 ? -e : e));
  return result;
}

TEST_P(HighOrderTest, MatchesReference) {
  const HighOrderCase &c = GetParam();
  std::string error;
  std::vector<double> errors =
      measuredErrors({1, 16, 16, 1}, c.activation, c.order, c.isF64, 31, error);
  ASSERT_FALSE(errors.empty()) << error;
  for (int k = 0; k <= c.order; ++k)
    EXPECT_LE(errors[k], highOrderTolerance(c.isF64, k))
        << c.activation << " order " << k;
}

std::vector<HighOrderCase> highOrderCases() {
  std::vector<HighOrderCase> cases;
  for (const std::string &act : {"tanh", "sigmoid", "sin", "cos", "silu",
                                 "gelu", "gelu_tanh", "softplus", "exp"})
    for (int order : {20, 32})
      for (bool isF64 : {true, false})
        cases.push_back({act, isF64, order});
  return cases;
}

INSTANTIATE_TEST_SUITE_P(
    Orders, HighOrderTest, ::testing::ValuesIn(highOrderCases()),
    [](const ::testing::TestParamInfo<HighOrderCase> &info) {
      return info.param.activation + (info.param.isF64 ? "_f64" : "_f32") +
             "_n" + std::to_string(info.param.order);
    });

/// The error curve up to kMaxOrder (README "Orders past 16"): the worst
/// relative error per order of a 1-24-24-24-1 network per activation and
/// dtype, three seeds, printed as a table, with the largest |out[k]| (f32
/// overflows past 3.4e38; see the README for the limit), held to the bounds
/// above.
TEST(ErrorCurve, PrintsUpToMaxOrder) {
  const int order = 32;
  const std::vector<std::string> acts = {"tanh", "sin", "silu", "gelu",
                                         "gelu_tanh"};
  std::map<std::pair<std::string, bool>, std::vector<double>> worst;
  std::map<std::string, std::vector<double>> largest;
  for (const std::string &act : acts)
    for (bool isF64 : {true, false})
      for (uint64_t seed : {11, 12, 13}) {
        std::string error;
        std::vector<double> maxAbs;
        std::vector<double> e = measuredErrors({1, 24, 24, 24, 1}, act, order,
                                               isF64, seed, error, &maxAbs);
        std::vector<double> &l = largest[act];
        l.resize(maxAbs.size(), 0);
        for (size_t k = 0; k < maxAbs.size(); ++k)
          l[k] = std::max(l[k], maxAbs[k]);
        ASSERT_FALSE(e.empty()) << error;
        std::vector<double> &w = worst[{act, isF64}];
        w.resize(e.size(), 0);
        for (size_t k = 0; k < e.size(); ++k)
          w[k] = std::max(w[k], std::isnan(e[k]) ? INFINITY : e[k]);
      }
  printf("\nworst relative error vs the reference, 1-24-24-24-1, 3 seeds\n");
  printf("  k");
  for (const std::string &act : acts)
    printf(" | %9.9s f64 | %9.9s f32", act.c_str(), act.c_str());
  printf("\n");
  for (int k = 0; k <= order; ++k) {
    printf("%3d", k);
    for (const std::string &act : acts)
      printf(" | %13.1e | %13.1e", worst[{act, true}][k],
             worst[{act, false}][k]);
    printf("\n");
  }
  // How close to f32's range (3.4e38) the jets come: max |d^k f|.
  printf("max |out[k]|");
  for (int k : {8, 16, 24, 32})
    printf("  k=%d:", k);
  printf("\n");
  for (const std::string &act : acts) {
    printf("%-10s", act.c_str());
    for (int k : {8, 16, 24, 32})
      printf("  %.1e", largest[act][k]);
    printf("\n");
  }
  for (const std::string &act : acts)
    for (bool isF64 : {true, false})
      for (int k = 0; k <= order; ++k)
        EXPECT_LE((worst[{act, isF64}][k]), highOrderTolerance(isF64, k))
            << act << (isF64 ? " f64" : " f32") << " order " << k;
}

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

//===----------------------------------------------------------------------===//
// Closed forms through the compiler
//===----------------------------------------------------------------------===//

class ClosedFormTest : public ::testing::TestWithParam<bool> {};

std::string dtypeName(const ::testing::TestParamInfo<bool> &info) {
  return info.param ? "f64" : "f32";
}

TEST_P(ClosedFormTest, TanhNeuron) {
  // f(x) = tanh(x), v = 1: f' = 1 - t^2, f'' = -2t(1 - t^2),
  // f''' = (1 - t^2)(6t^2 - 2).
  const bool isF64 = GetParam();
  std::string error;
  auto kernel = LoadedKernel::compile({1, 1, 1}, "tanh", 3, isF64, error);
  ASSERT_TRUE(kernel) << error;
  std::vector<Ld> x;
  for (double p = -3.0; p <= 3.0; p += 0.25)
    x.push_back(roundTo(isF64, p));
  const int64_t batch = static_cast<int64_t>(x.size());
  std::vector<Ld> out;
  ASSERT_TRUE(run(kernel->get(), isF64, x, {1.0L}, {1.0L, 0.0L, 1.0L, 0.0L}, 3,
                  1, batch, out, error))
      << error;
  const Ld tol = isF64 ? 1e-14L : 2e-6L;
  for (int64_t b = 0; b < batch; ++b) {
    Ld t = std::tanh(x[b]);
    Ld expected[4] = {t, 1 - t * t, -2 * t * (1 - t * t),
                      (1 - t * t) * (6 * t * t - 2)};
    for (int k = 0; k <= 3; ++k)
      EXPECT_NEAR(static_cast<double>(out[k * batch + b]),
                  static_cast<double>(expected[k]), static_cast<double>(tol))
          << "x = " << static_cast<double>(x[b]) << ", order " << k;
  }
}

TEST_P(ClosedFormTest, SinNeuron) {
  // f(x) = a sin(w x + c) + e along v: f^(k) = a (w v)^k sin(w x + c +
  // k pi/2) for k >= 1.
  const bool isF64 = GetParam();
  const int order = 10;
  const Ld w = 1.5L, c = 0.25L, a = -0.75L, e = 0.5L, v = 0.8L;
  std::string error;
  auto kernel = LoadedKernel::compile({1, 1, 1}, "sin", order, isF64, error);
  ASSERT_TRUE(kernel) << error;
  std::vector<Ld> x;
  for (double p = -2.0; p <= 2.0; p += 0.125)
    x.push_back(roundTo(isF64, p));
  const int64_t batch = static_cast<int64_t>(x.size());
  std::vector<Ld> out;
  ASSERT_TRUE(run(kernel->get(), isF64, x, {v}, {w, c, a, e}, order, 1, batch,
                  out, error))
      << error;
  const Ld pi = 3.141592653589793238462643383279502884L;
  for (int64_t b = 0; b < batch; ++b)
    for (int k = 0; k <= order; ++k) {
      Ld expected = a * std::pow(w * v, static_cast<Ld>(k)) *
                        std::sin(w * x[b] + c + k * pi / 2) +
                    (k == 0 ? e : 0);
      // |expected| <= 0.75 * 1.2^10 ~ 4.6.
      const Ld tol = isF64 ? 1e-13L : 1e-5L;
      EXPECT_NEAR(static_cast<double>(out[k * batch + b]),
                  static_cast<double>(expected), static_cast<double>(tol))
          << "x = " << static_cast<double>(x[b]) << ", order " << k;
    }
}

TEST_P(ClosedFormTest, LinearNetworkHasExactlyZeroHighOrders) {
  // One affine layer (no activation): out_0 = W x + b, out_1 = W v, and
  // every higher order is exactly 0 (structural zeros, W * 0 = 0).
  const bool isF64 = GetParam();
  const std::vector<int> widths = {3, 2};
  const int order = 6;
  std::string error;
  auto kernel = LoadedKernel::compile(widths, "tanh", order, isF64, error);
  ASSERT_TRUE(kernel) << error;
  std::mt19937_64 rng(5);
  std::vector<Ld> params = randomParams(widths, isF64, rng);
  std::vector<Ld> v = randomVector(3, -1.0, 1.0, isF64, rng);
  const int64_t batch = 37;
  std::vector<Ld> x = randomVector(batch * 3, -2.0, 2.0, isF64, rng);
  std::vector<Ld> out;
  ASSERT_TRUE(
      run(kernel->get(), isF64, x, v, params, order, 2, batch, out, error))
      << error;
  const Ld tol = isF64 ? 1e-15L : 1e-6L;
  for (int64_t b = 0; b < batch; ++b)
    for (int j = 0; j < 2; ++j) {
      Ld value = params[6 + j], slope = 0;
      for (int i = 0; i < 3; ++i) {
        value += params[j * 3 + i] * x[b * 3 + i];
        slope += params[j * 3 + i] * v[i];
      }
      EXPECT_NEAR(static_cast<double>(out[(0 * batch + b) * 2 + j]),
                  static_cast<double>(value), static_cast<double>(tol));
      EXPECT_NEAR(static_cast<double>(out[(1 * batch + b) * 2 + j]),
                  static_cast<double>(slope), static_cast<double>(tol));
      for (int k = 2; k <= order; ++k)
        EXPECT_EQ(out[(k * batch + b) * 2 + j], 0.0L)
            << "order " << k << ", sample " << b << ", output " << j;
    }
}

TEST_P(ClosedFormTest, IdentityActivationHasExactlyZeroHighOrders) {
  // A deep network with the identity activation is affine too.
  const bool isF64 = GetParam();
  const std::vector<int> widths = {2, 8, 8, 3};
  const int order = 5;
  std::string error;
  auto kernel = LoadedKernel::compile(widths, "identity", order, isF64, error);
  ASSERT_TRUE(kernel) << error;
  std::mt19937_64 rng(6);
  std::vector<Ld> params = randomParams(widths, isF64, rng);
  std::vector<Ld> v = randomVector(2, -1.0, 1.0, isF64, rng);
  const int64_t batch = 20;
  std::vector<Ld> x = randomVector(batch * 2, -2.0, 2.0, isF64, rng);
  std::vector<Ld> out;
  ASSERT_TRUE(
      run(kernel->get(), isF64, x, v, params, order, 3, batch, out, error))
      << error;
  for (int k = 2; k <= order; ++k)
    for (int64_t i = 0; i < batch * 3; ++i)
      EXPECT_EQ(out[k * batch * 3 + i], 0.0L) << "order " << k;
}

TEST_P(ClosedFormTest, BatchZeroIsANoOp) {
  const bool isF64 = GetParam();
  std::string error;
  auto kernel = LoadedKernel::compile({2, 4, 1}, "tanh", 2, isF64, error);
  ASSERT_TRUE(kernel) << error;
  // Real buffers filled with a sentinel: nothing may be read or written.
  std::vector<double> x(8, 7.0), v(2, 7.0), out(8, 7.0);
  std::vector<double> params(ntp_ref::numParams({2, 4, 1}), 7.0);
  std::vector<double> before = out;
  // Element counts for batch 0: x and out are empty.
  EXPECT_EQ(ntp_forward_checked(
                kernel->get(), x.data(), 0, v.data(), 2, params.data(),
                static_cast<int64_t>(params.size()), out.data(), 0, 0),
            NTP_OK)
      << ntp_last_error();
  EXPECT_EQ(out, before);
  EXPECT_EQ(ntp_forward(kernel->get(), x.data(), v.data(), params.data(),
                        out.data(), 0),
            NTP_OK)
      << ntp_last_error();
  EXPECT_EQ(out, before);
}

INSTANTIATE_TEST_SUITE_P(Dtypes, ClosedFormTest, ::testing::Bool(), dtypeName);

} // namespace
