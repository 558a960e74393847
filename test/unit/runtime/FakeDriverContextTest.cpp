//===- FakeDriverContextTest.cpp - CUDA contexts against a fake driver ----===//
//
// Which context a kernel loads and launches in (the primary context of
// NTP_CUDA_DEVICE or the caller's), the primary context's retain and
// release, and launches and frees from other threads, against
// fixtures/fake_libcuda.c (see FakeDriverTest.cpp).
//
//===----------------------------------------------------------------------===//
#include "FakeDriverFixture.h"

#include "ntp/artifact.hpp"
#include "ntp/runtime.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace fake_driver_test;

//===----------------------------------------------------------------------===//
// Contexts
//===----------------------------------------------------------------------===//

TEST_F(FakeDriverTest, PrimaryContextOfDeviceZeroIsMadeCurrent) {
  ASSERT_EQ(init(0), 0);
  ASSERT_EQ(current(), nullptr);
  ntp_kernel *k = load(Artifact{});
  ASSERT_NE(k, nullptr);
  EXPECT_EQ(fake->retains, 1);
  EXPECT_EQ(fake->retained_device, 0);
  EXPECT_EQ(fake->load_context, context(0, 1));
  EXPECT_EQ(current(), context(0, 1));
  ASSERT_EQ(ntp_forward(k, kX, kV, kParams, kOut, 1), NTP_OK);
  EXPECT_EQ(fake->last_launch.context, context(0, 1));
  ntp_kernel_free(k);
}

TEST_F(FakeDriverTest, ContextAlreadyCurrentIsUsed) {
  // As a program (PyTorch) that made its own context current would have.
  ::setenv("FAKE_CUDA_DEVICES", "2", 1);
  ASSERT_EQ(init(0), 0);
  ASSERT_EQ(setCurrent(context(1, 0)), 0);
  ntp_kernel *k = load(Artifact{});
  ASSERT_NE(k, nullptr);
  EXPECT_EQ(fake->retains, 0);
  EXPECT_EQ(fake->load_context, context(1, 0));
  EXPECT_EQ(current(), context(1, 0));
  ASSERT_EQ(ntp_forward(k, kX, kV, kParams, kOut, 1), NTP_OK);
  EXPECT_EQ(fake->last_launch.context, context(1, 0));
  ntp_kernel_free(k);
  EXPECT_EQ(fake->unload_context, context(1, 0));
}

TEST_F(FakeDriverTest, NtpCudaDeviceChoosesThePrimaryContext) {
  ::setenv("FAKE_CUDA_DEVICES", "2", 1);
  ::setenv("NTP_CUDA_DEVICE", "1", 1);
  ntp_kernel *k = load(Artifact{});
  ASSERT_NE(k, nullptr);
  EXPECT_EQ(fake->retained_device, 1);
  EXPECT_EQ(fake->load_context, context(1, 1));
  EXPECT_EQ(current(), context(1, 1));
  ntp_kernel_free(k);
}

TEST_F(FakeDriverTest, MissingNtpCudaDeviceIsNoDevice) {
  ::setenv("NTP_CUDA_DEVICE", "1", 1);
  EXPECT_EQ(loadError(Artifact{}, NTP_ERROR_NO_DEVICE),
            cannotLoad() +
                "no CUDA device 1: invalid device ordinal (CUDA error 101)");
  EXPECT_EQ(fake->loads, 0);
}

TEST_F(FakeDriverTest, ContextFailuresAreNoDevice) {
  ::setenv("FAKE_CUDA_FAIL", "cuDevicePrimaryCtxRetain=2", 1);
  EXPECT_EQ(loadError(Artifact{}, NTP_ERROR_NO_DEVICE),
            cannotLoad() +
                "cannot create a CUDA context: out of memory (CUDA error 2)");
  ::setenv("FAKE_CUDA_FAIL", "cuCtxSetCurrent=201", 1);
  EXPECT_EQ(loadError(Artifact{}, NTP_ERROR_NO_DEVICE),
            cannotLoad() + "cannot create a CUDA context: invalid device "
                           "context (CUDA error 201)");
  ::setenv("FAKE_CUDA_FAIL", "cuCtxGetCurrent=201", 1);
  EXPECT_EQ(loadError(Artifact{}, NTP_ERROR_NO_DEVICE),
            cannotLoad() + "cannot query the current CUDA context: invalid "
                           "device context (CUDA error 201)");
  ::unsetenv("FAKE_CUDA_FAIL");
  ASSERT_EQ(setCurrent(context(0, 0)), 0); // so that cuCtxGetDevice works
  ::setenv("FAKE_CUDA_FAIL", "cuDeviceGetAttribute", 1);
  EXPECT_EQ(loadError(Artifact{}, NTP_ERROR_NO_DEVICE),
            cannotLoad() +
                "cannot query the compute capability of the current GPU");
  EXPECT_EQ(fake->loads, 0);
}

//===----------------------------------------------------------------------===//
// The retained primary context is released (one reference per device, held
// while a kernel loaded into it is alive)
//===----------------------------------------------------------------------===//

TEST_F(FakeDriverTest, PrimaryContextIsReleasedWhenItsLastKernelIsFreed) {
  ntp_kernel *a = load(Artifact{});
  ASSERT_NE(a, nullptr);
  // The second load finds the primary context current: it rides on the
  // first one's reference, which must then outlive the first kernel.
  ntp_kernel *b = load(Artifact{});
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(fake->retains, 1);
  ntp_kernel_free(a);
  EXPECT_EQ(fake->releases, 0); // b still lives in the context
  ASSERT_EQ(ntp_forward(b, kX, kV, kParams, kOut, 1), NTP_OK)
      << ntp_last_error();
  ntp_kernel_free(b);
  EXPECT_EQ(fake->unloads, 2);
  EXPECT_EQ(fake->releases, 1);
  EXPECT_EQ(fake->retains, fake->releases);
  // A new thread (no current context) retains it again, and releases it.
  std::thread([&] {
    ntp_kernel *c = load(Artifact{});
    ASSERT_NE(c, nullptr);
    EXPECT_EQ(fake->retains, 2);
    EXPECT_EQ(fake->releases, 1);
    ntp_kernel_free(c);
  }).join();
  EXPECT_EQ(fake->retains, 2);
  EXPECT_EQ(fake->releases, 2);
}

TEST_F(FakeDriverTest, PrimaryContextsAreCountedPerDevice) {
  ::setenv("FAKE_CUDA_DEVICES", "2", 1);
  ntp_kernel *a = load(Artifact{});
  ASSERT_NE(a, nullptr);
  ntp_kernel *b = nullptr;
  std::thread([&] {
    ::setenv("NTP_CUDA_DEVICE", "1", 1);
    b = load(Artifact{});
    ::unsetenv("NTP_CUDA_DEVICE");
  }).join();
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(fake->retains, 2);
  ntp_kernel_free(b); // device 1's only kernel, freed from another thread
  EXPECT_EQ(fake->releases, 1);
  ntp_kernel_free(a);
  EXPECT_EQ(fake->releases, 2);
}

TEST_F(FakeDriverTest, ContextOfTheCallersIsNeitherRetainedNorReleased) {
  ASSERT_EQ(init(0), 0);
  ASSERT_EQ(setCurrent(context(0, 0)), 0);
  ntp_kernel *k = load(Artifact{});
  ASSERT_NE(k, nullptr);
  ntp_kernel_free(k);
  EXPECT_EQ(fake->retains, 0);
  EXPECT_EQ(fake->releases, 0);
}

TEST_F(FakeDriverTest, FailedLoadReleasesThePrimaryContextItRetained) {
  // After the retain: making it current, the architecture check, the
  // driver's rejection of the image, the entry lookup.
  ::setenv("FAKE_CUDA_FAIL", "cuCtxSetCurrent=201", 1);
  loadError(Artifact{}, NTP_ERROR_NO_DEVICE);
  ::unsetenv("FAKE_CUDA_FAIL");
  EXPECT_EQ(fake->retains, 1);
  EXPECT_EQ(fake->releases, 1);
  Artifact newer;
  newer.chip = "sm_100";
  loadError(newer, NTP_ERROR_UNSUPPORTED);
  ASSERT_EQ(setCurrent(nullptr), 0);
  Artifact malformed;
  malformed.image = "not PTX";
  loadError(malformed, NTP_ERROR_BAD_ARTIFACT);
  ASSERT_EQ(setCurrent(nullptr), 0);
  Artifact noEntry;
  noEntry.name = "other";
  loadError(noEntry, NTP_ERROR_BAD_ARTIFACT);
  EXPECT_EQ(fake->retains, 4);
  EXPECT_EQ(fake->releases, 4);
  // The failed load left the primary context current, released: the next
  // load retains it again. A failed load next to a live kernel leaves the
  // kernel's reference.
  ntp_kernel *k = load(Artifact{});
  ASSERT_NE(k, nullptr);
  loadError(noEntry, NTP_ERROR_BAD_ARTIFACT);
  EXPECT_EQ(fake->retains, 5);
  EXPECT_EQ(fake->releases, 4);
  ntp_kernel_free(k);
  EXPECT_EQ(fake->retains, fake->releases);
}

TEST_F(FakeDriverTest,
       LaunchWithAnotherContextCurrentUsesTheKernelsAndRestores) {
  // A program that switched to another device's context after loading.
  ::setenv("FAKE_CUDA_DEVICES", "2", 1);
  ntp_kernel *k = load(Artifact{});
  ASSERT_NE(k, nullptr);
  void *kernelContext = current();
  ASSERT_EQ(setCurrent(context(1, 0)), 0);
  ASSERT_EQ(ntp_forward(k, kX, kV, kParams, kOut, 1), NTP_OK)
      << ntp_last_error();
  EXPECT_EQ(fake->last_launch.context, kernelContext);
  EXPECT_EQ(current(), context(1, 0));
  ntp_kernel_free(k);
}

TEST_F(FakeDriverTest, LaunchOnAnotherThreadUsesTheKernelsContext) {
  ntp_kernel *k = load(Artifact{});
  ASSERT_NE(k, nullptr);
  int status = -1;
  void *launchContext = nullptr;
  std::thread([&] {
    // A new thread has no current context; the launch makes the one the
    // kernel was loaded into current.
    status = ntp_forward(k, kX, kV, kParams, kOut, 1);
    launchContext = current();
  }).join();
  EXPECT_EQ(status, NTP_OK);
  EXPECT_EQ(fake->last_launch.context, context(0, 1));
  EXPECT_EQ(launchContext, context(0, 1));
  ntp_kernel_free(k);
}

TEST_F(FakeDriverTest, FreeOnAnotherThreadUnloadsTheModule) {
  // The driver unloads a module from the current context; a thread that
  // frees a kernel it did not load (a garbage collector's) has none.
  ntp_kernel *k = load(Artifact{});
  ASSERT_NE(k, nullptr);
  void *after = context(0, 0);
  std::thread([&] {
    ntp_kernel_free(k);
    after = current();
  }).join();
  EXPECT_EQ(fake->unloads, 1);
  EXPECT_EQ(fake->unload_context, context(0, 1));
  EXPECT_EQ(after, nullptr); // as it was
}

TEST_F(FakeDriverTest, FreeWithAnotherContextCurrentUnloadsTheModule) {
  ::setenv("FAKE_CUDA_DEVICES", "2", 1);
  ntp_kernel *k = load(Artifact{});
  ASSERT_NE(k, nullptr);
  ASSERT_EQ(setCurrent(context(1, 0)), 0);
  ntp_kernel_free(k);
  EXPECT_EQ(fake->unloads, 1);
  EXPECT_EQ(fake->unload_context, context(0, 1));
  EXPECT_EQ(current(), context(1, 0)); // restored
}
} // namespace
