//===- JitPartialsTest.cpp - Partials kernels through the JIT -------------===//
//
// Issue 12 through the JIT's public API: C++ (MlpSpec::partials, compiled
// from the ntp.mlp text mlpText builds) and C (ntp_jit_spec.mlir), against
// the closed form of a one-neuron exp network, f = c exp(w.x + b) + b2,
// whose partials are D^a f = c exp(y) w^a.
//
//===----------------------------------------------------------------------===//

#include "ntp/JIT/Jit.h"
#include "ntp/jit.h"
#include "ntp/runtime.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <set>
#include <unistd.h>

namespace {

const std::vector<double> kParams = {0.7, -0.4, 0.1, 1.3, -0.2};
const std::vector<double> kX = {0.3, -0.5, -0.2, 0.8};

/// out for the requests {2,0}, {1,1}, {0,0}, laplacian.
std::vector<double> expected() {
  std::vector<double> out;
  double w0 = kParams[0], w1 = kParams[1];
  std::vector<double> rows[4];
  for (size_t b = 0; b < 2; ++b) {
    double e =
        kParams[3] * std::exp(w0 * kX[2 * b] + w1 * kX[2 * b + 1] + kParams[2]);
    rows[0].push_back(e * w0 * w0);
    rows[1].push_back(e * w0 * w1);
    rows[2].push_back(e + kParams[4]);
    rows[3].push_back(e * (w0 * w0 + w1 * w1));
  }
  for (auto &r : rows)
    out.insert(out.end(), r.begin(), r.end());
  return out;
}

void expectClose(const std::vector<double> &got) {
  std::vector<double> want = expected();
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i)
    EXPECT_NEAR(got[i], want[i], 1e-12 * std::max(1.0, std::fabs(want[i])))
        << i;
}

TEST(JitPartials, CppSpecWithPartials) {
  ntp::MlpSpec spec;
  spec.layers = {2, 1, 1};
  spec.activation = "exp";
  spec.dtype = ntp::Dtype::F64;
  spec.partials = {{2, 0}, {1, 1}, {0, 0}, {-2, -2}};
  EXPECT_EQ(ntp::mlpText(spec),
            "ntp.mlp @ntp_kernel layers [2, 1, 1] activation \"exp\" order 2 "
            "partials [[2, 0], [1, 1], [0, 0]] operators [#ntp.laplacian] : "
            "f64\n");
  ntp::JitOptions options;
  options.useCache = false;
  ntp::Kernel k = ntp::compile(spec, options);
  EXPECT_EQ(k.partialsRequests(), spec.partials);
  // The runtime's description is the request's canonical ntp.mlp line,
  // with the lowering the compiler chose.
  EXPECT_EQ(k.description() + "\n",
            ntp::mlpText(spec).substr(0, ntp::mlpText(spec).size() - 1) +
                " {ntp.partials_lowering = \"" +
                k.partialsLowering().substr(
                    0, k.partialsLowering().find_first_of(":;")) +
                "\"}\n");
  std::vector<double> out;
  k.partials(kX, kParams, out);
  expectClose(out);
  // A partials kernel refuses the jet entry point.
  std::vector<double> v = {1, 0}, jet;
  EXPECT_THROW(k.forward(kX, v, kParams, jet), ntp::Error);
  // Operators must follow the multi-indices (the order of out).
  spec.partials = {{-2, -2}, {1, 0}};
  EXPECT_THROW(ntp::mlpText(spec), ntp::Error);
}

TEST(JitPartials, CSpecFromMlir) {
  const char *text = "ntp.mlp @k layers [2, 1, 1] activation \"exp\" order 2 "
                     "partials [[2, 0], [1, 1], [0, 0]] operators "
                     "[#ntp.laplacian<[0, 1]>] : f64\n";
  ntp_jit_spec spec;
  ntp_jit_spec_init(&spec);
  spec.mlir = text;
  ntp_jit_options options;
  ntp_jit_options_init(&options);
  options.use_cache = 0;
  ntp_kernel *k = nullptr;
  ASSERT_EQ(ntp_jit_compile(&spec, &options, &k), NTP_OK) << ntp_last_error();
  int32_t count = 0;
  ASSERT_EQ(ntp_kernel_partials_get(k, nullptr, 0, &count), NTP_OK);
  EXPECT_EQ(count, 4);
  std::vector<double> out(4 * 2);
  ASSERT_EQ(ntp_partials(k, kX.data(), kParams.data(), out.data(), 2), NTP_OK)
      << ntp_last_error();
  expectClose(out);
  ntp_kernel_free(k);

  // A bad request is one sentence from the verifier.
  spec.mlir = "ntp.mlp @k layers [2, 1, 1] activation \"exp\" order 2 "
              "partials [[2, 1]] : f64\n";
  EXPECT_NE(ntp_jit_compile(&spec, &options, &k), NTP_OK);
  EXPECT_NE(std::string(ntp_last_error()).find("above the maximum 2"),
            std::string::npos)
      << ntp_last_error();
}

/// The reverse mode through the JIT (compiled by default, as for jets):
/// x_grad in closed form (d/dx_l of c exp(y) w^a is c exp(y) w^a w_l),
/// params_grad against central differences of the kernel's own out.
TEST(JitPartials, ReverseMode) {
  ntp::MlpSpec spec;
  spec.layers = {2, 1, 1};
  spec.activation = "exp";
  spec.dtype = ntp::Dtype::F64;
  spec.partials = {{2, 0}, {1, 1}, {0, 0}, {-2, -2}};
  ntp::JitOptions options;
  options.useCache = false;
  ntp::Kernel k = ntp::compile(spec, options);
  const std::vector<double> cot = {0.5, -1.0, 2.0, 0.25, -0.75, 1.5, 1.0, -2.0};
  std::vector<double> grad(kParams.size()), xGrad(kX.size());
  k.partialsBackward(kX.data(), kParams.data(), cot.data(), grad.data(),
                     xGrad.data(), 2);
  double w0 = kParams[0], w1 = kParams[1];
  for (size_t b = 0; b < 2; ++b) {
    double e =
        kParams[3] * std::exp(w0 * kX[2 * b] + w1 * kX[2 * b + 1] + kParams[2]);
    double sum = cot[0 * 2 + b] * e * w0 * w0 + cot[1 * 2 + b] * e * w0 * w1 +
                 cot[2 * 2 + b] * e + cot[3 * 2 + b] * e * (w0 * w0 + w1 * w1);
    EXPECT_NEAR(xGrad[2 * b], sum * w0, 1e-12 * std::fabs(sum)) << b;
    EXPECT_NEAR(xGrad[2 * b + 1], sum * w1, 1e-12 * std::fabs(sum)) << b;
  }
  auto loss = [&](const std::vector<double> &params) {
    std::vector<double> out;
    k.partials(kX, params, out);
    double l = 0;
    for (size_t i = 0; i < out.size(); ++i)
      l += cot[i] * out[i];
    return l;
  };
  for (size_t i = 0; i < kParams.size(); ++i) {
    const double h = 1e-5;
    std::vector<double> plus = kParams, minus = kParams;
    plus[i] += h;
    minus[i] -= h;
    double fd = (loss(plus) - loss(minus)) / (2 * h);
    EXPECT_NEAR(grad[i], fd, 1e-7 * std::max(1.0, std::fabs(fd))) << i;
  }
  // The training pair through the C++ wrapper.
  std::vector<char> workspace(k.workspaceBytes(2));
  std::vector<double> out(cot.size()), grad2(grad.size());
  k.partialsSave(kX.data(), kParams.data(), out.data(), workspace.data(),
                 static_cast<int64_t>(workspace.size()), 2);
  expectClose(out);
  k.partialsBackwardSaved(kX.data(), kParams.data(), cot.data(), grad2.data(),
                          static_cast<double *>(nullptr), workspace.data(),
                          static_cast<int64_t>(workspace.size()), 2);
  EXPECT_EQ(grad2, grad);
  // The jet reverse mode refuses it.
  std::vector<double> v = {1, 0};
  EXPECT_THROW(k.backward(kX.data(), v.data(), kParams.data(), cot.data(),
                          grad.data(), 2),
               ntp::Error);

  // Through the C API: backward = 0 leaves the reverse mode out.
  ntp_jit_spec cspec;
  ntp_jit_spec_init(&cspec);
  cspec.mlir = "ntp.mlp @k layers [2, 1, 1] activation \"exp\" order 2 "
               "partials [[2, 0], [1, 1], [0, 0]] operators "
               "[#ntp.laplacian] : f64\n";
  ntp_jit_options copts;
  ntp_jit_options_init(&copts);
  copts.use_cache = 0;
  copts.backward = 0;
  ntp_kernel *forwardOnly = nullptr;
  ASSERT_EQ(ntp_jit_compile(&cspec, &copts, &forwardOnly), NTP_OK)
      << ntp_last_error();
  EXPECT_EQ(ntp_partials_backward(forwardOnly, kX.data(), kParams.data(),
                                  cot.data(), grad.data(), nullptr, 2),
            NTP_ERROR_UNSUPPORTED);
  ntp_kernel_free(forwardOnly);
  copts.backward = 1;
  ntp_kernel *withBackward = nullptr;
  ASSERT_EQ(ntp_jit_compile(&cspec, &copts, &withBackward), NTP_OK)
      << ntp_last_error();
  std::vector<double> grad3(grad.size());
  ASSERT_EQ(ntp_partials_backward(withBackward, kX.data(), kParams.data(),
                                  cot.data(), grad3.data(), nullptr, 2),
            NTP_OK)
      << ntp_last_error();
  EXPECT_EQ(grad3, grad);
  ntp_kernel_free(withBackward);
}

/// The forward's lowering through the JIT: every name ntp-compile takes
/// (C++ MlpSpec::partialsLowering, C ntp_jit_spec::partials_lowering), each
/// exact and with the reverse mode, each its own cache entry.
TEST(JitPartials, LoweringSpelling) {
  char pattern[] = "/tmp/ntp-jit-lowering-XXXXXX";
  ASSERT_NE(mkdtemp(pattern), nullptr);
  std::string dir = pattern;
  ntp::MlpSpec spec;
  spec.layers = {2, 1, 1};
  spec.activation = "exp";
  spec.dtype = ntp::Dtype::F64;
  // f and the Laplacian: a request every lowering serves (collapsed needs
  // the Laplacian's rays read by no other request at order 2).
  spec.partials = {{0, 0}, {-2, -2}};
  std::vector<double> all = expected(), want(all.begin() + 4, all.end());
  auto close = [&](const std::vector<double> &got) {
    ASSERT_EQ(got.size(), want.size());
    for (size_t i = 0; i < want.size(); ++i)
      EXPECT_NEAR(got[i], want[i], 1e-12 * std::max(1.0, std::fabs(want[i])))
          << i;
  };
  std::set<std::string> paths;
  for (const char *lowering :
       {"", "auto", "per-ray", "multi-direction", "collapsed"}) {
    SCOPED_TRACE(lowering);
    spec.partialsLowering = lowering;
    ntp_jit_report report;
    ntp::JitOptions options;
    options.cacheDir = dir;
    options.report = &report;
    ntp::Kernel k = ntp::compile(spec, options);
    EXPECT_EQ(report.cache_stored, 1);
    paths.insert(report.cache_path);
    std::vector<double> out;
    k.partials(kX, kParams, out);
    close(out);
    // The reverse mode beside any forward lowering: the save's out too.
    std::vector<char> workspace(k.workspaceBytes(2));
    std::vector<double> saved(out.size());
    k.partialsSave(kX.data(), kParams.data(), saved.data(), workspace.data(),
                   static_cast<int64_t>(workspace.size()), 2);
    close(saved);
    // Compiled again: the same entry.
    ntp::Kernel again = ntp::compile(spec, options);
    EXPECT_EQ(report.cache_hit, 1);
  }
  EXPECT_EQ(paths.size(), 5u) << "each spelling is its own cache key";

  // Bad input, one sentence each.
  ntp_jit_spec c;
  ntp_jit_spec_init(&c);
  EXPECT_EQ(c.partials_lowering, nullptr);
  c.mlir = "ntp.mlp @k layers [2, 1, 1] activation \"exp\" order 2 "
           "partials [[2, 0], [1, 1]] : f64\n";
  c.partials_lowering = "fast";
  ntp_jit_options options;
  ntp_jit_options_init(&options);
  options.use_cache = 0;
  ntp_kernel *k = nullptr;
  EXPECT_EQ(ntp_jit_compile(&c, &options, &k), NTP_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(std::string(ntp_last_error()),
            "unknown partials_lowering 'fast' (expected auto, per-ray, "
            "multi-direction, collapsed or multivariate)");
  // Collapsed needs an operator whose top order it can sum.
  c.partials_lowering = "collapsed";
  EXPECT_EQ(ntp_jit_compile(&c, &options, &k), NTP_ERROR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(ntp_last_error())
                .find("the collapsed lowering needs an operator request "
                      "(laplacian or biharmonic) whose top-order terms it "
                      "can sum"),
            std::string::npos)
      << ntp_last_error();
  // A jet kernel has no rays: fields or text.
  c.mlir = "ntp.mlp @k layers [2, 1, 1] activation \"exp\" order 2 : f64\n";
  EXPECT_EQ(ntp_jit_compile(&c, &options, &k), NTP_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(std::string(ntp_last_error()),
            "partials_lowering 'collapsed' applies to partials kernels only; "
            "the spec's ntp.mlp has no partials or operators");
  ntp::MlpSpec jet;
  jet.layers = {1, 4, 1};
  jet.order = 2;
  jet.partialsLowering = "per-ray";
  ntp::JitOptions noCache;
  noCache.useCache = false;
  EXPECT_THROW(ntp::compile(jet, noCache), ntp::Error);
  EXPECT_NE(std::string(ntp_last_error())
                .find("applies to partials kernels "
                      "only, and a spec of fields "
                      "describes a jet kernel"),
            std::string::npos)
      << ntp_last_error();
  // auto on a jet kernel is the default, and fine.
  jet.partialsLowering = "auto";
  EXPECT_NO_THROW(ntp::compile(jet, noCache));
  std::string rm = "rm -rf '" + dir + "'";
  EXPECT_EQ(std::system(rm.c_str()), 0);
}

/// The reverse mode's lowering through the JIT (C++
/// MlpSpec::partialsReverseLowering, C ntp_jit_spec::
/// partials_reverse_lowering): per-ray beside a collapsed forward saves
/// every ray's jets (a larger workspace) and gives the same gradients as the
/// reverse mode that follows the forward; each spelling is its own cache
/// entry; bad names and jet kernels are one sentence.
TEST(JitPartials, ReverseLoweringSpelling) {
  char pattern[] = "/tmp/ntp-jit-reverse-XXXXXX";
  ASSERT_NE(mkdtemp(pattern), nullptr);
  std::string dir = pattern;
  ntp::MlpSpec spec;
  spec.layers = {2, 1, 1};
  spec.activation = "exp";
  spec.dtype = ntp::Dtype::F64;
  spec.partials = {{0, 0}, {-2, -2}};
  spec.partialsLowering = "collapsed";
  const std::vector<double> cot = {0.5, -1.5, 2.0, 0.25};
  std::set<std::string> paths;
  int64_t bytes[3] = {0, 0, 0};
  std::vector<double> grads[3], xGrads[3];
  const char *names[3] = {"", "auto", "per-ray"};
  for (int i = 0; i < 3; ++i) {
    SCOPED_TRACE(names[i]);
    spec.partialsReverseLowering = names[i];
    ntp_jit_report report;
    ntp::JitOptions options;
    options.cacheDir = dir;
    options.report = &report;
    ntp::Kernel k = ntp::compile(spec, options);
    EXPECT_EQ(report.cache_stored, 1);
    paths.insert(report.cache_path);
    bytes[i] = k.workspaceBytes(2);
    std::vector<char> workspace(bytes[i]);
    std::vector<double> out(4);
    grads[i].assign(kParams.size(), 0.0);
    xGrads[i].assign(kX.size(), 0.0);
    k.partialsSave(kX.data(), kParams.data(), out.data(), workspace.data(),
                   bytes[i], 2);
    k.partialsBackwardSaved(kX.data(), kParams.data(), cot.data(),
                            grads[i].data(), xGrads[i].data(), workspace.data(),
                            bytes[i], 2);
  }
  EXPECT_EQ(paths.size(), 3u) << "each spelling is its own cache key";
  EXPECT_EQ(bytes[0], bytes[1]);
  EXPECT_LT(bytes[1], bytes[2]) << "per-ray saves every ray's jets";
  for (size_t p = 0; p < kParams.size(); ++p)
    EXPECT_NEAR(grads[2][p], grads[1][p],
                1e-12 * std::max(1.0, std::fabs(grads[1][p])));
  for (size_t j = 0; j < kX.size(); ++j)
    EXPECT_NEAR(xGrads[2][j], xGrads[1][j],
                1e-12 * std::max(1.0, std::fabs(xGrads[1][j])));

  // Bad input, one sentence each.
  ntp_jit_spec c;
  ntp_jit_spec_init(&c);
  EXPECT_EQ(c.partials_reverse_lowering, nullptr);
  c.mlir = "ntp.mlp @k layers [2, 1, 1] activation \"exp\" order 2 "
           "operators [#ntp.laplacian] : f64\n";
  c.partials_reverse_lowering = "collapsed";
  ntp_jit_options options;
  ntp_jit_options_init(&options);
  options.use_cache = 0;
  ntp_kernel *k = nullptr;
  EXPECT_EQ(ntp_jit_compile(&c, &options, &k), NTP_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(std::string(ntp_last_error()),
            "unknown partials_reverse_lowering 'collapsed' (expected auto or "
            "per-ray)");
  c.mlir = "ntp.mlp @k layers [2, 1, 1] activation \"exp\" order 2 : f64\n";
  c.partials_reverse_lowering = "per-ray";
  EXPECT_EQ(ntp_jit_compile(&c, &options, &k), NTP_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(std::string(ntp_last_error()),
            "partials_reverse_lowering 'per-ray' applies to partials kernels "
            "only; the spec's ntp.mlp has no partials or operators");
  ntp::MlpSpec jet;
  jet.layers = {1, 4, 1};
  jet.order = 2;
  jet.partialsReverseLowering = "per-ray";
  ntp::JitOptions noCache;
  noCache.useCache = false;
  EXPECT_THROW(ntp::compile(jet, noCache), ntp::Error);
  EXPECT_EQ(std::string(ntp_last_error()),
            "partials_reverse_lowering 'per-ray' applies to partials kernels "
            "only, and a spec of fields describes a jet kernel (give the "
            "ntp.mlp with its partials or operators as mlir)");
  jet.partialsReverseLowering = "auto";
  EXPECT_NO_THROW(ntp::compile(jet, noCache));
  std::string rm = "rm -rf '" + dir + "'";
  EXPECT_EQ(std::system(rm.c_str()), 0);
}

/// The artifact records the lowerings the compiler chose
/// (ntp_kernel_partials_lowering, Kernel::partialsLowering), and the
/// description carries them as the ntp.mlp attributes that choose them
/// again: a kernel compiled from it reports the same.
TEST(JitPartials, RecordsItsLoweringsAndDescribesThem) {
  ntp::MlpSpec spec;
  spec.layers = {2, 3, 1};
  spec.activation = "tanh";
  spec.dtype = ntp::Dtype::F64;
  spec.partials = {{0, 0}, {2, 0}, {-2, -2}};
  ntp::JitOptions noCache;
  noCache.useCache = false;
  auto startsWith = [](const std::string &text, const std::string &name) {
    return text.compare(0, name.size(), name) == 0 &&
           (text.size() == name.size() || text[name.size()] == ':' ||
            text[name.size()] == ';');
  };
  struct Case {
    const char *forward, *reverse, *recordedReverse;
  };
  for (Case c : {Case{"per-ray", "", "per-ray"},
                 Case{"multi-direction", "", "multi-direction"},
                 Case{"collapsed", "", "collapsed"},
                 Case{"collapsed", "per-ray", "per-ray"},
                 Case{"multivariate", "", "multivariate"}}) {
    SCOPED_TRACE(std::string(c.forward) + " / " + c.reverse);
    spec.partialsLowering = c.forward;
    spec.partialsReverseLowering = c.reverse;
    ntp::Kernel k = ntp::compile(spec, noCache);
    std::string forward = k.partialsLowering(),
                reverse = k.partialsLowering(/*reverse=*/true);
    EXPECT_TRUE(startsWith(forward, c.forward)) << forward;
    EXPECT_TRUE(startsWith(reverse, c.recordedReverse)) << reverse;
    EXPECT_NE(forward.find(" flops + "), std::string::npos) << forward;
    // The description compiles back to the same choices.
    std::string description = k.description();
    EXPECT_NE(description.find("{ntp.partials_lowering = \"" +
                               std::string(c.forward) + "\""),
              std::string::npos)
        << description;
    ntp::Kernel again = ntp::compileMlir(description, noCache);
    EXPECT_EQ(again.partialsLowering(), forward);
    EXPECT_EQ(again.partialsLowering(true), reverse);
    EXPECT_EQ(again.description(), description);
  }
  // Forward only: no reverse mode, none recorded.
  spec.partialsLowering = "";
  spec.partialsReverseLowering = "";
  ntp::JitOptions forwardOnly = noCache;
  forwardOnly.backward = false;
  ntp::Kernel k = ntp::compile(spec, forwardOnly);
  EXPECT_FALSE(k.partialsLowering().empty());
  EXPECT_EQ(k.partialsLowering(true), "");
  // A jet kernel records none; bad arguments are one sentence.
  ntp::MlpSpec jet;
  jet.layers = {1, 4, 1};
  jet.order = 2;
  ntp::Kernel j = ntp::compile(jet, noCache);
  EXPECT_EQ(j.partialsLowering(), "");
  EXPECT_EQ(j.partialsLowering(true), "");
  EXPECT_EQ(j.description().find("{"), std::string::npos);
  EXPECT_EQ(ntp_kernel_partials_lowering(nullptr, 0), nullptr);
  EXPECT_EQ(std::string(ntp_last_error()), "kernel is null");
  EXPECT_EQ(ntp_kernel_partials_lowering(k.get(), 2), nullptr);
  EXPECT_EQ(std::string(ntp_last_error()),
            "reverse must be 0 (the forward's lowering) or 1 (the reverse "
            "mode's), got 2");
}

} // namespace
