//===- KernelCreateTest.cpp - Tests of ntp_kernel_create ------------------===//
//
// Kernels wrapped from in-memory entry points (what the JIT and statically
// linked objects use): the manifest is validated as by ntp_kernel_load, the
// release callback runs exactly once, and failures leave ownership with the
// caller.
//
//===----------------------------------------------------------------------===//
#include "ntp/runtime.h"
#include "ntp/runtime.hpp"

#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

namespace {

// f(x) = W x + b on 1-1, order 2, tile 4: out[0] = W x + b, out[1] = W v,
// out[2] = 0.
#define NTP_TEST_MANIFEST_HEAD                                                 \
  "ntp-kernel-manifest\n"                                                      \
  "abi_version=2\n"                                                            \
  "name=inmem\n"                                                               \
  "activation=identity\n"                                                      \
  "order=2\n"                                                                  \
  "dtype=f64\n"                                                                \
  "device=cpu\n"                                                               \
  "layers=1,1\n"                                                               \
  "num_params=2\n"                                                             \
  "tile=4\n"                                                                   \
  "backward=0\n"                                                               \
  "workspace_per_tile=0\n"
const char kManifest[] = NTP_TEST_MANIFEST_HEAD "target_cpu=x86-64\n"
                                                "cpu_features=\n";
const std::string kManifestHead = NTP_TEST_MANIFEST_HEAD;

extern "C" void affineTiles(const double *x, const double *v, const double *p,
                            double *out, int64_t batch, int64_t tileBegin,
                            int64_t tileEnd) {
  for (int64_t b = tileBegin * 4; b < tileEnd * 4 && b < batch; ++b) {
    out[b] = p[0] * x[b] + p[1];
    out[batch + b] = p[0] * v[0];
    out[2 * batch + b] = 0;
  }
}

void countRelease(void *arg) { ++*static_cast<int *>(arg); }

TEST(KernelCreateTest, WrapsAnInMemoryEntryPoint) {
  int released = 0;
  ntp_kernel *k = nullptr;
  ASSERT_EQ(ntp_kernel_create(kManifest, reinterpret_cast<void *>(affineTiles),
                              countRelease, &released, &k),
            NTP_OK)
      << ntp_last_error();
  ntp_kernel_info info;
  ASSERT_EQ(ntp_kernel_info_get(k, &info), NTP_OK);
  EXPECT_EQ(info.order, 2);
  EXPECT_EQ(info.dtype, NTP_DTYPE_F64);
  EXPECT_STREQ(ntp_kernel_activation(k), "identity");

  std::vector<double> x(37), out(3 * 37), params = {2.0, 0.5};
  for (size_t i = 0; i < x.size(); ++i)
    x[i] = 0.25 * double(i);
  double v = 3.0;
  ASSERT_EQ(ntp_forward(k, x.data(), &v, params.data(), out.data(), 37),
            NTP_OK);
  for (size_t b = 0; b < x.size(); ++b) {
    EXPECT_EQ(out[b], 2.0 * x[b] + 0.5);
    EXPECT_EQ(out[37 + b], 6.0);
    EXPECT_EQ(out[74 + b], 0.0);
  }
  // No dlopen handle: backward must not search the process for a symbol.
  EXPECT_EQ(ntp_backward(k, x.data(), &v, params.data(), out.data(),
                         params.data(), 37),
            NTP_ERROR_UNSUPPORTED);
  EXPECT_EQ(released, 0);
  ntp_kernel_free(k);
  EXPECT_EQ(released, 1);
}

#if defined(__x86_64__)
/// A feature the runtime checks that this host lacks, or "" if it has all.
std::string missingHostFeature() {
  __builtin_cpu_init();
  if (!__builtin_cpu_supports("avx512fp16"))
    return "avx512fp16";
  if (!__builtin_cpu_supports("avx512bf16"))
    return "avx512bf16";
  if (!__builtin_cpu_supports("avx512f"))
    return "avx512f";
  if (!__builtin_cpu_supports("avx2"))
    return "avx2";
  return "";
}

TEST(KernelCreateTest, CodeForInstructionsTheHostLacksIsRefused) {
  std::string feature = missingHostFeature();
  if (feature.empty())
    GTEST_SKIP() << "this CPU has every feature the runtime checks";
  std::string manifest = kManifestHead +
                         "target_cpu=future-cpu\ncpu_features=sse4.2," +
                         feature + "\n";
  int released = 0;
  ntp_kernel *k = reinterpret_cast<ntp_kernel *>(1);
  EXPECT_EQ(ntp_kernel_create(manifest.c_str(),
                              reinterpret_cast<void *>(&affineTiles),
                              countRelease, &released, &k),
            NTP_ERROR_UNSUPPORTED);
  EXPECT_EQ(k, nullptr);
  EXPECT_EQ(released, 0);
  EXPECT_EQ(std::string(ntp_last_error()),
            "the in-memory kernel was compiled for the CPU 'future-cpu' and "
            "needs instructions this CPU lacks (" +
                feature +
                "): recompile with --target-cpu=native (or an older "
                "--target-cpu such as x86-64-v3)");
}
#endif

TEST(KernelCreateTest, FeaturesTheHostHasAreFineUnknownOnesAreRefused) {
  // sse4.2 is in every x86-64-v2 CPU.
  std::string manifest =
      kManifestHead + "target_cpu=x86-64-v2\ncpu_features=sse4.2\n";
  ntp_kernel *k = nullptr;
  ASSERT_EQ(ntp_kernel_create(manifest.c_str(),
                              reinterpret_cast<void *>(&affineTiles), nullptr,
                              nullptr, &k),
            NTP_OK)
      << ntp_last_error();
  ntp_kernel_free(k);
  // A feature this runtime cannot check could be missing: a newer compiler
  // that records more features must bump the ABI version.
  for (const char *features : {"avx,,avx2", "sse4.2,some-future-extension"}) {
    manifest =
        kManifestHead + "target_cpu=x86-64\ncpu_features=" + features + "\n";
    EXPECT_EQ(ntp_kernel_create(manifest.c_str(),
                                reinterpret_cast<void *>(&affineTiles), nullptr,
                                nullptr, &k),
              NTP_ERROR_BAD_ARTIFACT);
    EXPECT_NE(std::string(ntp_last_error())
                  .find("not a feature this runtime "
                        "knows"),
              std::string::npos)
        << ntp_last_error();
  }
}

TEST(KernelCreateTest, ReleaseMayBeNull) {
  ntp_kernel *k = nullptr;
  ASSERT_EQ(ntp_kernel_create(kManifest, reinterpret_cast<void *>(affineTiles),
                              nullptr, nullptr, &k),
            NTP_OK);
  ntp_kernel_free(k);
}

TEST(KernelCreateTest, RejectsBadArgumentsWithoutReleasing) {
  int released = 0;
  void *fn = reinterpret_cast<void *>(affineTiles);
  ntp_kernel *k = reinterpret_cast<ntp_kernel *>(1);
  EXPECT_EQ(ntp_kernel_create(nullptr, fn, countRelease, &released, &k),
            NTP_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(k, nullptr);
  EXPECT_EQ(ntp_kernel_create(kManifest, nullptr, countRelease, &released, &k),
            NTP_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(ntp_kernel_create(kManifest, fn, countRelease, &released, nullptr),
            NTP_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(
      ntp_kernel_create("not a manifest", fn, countRelease, &released, &k),
      NTP_ERROR_BAD_ARTIFACT);
  EXPECT_NE(std::string(ntp_last_error()).find("malformed manifest"),
            std::string::npos)
      << ntp_last_error();
  std::string other = kManifest;
  other.replace(other.find("abi_version=2"), 13, "abi_version=9");
  EXPECT_EQ(ntp_kernel_create(other.c_str(), fn, countRelease, &released, &k),
            NTP_ERROR_ABI_MISMATCH);
  std::string cuda = kManifestHead + "target_cpu=none\ncpu_features=\n"
                                     "chip=sm_90\nformat=ptx\nmapping=sample\n"
                                     "block_size=4\nsamples_per_block=4\n"
                                     "image_bytes=100\n";
  cuda.replace(cuda.find("device=cpu"), 10, "device=cuda");
  EXPECT_EQ(ntp_kernel_create(cuda.c_str(), fn, countRelease, &released, &k),
            NTP_ERROR_UNSUPPORTED);
  EXPECT_EQ(released, 0);
}

TEST(KernelCreateTest, CppAdoptOwnsTheKernel) {
  int released = 0;
  {
    ntp_kernel *k = nullptr;
    ASSERT_EQ(ntp_kernel_create(kManifest,
                                reinterpret_cast<void *>(affineTiles),
                                countRelease, &released, &k),
              NTP_OK);
    ntp::Kernel kernel = ntp::Kernel::adopt(k);
    std::vector<double> x = {1, 2, 3}, v = {1}, params = {1, 1}, out;
    kernel.forward(x, v, params, out);
    EXPECT_EQ(out, (std::vector<double>{2, 3, 4, 1, 1, 1, 0, 0, 0}));
    EXPECT_THROW(ntp::Kernel::adopt(nullptr), ntp::Error);
  }
  EXPECT_EQ(released, 1);
}

TEST(KernelCreateTest, SetLastErrorIsPerThread) {
  ntp_set_last_error("from the jit");
  EXPECT_STREQ(ntp_last_error(), "from the jit");
  std::thread([] { EXPECT_STREQ(ntp_last_error(), ""); }).join();
  ntp_set_last_error(nullptr);
  EXPECT_STREQ(ntp_last_error(), "");
}

} // namespace
