//===- FakeDriverFixture.h - Fixtures of the fake-driver tests -*- C++ -*-===//
//
// For ntp_fake_driver_tests (FakeDriverTest.cpp, FakeDriverReverseTest.cpp,
// FakeDriverContextTest.cpp): the artifacts the tests load, the device
// pointers they pass, and the fixtures that point NTP_LIBCUDA at
// fixtures/fake_libcuda.c and read back what it recorded (jet kernels, their
// reverse mode, partials kernels).
//
//===----------------------------------------------------------------------===//
#ifndef NTP_TEST_UNIT_RUNTIME_FAKEDRIVERFIXTURE_H
#define NTP_TEST_UNIT_RUNTIME_FAKEDRIVERFIXTURE_H

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
#include <unistd.h>
#include <vector>

namespace fake_driver_test {

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
inline std::string reversePtx() {
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

inline uint64_t word(const void *p) { return reinterpret_cast<uintptr_t>(p); }
inline uint64_t word(const char *base, int64_t elements) {
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

/// Partials kernels (issue 12 item 7): `partials` = "2;0", one artifact with
/// or without the reverse mode.
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

} // namespace fake_driver_test

#endif // NTP_TEST_UNIT_RUNTIME_FAKEDRIVERFIXTURE_H
