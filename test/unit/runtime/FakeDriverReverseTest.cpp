//===- FakeDriverReverseTest.cpp - Reverse mode against a fake driver -----===//
//
// The reverse mode's launch sequence and arguments (forward_save,
// backward_saved, the parameter gradient's reduction; workspaces and
// stream-ordered scratch) and partials kernels' launches, against
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
#include <vector>

namespace {

using namespace fake_driver_test;

//===----------------------------------------------------------------------===//
// The reverse mode: launch sequence and arguments
//===----------------------------------------------------------------------===//

TEST_F(FakeDriverReverseTest, WorkspaceSizeCoversJetsColumnsPartialsAndX) {
  ntp_kernel *k = loadReverse();
  ASSERT_NE(k, nullptr);
  int64_t bytes = 0;
  ASSERT_EQ(ntp_workspace_size(k, 300, &bytes), NTP_OK) << ntp_last_error();
  EXPECT_EQ(bytes, 64 + Regions(300, 128).total * kElement);
  ASSERT_EQ(ntp_workspace_size(k, 0, &bytes), NTP_OK);
  EXPECT_EQ(bytes, 64);
  EXPECT_EQ(ntp_workspace_size(k, INT64_MAX / 2, &bytes),
            NTP_ERROR_INVALID_ARGUMENT);
  ntp_kernel_free(k);
}

TEST_F(FakeDriverReverseTest, ForwardSaveThenBackwardSavedOnAStream) {
  ntp_kernel *k = loadReverse();
  ASSERT_NE(k, nullptr);
  void *stream = reinterpret_cast<void *>(uintptr_t(0x5157));
  const int64_t batch = 300; // 3 blocks of 128, the last ending inside
  Regions r(batch, 128);
  const char *jets = kWorkspace + 64;
  ASSERT_EQ(ntp_forward_save_async(k, kX, kV, kParams, kOut, kWorkspace, batch,
                                   stream),
            NTP_OK)
      << ntp_last_error();
  expectLogged(0, "net_forward_save", 3, 128, stream,
               {word(kX), word(kV), word(kParams), word(kOut), word(jets),
                uint64_t(batch)});
  ASSERT_EQ(ntp_backward_saved_async(k, kX, kV, kParams, kCot, kGrad, kXGrad,
                                     kWorkspace, batch, stream),
            NTP_OK)
      << ntp_last_error();
  ASSERT_EQ(fake->logged, 3);
  expectLogged(1, "net_backward_saved", 3, 128, stream,
               {word(kX), word(kV), word(kParams), word(kCot),
                word(jets, r.columns), word(kXGrad), word(jets),
                word(jets, r.partials), uint64_t(batch)});
  // One thread per parameter, over the 3 rows of partials.
  expectLogged(2, "net_reduce_params_grad", 1, 128, stream,
               {word(jets, r.partials), word(kGrad), 3});

  // No x_grad: the workspace's scratch region; no params_grad: no
  // reduction. The synchronous calls use the default stream.
  ASSERT_EQ(ntp_backward_saved(k, kX, kV, kParams, kCot, nullptr, nullptr,
                               kWorkspace, batch),
            NTP_ERROR_INVALID_ARGUMENT);
  ASSERT_EQ(ntp_backward_saved(k, kX, kV, kParams, kCot, kGrad, nullptr,
                               kWorkspace, batch),
            NTP_OK)
      << ntp_last_error();
  expectLogged(3, "net_backward_saved", 3, 128, nullptr,
               {word(kX), word(kV), word(kParams), word(kCot),
                word(jets, r.columns), word(jets, r.xScratch), word(jets),
                word(jets, r.partials), uint64_t(batch)});
  ASSERT_EQ(ntp_backward_saved(k, kX, kV, kParams, kCot, nullptr, kXGrad,
                               kWorkspace, batch),
            NTP_OK);
  EXPECT_EQ(fake->logged, 6);
  EXPECT_STREQ(fake->log[5].function, "net_backward_saved");
  EXPECT_EQ(fake->allocs, 0); // the caller's workspace: nothing allocated
  ntp_kernel_free(k);
}

TEST_F(FakeDriverReverseTest, LanesMappingLaunchesAWarpPerSample) {
  ntp_kernel *k = loadReverse(4);
  ASSERT_NE(k, nullptr);
  const int64_t batch = 37; // 10 blocks of 4, the last ending inside
  Regions r(batch, 4);
  const char *jets = kWorkspace + 64;
  ASSERT_EQ(ntp_forward_save(k, kX, kV, kParams, kOut, kWorkspace, batch),
            NTP_OK)
      << ntp_last_error();
  ASSERT_EQ(ntp_backward_saved(k, kX, kV, kParams, kCot, kGrad, kXGrad,
                               kWorkspace, batch),
            NTP_OK)
      << ntp_last_error();
  expectLogged(0, "net_forward_save", 10, 128, nullptr,
               {word(kX), word(kV), word(kParams), word(kOut), word(jets),
                uint64_t(batch)});
  expectLogged(1, "net_backward_saved", 10, 128, nullptr,
               {word(kX), word(kV), word(kParams), word(kCot),
                word(jets, r.columns), word(kXGrad), word(jets),
                word(jets, r.partials), uint64_t(batch)});
  expectLogged(2, "net_reduce_params_grad", 1, 128, nullptr,
               {word(jets, r.partials), word(kGrad), 10});
  ntp_kernel_free(k);
}

TEST_F(FakeDriverReverseTest, BackwardSavedRefusesAWorkspaceItDidNotSave) {
  ntp_kernel *k = loadReverse();
  ASSERT_NE(k, nullptr);
  const std::string rerun =
      ": call ntp_forward_save with the same arguments first";
  EXPECT_EQ(ntp_backward_saved(k, kX, kV, kParams, kCot, kGrad, kXGrad,
                               kWorkspace, 8),
            NTP_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(ntp_last_error(),
            "the workspace was not written by this kernel's ntp_forward_save "
            "(on a GPU, a workspace is known by its address)" +
                rerun);
  ASSERT_EQ(ntp_forward_save(k, kX, kV, kParams, kOut, kWorkspace, 8), NTP_OK);
  int launches = fake->launches;
  EXPECT_EQ(ntp_backward_saved(k, kX, kV, kParams, kCot, kGrad, kXGrad,
                               kWorkspace, 64),
            NTP_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(ntp_last_error(),
            "the workspace was saved for batch 8, not 64" + rerun);
  EXPECT_EQ(ntp_backward_saved(k, kV, kV, kParams, kCot, kGrad, kXGrad,
                               kWorkspace, 8),
            NTP_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(ntp_last_error(), "the workspace was saved for other x" + rerun);
  EXPECT_EQ(
      ntp_backward_saved(k, kX, kV, kOut, kCot, kGrad, kXGrad, kWorkspace, 8),
      NTP_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(ntp_last_error(),
            "the workspace was saved for other params" + rerun);
  // Another kernel's record does not vouch for this one's workspace.
  ntp_kernel *other = loadReverse();
  ASSERT_NE(other, nullptr);
  EXPECT_EQ(ntp_backward_saved(other, kX, kV, kParams, kCot, kGrad, kXGrad,
                               kWorkspace, 8),
            NTP_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(fake->launches, launches);
  // The checked variant checks the size too.
  int64_t bytes = 0;
  ASSERT_EQ(ntp_workspace_size(k, 8, &bytes), NTP_OK);
  EXPECT_EQ(ntp_backward_saved_checked(k, kX, kV, kParams, kCot, kGrad, kXGrad,
                                       kWorkspace, bytes - 1, 8),
            NTP_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(ntp_backward_saved_checked(k, kX, kV, kParams, kCot, kGrad, kXGrad,
                                       kWorkspace, bytes, 8),
            NTP_OK)
      << ntp_last_error();
  ntp_kernel_free(other);
  ntp_kernel_free(k);
}

TEST_F(FakeDriverReverseTest, BackwardTakesAStreamOrderedScratchWorkspace) {
  ntp_kernel *k = loadReverse();
  ASSERT_NE(k, nullptr);
  void *stream = reinterpret_cast<void *>(uintptr_t(0x5157));
  const int64_t batch = 300;
  Regions r(batch, 128);
  int64_t outElements = 3 * batch * 1;
  ASSERT_EQ(ntp_backward_full_async(k, kX, kV, kParams, kCot, kGrad, nullptr,
                                    batch, stream),
            NTP_OK)
      << ntp_last_error();
  const char *scratch = expectOneScratch(stream, r.total + outElements);
  ASSERT_EQ(fake->logged, 3);
  expectBackwardLaunches(stream, 3, kV, scratch, r, word(scratch, r.xScratch),
                         batch);
  // Freed on the same stream, after the launches.
  EXPECT_EQ(fake->frees, 1);
  EXPECT_EQ(fake->free_stream, stream);
  EXPECT_EQ(fake->live_bytes, 0u);

  // ntp_backward and ntp_backward_full: the default stream.
  ASSERT_EQ(ntp_backward(k, kX, kV, kParams, kCot, kGrad, batch), NTP_OK);
  ASSERT_EQ(ntp_backward_full(k, kX, kV, kParams, kCot, nullptr, kXGrad, batch),
            NTP_OK);
  EXPECT_EQ(fake->allocs, 3);
  EXPECT_EQ(fake->frees, 3);
  EXPECT_EQ(fake->alloc_stream, nullptr);
  // Without params_grad, no reduction: forward-save and backward-saved.
  EXPECT_EQ(fake->logged, 3 + 3 + 2);
  EXPECT_STREQ(fake->log[7].function, "net_backward_saved");
  EXPECT_EQ(fake->log[7].args[5], word(kXGrad));
  ntp_kernel_free(k);
}

TEST_F(FakeDriverReverseTest, EmptyBatchWritesAZeroGradient) {
  ntp_kernel *k = loadReverse();
  ASSERT_NE(k, nullptr);
  ASSERT_EQ(ntp_backward(k, nullptr, kV, kParams, nullptr, kGrad, 0), NTP_OK)
      << ntp_last_error();
  // The reduction over no rows writes zeros; nothing else runs.
  ASSERT_EQ(fake->logged, 1);
  EXPECT_STREQ(fake->log[0].function, "net_reduce_params_grad");
  EXPECT_EQ(fake->log[0].args[1], word(kGrad));
  EXPECT_EQ(fake->log[0].args[2], 0u);
  EXPECT_EQ(fake->allocs, 0);
  ASSERT_EQ(ntp_forward_save(k, nullptr, kV, kParams, nullptr, kWorkspace, 0),
            NTP_OK);
  ASSERT_EQ(ntp_backward_saved(k, nullptr, kV, kParams, nullptr, kGrad, nullptr,
                               kWorkspace, 0),
            NTP_OK)
      << ntp_last_error();
  EXPECT_EQ(fake->logged, 2);
  EXPECT_STREQ(fake->log[1].function, "net_reduce_params_grad");
  ntp_kernel_free(k);
}

TEST_F(FakeDriverReverseTest, DriverFailuresAreReportedAndScratchIsFreed) {
  ntp_kernel *k = loadReverse();
  ASSERT_NE(k, nullptr);
  ::setenv("FAKE_CUDA_FAIL", "cuMemAllocAsync=2", 1);
  EXPECT_EQ(ntp_backward(k, kX, kV, kParams, kCot, kGrad, 8),
            NTP_ERROR_INTERNAL);
  EXPECT_EQ(std::string(ntp_last_error()).rfind("cannot allocate the ", 0), 0u)
      << ntp_last_error();
  EXPECT_NE(std::string(ntp_last_error()).find("out of memory (CUDA error 2)"),
            std::string::npos);
  EXPECT_EQ(fake->launches, 0);
  ::setenv("FAKE_CUDA_FAIL", "cuLaunchKernel=701", 1);
  EXPECT_EQ(ntp_backward(k, kX, kV, kParams, kCot, kGrad, 8),
            NTP_ERROR_INTERNAL);
  EXPECT_STREQ(ntp_last_error(),
               "launching the CUDA kernel failed: too many resources "
               "requested for launch (CUDA error 701)");
  EXPECT_EQ(fake->allocs, 1);
  EXPECT_EQ(fake->frees, 1); // the failed call's scratch is not leaked
  ::unsetenv("FAKE_CUDA_FAIL");
  ntp_kernel_free(k);
}

//===----------------------------------------------------------------------===//
// Partials kernels (issue 12 item 7)
//===----------------------------------------------------------------------===//
//
// The same kernels and launch shapes as a jet kernel's; a partials kernel
// seeds its own directions, so `params` stands in for the direction
// argument, and its output (and ntp_partials_backward's scratch output) has
// P rows, not order + 1.

TEST_F(FakeDriverPartialsTest, PartialsLaunchesTheForwardKernel) {
  ntp_kernel *k = loadPartials(0);
  ASSERT_NE(k, nullptr);
  int32_t rows[2] = {-1, -1}, count = 0;
  ASSERT_EQ(ntp_kernel_partials_get(k, rows, 2, &count), NTP_OK);
  EXPECT_EQ(count, 2);
  EXPECT_EQ(rows[0], 2);
  EXPECT_EQ(rows[1], 0);
  ASSERT_EQ(ntp_partials(k, kX, kParams, kOut, 300), NTP_OK)
      << ntp_last_error();
  const fake_cuda_launch &l = fake->last_launch;
  EXPECT_STREQ(l.function, "net_forward");
  EXPECT_EQ(l.grid[0], 3u); // 3 blocks of 128 samples
  EXPECT_EQ(l.block[0], 128u);
  EXPECT_EQ(l.stream, nullptr);
  EXPECT_EQ(l.x, kX);
  EXPECT_EQ(l.direction, kParams);
  EXPECT_EQ(l.params, kParams);
  EXPECT_EQ(l.out, kOut);
  EXPECT_EQ(l.batch, 300);
  // The jet entry points refuse it, as on the CPU; an empty batch launches
  // nothing.
  int launches = fake->launches;
  EXPECT_EQ(ntp_forward(k, kX, kV, kParams, kOut, 8),
            NTP_ERROR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(ntp_last_error()).find("call ntp_partials"),
            std::string::npos)
      << ntp_last_error();
  EXPECT_EQ(ntp_partials(k, nullptr, kParams, nullptr, 0), NTP_OK);
  EXPECT_EQ(fake->launches, launches);
  // Compiled without --gpu-backward: the reverse mode is refused.
  EXPECT_EQ(ntp_partials_backward(k, kX, kParams, kCot, kGrad, nullptr, 8),
            NTP_ERROR_UNSUPPORTED);
  EXPECT_EQ(std::string(ntp_last_error()),
            "ntp_partials_backward is not supported by this kernel: it was "
            "compiled without the reverse-mode entry points");
  EXPECT_EQ(fake->launches, launches);
  ntp_kernel_free(k);
}

TEST_F(FakeDriverPartialsTest, LanesMappingLaunchesAWarpPerSample) {
  ntp_kernel *k = loadPartials(0, 4);
  ASSERT_NE(k, nullptr);
  ASSERT_EQ(ntp_partials(k, kX, kParams, kOut, 37), NTP_OK) << ntp_last_error();
  EXPECT_STREQ(fake->last_launch.function, "net_forward");
  EXPECT_EQ(fake->last_launch.grid[0], 10u); // ceil(37 / 4)
  EXPECT_EQ(fake->last_launch.block[0], 128u);
  ntp_kernel_free(k);
}

TEST_F(FakeDriverPartialsTest, SaveThenBackwardSaved) {
  ntp_kernel *k = loadPartials(1);
  ASSERT_NE(k, nullptr);
  const int64_t batch = 300;
  Regions r(batch, 128);
  int64_t bytes = 0;
  ASSERT_EQ(ntp_workspace_size(k, batch, &bytes), NTP_OK) << ntp_last_error();
  EXPECT_EQ(bytes, 64 + r.total * kElement);
  const char *jets = kWorkspace + 64;
  ASSERT_EQ(ntp_partials_save(k, kX, kParams, kOut, kWorkspace, batch), NTP_OK)
      << ntp_last_error();
  expectLogged(0, "net_forward_save", 3, 128, nullptr,
               {word(kX), word(kParams), word(kParams), word(kOut), word(jets),
                uint64_t(batch)});
  ASSERT_EQ(ntp_partials_backward_saved(k, kX, kParams, kCot, kGrad, kXGrad,
                                        kWorkspace, batch),
            NTP_OK)
      << ntp_last_error();
  ASSERT_EQ(fake->logged, 3);
  expectLogged(1, "net_backward_saved", 3, 128, nullptr,
               {word(kX), word(kParams), word(kParams), word(kCot),
                word(jets, r.columns), word(kXGrad), word(jets),
                word(jets, r.partials), uint64_t(batch)});
  expectLogged(2, "net_reduce_params_grad", 1, 128, nullptr,
               {word(jets, r.partials), word(kGrad), 3});
  // The checked variants; a workspace saved for another batch is refused.
  ASSERT_EQ(
      ntp_partials_save_checked(k, kX, kParams, kOut, kWorkspace, bytes, batch),
      NTP_OK)
      << ntp_last_error();
  EXPECT_EQ(ntp_partials_backward_saved_checked(k, kX, kParams, kCot, kGrad,
                                                nullptr, kWorkspace, bytes - 1,
                                                batch),
            NTP_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(ntp_partials_backward_saved(k, kX, kParams, kCot, kGrad, kXGrad,
                                        kWorkspace, 8),
            NTP_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(std::string(ntp_last_error()),
            "the workspace was saved for batch 300, not 8: call "
            "ntp_forward_save with the same arguments first");
  EXPECT_EQ(fake->logged, 4);
  EXPECT_EQ(fake->allocs, 0);
  ntp_kernel_free(k);
}

TEST_F(FakeDriverPartialsTest, BackwardTakesAStreamOrderedScratchWorkspace) {
  ntp_kernel *k = loadPartials(1, 4);
  ASSERT_NE(k, nullptr);
  const int64_t batch = 37;
  Regions r(batch, 4);
  // The scratch: the workspace's regions, then an output of P = 2 rows.
  int64_t outElements = 2 * batch * 1;
  ASSERT_EQ(ntp_partials_backward(k, kX, kParams, kCot, kGrad, kXGrad, batch),
            NTP_OK)
      << ntp_last_error();
  const char *scratch = expectOneScratch(nullptr, r.total + outElements);
  ASSERT_EQ(fake->logged, 3);
  expectBackwardLaunches(nullptr, 10, kParams, scratch, r, word(kXGrad), batch);
  EXPECT_EQ(fake->frees, 1);
  EXPECT_EQ(fake->live_bytes, 0u);
  // The empty batch: the reduction over no rows writes a zero gradient.
  ASSERT_EQ(
      ntp_partials_backward(k, nullptr, kParams, nullptr, kGrad, nullptr, 0),
      NTP_OK)
      << ntp_last_error();
  ASSERT_EQ(fake->logged, 4);
  EXPECT_STREQ(fake->log[3].function, "net_reduce_params_grad");
  EXPECT_EQ(fake->log[3].args[2], 0u);
  // A jet kernel is refused by the partials entry points.
  ntp_kernel *jet = loadReverse();
  ASSERT_NE(jet, nullptr);
  EXPECT_EQ(ntp_partials_backward(jet, kX, kParams, kCot, kGrad, nullptr, 8),
            NTP_ERROR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(ntp_last_error()).find("call ntp_backward_full"),
            std::string::npos)
      << ntp_last_error();
  EXPECT_EQ(fake->logged, 4);
  ntp_kernel_free(jet);
  ntp_kernel_free(k);
}
} // namespace
