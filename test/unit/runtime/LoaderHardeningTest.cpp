//===- LoaderHardeningTest.cpp - What ntp_kernel_load must survive --------===//
//
// Files that are not regular (FIFOs, /dev/zero), oversized files, old-format
// artifacts, artifacts whose manifest lies, and 200 single-bit flips of a
// valid artifact: each is refused with a status and a sentence, nothing
// hangs, nothing crashes, and nothing unvalidated is ever passed to dlopen
// (checked with RTLD_NOLOAD: a refused file is never mapped).
//
//===----------------------------------------------------------------------===//
#include "ntp/artifact.hpp"
#include "ntp/runtime.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <dlfcn.h>
#include <fcntl.h>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

namespace {

using namespace ntp::artifact;

std::string readFile(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

/// The manifest text exported by the fixture at `path`.
std::string embeddedManifest(const char *path) {
  std::string bytes = readFile(path);
  size_t begin = bytes.find("ntp-kernel-manifest\n");
  EXPECT_NE(begin, std::string::npos);
  return bytes.substr(begin, bytes.find('\0', begin) - begin);
}

/// Whether the file at `path` is mapped into this process.
bool isLoaded(const std::string &path) {
  void *handle = ::dlopen(path.c_str(), RTLD_NOW | RTLD_NOLOAD);
  if (handle)
    ::dlclose(handle);
  return handle != nullptr;
}

class LoaderHardeningTest : public ::testing::Test {
protected:
  void SetUp() override {
    std::string pattern = ::testing::TempDir() + "ntp-hardening-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir = pattern;
  }
  void TearDown() override {
    for (const std::string &file : files)
      ::unlink(file.c_str());
    ::rmdir(dir.c_str());
  }
  std::string path(const std::string &name) {
    files.push_back(dir + "/" + name);
    return files.back();
  }
  std::string write(const std::string &name, const std::string &bytes) {
    std::string file = path(name);
    std::ofstream(file, std::ios::binary) << bytes;
    return file;
  }
  /// Loads `file` expecting `status`; returns the message.
  std::string loadError(const std::string &file, ntp_status status) {
    ntp_kernel *k = reinterpret_cast<ntp_kernel *>(1);
    EXPECT_EQ(ntp_kernel_load(file.c_str(), &k), status) << file;
    EXPECT_EQ(k, nullptr);
    return ntp_last_error();
  }

  std::string dir;
  std::vector<std::string> files;
};

// Defect 6: a FIFO hung ntp_kernel_load forever (nothing ever writes it).
TEST_F(LoaderHardeningTest, AFifoIsRefusedWithoutBlocking) {
  std::string fifo = path("kernel.so");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  EXPECT_EQ(loadError(fifo, NTP_ERROR_IO), "cannot open kernel artifact '" +
                                               fifo +
                                               "': it is not a regular file");
  fifo = path("kernel.ntp"); // the CUDA path too: no extension decides
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  EXPECT_EQ(loadError(fifo, NTP_ERROR_IO), "cannot open kernel artifact '" +
                                               fifo +
                                               "': it is not a regular file");
}

// Defect 6: a symlink to /dev/zero read until out of memory.
TEST_F(LoaderHardeningTest, DevicesAreRefused) {
  std::string link = path("zero.so");
  ASSERT_EQ(::symlink("/dev/zero", link.c_str()), 0);
  EXPECT_EQ(loadError(link, NTP_ERROR_IO), "cannot open kernel artifact '" +
                                               link +
                                               "': it is not a regular file");
  EXPECT_EQ(loadError("/dev/null", NTP_ERROR_IO),
            "cannot open kernel artifact '/dev/null': it is not a regular "
            "file");
}

// Defect 6: artifacts of any size were read whole.
TEST_F(LoaderHardeningTest, OversizedFilesAreRefusedBeforeReading) {
  std::string big = path("big.ntp");
  int fd = ::open(big.c_str(), O_CREAT | O_WRONLY, 0600);
  ASSERT_GE(fd, 0);
  // Sparse: no disk space, but 1 GiB + 1 by its size.
  ASSERT_EQ(::ftruncate(fd, kMaxArtifactBytes + 1), 0);
  ::close(fd);
  EXPECT_EQ(loadError(big, NTP_ERROR_BAD_ARTIFACT),
            "cannot load kernel artifact '" + big + "': it has " +
                std::to_string(kMaxArtifactBytes + 1) +
                " bytes, more than the largest artifact this runtime reads "
                "(" +
                std::to_string(kMaxArtifactBytes) + ")");
  std::string bytes, error;
  EXPECT_EQ(readArtifactFile(NTP_FAKE_F64, bytes, error, 100),
            NTP_ERROR_BAD_ARTIFACT);
}

// Defect 8: only the ELF header was checked before dlopen. Every single-bit
// flip of a valid artifact must be refused before dlopen (the checksum), so
// none can run a damaged library's code.
TEST_F(LoaderHardeningTest, TwoHundredBitFlipsAreRefusedBeforeDlopen) {
  std::string valid = readFile(NTP_FAKE_F64);
  ASSERT_GT(valid.size(), 1000u);
  std::mt19937_64 random(20261129);
  std::uniform_int_distribution<size_t> byte(0, valid.size() - 1);
  std::uniform_int_distribution<int> bit(0, 7);
  int refused = 0;
  for (int i = 0; i < 200; ++i) {
    std::string damaged = valid;
    size_t at = byte(random);
    damaged[at] = static_cast<char>(damaged[at] ^ (1 << bit(random)));
    std::string file = write("flip" + std::to_string(i) + ".so", damaged);
    ntp_kernel *k = reinterpret_cast<ntp_kernel *>(1);
    ntp_status status = ntp_kernel_load(file.c_str(), &k);
    EXPECT_NE(status, NTP_OK) << "byte " << at;
    EXPECT_EQ(k, nullptr);
    EXPECT_NE(std::string(ntp_last_error()), "");
    EXPECT_FALSE(isLoaded(file)) << "byte " << at << " was passed to dlopen";
    refused += status != NTP_OK;
    if (status == NTP_OK)
      ntp_kernel_free(k);
  }
  EXPECT_EQ(refused, 200);
}

TEST_F(LoaderHardeningTest, GoldenAbi1ArtifactsAreRefusedByVersion) {
  const std::string tail = "it is an ntp kernel artifact of ABI version 1, but "
                           "this runtime loads version 2: recompile it with "
                           "this ntp-compile";
  for (const char *name : {"abi1_cpu.so", "abi1_cuda.ntp"}) {
    std::string file = std::string(NTP_GOLDEN_DIR) + "/" + name;
    EXPECT_EQ(loadError(file, NTP_ERROR_ABI_MISMATCH),
              "cannot load kernel artifact '" + file + "': " + tail);
    EXPECT_FALSE(isLoaded(file));
  }
  // And from memory (the JIT's CUDA path).
  std::string cuda = readFile(std::string(NTP_GOLDEN_DIR) + "/abi1_cuda.ntp");
  ntp_kernel *k = nullptr;
  EXPECT_EQ(ntp_kernel_load_memory(cuda.data(), int64_t(cuda.size()), &k),
            NTP_ERROR_ABI_MISMATCH);
  EXPECT_EQ(std::string(ntp_last_error()),
            "cannot load the in-memory kernel artifact: " + tail);
}

TEST_F(LoaderHardeningTest, UnsealedSharedObjectsAreNeverOpened) {
  EXPECT_EQ(loadError(NTP_FAKE_UNSEALED, NTP_ERROR_BAD_ARTIFACT),
            std::string("cannot load kernel artifact '") + NTP_FAKE_UNSEALED +
                "': it is a shared object without an ntp artifact trailer "
                "(not an ntp kernel artifact, or truncated)");
  EXPECT_FALSE(isLoaded(NTP_FAKE_UNSEALED));
}

// Defect 8: a manifest that lies (dtype=f64 on f32 code, another order or
// tile) was believed. A lie in the trailer alone is caught by the
// cross-check with the library's own manifest symbol.
TEST_F(LoaderHardeningTest, ATrailerThatDisagreesWithTheLibraryIsRefused) {
  std::string code = readFile(NTP_FAKE_UNSEALED_F32);
  std::string truth = embeddedManifest(NTP_FAKE_UNSEALED_F32);
  KernelManifest m;
  std::string error;
  ASSERT_EQ(parseManifest(truth, m, error), NTP_OK) << error;
  std::vector<KernelManifest> lies(3, m);
  lies[0].dtype = Dtype::F64;
  lies[1].order = 0;
  lies[2].tile = 32;
  for (size_t i = 0; i < lies.size(); ++i) {
    std::string file =
        write("lie" + std::to_string(i) + ".so", sealArtifact(code, lies[i]));
    EXPECT_EQ(loadError(file, NTP_ERROR_BAD_ARTIFACT),
              "'" + file +
                  "' is inconsistent: its ntp_kernel_manifest symbol differs "
                  "from the manifest in its trailer");
  }
  // The truth loads.
  std::string file = write("truth.so", sealArtifactText(code, truth));
  ntp_kernel *k = nullptr;
  ASSERT_EQ(ntp_kernel_load(file.c_str(), &k), NTP_OK) << ntp_last_error();
  ntp_kernel_info info;
  ASSERT_EQ(ntp_kernel_info_get(k, &info), NTP_OK);
  EXPECT_EQ(info.dtype, NTP_DTYPE_F32);
  ntp_kernel_free(k);
}

// An artifact replaced (renamed over, as ntp-compile writes) while a kernel
// from the old file is loaded: glibc hands back the old library for the
// name, yet the new file is what loads, beside the old kernel, which keeps
// working.
TEST_F(LoaderHardeningTest, AnArtifactReplacedWhileLoadedLoadsTheNewFile) {
  std::string file = write("same.so", readFile(NTP_FAKE_F64));
  ntp_kernel *old = nullptr;
  ASSERT_EQ(ntp_kernel_load(file.c_str(), &old), NTP_OK) << ntp_last_error();
  std::string next = write("same.so.next", readFile(NTP_FAKE_F32));
  ASSERT_EQ(::rename(next.c_str(), file.c_str()), 0);
  ntp_kernel *replaced = nullptr;
  ASSERT_EQ(ntp_kernel_load(file.c_str(), &replaced), NTP_OK)
      << ntp_last_error();
  ntp_kernel_info info;
  ASSERT_EQ(ntp_kernel_info_get(replaced, &info), NTP_OK);
  EXPECT_EQ(info.dtype, NTP_DTYPE_F32);
  ASSERT_EQ(ntp_kernel_info_get(old, &info), NTP_OK);
  EXPECT_EQ(info.dtype, NTP_DTYPE_F64);
  // Both run, the old one from its own mapping: the fakes' f(x) = W x + b
  // at W = 2, b = 1, x = 0.25 along v = 1 is 1.5, then 2.
  double x64 = 0.25, v64 = 1, p64[2] = {2, 1}, out64[4] = {};
  ASSERT_EQ(ntp_forward(old, &x64, &v64, p64, out64, 1), NTP_OK)
      << ntp_last_error();
  EXPECT_EQ(out64[0], 1.5);
  EXPECT_EQ(out64[1], 2.0);
  float x32 = 0.25f, v32 = 1, p32[2] = {2, 1}, out32[4] = {};
  ASSERT_EQ(ntp_forward(replaced, &x32, &v32, p32, out32, 1), NTP_OK)
      << ntp_last_error();
  EXPECT_EQ(out32[0], 1.5f);
  EXPECT_EQ(out32[1], 2.0f);
  ntp_kernel_free(old);
  ntp_kernel_free(replaced);
  // With no kernel from it left, the name loads the file as usual.
  ntp_kernel *again = nullptr;
  ASSERT_EQ(ntp_kernel_load(file.c_str(), &again), NTP_OK) << ntp_last_error();
  ASSERT_EQ(ntp_kernel_info_get(again, &info), NTP_OK);
  EXPECT_EQ(info.dtype, NTP_DTYPE_F32);
  ntp_kernel_free(again);
}

TEST_F(LoaderHardeningTest, EveryPromisedEntryPointMustExist) {
  EXPECT_EQ(loadError(NTP_FAKE_NO_BACKWARD, NTP_ERROR_BAD_ARTIFACT),
            std::string("'") + NTP_FAKE_NO_BACKWARD +
                "' has no ntp_kernel_backward_tiles symbol (its manifest says "
                "backward=1)");
  // A library without the manifest symbol at all.
  std::string file = write(
      "foreign.so", sealArtifactText(readFile(NTP_FAKE_FOREIGN),
                                     embeddedManifest(NTP_FAKE_UNSEALED)));
  EXPECT_EQ(loadError(file, NTP_ERROR_BAD_ARTIFACT),
            "'" + file + "' has no ntp_kernel_manifest symbol");
}

// The manifest's device, not the payload, picks the path: a shared object
// sealed with a CUDA manifest goes to the driver (here: none, or one that
// rejects it as an image) and is never passed to dlopen. (Replaces ABI 1's
// "describes a CUDA kernel" check of a .so's manifest symbol.)
TEST_F(LoaderHardeningTest, ASharedObjectWithACudaManifestIsNeverDlopened) {
  ::setenv("NTP_LIBCUDA", "/nonexistent/ntp-test/libcuda.so.1", 1);
  std::string code = readFile(NTP_FAKE_UNSEALED);
  KernelManifest m;
  std::string error;
  ASSERT_EQ(parseManifest(embeddedManifest(NTP_FAKE_UNSEALED), m, error),
            NTP_OK)
      << error;
  m.device = Device::Cuda;
  m.tile = 32;
  m.targetCpu = "none";
  CudaLaunch launch;
  launch.chip = "sm_90";
  launch.blockSize = 32;
  launch.samplesPerBlock = 32;
  launch.imageBytes = static_cast<int64_t>(code.size());
  m.cuda = launch;
  std::string file = write("cuda.so", sealArtifact(code, m));
  ntp_kernel *k = reinterpret_cast<ntp_kernel *>(1);
  EXPECT_NE(ntp_kernel_load(file.c_str(), &k), NTP_OK);
  EXPECT_EQ(k, nullptr);
  EXPECT_EQ(std::string(ntp_last_error())
                .rfind("cannot load CUDA kernel '" + file + "': ", 0),
            0u)
      << ntp_last_error();
  EXPECT_FALSE(isLoaded(file));
}

TEST_F(LoaderHardeningTest, CpuArtifactsDoNotLoadFromMemory) {
  std::string bytes = readFile(NTP_FAKE_F64);
  ntp_kernel *k = reinterpret_cast<ntp_kernel *>(1);
  EXPECT_EQ(ntp_kernel_load_memory(bytes.data(), int64_t(bytes.size()), &k),
            NTP_ERROR_UNSUPPORTED);
  EXPECT_EQ(k, nullptr);
  EXPECT_EQ(std::string(ntp_last_error()),
            "the in-memory artifact is a CPU kernel: only CUDA artifacts load "
            "from memory; load shared objects with ntp_kernel_load");
}

} // namespace
