//===- CpuVariantsTest.cpp - One artifact, a kernel per CPU ---------------===//
//
// compileCpuVariants end to end: an artifact with an x86-64-v3 and a Zen 4
// variant loads the variant this host supports (NTP_CPU_FEATURES makes the
// host look older) and computes bitwise what the single-CPU artifact of
// that variant computes, forward and reverse; the variants are ordered by
// their features whatever the order of the list; lists the runtime could
// not choose from are refused.
//
//===----------------------------------------------------------------------===//

#include "CompiledKernel.h"

#include "ntp/Compiler/Compiler.h"
#include "ntp/Target/Cpu/CpuTarget.h"
#include "ntp/runtime.h"

#include "mlir/Pass/PassManager.h"
#include "llvm/TargetParser/Host.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <optional>
#include <random>
#include <string>
#include <vector>

namespace {

using ntp::test::CompiledKernel;

const std::vector<int> kWidths = {2, 24, 24, 1};
constexpr int kOrder = 3;
constexpr int64_t kBatch = 37; // not a multiple of the tile

ntp::MlpDescription description() {
  ntp::MlpDescription d;
  d.layers.assign(kWidths.begin(), kWidths.end());
  d.activation = "tanh";
  d.order = kOrder;
  d.isF64 = false;
  return d;
}

ntp::CompileOptions optionsFor(std::vector<std::string> cpus) {
  ntp::CompileOptions options;
  options.backward = true;
  ntp::CpuTargetOptions &cpu = options.get<ntp::CpuTargetOptions>();
  cpu.cpu = cpus.front();
  if (cpus.size() > 1)
    cpu.variants = cpus;
  return options;
}

/// The forward jet and the parameter gradient of `k` on fixed inputs.
std::vector<float> run(ntp_kernel *k) {
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> u(-1, 1);
  int64_t params = 0;
  for (size_t l = 0; l + 1 < kWidths.size(); ++l)
    params += int64_t(kWidths[l] + 1) * kWidths[l + 1];
  std::vector<float> x(kBatch * kWidths.front()), v(kWidths.front()), p(params),
      cot((kOrder + 1) * kBatch);
  for (auto *vec : {&x, &v, &p, &cot})
    for (float &e : *vec)
      e = u(rng);
  std::vector<float> out((kOrder + 1) * kBatch), grad(params);
  EXPECT_EQ(ntp_forward(k, x.data(), v.data(), p.data(), out.data(), kBatch),
            NTP_OK)
      << ntp_last_error();
  EXPECT_EQ(ntp_backward(k, x.data(), v.data(), p.data(), cot.data(),
                         grad.data(), kBatch),
            NTP_OK)
      << ntp_last_error();
  out.insert(out.end(), grad.begin(), grad.end());
  return out;
}

/// NTP_CPU_FEATURES for a scope.
struct CpuFeaturesEnv {
  explicit CpuFeaturesEnv(const char *value) {
    ::setenv("NTP_CPU_FEATURES", value, 1);
  }
  ~CpuFeaturesEnv() { ::unsetenv("NTP_CPU_FEATURES"); }
};

TEST(CpuVariants, TheChosenVariantComputesWhatItsOwnArtifactDoes) {
  std::optional<CpuFeaturesEnv> env;
  for (bool older : {false, true}) {
    // The AVX2 baseline's features only: the x86-64-v3 variant.
    if (older)
      env.emplace("sse4.2,avx,avx2,fma,bmi,bmi2");
    auto both = CompiledKernel::compile(description(),
                                        optionsFor({"x86-64-v3", "znver4"}));
    ASSERT_TRUE(both);
    const char *chosen = ntp_kernel_target_cpu(both->get());
    ASSERT_NE(chosen, nullptr);
    // Any x86-64 host of the tests runs the baseline; a Zen 4 the other.
    if (older || llvm::sys::getHostCPUName() == "znver4")
      EXPECT_STREQ(chosen, older ? "x86-64-v3" : "znver4");
    auto single = CompiledKernel::compile(description(), optionsFor({chosen}));
    ASSERT_TRUE(single);
    std::vector<float> a = run(both->get()), b = run(single->get());
    ASSERT_EQ(a.size(), b.size());
    EXPECT_EQ(std::memcmp(a.data(), b.data(), a.size() * sizeof(float)), 0)
        << "variant " << chosen << " differs from its own artifact";
  }
}

TEST(CpuVariants, OrderedByFeatures) {
  ntp::CpuTargetOptions options;
  options.variants = {"x86-64-v3", "znver4", "sapphirerapids"};
  std::string error;
  auto variants = ntp::orderCpuVariants(options, error);
  ASSERT_EQ(variants.size(), 3u) << error;
  EXPECT_EQ(variants[0].cpu, "sapphirerapids");
  EXPECT_EQ(variants[1].cpu, "znver4");
  EXPECT_EQ(variants[2].cpu, "x86-64-v3");
  // A Haswell has exactly the baseline's recorded features.
  options.variants = {"x86-64-v3", "haswell"};
  EXPECT_TRUE(ntp::orderCpuVariants(options, error).empty());
  EXPECT_NE(error.find("same instruction-set features"), std::string::npos)
      << error;
}

TEST(CpuVariants, OnlyTheArtifactStage) {
  mlir::DialectRegistry registry;
  ntp::registerNtpCompilerDialects(registry);
  mlir::MLIRContext context(registry);
  auto module = ntp::buildMlpModule(context, description());
  ASSERT_TRUE(module);
  mlir::PassManager pm(&context);
  ntp::CompileOutput output;
  std::string error;
  EXPECT_FALSE(
      ntp::compile(*module, *ntp::getTarget("cpu"), ntp::EmitStage::Asm,
                   optionsFor({"x86-64-v3", "znver4"}), pm, output, error));
  EXPECT_NE(error.find("--emit=so"), std::string::npos) << error;
}

} // namespace
