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
  // The runtime's description is the request's canonical ntp.mlp line.
  EXPECT_EQ(k.description() + "\n", ntp::mlpText(spec));
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

} // namespace
