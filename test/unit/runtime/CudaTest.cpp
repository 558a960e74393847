//===- CudaTest.cpp - The CUDA path of the runtime without a GPU ----------===//
//
// CUDA artifacts load through the driver API opened with dlopen; these tests
// run where there is no driver (CI): NTP_LIBCUDA points at a library that
// does not exist, so the outcome is the same on machines with a GPU.
//
//===----------------------------------------------------------------------===//

#include "ntp/runtime.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <unistd.h>

namespace {

constexpr const char *kMissingDriver = "/nonexistent/ntp-test/libcuda.so.1";

std::string manifest(const std::string &device, const std::string &extra,
                     size_t imageBytes) {
  return "ntp-kernel-manifest\nabi_version=1\nname=net\nactivation=tanh\n"
         "order=2\ndtype=f32\ndevice=" +
         device +
         "\nlayers=1,4,1\nnum_params=13\ntile=1\ntarget_cpu=none\n"
         "backward=0\nworkspace_per_tile=0\n" +
         extra + "image_bytes=" + std::to_string(imageBytes) + "\n";
}

const std::string kImage = ".version 7.8\n.target sm_80\n.address_size 64\n";
const std::string kCudaKeys =
    "chip=sm_80\nformat=ptx\nentry=net_forward\nblock_size=128\n";

class CudaTest : public ::testing::Test {
protected:
  void SetUp() override {
    // The driver is opened once per process: every test sets the same path.
    ::setenv("NTP_LIBCUDA", kMissingDriver, 1);
    char pattern[] = "/tmp/ntp-cuda-test-XXXXXX";
    int fd = ::mkstemp(pattern);
    ASSERT_GE(fd, 0);
    ::close(fd);
    path = pattern;
  }
  void TearDown() override { std::remove(path.c_str()); }

  void write(const std::string &contents) {
    std::ofstream(path, std::ios::binary) << contents;
  }
  std::string loadError(ntp_status status) {
    ntp_kernel *k = reinterpret_cast<ntp_kernel *>(1);
    EXPECT_EQ(ntp_kernel_load(path.c_str(), &k), status);
    EXPECT_EQ(k, nullptr);
    return ntp_last_error();
  }

  std::string path;
};

TEST_F(CudaTest, LoadWithoutADriverSaysSo) {
  write("ntp-cuda-artifact\n" + manifest("cuda", kCudaKeys, kImage.size()) +
        "end-manifest\n" + kImage);
  std::string error = loadError(NTP_ERROR_NO_DEVICE);
  EXPECT_EQ(error.rfind("cannot load CUDA kernel '" + path +
                            "': no CUDA driver: cannot load " + kMissingDriver +
                            " (",
                        0),
            0u)
      << error;
  EXPECT_NE(error.find("No such file or directory"), std::string::npos)
      << error;
}

TEST_F(CudaTest, TruncatedImageIsABadArtifact) {
  write("ntp-cuda-artifact\n" +
        manifest("cuda", kCudaKeys, kImage.size() + 10) + "end-manifest\n" +
        kImage);
  EXPECT_EQ(loadError(NTP_ERROR_BAD_ARTIFACT),
            "'" + path + "' is truncated or corrupt: the image has " +
                std::to_string(kImage.size()) + " bytes, the manifest says " +
                std::to_string(kImage.size() + 10));
}

TEST_F(CudaTest, MissingEndOfManifestIsABadArtifact) {
  write("ntp-cuda-artifact\n" + manifest("cuda", kCudaKeys, 0));
  EXPECT_EQ(loadError(NTP_ERROR_BAD_ARTIFACT),
            "'" + path +
                "' is a truncated or corrupt CUDA artifact (no end of "
                "manifest)");
}

TEST_F(CudaTest, MissingCudaKeysAreABadArtifact) {
  write("ntp-cuda-artifact\n" +
        manifest("cuda", "format=ptx\nentry=net_forward\nblock_size=128\n",
                 kImage.size()) +
        "end-manifest\n" + kImage);
  EXPECT_EQ(loadError(NTP_ERROR_BAD_ARTIFACT),
            "'" + path +
                "' has a malformed manifest: a CUDA artifact needs chip, "
                "format (ptx or cubin), entry, block_size and image_bytes");
}

TEST_F(CudaTest, CpuManifestInACudaArtifactIsRejected) {
  write("ntp-cuda-artifact\n" + manifest("cpu", kCudaKeys, kImage.size()) +
        "end-manifest\n" + kImage);
  EXPECT_EQ(loadError(NTP_ERROR_BAD_ARTIFACT),
            "'" + path + "' is a CUDA artifact whose manifest says device=cpu");
}

TEST_F(CudaTest, StubDriverIsNoDriver) {
  // The CUDA toolkit's stub libcuda (for linking) fails cuInit; skipped
  // where it is not installed. Runs in its own process under ctest; the
  // driver is opened once per process, so only when it is the first load.
  const char *stub = "/usr/local/cuda/lib64/stubs/libcuda.so";
  if (::access(stub, R_OK) != 0 || std::getenv("NTP_TEST_STUB") == nullptr)
    GTEST_SKIP() << "set NTP_TEST_STUB=1 and run alone to test " << stub;
  ::setenv("NTP_LIBCUDA", stub, 1);
  write("ntp-cuda-artifact\n" + manifest("cuda", kCudaKeys, kImage.size()) +
        "end-manifest\n" + kImage);
  std::string error = loadError(NTP_ERROR_NO_DEVICE);
  EXPECT_NE(error.find("no CUDA driver: cuInit failed"), std::string::npos)
      << error;
}

} // namespace
