//===- JitTest.cpp - Tests of the in-process JIT -------------------------===//
//
// The JIT kernel against the ahead-of-time artifact (bit for bit, same CPU)
// and against a closed form, typed and gated layers, the kernel's
// description; bad input of every kind, which must give a status and a
// sentence, never a crash or output on stderr. The cache:
// JitCacheTest.cpp; concurrency: JitConcurrencyTest.cpp.
//
//===----------------------------------------------------------------------===//
#include "JitTestUtil.h"

#include "ntp/JIT/Jit.h"
#include "ntp/jit.h"
#include "ntp/runtime.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <unistd.h>
#include <vector>

namespace {

using namespace ntp::jit_test;

//===----------------------------------------------------------------------===//
// Results
//===----------------------------------------------------------------------===//

TEST(JitTest, MatchesTheAotArtifactBitForBit) {
  TempDir dir;
  std::string so = dir.path() + "/aot.so";
  for (int dtype : {NTP_DTYPE_F32, NTP_DTYPE_F64}) {
    SCOPED_TRACE(dtype);
    std::string command = std::string(NTP_COMPILE_EXE) +
                          " --layers=1,24,24,24,1 --activation=tanh --order=5"
                          " --target-cpu=native --dtype=" +
                          (dtype == NTP_DTYPE_F64 ? "f64" : "f32") + " -o " +
                          so;
    ASSERT_EQ(std::system(command.c_str()), 0) << command;
    ntp_kernel *aot = nullptr;
    ASSERT_EQ(ntp_kernel_load(so.c_str(), &aot), NTP_OK) << ntp_last_error();
    KernelPtr aotKernel(aot);
    Spec spec{{1, 24, 24, 24, 1}, "tanh", 5, dtype, ""};
    KernelPtr jit = compileOrDie(spec, kNoCache);
    ASSERT_TRUE(jit);
    Inputs in = inputsFor(jit.get(), 77);
    EXPECT_EQ(run(jit.get(), in), run(aotKernel.get(), in));
  }
}

TEST(JitTest, ComputesTheJetOfALinearNetwork) {
  // identity activation: f(x) = W2 (W1 x + b1) + b2, so out[0] = f(x),
  // out[1] = W2 W1 v and out[k >= 2] = 0, exactly up to rounding.
  Spec spec{{2, 3, 1}, "identity", 3, NTP_DTYPE_F64, ""};
  KernelPtr k = compileOrDie(spec, kNoCache);
  ASSERT_TRUE(k);
  Inputs in = inputsFor(k.get(), 5);
  std::vector<unsigned char> bytes = run(k.get(), in);
  std::vector<double> out(bytes.size() / 8);
  std::memcpy(out.data(), bytes.data(), bytes.size());
  const std::vector<double> &p = in.params; // W1 (3x2), b1, W2 (1x3), b2
  for (int64_t b = 0; b < in.batch; ++b) {
    double f = p[12], df = 0;
    for (int i = 0; i < 3; ++i) {
      double h = p[6 + i], dh = 0;
      for (int j = 0; j < 2; ++j) {
        h += p[2 * i + j] * in.x[size_t(2 * b + j)];
        dh += p[2 * i + j] * in.v[size_t(j)];
      }
      f += p[9 + i] * h;
      df += p[9 + i] * dh;
    }
    EXPECT_NEAR(out[size_t(b)], f, 1e-12);
    EXPECT_NEAR(out[size_t(in.batch + b)], df, 1e-12);
    EXPECT_EQ(out[size_t(2 * in.batch + b)], 0.0);
    EXPECT_EQ(out[size_t(3 * in.batch + b)], 0.0);
  }
}

TEST(JitTest, MlirTextAndStructuredSpecGiveTheSameKernel) {
  Spec text;
  text.mlir =
      "ntp.mlp @net layers [2, 8, 8, 1] activation \"tanh\" order 3 : f32\n";
  KernelPtr a = compileOrDie(text, kNoCache);
  KernelPtr b = compileOrDie(kSmall, kNoCache);
  ASSERT_TRUE(a && b);
  Inputs in = inputsFor(a.get(), 33);
  EXPECT_EQ(run(a.get(), in), run(b.get(), in));
}

TEST(JitTest, CppApiCompilesAndRuns) {
  ntp::Kernel k = ntp::compile(mlpSpec({1, 16, 1}, "sin", 4, ntp::Dtype::F64),
                               cppNoCache());
  EXPECT_EQ(k.info().order, 4);
  EXPECT_EQ(k.activation(), "sin");
  std::vector<double> x = {0.1, 0.2, 0.3}, v = {1.0},
                      params(size_t(k.info().num_params), 0.25), out;
  k.forward(x, v, params, out);
  EXPECT_EQ(out.size(), 5u * 3u);

  ntp::Kernel m = ntp::compileMlir(
      "ntp.mlp @m layers [1, 4, 1] activation \"exp\" order 2 : f32",
      cppNoCache());
  EXPECT_EQ(m.info().dtype, NTP_DTYPE_F32);
  EXPECT_FALSE(ntp::jitVersion().empty());
}

/// Typed layers (issue 14): C++ MlpSpec fields and C spec.mlir describe the
/// same kernel; its description is that text; the parameter count includes
/// B and the slopes; the cache keys differ from the plain network's.
TEST(JitTest, TypedLayers) {
  ntp::MlpSpec spec = mlpSpec({2, 6, 6, 1}, "silu,tanh", 3, ntp::Dtype::F64);
  spec.fourier = 4;
  spec.slopes = {"neuron", "layer"};
  spec.residual = {false, true};
  const std::string text =
      "ntp.mlp @ntp_kernel layers [2, 6, 6, 1] activation [\"silu\", "
      "\"tanh\"] fourier 4 slopes [\"neuron\", \"layer\"] residual [false, "
      "true] order 3 : f64";
  EXPECT_EQ(ntp::mlpText(spec), text + "\n");
  ntp::Kernel cpp = ntp::compile(spec, cppNoCache());
  EXPECT_EQ(cpp.description(), text);
  KernelPtr c =
      compileOrDie(Spec{{}, "tanh", 0, NTP_DTYPE_F32, text}, kNoCache);
  ASSERT_TRUE(c);
  ntp_kernel_info info;
  ASSERT_EQ(ntp_kernel_info_get(c.get(), &info), NTP_OK);
  // B [4, 2], W_1 [6, 8], b_1, 6 slopes, W_2, b_2, 1 slope, W_3, b_3.
  EXPECT_EQ(info.num_params, 8 + 48 + 6 + 6 + 36 + 6 + 1 + 6 + 1);
  Inputs in = inputsFor(c.get(), 11);
  EXPECT_EQ(run(c.get(), in), run(cpp.get(), in));
  // Another typed network is another kernel (the text is the key).
  KernelPtr plain = compileOrDie(
      Spec{{2, 6, 6, 1}, "silu,tanh", 3, NTP_DTYPE_F64, ""}, kNoCache);
  ntp_kernel_info plainInfo;
  ASSERT_EQ(ntp_kernel_info_get(plain.get(), &plainInfo), NTP_OK);
  EXPECT_EQ(plainInfo.num_params, 2 * 6 + 6 + 36 + 6 + 6 + 1);
  // Bad typed layers: one sentence.
  EXPECT_NE(compileError(Spec{{},
                              "tanh",
                              0,
                              NTP_DTYPE_F32,
                              "ntp.mlp @n layers [1, 4, 5, 1] activation "
                              "\"tanh\" residual [false, true] order 2 : f32"},
                         kNoCache, NTP_ERROR_INVALID_ARGUMENT)
                .find("residual hidden layer 2 maps width 4 to 5; a residual "
                      "layer H + F(H) needs equal widths"),
            std::string::npos);
}

/// The modified MLP's gates (issue 14): MlpSpec::gated and the ntp.mlp
/// text are the same kernel, its own cache entry; bad widths are refused
/// with one sentence.
TEST(JitTest, GatedLayers) {
  ntp::MlpSpec spec = mlpSpec({2, 6, 6, 1}, "tanh", 3, ntp::Dtype::F64);
  spec.gated = true;
  const std::string text = "ntp.mlp @ntp_kernel layers [2, 6, 6, 1] "
                           "activation \"tanh\" gated order 3 : f64";
  EXPECT_EQ(ntp::mlpText(spec), text + "\n");
  ntp::Kernel cpp = ntp::compile(spec, cppNoCache());
  EXPECT_EQ(cpp.description(), text);
  KernelPtr c =
      compileOrDie(Spec{{}, "tanh", 0, NTP_DTYPE_F32, text}, kNoCache);
  ASSERT_TRUE(c);
  ntp_kernel_info info;
  ASSERT_EQ(ntp_kernel_info_get(c.get(), &info), NTP_OK);
  // W_u [6, 2], b_u, W_v, b_v, W_1 [6, 2], b_1, W_2 [6, 6], b_2, W_3, b_3.
  EXPECT_EQ(info.num_params, 2 * 18 + 18 + 42 + 7);
  Inputs in = inputsFor(c.get(), 11);
  EXPECT_EQ(run(c.get(), in), run(cpp.get(), in));
  EXPECT_NE(compileError(Spec{{},
                              "tanh",
                              0,
                              NTP_DTYPE_F32,
                              "ntp.mlp @n layers [1, 4, 5, 1] activation "
                              "\"tanh\" gated order 2 : f32"},
                         kNoCache, NTP_ERROR_INVALID_ARGUMENT)
                .find("a gated layer's branches differ in width"),
            std::string::npos);
}

TEST(JitTest, DescribesTheNetwork) {
  KernelPtr k = compileOrDie(
      Spec{{1, 8, 8, 8, 1}, "gelu,identity,cos", 5, NTP_DTYPE_F64, ""},
      kNoCache);
  ASSERT_TRUE(k);
  int64_t length = -1;
  ASSERT_EQ(ntp_kernel_description(k.get(), nullptr, 0, &length), NTP_OK);
  std::string text(size_t(length) + 1, 'x');
  ASSERT_EQ(ntp_kernel_description(k.get(), text.data(), length + 1, &length),
            NTP_OK);
  text.resize(size_t(length));
  const std::string expected =
      "ntp.mlp @ntp_kernel layers [1, 8, 8, 8, 1] activation [\"gelu\", "
      "\"identity\", \"cos\"] order 5 : f64";
  EXPECT_EQ(text, expected);
  // The description is IR: compiled again, it is the same kernel.
  Spec again;
  again.mlir = text;
  KernelPtr k2 = compileOrDie(again, kNoCache);
  ASSERT_TRUE(k2);
  Inputs in = inputsFor(k.get(), 7);
  EXPECT_EQ(run(k.get(), in), run(k2.get(), in));
  // C++: the same text.
  ntp::Kernel cpp = ntp::compile(
      mlpSpec({1, 8, 8, 8, 1}, "gelu,identity,cos", 5, ntp::Dtype::F64),
      cppNoCache());
  EXPECT_EQ(cpp.description(), expected);
  // Truncated to the capacity, NUL-terminated; bad arguments refused.
  char small[8];
  ASSERT_EQ(ntp_kernel_description(k.get(), small, 8, &length), NTP_OK);
  EXPECT_STREQ(small, "ntp.mlp");
  EXPECT_EQ(length, int64_t(expected.size()));
  EXPECT_EQ(ntp_kernel_description(nullptr, small, 8, &length),
            NTP_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(ntp_kernel_description(k.get(), small, 8, nullptr),
            NTP_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(ntp_kernel_description(k.get(), nullptr, 8, &length),
            NTP_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(ntp_kernel_description(k.get(), small, -1, &length),
            NTP_ERROR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(ntp_last_error()).find("capacity"), std::string::npos);
}

//===----------------------------------------------------------------------===//
// Bad input
//===----------------------------------------------------------------------===//

bool contains(const std::string &text, const std::string &part) {
  return text.find(part) != std::string::npos;
}

TEST(JitErrorTest, MalformedSpecs) {
  ::testing::internal::CaptureStderr();
  Spec syntax;
  syntax.mlir = "ntp.mlp @n layers [1, 4, 1] activation \"tanh\" order : f32";
  std::string e = compileError(syntax, kNoCache, NTP_ERROR_INVALID_ARGUMENT);
  EXPECT_TRUE(contains(e, "malformed spec") && contains(e, "line 1:")) << e;

  Spec noMlp;
  noMlp.mlir = "module {}";
  e = compileError(noMlp, kNoCache, NTP_ERROR_INVALID_ARGUMENT);
  EXPECT_TRUE(contains(e, "exactly one ntp.mlp")) << e;

  Spec unknownOp;
  unknownOp.mlir = "foo.bar";
  compileError(unknownOp, kNoCache, NTP_ERROR_INVALID_ARGUMENT);

  Spec activation = kSmall;
  activation.activation = "relu";
  e = compileError(activation, kNoCache, NTP_ERROR_INVALID_ARGUMENT);
  EXPECT_TRUE(contains(e, "relu")) << e;

  Spec list = kSmall; // two hidden layers
  list.activation = "silu,tanh,cos";
  e = compileError(list, kNoCache, NTP_ERROR_INVALID_ARGUMENT);
  EXPECT_TRUE(contains(e, "one activation per hidden layer")) << e;
  list.activation = "silu,";
  e = compileError(list, kNoCache, NTP_ERROR_INVALID_ARGUMENT);
  EXPECT_TRUE(contains(e, "unknown activation ''")) << e;

  Spec order = kSmall;
  order.order = -1;
  e = compileError(order, kNoCache, NTP_ERROR_INVALID_ARGUMENT);
  EXPECT_TRUE(contains(e, "order")) << e;

  Spec width = kSmall;
  width.layers = {1, 0, 1};
  e = compileError(width, kNoCache, NTP_ERROR_INVALID_ARGUMENT);
  EXPECT_TRUE(contains(e, "width")) << e;

  Spec oneLayer = kSmall;
  oneLayer.layers = {3};
  e = compileError(oneLayer, kNoCache, NTP_ERROR_INVALID_ARGUMENT);
  EXPECT_TRUE(contains(e, "two layer widths")) << e;

  Spec dtype = kSmall;
  dtype.dtype = 7;
  e = compileError(dtype, kNoCache, NTP_ERROR_INVALID_ARGUMENT);
  EXPECT_TRUE(contains(e, "dtype")) << e;
  // MLIR diagnostics go into the message, not to stderr.
  EXPECT_EQ(::testing::internal::GetCapturedStderr(), "");
}

TEST(JitErrorTest, UnsupportedOptions) {
  ::testing::internal::CaptureStderr();
  ntp_jit_options o = kNoCache;
  o.device = 7;
  std::string e = compileError(kSmall, o, NTP_ERROR_INVALID_ARGUMENT);
  EXPECT_TRUE(contains(e, "unknown device 7")) << e;
  o = kNoCache;
  o.cpu = "not-a-cpu";
  e = compileError(kSmall, o, NTP_ERROR_INVALID_ARGUMENT);
  EXPECT_TRUE(contains(e, "not-a-cpu")) << e;
  o = kNoCache;
  o.features = "+not-a-feature";
  e = compileError(kSmall, o, NTP_ERROR_INVALID_ARGUMENT);
  EXPECT_TRUE(contains(e, "+not-a-feature")) << e;
  o.features = "avx2";
  compileError(kSmall, o, NTP_ERROR_INVALID_ARGUMENT);
  o = kNoCache;
  o.tile = -3;
  e = compileError(kSmall, o, NTP_ERROR_INVALID_ARGUMENT);
  EXPECT_TRUE(contains(e, "tile")) << e;
  EXPECT_EQ(::testing::internal::GetCapturedStderr(), "");
}

TEST(JitErrorTest, NullArguments) {
  ntp_jit_spec s = kSmall.c();
  ntp_kernel *k = nullptr;
  EXPECT_EQ(ntp_jit_compile(nullptr, &kNoCache, &k),
            NTP_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(ntp_jit_compile(&s, &kNoCache, nullptr),
            NTP_ERROR_INVALID_ARGUMENT);
  s.layers = nullptr;
  EXPECT_EQ(ntp_jit_compile(&s, &kNoCache, &k), NTP_ERROR_INVALID_ARGUMENT);
  ntp_jit_spec_init(nullptr);
  ntp_jit_options_init(nullptr);
}

TEST(JitErrorTest, CppErrorsCarryTheStatus) {
  try {
    ntp::compile(mlpSpec({1, 4, 1}, "relu", 2), cppNoCache());
    FAIL() << "expected ntp::Error";
  } catch (const ntp::Error &e) {
    EXPECT_EQ(e.status(), NTP_ERROR_INVALID_ARGUMENT);
    EXPECT_TRUE(contains(e.what(), "relu")) << e.what();
  }
}
} // namespace
