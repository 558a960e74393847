//===- CudaTest.cpp - The CUDA path of the runtime without a GPU ----------===//
//
// CUDA artifacts load through the driver API opened with dlopen; these tests
// run where there is no driver (CI): NTP_LIBCUDA points at a library that
// does not exist, so the outcome is the same on machines with a GPU.
//
//===----------------------------------------------------------------------===//

#include "ntp/artifact.hpp"
#include "ntp/runtime.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <unistd.h>

namespace {

constexpr const char *kMissingDriver = "/nonexistent/ntp-test/libcuda.so.1";

std::string manifest(const std::string &extra, size_t imageBytes) {
  return "ntp-kernel-manifest\nabi_version=2\nname=net\nactivation=tanh\n"
         "order=2\ndtype=f32\ndevice=cuda\nlayers=1,4,1\nnum_params=13\n"
         "tile=128\nbackward=0\nworkspace_per_tile=0\ntarget_cpu=none\n"
         "cpu_features=\n" +
         extra + "image_bytes=" + std::to_string(imageBytes) + "\n";
}

const std::string kImage = ".version 7.8\n.target sm_80\n.address_size 64\n";
const std::string kCudaKeys = "chip=sm_80\nformat=ptx\nmapping=sample\n"
                              "block_size=128\nsamples_per_block=128\n";

std::string artifact(const std::string &extra, size_t imageBytes,
                     const std::string &image) {
  return ntp::artifact::sealArtifactText(image, manifest(extra, imageBytes));
}

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
  write(artifact(kCudaKeys, kImage.size(), kImage));
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

TEST_F(CudaTest, ImageSizeMustMatchTheManifest) {
  write(artifact(kCudaKeys, kImage.size() + 10, kImage));
  EXPECT_EQ(loadError(NTP_ERROR_BAD_ARTIFACT),
            "cannot load kernel artifact '" + path +
                "': it is corrupt: the image has " +
                std::to_string(kImage.size()) + " bytes, the manifest says " +
                std::to_string(kImage.size() + 10));
}

TEST_F(CudaTest, TruncatedArtifactIsABadArtifact) {
  std::string whole = artifact(kCudaKeys, kImage.size(), kImage);
  write(whole.substr(0, whole.size() - 1));
  EXPECT_EQ(loadError(NTP_ERROR_BAD_ARTIFACT),
            "cannot load kernel artifact '" + path +
                "': it is not an ntp kernel artifact (no artifact trailer)");
}

TEST_F(CudaTest, MissingCudaKeysAreABadArtifact) {
  write(artifact("format=ptx\nmapping=sample\nblock_size=128\n"
                 "samples_per_block=128\n",
                 kImage.size(), kImage));
  EXPECT_EQ(loadError(NTP_ERROR_BAD_ARTIFACT),
            "cannot load kernel artifact '" + path +
                "': it has a malformed manifest: required key 'chip' is "
                "missing");
}

TEST_F(CudaTest, WrappedChipNumbersAreRefused) {
  // Defect 7: 4294967386 = 2^32 + 90 once wrapped to sm_90 and loaded.
  std::string keys = kCudaKeys;
  keys.replace(keys.find("sm_80"), 5, "sm_4294967386");
  write(artifact(keys, kImage.size(), kImage));
  EXPECT_EQ(loadError(NTP_ERROR_BAD_ARTIFACT),
            "cannot load kernel artifact '" + path +
                "': it has a malformed manifest: chip 'sm_4294967386' is not "
                "an NVIDIA architecture sm_NN or sm_NNa");
  // atoi took "128x" for 128 and 4294967424 (2^32 + 128) for 128.
  keys = kCudaKeys;
  keys.replace(keys.find("block_size=128"), 14, "block_size=128x");
  write(artifact(keys, kImage.size(), kImage));
  EXPECT_EQ(loadError(NTP_ERROR_BAD_ARTIFACT),
            "cannot load kernel artifact '" + path +
                "': it has a malformed manifest: block_size is '128x', not a "
                "non-negative integer in range");
  keys = kCudaKeys;
  keys.replace(keys.find("block_size=128"), 14, "block_size=4294967424");
  write(artifact(keys, kImage.size(), kImage));
  EXPECT_EQ(loadError(NTP_ERROR_BAD_ARTIFACT),
            "cannot load kernel artifact '" + path +
                "': it has a malformed manifest: block_size is 4294967424; it "
                "must be 1..1024");
}

TEST_F(CudaTest, OldContainersNameTheirVersion) {
  write("ntp-cuda-artifact\nntp-kernel-manifest\nabi_version=1\n"
        "end-manifest\n" +
        kImage);
  EXPECT_EQ(loadError(NTP_ERROR_ABI_MISMATCH),
            "cannot load kernel artifact '" + path +
                "': it is an ntp kernel artifact of ABI version 1, but this "
                "runtime loads version 2: recompile it with this ntp-compile");
}

TEST_F(CudaTest, StubDriverIsNoDriver) {
  // The CUDA toolkit's stub libcuda (for linking) fails cuInit; skipped
  // where it is not installed. Runs in its own process under ctest; the
  // driver is opened once per process, so only when it is the first load.
  const char *stub = "/usr/local/cuda/lib64/stubs/libcuda.so";
  if (::access(stub, R_OK) != 0 || std::getenv("NTP_TEST_STUB") == nullptr)
    GTEST_SKIP() << "set NTP_TEST_STUB=1 and run alone to test " << stub;
  ::setenv("NTP_LIBCUDA", stub, 1);
  write(artifact(kCudaKeys, kImage.size(), kImage));
  std::string error = loadError(NTP_ERROR_NO_DEVICE);
  EXPECT_NE(error.find("no CUDA driver: cuInit failed"), std::string::npos)
      << error;
}

} // namespace
