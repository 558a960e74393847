//===- FakeDriverTest.cpp - The CUDA launch path against a fake driver ----===//
//
// NTP_LIBCUDA points at fixtures/fake_libcuda.c, a driver whose one GPU (by
// default) runs nothing but records what it was given, so that context
// selection, architecture checks, module loading and kernel arguments are
// tested without a GPU. The runtime opens the driver once per process: these
// tests are a separate executable from CudaTest.cpp's missing-driver tests,
// and ctest runs each in its own process, so a test may configure the fake
// through FAKE_CUDA_* before its first load. Tests of what happens when the
// driver is opened (cuInit, device count) only run alone in their process.
//
// Here: loading and launching jet kernels, architectures, images the driver
// rejects, opening the driver. The fixtures: FakeDriverFixture.h; the
// reverse mode and partials kernels: FakeDriverReverseTest.cpp; contexts
// and threads: FakeDriverContextTest.cpp.
//
//===----------------------------------------------------------------------===//
#include "FakeDriverFixture.h"

#include "ntp/artifact.hpp"
#include "ntp/runtime.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <string>
#include <unistd.h>
#include <vector>

namespace {

using namespace fake_driver_test;

//===----------------------------------------------------------------------===//
// Loading and launching
//===----------------------------------------------------------------------===//

TEST_F(FakeDriverTest, LoadGivesTheDriverTheImageAndEntry) {
  ntp_kernel *k = load(Artifact{});
  ASSERT_NE(k, nullptr);
  ntp_kernel_info info;
  ASSERT_EQ(ntp_kernel_info_get(k, &info), NTP_OK);
  EXPECT_EQ(info.device, NTP_DEVICE_CUDA);
  EXPECT_EQ(fake->loads, 1);
  // Exactly the image, not the manifest before it.
  EXPECT_EQ(std::string(fake->image, fake->image_size), kPtx);
  EXPECT_STREQ(fake->function, "net_forward");
  EXPECT_EQ(fake->launches, 0);
  ntp_kernel_free(k);
}

TEST_F(FakeDriverTest, ForwardLaunchesOneThreadPerSampleOnTheDefaultStream) {
  ntp_kernel *k = load(Artifact{});
  ASSERT_NE(k, nullptr);
  const struct {
    int64_t batch;
    unsigned grid;
  } cases[] = {{1, 1}, {128, 1}, {129, 2}, {300, 3}, {1 << 20, 8192}};
  for (const auto &c : cases) {
    SCOPED_TRACE("batch " + std::to_string(c.batch));
    int launches = fake->launches;
    ASSERT_EQ(ntp_forward(k, kX, kV, kParams, kOut, c.batch), NTP_OK)
        << ntp_last_error();
    EXPECT_EQ(fake->launches, launches + 1);
    expectLaunch(c.grid, 128, nullptr, c.batch);
  }
  ntp_kernel_free(k);
}

TEST_F(FakeDriverTest, BlockSizeComesFromTheManifest) {
  Artifact artifact;
  artifact.blockSize = 96;
  ntp_kernel *k = load(artifact);
  ASSERT_NE(k, nullptr);
  ASSERT_EQ(ntp_forward(k, kX, kV, kParams, kOut, 96), NTP_OK);
  expectLaunch(1, 96, nullptr, 96);
  ASSERT_EQ(ntp_forward(k, kX, kV, kParams, kOut, 97), NTP_OK);
  expectLaunch(2, 96, nullptr, 97);
  ntp_kernel_free(k);
}

TEST_F(FakeDriverTest, LanesMappingLaunchesOneWarpPerSample) {
  // --gpu-mapping=lanes: 4 samples per 128-thread block.
  Artifact artifact;
  artifact.samplesPerBlock = 4;
  ntp_kernel *k = load(artifact);
  ASSERT_NE(k, nullptr);
  ASSERT_EQ(ntp_forward(k, kX, kV, kParams, kOut, 256), NTP_OK)
      << ntp_last_error();
  expectLaunch(64, 128, nullptr, 256);
  ASSERT_EQ(ntp_forward(k, kX, kV, kParams, kOut, 4097), NTP_OK);
  expectLaunch(1025, 128, nullptr, 4097);
  ntp_kernel_free(k);
}

TEST_F(FakeDriverTest, SamplesPerBlockMustDivideTheBlock) {
  Artifact artifact;
  artifact.samplesPerBlock = 3;
  EXPECT_EQ(loadError(artifact, NTP_ERROR_BAD_ARTIFACT),
            "cannot load kernel artifact '" + path +
                "': it has a malformed manifest: samples_per_block is 3 but "
                "block_size 128 needs block_size / 32 with mapping=lanes");
  EXPECT_EQ(fake->loads, 0);
}

TEST_F(FakeDriverTest, ForwardAsyncLaunchesOnTheGivenStream) {
  ntp_kernel *k = load(Artifact{});
  ASSERT_NE(k, nullptr);
  void *stream = reinterpret_cast<void *>(uintptr_t(0x5eed));
  ASSERT_EQ(ntp_forward_async(k, kX, kV, kParams, kOut, 200, stream), NTP_OK)
      << ntp_last_error();
  expectLaunch(2, 128, stream, 200);
  ASSERT_EQ(ntp_forward_async(k, kX, kV, kParams, kOut, 200, nullptr), NTP_OK);
  expectLaunch(2, 128, nullptr, 200);
  EXPECT_EQ(fake->launches, 2);
  ntp_kernel_free(k);
}

TEST_F(FakeDriverTest, ForwardCheckedLaunchesAfterItsChecks) {
  ntp_kernel *k = load(Artifact{});
  ASSERT_NE(k, nullptr);
  // layers 1,4,1, order 2: x 10, direction 1, params 13, out 3 * 10.
  EXPECT_EQ(ntp_forward_checked(k, kX, 10, kV, 1, kParams, 13, kOut, 29, 10),
            NTP_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(fake->launches, 0);
  ASSERT_EQ(ntp_forward_checked(k, kX, 10, kV, 1, kParams, 13, kOut, 30, 10),
            NTP_OK)
      << ntp_last_error();
  expectLaunch(1, 128, nullptr, 10);
  ntp_kernel_free(k);
}

TEST_F(FakeDriverTest, EmptyBatchLaunchesNothing) {
  ntp_kernel *k = load(Artifact{});
  ASSERT_NE(k, nullptr);
  EXPECT_EQ(ntp_forward(k, kX, kV, kParams, kOut, 0), NTP_OK);
  EXPECT_EQ(ntp_forward(k, nullptr, kV, kParams, nullptr, 0), NTP_OK);
  EXPECT_EQ(ntp_forward_async(k, kX, kV, kParams, kOut, 0,
                              reinterpret_cast<void *>(uintptr_t(0x5eed))),
            NTP_OK);
  EXPECT_EQ(fake->launches, 0);
  ntp_kernel_free(k);
}

TEST_F(FakeDriverTest, NegativeBatchIsRejectedBeforeLaunching) {
  ntp_kernel *k = load(Artifact{});
  ASSERT_NE(k, nullptr);
  EXPECT_EQ(ntp_forward(k, kX, kV, kParams, kOut, -1),
            NTP_ERROR_INVALID_ARGUMENT);
  EXPECT_STREQ(ntp_last_error(), "batch is -1; it must be non-negative");
  EXPECT_EQ(ntp_forward_async(k, kX, kV, kParams, kOut, -5, nullptr),
            NTP_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(fake->launches, 0);
  ntp_kernel_free(k);
}

TEST_F(FakeDriverTest, BatchBeyondOneGridIsRejected) {
  // order 0 with one output: out has batch elements, so even INT64_MAX
  // passes the buffer-size checks and reaches the grid computation.
  Artifact artifact;
  artifact.order = 0;
  ntp_kernel *k = load(artifact);
  ASSERT_NE(k, nullptr);
  const int64_t largest = int64_t(0x7fffffff) * 128;
  ASSERT_EQ(ntp_forward(k, kX, kV, kParams, kOut, largest), NTP_OK);
  expectLaunch(0x7fffffffu, 128, nullptr, largest);
  for (int64_t batch : {largest + 1, INT64_MAX - 126, INT64_MAX}) {
    EXPECT_EQ(ntp_forward(k, kX, kV, kParams, kOut, batch),
              NTP_ERROR_INVALID_ARGUMENT);
    EXPECT_EQ(ntp_last_error(), "batch " + std::to_string(batch) +
                                    " is too large for one launch");
  }
  EXPECT_EQ(fake->launches, 1);
  ntp_kernel_free(k);
}

TEST_F(FakeDriverTest, LaunchFailureIsReported) {
  ntp_kernel *k = load(Artifact{});
  ASSERT_NE(k, nullptr);
  ::setenv("FAKE_CUDA_FAIL", "cuLaunchKernel=701", 1);
  EXPECT_EQ(ntp_forward(k, kX, kV, kParams, kOut, 1000), NTP_ERROR_INTERNAL);
  EXPECT_STREQ(ntp_last_error(),
               "launching the CUDA kernel failed: too many resources "
               "requested for launch (CUDA error 701)");
  // A code the driver has no text for.
  ::setenv("FAKE_CUDA_FAIL", "cuLaunchKernel=12345", 1);
  EXPECT_EQ(ntp_forward_async(k, kX, kV, kParams, kOut, 1, nullptr),
            NTP_ERROR_INTERNAL);
  EXPECT_STREQ(ntp_last_error(),
               "launching the CUDA kernel failed: CUDA error 12345");
  EXPECT_EQ(fake->launches, 0);
  ntp_kernel_free(k);
}

TEST_F(FakeDriverTest, ReverseModeIsUnsupported) {
  ntp_kernel *k = load(Artifact{});
  ASSERT_NE(k, nullptr);
  void *grad = reinterpret_cast<void *>(uintptr_t(0x7f0000005000));
  void *workspace = reinterpret_cast<void *>(uintptr_t(0x7f0000006000));
  const std::string without = " is not supported by this kernel: it was "
                              "compiled without the reverse-mode entry points";
  EXPECT_EQ(ntp_backward(k, kX, kV, kParams, kOut, grad, 4),
            NTP_ERROR_UNSUPPORTED);
  EXPECT_EQ(ntp_last_error(), "ntp_backward" + without);
  EXPECT_EQ(ntp_backward_full(k, kX, kV, kParams, kOut, grad, grad, 4),
            NTP_ERROR_UNSUPPORTED);
  EXPECT_EQ(ntp_last_error(), "ntp_backward_full" + without);
  EXPECT_EQ(ntp_forward_save(k, kX, kV, kParams, kOut, workspace, 4),
            NTP_ERROR_UNSUPPORTED);
  EXPECT_EQ(ntp_last_error(), "ntp_forward_save" + without);
  EXPECT_EQ(
      ntp_backward_saved(k, kX, kV, kParams, kOut, grad, grad, workspace, 4),
      NTP_ERROR_UNSUPPORTED);
  EXPECT_EQ(ntp_last_error(), "ntp_backward_saved" + without);
  int64_t bytes = 0;
  EXPECT_EQ(ntp_workspace_size(k, 4, &bytes), NTP_ERROR_UNSUPPORTED);
  EXPECT_STREQ(ntp_last_error(),
               "this kernel was compiled without the reverse-mode entry "
               "points, so it has no workspace");
  EXPECT_EQ(fake->launches, 0);
  ntp_kernel_free(k);
}

TEST_F(FakeDriverTest, CudaArtifactWithBackwardNeedsItsReverseKernels) {
  // backward=1 promises the reverse-mode kernels: an image without them is
  // refused at load, not at the first ntp_backward.
  Artifact artifact;
  artifact.backward = 1;
  EXPECT_EQ(loadError(artifact, NTP_ERROR_BAD_ARTIFACT),
            cannotLoad() + "the kernel image has no entry "
                           "'net_forward_save': named symbol not found (CUDA "
                           "error 500)");
  EXPECT_EQ(fake->unloads, 1);
  artifact.image = reversePtx();
  ntp_kernel *k = load(artifact);
  ASSERT_NE(k, nullptr);
  EXPECT_STREQ(fake->function, "net_reduce_params_grad");
  ntp_kernel_free(k);
}

TEST_F(FakeDriverTest, FreeUnloadsTheModule) {
  ntp_kernel *a = load(Artifact{});
  ntp_kernel *b = load(Artifact{});
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(fake->loads, 2);
  ntp_kernel_free(a);
  EXPECT_EQ(fake->unloads, 1);
  // The other module still launches.
  ASSERT_EQ(ntp_forward(b, kX, kV, kParams, kOut, 1), NTP_OK)
      << ntp_last_error();
  ntp_kernel_free(b);
  EXPECT_EQ(fake->unloads, 2);
  ntp_kernel_free(nullptr);
  EXPECT_EQ(fake->unloads, 2);
}

TEST_F(FakeDriverTest, LoadFromMemoryGoesThroughTheDriver) {
  std::string bytes = Artifact{}.text();
  ntp_kernel *k = nullptr;
  ASSERT_EQ(ntp_kernel_load_memory(bytes.data(), int64_t(bytes.size()), &k),
            NTP_OK)
      << ntp_last_error();
  EXPECT_EQ(std::string(fake->image, fake->image_size), kPtx);
  ASSERT_EQ(ntp_forward(k, kX, kV, kParams, kOut, 300), NTP_OK);
  expectLaunch(3, 128, nullptr, 300);
  ntp_kernel_free(k);
  EXPECT_EQ(fake->unloads, 1);
  ::setenv("FAKE_CUDA_CC", "80", 1);
  EXPECT_EQ(ntp_kernel_load_memory(bytes.data(), int64_t(bytes.size()), &k),
            NTP_ERROR_UNSUPPORTED);
  EXPECT_EQ(k, nullptr);
  EXPECT_STREQ(ntp_last_error(),
               "cannot load CUDA kernel from memory: the kernel was compiled "
               "for sm_90, newer than this GPU (Fake GPU, sm_80): recompile "
               "with ntp-compile --chip=sm_80");
}

TEST_F(FakeDriverTest, DeviceArchAsksTheDriver) {
  ::setenv("FAKE_CUDA_CC", "86", 1);
  ::setenv("FAKE_CUDA_DEVICES", "2", 1);
  int32_t sm = 0;
  ASSERT_EQ(ntp_cuda_device_arch(1, &sm), NTP_OK) << ntp_last_error();
  EXPECT_EQ(sm, 86);
  EXPECT_EQ(ntp_cuda_device_arch(2, &sm), NTP_ERROR_NO_DEVICE);
  EXPECT_EQ(sm, 0);
  EXPECT_STREQ(ntp_last_error(),
               "no CUDA device 2: invalid device ordinal (CUDA error 101)");
  ::setenv("FAKE_CUDA_FAIL", "cuDeviceGetAttribute", 1);
  EXPECT_EQ(ntp_cuda_device_arch(0, &sm), NTP_ERROR_NO_DEVICE);
  EXPECT_STREQ(ntp_last_error(),
               "cannot query the compute capability of CUDA device 0");
  EXPECT_EQ(fake->retains, 0); // needs no context
}

//===----------------------------------------------------------------------===//
// Architectures
//===----------------------------------------------------------------------===//

TEST_F(FakeDriverTest, KernelForANewerChipIsUnsupported) {
  ::setenv("FAKE_CUDA_CC", "80", 1);
  ::setenv("FAKE_CUDA_NAME", "NVIDIA A100-SXM4-80GB", 1);
  EXPECT_EQ(loadError(Artifact{}, NTP_ERROR_UNSUPPORTED),
            cannotLoad() +
                "the kernel was compiled for sm_90, newer than this GPU "
                "(NVIDIA A100-SXM4-80GB, sm_80): recompile with ntp-compile "
                "--chip=sm_80");
  EXPECT_EQ(fake->loads, 0);
}

TEST_F(FakeDriverTest, CubinOfAnotherMajorArchitectureIsUnsupported) {
  Artifact artifact;
  artifact.chip = "sm_80";
  artifact.format = "cubin";
  artifact.image = kCubin;
  EXPECT_EQ(loadError(artifact, NTP_ERROR_UNSUPPORTED),
            cannotLoad() +
                "the kernel is a cubin for sm_80, which does not run on this "
                "GPU (Fake GPU, sm_90): recompile with --chip=sm_90, or ship "
                "PTX (--gpu-format=ptx)");
  EXPECT_EQ(fake->loads, 0);
}

TEST_F(FakeDriverTest, CubinOfAnOlderMinorVersionLoads) {
  ::setenv("FAKE_CUDA_CC", "86", 1);
  Artifact artifact;
  artifact.chip = "sm_80";
  artifact.format = "cubin";
  artifact.image = kCubin;
  ntp_kernel *k = load(artifact);
  ASSERT_NE(k, nullptr);
  EXPECT_EQ(std::string(fake->image, fake->image_size), kCubin);
  ntp_kernel_free(k);
}

TEST_F(FakeDriverTest, PtxOfAnOlderChipLoads) {
  // The driver JIT-compiles PTX for any GPU at least as new.
  Artifact artifact;
  artifact.chip = "sm_80";
  ntp_kernel *k = load(artifact);
  ASSERT_NE(k, nullptr);
  EXPECT_EQ(fake->loads, 1);
  ntp_kernel_free(k);
}

TEST_F(FakeDriverTest, ArchitectureSuffixAndNewerMajorVersions) {
  Artifact artifact;
  artifact.chip = "sm_90a"; // the digits count
  ntp_kernel *k = load(artifact);
  ASSERT_NE(k, nullptr);
  ntp_kernel_free(k);
  ::setenv("FAKE_CUDA_CC", "100", 1);
  artifact.chip = "sm_100";
  artifact.format = "cubin";
  artifact.image = kCubin;
  k = load(artifact);
  ASSERT_NE(k, nullptr);
  ntp_kernel_free(k);
  artifact.chip = "sm_120";
  EXPECT_EQ(loadError(artifact, NTP_ERROR_UNSUPPORTED),
            cannotLoad() + "the kernel was compiled for sm_120, newer than "
                           "this GPU (Fake GPU, sm_100): recompile with "
                           "ntp-compile --chip=sm_100");
}

TEST_F(FakeDriverTest, ArchitectureSpecificCodeRunsOnlyOnItsArchitecture) {
  ::setenv("FAKE_CUDA_CC", "100", 1);
  Artifact artifact;
  artifact.chip = "sm_90a";
  EXPECT_EQ(loadError(artifact, NTP_ERROR_UNSUPPORTED),
            cannotLoad() + "the kernel was compiled for sm_90a, whose "
                           "architecture-specific code runs only on sm_90 "
                           "GPUs, not this one (Fake GPU, sm_100): recompile "
                           "with --chip=sm_100");
  EXPECT_EQ(fake->loads, 0);
}

TEST_F(FakeDriverTest, UnknownArchitectureIsABadArtifact) {
  Artifact artifact;
  artifact.chip = "gfx90a";
  EXPECT_EQ(loadError(artifact, NTP_ERROR_BAD_ARTIFACT),
            "cannot load kernel artifact '" + path +
                "': it has a malformed manifest: chip 'gfx90a' is not an "
                "NVIDIA architecture sm_NN or sm_NNa");
  EXPECT_EQ(fake->loads, 0);
}

//===----------------------------------------------------------------------===//
// Images the driver rejects
//===----------------------------------------------------------------------===//

TEST_F(FakeDriverTest, MalformedPtxIsABadArtifact) {
  Artifact artifact;
  artifact.image = "this is not PTX\n";
  EXPECT_EQ(loadError(artifact, NTP_ERROR_BAD_ARTIFACT),
            cannotLoad() + "the CUDA driver rejected the kernel image (PTX "
                           "for sm_90 on Fake GPU, sm_90): a PTX JIT "
                           "compilation failed (CUDA error 218)");
  EXPECT_EQ(fake->loads, 0);
}

TEST_F(FakeDriverTest, RejectedCubinIsABadArtifact) {
  ::setenv("FAKE_CUDA_FAIL", "cuModuleLoadDataEx=200", 1);
  Artifact artifact;
  artifact.format = "cubin";
  artifact.image = kCubin;
  EXPECT_EQ(loadError(artifact, NTP_ERROR_BAD_ARTIFACT),
            cannotLoad() + "the CUDA driver rejected the kernel image (cubin "
                           "for sm_90 on Fake GPU, sm_90): device kernel "
                           "image is invalid (CUDA error 200)");
}

TEST_F(FakeDriverTest, MissingEntryIsABadArtifact) {
  Artifact artifact;
  artifact.name = "other"; // the entry is <name>_forward
  EXPECT_EQ(loadError(artifact, NTP_ERROR_BAD_ARTIFACT),
            cannotLoad() + "the kernel image has no entry 'other_forward': "
                           "named symbol not found (CUDA error 500)");
  EXPECT_STREQ(fake->function, "other_forward");
  // The module loaded for the lookup is not leaked.
  EXPECT_EQ(fake->loads, 1);
  EXPECT_EQ(fake->unloads, 1);
}

//===----------------------------------------------------------------------===//
// Opening the driver (alone in a process: the outcome sticks)
//===----------------------------------------------------------------------===//

TEST_F(FakeDriverTest, CuInitFailureIsNoDriver) {
  if (!opensTheDriver())
    GTEST_SKIP() << "run alone (as ctest does): the driver is opened once";
  ::setenv("FAKE_CUDA_FAIL", "cuInit=34", 1);
  EXPECT_EQ(loadError(Artifact{}, NTP_ERROR_NO_DEVICE),
            cannotLoad() + "no CUDA driver: cuInit failed in " +
                NTP_FAKE_LIBCUDA +
                ": CUDA driver is a stub library (CUDA error 34)");
  EXPECT_EQ(fake->init_calls, 1);
  // The outcome is kept: the driver is not initialised again.
  EXPECT_EQ(loadError(Artifact{}, NTP_ERROR_NO_DEVICE)
                .rfind(cannotLoad() + "no CUDA driver: cuInit failed", 0),
            0u);
  EXPECT_EQ(fake->init_calls, 1);
}

TEST_F(FakeDriverTest, NoGpuIsNoDevice) {
  if (!opensTheDriver())
    GTEST_SKIP() << "run alone (as ctest does): the driver is opened once";
  ::setenv("FAKE_CUDA_DEVICES", "0", 1);
  EXPECT_EQ(loadError(Artifact{}, NTP_ERROR_NO_DEVICE),
            cannotLoad() + "no CUDA device: the driver reports no GPU");
  EXPECT_EQ(fake->loads, 0);
}

TEST_F(FakeDriverTest, CuInitWithoutAGpuIsNoDevice) {
  if (!opensTheDriver())
    GTEST_SKIP() << "run alone (as ctest does): the driver is opened once";
  // What a real driver says on a machine without a GPU.
  ::setenv("FAKE_CUDA_FAIL", "cuInit=100", 1);
  EXPECT_EQ(loadError(Artifact{}, NTP_ERROR_NO_DEVICE),
            cannotLoad() + "no CUDA device: cuInit in " + NTP_FAKE_LIBCUDA +
                " finds no GPU");
}

TEST_F(FakeDriverTest, DriverWithoutAFunctionIsUnusable) {
  if (!opensTheDriver())
    GTEST_SKIP() << "run alone (as ctest does): the driver is opened once";
  ::setenv("NTP_LIBCUDA", NTP_FAKE_LIBCUDA_NO_LAUNCH, 1);
  EXPECT_EQ(loadError(Artifact{}, NTP_ERROR_NO_DEVICE),
            cannotLoad() + "no usable CUDA driver: " +
                NTP_FAKE_LIBCUDA_NO_LAUNCH + " lacks cuLaunchKernel");
}
} // namespace
