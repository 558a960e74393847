//===- CpuVariantTest.cpp - Artifacts carrying a kernel per CPU -----------===//
//
// A multi-variant CPU artifact (ntp-compile --target-cpu=a,b): its manifest
// key cpu_variants round-trips and every malformed or truncated table is
// refused with a sentence; ntp_kernel_load runs the first variant the host
// supports, with the host's features injected through NTP_CPU_FEATURES, and
// refuses with one sentence when none fits; a variant whose own manifest or
// entry point is wrong is refused. The fixture (fixtures/fake_variants.c)
// has variant 0 "fake512" (avx512f, writes 1) and variant 1 "fakesse"
// (sse4.2, writes 2).
//
//===----------------------------------------------------------------------===//
#include "ntp/artifact.hpp"
#include "ntp/runtime.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

namespace {

using namespace ntp::artifact;

/// Sets NTP_CPU_FEATURES (or unsets it with nullopt) for a scope.
class CpuFeaturesEnv {
public:
  explicit CpuFeaturesEnv(std::optional<std::string> value) {
    if (const char *old = std::getenv("NTP_CPU_FEATURES"))
      saved = old;
    if (value)
      ::setenv("NTP_CPU_FEATURES", value->c_str(), 1);
    else
      ::unsetenv("NTP_CPU_FEATURES");
  }
  ~CpuFeaturesEnv() {
    if (saved)
      ::setenv("NTP_CPU_FEATURES", saved->c_str(), 1);
    else
      ::unsetenv("NTP_CPU_FEATURES");
  }

private:
  std::optional<std::string> saved;
};

bool hostHas(const char *feature) {
#if defined(__x86_64__)
  __builtin_cpu_init();
  if (std::string(feature) == "avx512f")
    return __builtin_cpu_supports("avx512f");
  if (std::string(feature) == "sse4.2")
    return __builtin_cpu_supports("sse4.2");
#endif
  (void)feature;
  return false;
}

const std::string kCommon = "ntp-kernel-manifest\n"
                            "abi_version=2\n"
                            "name=fake\n"
                            "activation=identity\n"
                            "order=3\n"
                            "dtype=f64\n"
                            "device=cpu\n"
                            "layers=1,1\n"
                            "num_params=2\n"
                            "tile=4\n"
                            "backward=0\n"
                            "workspace_per_tile=0\n"
                            "target_cpu=fake512\n"
                            "cpu_features=avx512f\n";
const std::string kVariants = "cpu_variants=fake512:avx512f;fakesse:sse4.2\n";

TEST(CpuVariantManifest, RoundTrips) {
  KernelManifest m;
  std::string error;
  ASSERT_EQ(parseManifest(kCommon + kVariants, m, error), NTP_OK) << error;
  ASSERT_EQ(m.cpuVariants.size(), 2u);
  EXPECT_EQ(m.cpuVariants[0].cpu, "fake512");
  EXPECT_EQ(m.cpuVariants[0].features, std::vector<std::string>{"avx512f"});
  EXPECT_EQ(m.cpuVariants[1].cpu, "fakesse");
  EXPECT_EQ(m.cpuVariants[1].features, std::vector<std::string>{"sse4.2"});
  EXPECT_EQ(serializeManifest(m), kCommon + kVariants);
  // A variant may need no recorded feature (x86-64).
  ASSERT_EQ(parseManifest(kCommon + "cpu_variants=fake512:avx512f;x86-64:\n", m,
                          error),
            NTP_OK)
      << error;
  EXPECT_TRUE(m.cpuVariants[1].features.empty());
  // Without the key: no variants.
  ASSERT_EQ(parseManifest(kCommon, m, error), NTP_OK) << error;
  EXPECT_TRUE(m.cpuVariants.empty());
  EXPECT_EQ(cpuVariantPrefix(1), "ntp_kernel_v1");
}

TEST(CpuVariantManifest, MalformedTablesAreRefused) {
  struct Case {
    const char *table, *message;
  };
  for (const Case &c : {
           Case{"fake512:avx512f", "lists 1 variant"},
           Case{"fake512:avx512f;fake512:sse4.2",
                "names the CPU 'fake512' twice"},
           Case{"fake512:avx512f;:sse4.2", "is not a CPU name"},
           Case{"fake512:avx512f;fakesse", "is not a CPU name, a colon"},
           Case{"fake512:avx512f;fake sse:sse4.2", "is not a CPU name"},
           Case{"fake512:avx512f;fakesse:avx9", "not a feature this runtime"},
           Case{"fake512:avx512f;fakesse:sse4.2,", "ends with a comma"},
           Case{"fake512:avx512f;fakesse:sse4.2,sse4.2", "twice"},
           Case{"fakesse:sse4.2;fake512:avx512f", "the first of cpu_variants"},
           Case{"fake512:avx2;fakesse:sse4.2", "the first of cpu_variants"},
           Case{"fake512:avx512f;", "is not a CPU name"},
           Case{"", "is not a CPU name"},
       }) {
    KernelManifest m;
    std::string error;
    EXPECT_EQ(
        parseManifest(kCommon + "cpu_variants=" + c.table + "\n", m, error),
        NTP_ERROR_BAD_ARTIFACT)
        << c.table;
    EXPECT_NE(error.find(c.message), std::string::npos)
        << c.table << ": " << error;
  }
  // Only CPU kernels have variants (the CUDA keys are checked first, so a
  // CUDA manifest must be otherwise valid: take the device key alone).
  KernelManifest m;
  std::string error;
  std::string cuda = kCommon + kVariants;
  cuda.replace(cuda.find("device=cpu"), 10, "device=cuda");
  EXPECT_EQ(parseManifest(cuda, m, error), NTP_ERROR_BAD_ARTIFACT);
}

/// Every prefix of a sealed multi-variant manifest: a status, never a crash,
/// and a table either whole and valid or refused.
TEST(CpuVariantManifest, TruncatedTablesNeverCrash) {
  std::string text = kCommon + kVariants;
  for (size_t cut = kCommon.size(); cut <= text.size(); ++cut) {
    std::string artifact = sealArtifactText("payload", text.substr(0, cut));
    ArtifactView view;
    std::string error;
    ntp_status status = openArtifact(artifact, view, error);
    if (status == NTP_OK) {
      // Cut before the key, or inside the last feature name's line end.
      EXPECT_TRUE(view.manifest.cpuVariants.empty() ||
                  view.manifest.cpuVariants.size() == 2)
          << cut;
    } else {
      EXPECT_EQ(status, NTP_ERROR_BAD_ARTIFACT) << cut;
      EXPECT_FALSE(error.empty()) << cut;
    }
  }
}

TEST(CpuVariantLoad, RunsTheFirstVariantTheHostSupports) {
  struct Case {
    std::optional<std::string> features;
    bool fits0, fits1;
  };
  bool avx512 = hostHas("avx512f"), sse = hostHas("sse4.2");
  for (const Case &c : {Case{std::nullopt, avx512, sse},
                        Case{std::string("sse4.2,avx,avx2"), false, sse},
                        Case{std::string("avx512f,sse4.2"), avx512, sse}}) {
    CpuFeaturesEnv env(c.features);
    ntp_kernel *k = nullptr;
    ntp_status status = ntp_kernel_load(NTP_FAKE_VARIANTS, &k);
    if (!c.fits0 && !c.fits1) {
      EXPECT_EQ(status, NTP_ERROR_UNSUPPORTED);
      continue;
    }
    ASSERT_EQ(status, NTP_OK) << ntp_last_error();
    const char *cpu = ntp_kernel_target_cpu(k);
    ASSERT_NE(cpu, nullptr);
    EXPECT_EQ(std::string(cpu), c.fits0 ? "fake512" : "fakesse");
    double x[5] = {1, 2, 3, 4, 5}, v[1] = {1}, params[2] = {1, 0};
    std::vector<double> out(4 * 5, -1);
    ASSERT_EQ(ntp_forward(k, x, v, params, out.data(), 5), NTP_OK)
        << ntp_last_error();
    for (double value : out)
      EXPECT_EQ(value, c.fits0 ? 1.0 : 2.0);
    ntp_kernel_free(k);
  }
}

TEST(CpuVariantLoad, NoVariantFitsIsOneSentence) {
  CpuFeaturesEnv env(std::string(""));
  ntp_kernel *k = reinterpret_cast<ntp_kernel *>(1);
  EXPECT_EQ(ntp_kernel_load(NTP_FAKE_VARIANTS, &k), NTP_ERROR_UNSUPPORTED);
  EXPECT_EQ(k, nullptr);
  std::string message = ntp_last_error();
  EXPECT_NE(message.find("carries kernels for the CPUs fake512, fakesse"),
            std::string::npos)
      << message;
  EXPECT_EQ(message.find('\n'), std::string::npos) << message;
}

TEST(CpuVariantLoad, InconsistentVariantsAreRefused) {
  if (!hostHas("sse4.2"))
    GTEST_SKIP() << "the fixture's fallback variant needs sse4.2";
  CpuFeaturesEnv env(std::string("sse4.2"));
  ntp_kernel *k = nullptr;
  EXPECT_EQ(ntp_kernel_load(NTP_FAKE_VARIANTS_MISMATCH, &k),
            NTP_ERROR_BAD_ARTIFACT);
  EXPECT_NE(std::string(ntp_last_error()).find("ntp_kernel_v1_manifest"),
            std::string::npos)
      << ntp_last_error();
  EXPECT_EQ(ntp_kernel_load(NTP_FAKE_VARIANTS_MISSING, &k),
            NTP_ERROR_BAD_ARTIFACT);
  EXPECT_NE(std::string(ntp_last_error()).find("ntp_kernel_v1_forward_tiles"),
            std::string::npos)
      << ntp_last_error();
  EXPECT_EQ(k, nullptr);
}

/// The variants are an artifact's: a manifest listing them does not wrap
/// entry points given in memory.
TEST(CpuVariantLoad, CreateRefusesAVariantTable) {
  std::string text = kCommon + kVariants;
  ntp_kernel *k = nullptr;
  EXPECT_EQ(ntp_kernel_create(text.c_str(), reinterpret_cast<void *>(&hostHas),
                              nullptr, nullptr, &k),
            NTP_ERROR_UNSUPPORTED);
  EXPECT_NE(std::string(ntp_last_error()).find("cpu_variants"),
            std::string::npos)
      << ntp_last_error();
  EXPECT_EQ(ntp_kernel_target_cpu(nullptr), nullptr);
}

} // namespace
