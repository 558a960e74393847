//===- JitFakeDriverTest.cpp - The JIT's CUDA path down to the driver -----===//
//
// The JIT's CUDA device against the fake driver of test/unit/runtime
// (fixtures/fake_libcuda.c): the chip comes from the (fake) GPU, the
// generated PTX or cubin reaches cuModuleLoadDataEx, and a forward call
// launches the generated entry with the caller's pointers. What the kernel
// computes needs a real GPU (test/gpu/run-gpu-checks.sh).
//
//===----------------------------------------------------------------------===//
#include "ntp/jit.h"
#include "ntp/runtime.h"

#include "../runtime/fixtures/fake_libcuda.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <dlfcn.h>
#include <string>

namespace {

class JitFakeDriverTest : public ::testing::Test {
protected:
  void SetUp() override {
    ::setenv("NTP_LIBCUDA", NTP_FAKE_LIBCUDA, 1);
    for (const char *name : {"FAKE_CUDA_DEVICES", "FAKE_CUDA_CC",
                             "FAKE_CUDA_FAIL", "NTP_CUDA_DEVICE"})
      ::unsetenv(name);
    handle = ::dlopen(NTP_FAKE_LIBCUDA, RTLD_NOW | RTLD_LOCAL);
    ASSERT_NE(handle, nullptr) << ::dlerror();
    auto state = reinterpret_cast<fake_cuda_state_fn>(
        ::dlsym(handle, "fake_cuda_state"));
    auto reset = reinterpret_cast<fake_cuda_reset_fn>(
        ::dlsym(handle, "fake_cuda_reset"));
    ASSERT_TRUE(state && reset);
    reset();
    fake = state();
    ntp_jit_spec_init(&spec);
    spec.layers = layers;
    spec.num_layers = 4;
    spec.order = 3;
    spec.dtype = NTP_DTYPE_F64;
    ntp_jit_options_init(&options);
    options.device = NTP_DEVICE_CUDA;
    options.use_cache = 0;
    options.gpu_format = NTP_JIT_GPU_PTX;
    options.backward = 0; // forward-only images; the reverse mode: below
  }
  void TearDown() override {
    if (handle)
      ::dlclose(handle);
  }

  ntp_kernel *compile() {
    ntp_kernel *k = nullptr;
    EXPECT_EQ(ntp_jit_compile(&spec, &options, &k), NTP_OK) << ntp_last_error();
    return k;
  }
  bool imageHas(const std::string &part) const {
    return std::string(fake->image, fake->image_size).find(part) !=
           std::string::npos;
  }

  int64_t layers[4] = {1, 24, 24, 1};
  ntp_jit_spec spec;
  ntp_jit_options options;
  void *handle = nullptr;
  fake_cuda_state_t *fake = nullptr;
};

TEST_F(JitFakeDriverTest, ChipFromTheGpuCompilesLoadsAndLaunches) {
  ::setenv("FAKE_CUDA_CC", "86", 1);
  ntp_kernel *k = compile();
  ASSERT_NE(k, nullptr);
  EXPECT_EQ(fake->loads, 1);
  EXPECT_TRUE(imageHas(".target sm_86"));
  EXPECT_TRUE(imageHas(".entry ntp_kernel_forward("));
  EXPECT_STREQ(fake->function, "ntp_kernel_forward");
  ntp_kernel_info info;
  ASSERT_EQ(ntp_kernel_info_get(k, &info), NTP_OK);
  EXPECT_EQ(info.device, NTP_DEVICE_CUDA);
  EXPECT_EQ(info.order, 3);
  EXPECT_EQ(info.dtype, NTP_DTYPE_F64);
  EXPECT_EQ(info.num_params, 24 + 24 + 24 * 24 + 24 + 24 + 1);

  // Device pointers: the fake never dereferences them.
  auto *x = reinterpret_cast<void *>(uintptr_t(0x7f0000001000));
  auto *v = reinterpret_cast<void *>(uintptr_t(0x7f0000002000));
  auto *p = reinterpret_cast<void *>(uintptr_t(0x7f0000003000));
  auto *out = reinterpret_cast<void *>(uintptr_t(0x7f0000004000));
  ASSERT_EQ(ntp_forward(k, x, v, p, out, 300), NTP_OK) << ntp_last_error();
  const fake_cuda_launch &l = fake->last_launch;
  EXPECT_STREQ(l.function, "ntp_kernel_forward");
  EXPECT_EQ(l.grid[0], 3u); // ceil(300 / 128)
  EXPECT_EQ(l.block[0], 128u);
  EXPECT_EQ(l.x, x);
  EXPECT_EQ(l.direction, v);
  EXPECT_EQ(l.params, p);
  EXPECT_EQ(l.out, out);
  EXPECT_EQ(l.batch, 300);
  // Compiled without the reverse mode (backward = 0).
  EXPECT_EQ(ntp_backward(k, x, v, p, out, p, 300), NTP_ERROR_UNSUPPORTED);
  ntp_kernel_free(k);
  EXPECT_EQ(fake->unloads, 1);
}

TEST_F(JitFakeDriverTest, BackwardOptionCompilesTheGpuReverseMode) {
  ::setenv("FAKE_CUDA_CC", "90", 1);
  options.backward = 1;
  ntp_kernel *k = compile();
  ASSERT_NE(k, nullptr);
  EXPECT_TRUE(imageHas(".entry ntp_kernel_forward_save("));
  EXPECT_TRUE(imageHas(".entry ntp_kernel_backward_saved("));
  int64_t bytes = 0;
  EXPECT_EQ(ntp_workspace_size(k, 300, &bytes), NTP_OK) << ntp_last_error();
  EXPECT_GT(bytes, 0);
  auto *x = reinterpret_cast<void *>(uintptr_t(0x7f0000001000));
  auto *v = reinterpret_cast<void *>(uintptr_t(0x7f0000002000));
  auto *p = reinterpret_cast<void *>(uintptr_t(0x7f0000003000));
  auto *out = reinterpret_cast<void *>(uintptr_t(0x7f0000004000));
  auto *ws = reinterpret_cast<void *>(uintptr_t(0x7f0000005000));
  auto *stream = reinterpret_cast<void *>(uintptr_t(0x77));
  ASSERT_EQ(ntp_forward_save_async(k, x, v, p, out, ws, 300, stream), NTP_OK)
      << ntp_last_error();
  EXPECT_STREQ(fake->last_launch.function, "ntp_kernel_forward_save");
  EXPECT_EQ(fake->last_launch.stream, stream);
  ntp_kernel_free(k);
}

TEST_F(JitFakeDriverTest, PartialsKernelCompilesLoadsAndLaunches) {
  // Issue 12 item 7: a partials request (u_xy, u, the Laplacian) through
  // the JIT's CUDA device, with the GPU reverse mode.
  ::setenv("FAKE_CUDA_CC", "90", 1);
  spec.mlir = "ntp.mlp @k layers [2, 8, 1] activation \"tanh\" order 2 "
              "partials [[1, 1], [0, 0]] operators [#ntp.laplacian] : f64\n";
  options.backward = 1;
  ntp_kernel *k = compile();
  ASSERT_NE(k, nullptr);
  EXPECT_TRUE(imageHas(".entry k_forward("));
  EXPECT_TRUE(imageHas(".entry k_backward_saved("));
  int32_t rows[6] = {}, count = 0;
  ASSERT_EQ(ntp_kernel_partials_get(k, rows, 6, &count), NTP_OK);
  EXPECT_EQ(count, 3);
  EXPECT_EQ(rows[4], -2);
  auto *x = reinterpret_cast<void *>(uintptr_t(0x7f0000001000));
  auto *p = reinterpret_cast<void *>(uintptr_t(0x7f0000003000));
  auto *out = reinterpret_cast<void *>(uintptr_t(0x7f0000004000));
  ASSERT_EQ(ntp_partials(k, x, p, out, 300), NTP_OK) << ntp_last_error();
  const fake_cuda_launch &l = fake->last_launch;
  EXPECT_STREQ(l.function, "k_forward");
  EXPECT_EQ(l.grid[0], 3u);
  EXPECT_EQ(l.x, x);
  EXPECT_EQ(l.params, p);
  EXPECT_EQ(l.out, out);
  ASSERT_EQ(ntp_partials_backward(k, x, p, out, p, nullptr, 300), NTP_OK)
      << ntp_last_error();
  EXPECT_STREQ(fake->last_launch.function, "k_reduce_params_grad");
  ntp_kernel_free(k);
}

TEST_F(JitFakeDriverTest, LanesMappingLaunchesAWarpPerSample) {
  ::setenv("FAKE_CUDA_CC", "90", 1);
  options.gpu_mapping = NTP_JIT_GPU_LANES;
  ntp_kernel *k = compile();
  ASSERT_NE(k, nullptr);
  auto *p = reinterpret_cast<void *>(uintptr_t(0x7f0000003000));
  ASSERT_EQ(ntp_forward(k, p, p, p, p, 10), NTP_OK) << ntp_last_error();
  EXPECT_EQ(fake->last_launch.grid[0], 3u); // ceil(10 / 4 samples per block)
  EXPECT_EQ(fake->last_launch.block[0], 128u);
  ntp_kernel_free(k);
  options.gpu_mapping = 7;
  k = reinterpret_cast<ntp_kernel *>(1);
  EXPECT_EQ(ntp_jit_compile(&spec, &options, &k), NTP_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(std::string(ntp_last_error()), "unknown gpu_mapping 7");
}

TEST_F(JitFakeDriverTest, NtpCudaDeviceChoosesTheGpuWhoseChipIsUsed) {
  ::setenv("FAKE_CUDA_DEVICES", "2", 1);
  ::setenv("NTP_CUDA_DEVICE", "1", 1);
  ::setenv("FAKE_CUDA_CC", "90", 1);
  ntp_kernel *k = compile();
  ASSERT_NE(k, nullptr);
  EXPECT_TRUE(imageHas(".target sm_90"));
  EXPECT_EQ(fake->retained_device, 1);
  ntp_kernel_free(k);
}

TEST_F(JitFakeDriverTest, AnExplicitChipNewerThanTheGpuIsRefusedAtLoad) {
  ::setenv("FAKE_CUDA_CC", "80", 1);
  options.chip = "sm_90";
  ntp_kernel *k = reinterpret_cast<ntp_kernel *>(1);
  EXPECT_EQ(ntp_jit_compile(&spec, &options, &k), NTP_ERROR_UNSUPPORTED);
  EXPECT_EQ(k, nullptr);
  std::string e = ntp_last_error();
  EXPECT_NE(e.find("recompile with ntp-compile --chip=sm_80"),
            std::string::npos)
      << e;
  EXPECT_EQ(fake->loads, 0);
}

} // namespace
