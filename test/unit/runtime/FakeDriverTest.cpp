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
//===----------------------------------------------------------------------===//

#include "fixtures/fake_libcuda.h"
#include "ntp/artifact.hpp"
#include "ntp/runtime.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <dlfcn.h>
#include <fstream>
#include <string>
#include <thread>
#include <unistd.h>
#include <vector>

namespace {

// A minimal kernel in the runtime's calling convention; only the fake reads
// it, checking that it is NUL-terminated text with ".entry net_forward".
const std::string kPtx = ".version 7.8\n"
                         ".target sm_80\n"
                         ".address_size 64\n"
                         "\n"
                         ".visible .entry net_forward(\n"
                         "\t.param .u64 net_forward_param_0,\n"
                         "\t.param .u64 net_forward_param_1,\n"
                         "\t.param .u64 net_forward_param_2,\n"
                         "\t.param .u64 net_forward_param_3,\n"
                         "\t.param .u64 net_forward_param_4\n"
                         ")\n"
                         "{\n"
                         "\tret;\n"
                         "}\n";
// The fake takes ELF magic for a cubin.
const std::string kCubin = "\x7f"
                           "ELF fake cubin: .entry net_forward";

/// PTX with every kernel of a reverse-mode artifact named net.
std::string reversePtx() {
  std::string ptx = kPtx;
  for (const char *entry :
       {"net_forward_save", "net_backward_saved", "net_reduce_params_grad"})
    ptx += std::string(".visible .entry ") + entry + "(\n)\n{\n\tret;\n}\n";
  return ptx;
}

struct Artifact {
  std::string chip = "sm_90", format = "ptx", name = "net";
  int blockSize = 128, order = 2, backward = 0;
  int samplesPerBlock = 0; // 0: mapping=sample (one sample per thread)
  std::string image = kPtx;
  /// A partials kernel's rows ("2;0": d^2/dx^2 and f, one ray of 3 jet
  /// coefficients, whose saved jets take what an order-2 jet's do).
  std::string partials;

  std::string text() const {
    int samples = samplesPerBlock ? samplesPerBlock : blockSize;
    int64_t workspace = backward ? *ntp::artifact::workspaceElementsPerTile(
                                       {1, 4, 1}, order, samples)
                                 : 0;
    std::string manifest =
        "ntp-kernel-manifest\nabi_version=2\nname=" + name +
        "\nactivation=tanh\norder=" + std::to_string(order) +
        "\ndtype=f32\ndevice=cuda\nlayers=1,4,1\nnum_params=13\ntile=" +
        std::to_string(samples) + "\nbackward=" + std::to_string(backward) +
        "\nworkspace_per_tile=" + std::to_string(workspace) +
        "\ntarget_cpu=none\ncpu_features=\nchip=" + chip +
        "\nformat=" + format +
        "\nmapping=" + (samplesPerBlock ? "lanes" : "sample") +
        "\nblock_size=" + std::to_string(blockSize) +
        "\nsamples_per_block=" + std::to_string(samples) +
        "\nimage_bytes=" + std::to_string(image.size()) + "\n";
    if (!partials.empty())
      manifest += "partials=" + partials + "\n";
    return ntp::artifact::sealArtifactText(image, manifest);
  }
};

// Device pointers as the caller would pass them; the fake never reads them.
void *const kX = reinterpret_cast<void *>(uintptr_t(0x7f0000001000));
void *const kV = reinterpret_cast<void *>(uintptr_t(0x7f0000002000));
void *const kParams = reinterpret_cast<void *>(uintptr_t(0x7f0000003000));
void *const kOut = reinterpret_cast<void *>(uintptr_t(0x7f0000004000));

class FakeDriverTest : public ::testing::Test {
protected:
  void SetUp() override {
    ::setenv("NTP_LIBCUDA", NTP_FAKE_LIBCUDA, 1);
    for (const char *name :
         {"FAKE_CUDA_DEVICES", "FAKE_CUDA_CC", "FAKE_CUDA_NAME",
          "FAKE_CUDA_FAIL", "NTP_CUDA_DEVICE"})
      ::unsetenv(name);
    // The same library the runtime opens, hence the same state.
    handle = ::dlopen(NTP_FAKE_LIBCUDA, RTLD_NOW | RTLD_LOCAL);
    ASSERT_NE(handle, nullptr) << ::dlerror();
    auto state = reinterpret_cast<fake_cuda_state_fn>(
        ::dlsym(handle, "fake_cuda_state"));
    auto reset = reinterpret_cast<fake_cuda_reset_fn>(
        ::dlsym(handle, "fake_cuda_reset"));
    context = reinterpret_cast<fake_cuda_context_fn>(
        ::dlsym(handle, "fake_cuda_context"));
    setCurrent =
        reinterpret_cast<int (*)(void *)>(::dlsym(handle, "cuCtxSetCurrent"));
    getCurrent =
        reinterpret_cast<int (*)(void **)>(::dlsym(handle, "cuCtxGetCurrent"));
    init = reinterpret_cast<int (*)(unsigned)>(::dlsym(handle, "cuInit"));
    ASSERT_TRUE(state && reset && context && setCurrent && getCurrent && init);
    reset();
    fake = state();
    char pattern[] = "/tmp/ntp-fake-driver-test-XXXXXX";
    int fd = ::mkstemp(pattern);
    ASSERT_GE(fd, 0);
    ::close(fd);
    path = pattern;
  }
  void TearDown() override {
    std::remove(path.c_str());
    if (handle)
      ::dlclose(handle);
  }

  /// Whether the driver is opened by this test: its configuration at open
  /// time (cuInit, device count) sticks for the rest of the process.
  bool opensTheDriver() {
    return fake->init_calls == 0 &&
           ::testing::UnitTest::GetInstance()->test_to_run_count() == 1;
  }

  ntp_kernel *load(const Artifact &artifact, int expected = NTP_OK) {
    std::ofstream(path, std::ios::binary) << artifact.text();
    ntp_kernel *k = reinterpret_cast<ntp_kernel *>(1);
    EXPECT_EQ(ntp_kernel_load(path.c_str(), &k), expected) << ntp_last_error();
    return k;
  }
  std::string loadError(const Artifact &artifact, int status) {
    ntp_kernel *k = load(artifact, status);
    EXPECT_EQ(k, nullptr);
    return ntp_last_error();
  }
  std::string cannotLoad() {
    return "cannot load CUDA kernel '" + path + "': ";
  }

  void expectLaunch(unsigned grid, unsigned block, void *stream,
                    int64_t batch) {
    const fake_cuda_launch &l = fake->last_launch;
    EXPECT_STREQ(l.function, "net_forward");
    EXPECT_EQ(l.grid[0], grid);
    EXPECT_EQ(l.grid[1], 1u);
    EXPECT_EQ(l.grid[2], 1u);
    EXPECT_EQ(l.block[0], block);
    EXPECT_EQ(l.block[1], 1u);
    EXPECT_EQ(l.block[2], 1u);
    EXPECT_EQ(l.shared_bytes, 0u); // the kernel's shared memory is static
    EXPECT_EQ(l.stream, stream);
    EXPECT_EQ(l.x, kX);
    EXPECT_EQ(l.direction, kV);
    EXPECT_EQ(l.params, kParams);
    EXPECT_EQ(l.out, kOut);
    EXPECT_EQ(l.batch, batch);
  }

  void *current() {
    void *c = nullptr;
    EXPECT_EQ(getCurrent(&c), 0);
    return c;
  }

  void *handle = nullptr;
  fake_cuda_state_t *fake = nullptr;
  fake_cuda_context_fn context = nullptr;
  int (*setCurrent)(void *) = nullptr;
  int (*getCurrent)(void **) = nullptr;
  int (*init)(unsigned) = nullptr; // as a program using CUDA itself calls it
  std::string path;
};

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

//===----------------------------------------------------------------------===//
// The reverse mode: launch sequence and arguments
//===----------------------------------------------------------------------===//

// A backward=1 artifact for layers 1-4-1 (13 parameters), order 2, f32.
constexpr int64_t kParamsCount = 13, kElement = 4;
void *const kCot = reinterpret_cast<void *>(uintptr_t(0x7f0000005000));
void *const kGrad = reinterpret_cast<void *>(uintptr_t(0x7f0000006000));
void *const kXGrad = reinterpret_cast<void *>(uintptr_t(0x7f0000007000));
char *const kWorkspace = reinterpret_cast<char *>(uintptr_t(0x7f0000100000));

/// Element offsets of the workspace's regions after its header, as
/// artifact.hpp's cudaWorkspaceElements lays them out.
struct Regions {
  int64_t jets, columns, partials, xScratch, total;
  Regions(int64_t batch, int64_t samplesPerBlock) {
    int64_t blocks = (batch + samplesPerBlock - 1) / samplesPerBlock;
    jets = 0;
    columns = blocks * *ntp::artifact::workspaceElementsPerTile(
                           {1, 4, 1}, 2, samplesPerBlock);
    partials = columns + kParamsCount * batch;
    xScratch = partials + blocks * kParamsCount;
    total = xScratch + batch * 1;
  }
};

uint64_t word(const void *p) { return reinterpret_cast<uintptr_t>(p); }
uint64_t word(const char *base, int64_t elements) {
  return reinterpret_cast<uintptr_t>(base) + uint64_t(elements * kElement);
}

class FakeDriverReverseTest : public FakeDriverTest {
protected:
  ntp_kernel *loadReverse(int samplesPerBlock = 0) {
    Artifact artifact;
    artifact.backward = 1;
    artifact.samplesPerBlock = samplesPerBlock;
    if (samplesPerBlock)
      artifact.blockSize = 32 * samplesPerBlock;
    artifact.image = reversePtx();
    return load(artifact);
  }
  void expectLogged(int i, const char *function, unsigned grid, unsigned block,
                    void *stream, std::vector<uint64_t> args) {
    ASSERT_LT(i, fake->logged);
    const fake_cuda_logged_launch &l = fake->log[i];
    EXPECT_STREQ(l.function, function) << "launch " << i;
    EXPECT_EQ(l.grid, grid) << function;
    EXPECT_EQ(l.block, block) << function;
    EXPECT_EQ(l.stream, stream) << function;
    ASSERT_EQ(l.num_args, int(args.size())) << function;
    for (size_t a = 0; a < args.size(); ++a)
      EXPECT_EQ(l.args[a], args[a]) << function << " argument " << a;
  }
  /// The recomputing backward's one scratch allocation: on `stream`, of
  /// `elements` elements; returns its address.
  const char *expectOneScratch(void *stream, int64_t elements) {
    EXPECT_EQ(fake->allocs, 1);
    EXPECT_EQ(fake->alloc_stream, stream);
    EXPECT_EQ(int64_t(fake->alloc_bytes), elements * kElement);
    return static_cast<const char *>(fake->last_alloc);
  }
  /// The recomputing backward's launches on `stream` from `scratch` (laid
  /// out as `r`): forward_save and backward_saved on `blocks` blocks, then
  /// the reduction of the blocks' partial gradients; `direction` is the
  /// direction argument, `xGrad` the x gradient's address.
  void expectBackwardLaunches(void *stream, unsigned blocks, void *direction,
                              const char *scratch, const Regions &r,
                              uint64_t xGrad, int64_t batch) {
    expectLogged(0, "net_forward_save", blocks, 128, stream,
                 {word(kX), word(direction), word(kParams),
                  word(scratch, r.total), word(scratch), uint64_t(batch)});
    expectLogged(1, "net_backward_saved", blocks, 128, stream,
                 {word(kX), word(direction), word(kParams), word(kCot),
                  word(scratch, r.columns), xGrad, word(scratch),
                  word(scratch, r.partials), uint64_t(batch)});
    expectLogged(2, "net_reduce_params_grad", 1, 128, stream,
                 {word(scratch, r.partials), word(kGrad), blocks});
  }
};

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

class FakeDriverPartialsTest : public FakeDriverReverseTest {
protected:
  ntp_kernel *loadPartials(int backward, int samplesPerBlock = 0) {
    Artifact artifact;
    artifact.partials = "2;0";
    artifact.backward = backward;
    artifact.samplesPerBlock = samplesPerBlock;
    if (samplesPerBlock)
      artifact.blockSize = 32 * samplesPerBlock;
    if (backward)
      artifact.image = reversePtx();
    return load(artifact);
  }
};

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
