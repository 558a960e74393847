//===- JitCudaTest.cpp - The JIT's CUDA device on a machine without one ---===//
//
// NVPTX kernels are compiled and cached whether or not a GPU is present;
// only loading needs the driver. NTP_LIBCUDA points at a library that does
// not exist (the driver is opened once per process, and every test here
// sets the same path), so these outcomes are the same on machines with a
// GPU.
//
//===----------------------------------------------------------------------===//
#include "ntp/JIT/Jit.h"
#include "ntp/jit.h"
#include "ntp/runtime.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <dirent.h>
#include <fstream>
#include <iterator>
#include <string>
#include <unistd.h>

namespace {

constexpr const char *kMissingDriver = "/nonexistent/ntp-jit-test/libcuda.so.1";

class JitCudaTest : public ::testing::Test {
protected:
  void SetUp() override {
    ::setenv("NTP_LIBCUDA", kMissingDriver, 1);
    ::unsetenv("NTP_CUDA_DEVICE");
    std::string pattern = ::testing::TempDir() + "ntp-jit-cuda-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir = pattern;
    ntp_jit_spec_init(&spec);
    spec.layers = layers;
    spec.num_layers = 4;
    spec.order = 4;
    ntp_jit_options_init(&options);
    options.device = NTP_DEVICE_CUDA;
    options.cache_dir = dir.c_str();
  }
  void TearDown() override {
    std::string command = "rm -rf '" + dir + "'";
    EXPECT_EQ(std::system(command.c_str()), 0);
  }

  /// Compiles, expecting `status`; returns ntp_last_error().
  std::string compileError(int status, ntp_jit_report *report = nullptr) {
    ntp_kernel *k = reinterpret_cast<ntp_kernel *>(1);
    EXPECT_EQ(ntp_jit_compile_report(&spec, &options, &k, report), status);
    EXPECT_EQ(k, nullptr);
    return ntp_last_error();
  }

  /// The one cache entry's bytes.
  std::string cachedEntry() {
    std::string name;
    if (DIR *d = ::opendir(dir.c_str())) {
      while (dirent *e = ::readdir(d))
        if (e->d_name[0] != '.')
          name = e->d_name;
      ::closedir(d);
    }
    EXPECT_FALSE(name.empty());
    std::ifstream in(dir + "/" + name, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), {}};
  }

  int64_t layers[4] = {1, 16, 16, 1};
  ntp_jit_spec spec;
  ntp_jit_options options;
  std::string dir;
};

bool contains(const std::string &text, const std::string &part) {
  return text.find(part) != std::string::npos;
}

TEST_F(JitCudaTest, WithoutAChipOrADriverSaysNoDevice) {
  std::string e = compileError(NTP_ERROR_NO_DEVICE);
  EXPECT_EQ(e.rfind("cannot choose the CUDA architecture (set the chip option "
                    "to compile without a GPU): no CUDA driver: cannot load " +
                        std::string(kMissingDriver),
                    0),
            0u)
      << e;
}

TEST_F(JitCudaTest, CompilesPtxCachesItAndNeedsTheDriverOnlyToLoad) {
  options.chip = "sm_80";
  options.gpu_format = NTP_JIT_GPU_PTX;
  ntp_jit_report report;
  std::string e = compileError(NTP_ERROR_NO_DEVICE, &report);
  EXPECT_EQ(e, "cannot load CUDA kernel from memory: no CUDA driver: cannot "
               "load " +
                   std::string(kMissingDriver) + " (" + kMissingDriver +
                   ": cannot open shared object file: No such file or "
                   "directory)")
      << e;
  EXPECT_EQ(report.cache_stored, 1);
  EXPECT_EQ(report.cache_hit, 0);
  // The cached payload is a whole CUDA artifact holding the kernel's PTX.
  std::string entry = cachedEntry();
  for (const char *part :
       {"ntp-kernel-manifest\nabi_version=2\nname=ntp_kernel\n",
        "device=cuda\n", "order=4\n", "layers=1,16,16,1\n", "chip=sm_80\n",
        "format=ptx\n", ".target sm_80", ".entry ntp_kernel_forward(",
        "NTPARTF\n"})
    EXPECT_TRUE(contains(entry, part)) << part;

  // The second compile is a cache hit that fails at the same place.
  EXPECT_EQ(compileError(NTP_ERROR_NO_DEVICE, &report), e);
  EXPECT_EQ(report.cache_hit, 1);
  EXPECT_EQ(report.cache_stored, 0);
}

TEST_F(JitCudaTest, CubinWhenPtxasIsFound) {
  if (::access("/usr/local/cuda/bin/ptxas", X_OK) != 0)
    GTEST_SKIP() << "no ptxas in /usr/local/cuda/bin";
  options.chip = "sm_90";
  options.gpu_format = NTP_JIT_GPU_AUTO;
  compileError(NTP_ERROR_NO_DEVICE);
  std::string entry = cachedEntry();
  EXPECT_TRUE(contains(entry, "format=cubin\n"));
  EXPECT_TRUE(contains(entry, "\x7f"
                              "ELF"));
}

TEST_F(JitCudaTest, TheKeyCoversChipAndFormat) {
  options.chip = "sm_80";
  options.gpu_format = NTP_JIT_GPU_PTX;
  ntp_jit_report report;
  compileError(NTP_ERROR_NO_DEVICE, &report);
  options.chip = "sm_90";
  compileError(NTP_ERROR_NO_DEVICE, &report);
  EXPECT_EQ(report.cache_stored, 1) << "sm_90 reused the sm_80 entry";
  options.device = NTP_DEVICE_CPU;
  options.use_cache = 0;
  ntp_kernel *k = nullptr;
  ASSERT_EQ(ntp_jit_compile(&spec, &options, &k), NTP_OK) << ntp_last_error();
  ntp_kernel_free(k);
}

TEST_F(JitCudaTest, BadOptionsAreRejectedBeforeCompiling) {
  ::testing::internal::CaptureStderr();
  options.chip = "sm_1";
  EXPECT_EQ(compileError(NTP_ERROR_INVALID_ARGUMENT),
            "unknown NVIDIA architecture 'sm_1' (expected sm_XX, e.g. sm_80 "
            "or sm_90)");
  options.chip = "sm_80";
  options.gpu_format = 9;
  EXPECT_EQ(compileError(NTP_ERROR_INVALID_ARGUMENT), "unknown gpu_format 9");
  options.gpu_format = NTP_JIT_GPU_PTX;
  int64_t bad[2] = {1, -4};
  spec.layers = bad;
  spec.num_layers = 2;
  std::string e = compileError(NTP_ERROR_INVALID_ARGUMENT);
  EXPECT_TRUE(contains(e, "malformed spec")) << e;
  EXPECT_EQ(::testing::internal::GetCapturedStderr(), "");
}

TEST_F(JitCudaTest, CppApiReportsNoDevice) {
  ntp::JitOptions o;
  o.device = NTP_DEVICE_CUDA;
  o.chip = "sm_80";
  o.useCache = false;
  ntp::MlpSpec spec;
  spec.layers = {1, 8, 1};
  spec.activation = "sin";
  spec.order = 3;
  try {
    ntp::compile(spec, o);
    FAIL() << "expected ntp::Error";
  } catch (const ntp::Error &e) {
    EXPECT_EQ(e.status(), NTP_ERROR_NO_DEVICE);
    EXPECT_TRUE(contains(e.what(), "no CUDA driver")) << e.what();
  }
}

TEST_F(JitCudaTest, InMemoryLoadAcceptsOnlyCudaArtifacts) {
  ntp_kernel *k = reinterpret_cast<ntp_kernel *>(1);
  const char elf[] = "\x7f"
                     "ELF rest of a shared object";
  EXPECT_EQ(ntp_kernel_load_memory(elf, sizeof(elf), &k),
            NTP_ERROR_BAD_ARTIFACT);
  EXPECT_EQ(k, nullptr);
  EXPECT_EQ(std::string(ntp_last_error()),
            "cannot load the in-memory kernel artifact: it is a shared object "
            "without an ntp artifact trailer (not an ntp kernel artifact, or "
            "truncated)");
  const char truncated[] = "ntp-kernel-manifest\nabi_version=2\n";
  EXPECT_EQ(ntp_kernel_load_memory(truncated, sizeof(truncated) - 1, &k),
            NTP_ERROR_BAD_ARTIFACT);
  EXPECT_EQ(std::string(ntp_last_error()),
            "cannot load the in-memory kernel artifact: it is not an ntp "
            "kernel artifact (no artifact trailer)");
  EXPECT_EQ(ntp_kernel_load_memory(nullptr, 4, &k), NTP_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(ntp_kernel_load_memory(elf, -1, &k), NTP_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(ntp_kernel_load_memory(elf, 4, nullptr),
            NTP_ERROR_INVALID_ARGUMENT);
  int32_t sm = 5;
  EXPECT_EQ(ntp_cuda_device_arch(0, &sm), NTP_ERROR_NO_DEVICE);
  EXPECT_EQ(sm, 0);
  EXPECT_EQ(ntp_cuda_device_arch(-1, &sm), NTP_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(ntp_cuda_device_arch(0, nullptr), NTP_ERROR_INVALID_ARGUMENT);
}

} // namespace
