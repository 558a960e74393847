//===- RuntimeTest.cpp - Tests of the ntp runtime C and C++ API -----------===//
//
// Runs against fake kernel artifacts (fixtures/fake_kernel.c): the network
// f(x) = W x + b with order 3 and tile 4, whose jet is exact.
//
//===----------------------------------------------------------------------===//
#include "ntp/runtime.h"
#include "ntp/artifact.hpp"
#include "ntp/runtime.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <dlfcn.h>
#include <elf.h>
#include <fstream>
#include <iterator>
#include <memory>
#include <stdlib.h>
#include <string>
#include <sys/wait.h>
#include <thread>
#include <type_traits>
#include <unistd.h>
#include <vector>

namespace {

constexpr int kOrder = 3;
const std::vector<double> kParams = {2.5, -0.75}; // W, b

/// Owns a kernel loaded through the C API.
struct KernelDeleter {
  void operator()(ntp_kernel *k) const { ntp_kernel_free(k); }
};
using KernelPtr = std::unique_ptr<ntp_kernel, KernelDeleter>;

KernelPtr loadOrDie(const char *path) {
  ntp_kernel *k = nullptr;
  EXPECT_EQ(ntp_kernel_load(path, &k), NTP_OK) << ntp_last_error();
  return KernelPtr(k);
}

/// Loads `path`, expecting `status`; returns the error message.
std::string loadError(const char *path, ntp_status status) {
  ntp_kernel *k = reinterpret_cast<ntp_kernel *>(1);
  EXPECT_EQ(ntp_kernel_load(path, &k), status) << path;
  EXPECT_EQ(k, nullptr);
  return ntp_last_error();
}

/// A private temporary directory, removed with its files.
class TempDir {
public:
  TempDir() {
    std::string pattern = ::testing::TempDir() + "ntp-runtime-XXXXXX";
    path_ = ::mkdtemp(pattern.data()) ? pattern : "";
    EXPECT_FALSE(path_.empty());
  }
  ~TempDir() {
    for (const std::string &file : files_)
      ::unlink(file.c_str());
    ::rmdir(path_.c_str());
  }
  /// Writes `bytes` to a new file `name` and returns its path.
  std::string write(const std::string &name, const std::string &bytes) {
    std::string file = path_ + "/" + name;
    std::ofstream(file, std::ios::binary) << bytes;
    files_.push_back(file);
    return file;
  }
  const std::string &path() const { return path_; }

private:
  std::string path_;
  std::vector<std::string> files_;
};

std::string readFile(const char *path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

/// The manifest text the f64 fake kernel exports.
std::string fakeManifest() {
  std::string bytes = readFile(NTP_FAKE_UNSEALED);
  size_t begin = bytes.find("ntp-kernel-manifest\n");
  EXPECT_NE(begin, std::string::npos);
  return bytes.substr(begin, bytes.find('\0', begin) - begin);
}

/// The exact jet of the fake network, laid out [order + 1, batch, 1].
std::vector<double> expectedJet(const std::vector<double> &x, double v) {
  size_t batch = x.size();
  std::vector<double> out((kOrder + 1) * batch, 0.0);
  for (size_t b = 0; b < batch; ++b) {
    out[b] = kParams[0] * x[b] + kParams[1];
    out[batch + b] = kParams[0] * v;
  }
  return out;
}

std::vector<double> iota(size_t n, double start) {
  std::vector<double> x(n);
  for (size_t i = 0; i < n; ++i)
    x[i] = start + 0.5 * double(i);
  return x;
}

/// Runs `kernel` on `x`; the output starts as NaN so unwritten entries show.
std::vector<double> forward(ntp_kernel *kernel, const std::vector<double> &x,
                            double v) {
  std::vector<double> out((kOrder + 1) * x.size(), std::nan(""));
  EXPECT_EQ(ntp_forward(kernel, x.data(), &v, kParams.data(), out.data(),
                        int64_t(x.size())),
            NTP_OK)
      << ntp_last_error();
  return out;
}

/// Calls `name`, a test hook of the fake kernel at `path`. The runtime and
/// this test share the library's one instance.
template <class R> R callHook(const char *path, const char *name) {
  void *handle = ::dlopen(path, RTLD_NOW | RTLD_NOLOAD);
  EXPECT_NE(handle, nullptr) << path;
  auto fn = reinterpret_cast<R (*)()>(handle ? ::dlsym(handle, name) : nullptr);
  EXPECT_NE(fn, nullptr) << name;
  if constexpr (std::is_void_v<R>) {
    if (fn)
      fn();
    if (handle)
      ::dlclose(handle);
  } else {
    R result = fn ? fn() : R();
    if (handle)
      ::dlclose(handle);
    return result;
  }
}

/// Distinct threads that ran tiles of the fake kernel at `path` since the
/// last call.
int distinctThreads(const char *path) {
  return callHook<int>(path, "fake_distinct_threads");
}

/// Restores the default thread count when a test ends.
class RuntimeTest : public ::testing::Test {
protected:
  void TearDown() override { ntp_set_num_threads(0); }
};

//===-- Loading -----------------------------------------------------------===//

TEST_F(RuntimeTest, LoadRejectsNullArguments) {
  EXPECT_EQ(loadError(nullptr, NTP_ERROR_INVALID_ARGUMENT), "path is null");
  EXPECT_EQ(ntp_kernel_load(NTP_FAKE_F64, nullptr), NTP_ERROR_INVALID_ARGUMENT);
  EXPECT_STREQ(ntp_last_error(), "out is null");
}

TEST_F(RuntimeTest, LoadReportsAMissingFile) {
  EXPECT_EQ(loadError("/nonexistent/k.so", NTP_ERROR_IO),
            "cannot open kernel artifact '/nonexistent/k.so': No such file "
            "or directory");
}

TEST_F(RuntimeTest, LoadRejectsADirectory) {
  TempDir dir;
  EXPECT_EQ(loadError(dir.path().c_str(), NTP_ERROR_IO),
            "cannot open kernel artifact '" + dir.path() +
                "': it is not a regular file");
}

TEST_F(RuntimeTest, LoadRejectsFilesThatAreNotArtifacts) {
  TempDir dir;
  std::string empty = dir.write("empty.so", "");
  EXPECT_EQ(loadError(empty.c_str(), NTP_ERROR_BAD_ARTIFACT),
            "cannot load kernel artifact '" + empty +
                "': it is empty, not an ntp kernel artifact");
  std::string text = dir.write("text.so", "ntp-kernel-manifest\n");
  EXPECT_EQ(loadError(text.c_str(), NTP_ERROR_BAD_ARTIFACT),
            "cannot load kernel artifact '" + text +
                "': it is not an ntp kernel artifact (no artifact trailer)");
  // A sealed artifact whose payload is not a shared object.
  std::string notElf =
      dir.write("notelf.so", ntp::artifact::sealArtifactText("not an ELF file",
                                                             fakeManifest()));
  EXPECT_EQ(loadError(notElf.c_str(), NTP_ERROR_BAD_ARTIFACT),
            "'" + notElf + "' is not a shared object (no ELF header)");
}

TEST_F(RuntimeTest, LoadRejectsTruncatedArtifacts) {
  std::string valid = readFile(NTP_FAKE_F64);
  ASSERT_GT(valid.size(), 4096u);
  TempDir dir;
  for (size_t size : {size_t(16), size_t(100), size_t(1000), valid.size() / 2,
                      valid.size() - 1}) {
    std::string file =
        dir.write("cut" + std::to_string(size) + ".so", valid.substr(0, size));
    EXPECT_EQ(loadError(file.c_str(), NTP_ERROR_BAD_ARTIFACT),
              "cannot load kernel artifact '" + file +
                  "': it is a shared object without an ntp artifact trailer "
                  "(not an ntp kernel artifact, or truncated)");
  }
  // A shared object cut short and then sealed: the ELF checks see it.
  std::string unsealed = readFile(NTP_FAKE_UNSEALED);
  for (size_t size : {size_t(100), unsealed.size() / 2}) {
    std::string file = dir.write("sealedcut" + std::to_string(size) + ".so",
                                 ntp::artifact::sealArtifactText(
                                     unsealed.substr(0, size), fakeManifest()));
    EXPECT_EQ(loadError(file.c_str(), NTP_ERROR_BAD_ARTIFACT),
              "'" + file + "' is truncated (" + std::to_string(size) +
                  " bytes of shared object) or corrupt");
  }
}

TEST_F(RuntimeTest, LoadReportsDlopenFailures) {
  std::string error = loadError(NTP_FAKE_UNRESOLVED, NTP_ERROR_BAD_ARTIFACT);
  EXPECT_EQ(error.rfind(std::string("cannot load kernel artifact '") +
                            NTP_FAKE_UNRESOLVED + "': ",
                        0),
            0u)
      << error;
  EXPECT_NE(error.find("ntp_test_undefined_function"), std::string::npos)
      << error;
}

TEST_F(RuntimeTest, LoadRejectsExecutables) {
  TempDir dir;
  // This test is a PIE (ET_DYN); patch e_type to ET_EXEC, little-endian.
  std::string exe = readFile("/proc/self/exe");
  ASSERT_GT(exe.size(), 64u);
  exe[16] = ET_EXEC;
  exe[17] = 0;
  std::string file =
      dir.write("exe.so", ntp::artifact::sealArtifactText(exe, fakeManifest()));
  EXPECT_EQ(loadError(file.c_str(), NTP_ERROR_BAD_ARTIFACT),
            "'" + file + "' is an ELF file but not a shared object");
}

TEST_F(RuntimeTest, LoadRejectsAForeignSharedObject) {
  EXPECT_EQ(loadError(NTP_FAKE_FOREIGN, NTP_ERROR_BAD_ARTIFACT),
            std::string("cannot load kernel artifact '") + NTP_FAKE_FOREIGN +
                "': it is a shared object without an ntp artifact trailer "
                "(not an ntp kernel artifact, or truncated)");
}

TEST_F(RuntimeTest, LoadRejectsAMalformedManifest) {
  EXPECT_EQ(loadError(NTP_FAKE_MALFORMED, NTP_ERROR_BAD_ARTIFACT),
            std::string("cannot load kernel artifact '") + NTP_FAKE_MALFORMED +
                "': it has a malformed manifest: required key 'name' is "
                "missing");
}

TEST_F(RuntimeTest, LoadRejectsAnotherAbiVersion) {
  EXPECT_EQ(loadError(NTP_FAKE_ABI3, NTP_ERROR_ABI_MISMATCH),
            std::string("cannot load kernel artifact '") + NTP_FAKE_ABI3 +
                "': it is an ntp kernel artifact of ABI version 3, but this "
                "runtime loads version 2: recompile it with this ntp-compile");
}

TEST_F(RuntimeTest, LoadsAPathWithoutASlashFromTheWorkingDirectory) {
  TempDir dir;
  dir.write("libkernel.so", readFile(NTP_FAKE_F64));
  std::string cwd(4096, '\0');
  ASSERT_NE(::getcwd(cwd.data(), cwd.size()), nullptr);
  ASSERT_EQ(::chdir(dir.path().c_str()), 0);
  ntp_kernel *k = nullptr;
  int status = ntp_kernel_load("libkernel.so", &k);
  ASSERT_EQ(::chdir(cwd.c_str()), 0);
  ASSERT_EQ(status, NTP_OK) << ntp_last_error();
  std::vector<double> x = iota(5, 1.0);
  EXPECT_EQ(forward(k, x, 1.0), expectedJet(x, 1.0));
  ntp_kernel_free(k);
}

//===-- Introspection -----------------------------------------------------===//

TEST_F(RuntimeTest, ReportsInfoLayersAndActivation) {
  KernelPtr k = loadOrDie(NTP_FAKE_F64);
  ntp_kernel_info info;
  ASSERT_EQ(ntp_kernel_info_get(k.get(), &info), NTP_OK);
  EXPECT_EQ(info.order, kOrder);
  EXPECT_EQ(info.input_dim, 1);
  EXPECT_EQ(info.output_dim, 1);
  EXPECT_EQ(info.num_params, 2);
  EXPECT_EQ(info.dtype, NTP_DTYPE_F64);
  EXPECT_EQ(info.device, NTP_DEVICE_CPU);
  EXPECT_STREQ(ntp_kernel_activation(k.get()), "identity");

  int32_t widths[3] = {-1, -1, -1}, count = 0;
  ASSERT_EQ(ntp_kernel_layers(k.get(), widths, 3, &count), NTP_OK);
  EXPECT_EQ(count, 2);
  EXPECT_EQ(widths[0], 1);
  EXPECT_EQ(widths[1], 1);
  EXPECT_EQ(widths[2], -1);
  widths[0] = -1;
  ASSERT_EQ(ntp_kernel_layers(k.get(), nullptr, 0, &count), NTP_OK);
  EXPECT_EQ(count, 2);
  ASSERT_EQ(ntp_kernel_layers(k.get(), widths, 1, &count), NTP_OK);
  EXPECT_EQ(widths[0], 1);
  EXPECT_EQ(widths[1], 1); // left from before: capacity 1

  KernelPtr f32 = loadOrDie(NTP_FAKE_F32);
  ASSERT_EQ(ntp_kernel_info_get(f32.get(), &info), NTP_OK);
  EXPECT_EQ(info.dtype, NTP_DTYPE_F32);
}

TEST_F(RuntimeTest, IntrospectionRejectsNullArguments) {
  KernelPtr k = loadOrDie(NTP_FAKE_F64);
  ntp_kernel_info info;
  int32_t widths[2], count;
  EXPECT_EQ(ntp_kernel_info_get(nullptr, &info), NTP_ERROR_INVALID_ARGUMENT);
  EXPECT_STREQ(ntp_last_error(), "kernel is null");
  EXPECT_EQ(ntp_kernel_info_get(k.get(), nullptr), NTP_ERROR_INVALID_ARGUMENT);
  EXPECT_STREQ(ntp_last_error(), "info is null");
  EXPECT_EQ(ntp_kernel_layers(nullptr, widths, 2, &count),
            NTP_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(ntp_kernel_layers(k.get(), widths, 2, nullptr),
            NTP_ERROR_INVALID_ARGUMENT);
  EXPECT_STREQ(ntp_last_error(), "count is null");
  EXPECT_EQ(ntp_kernel_layers(k.get(), nullptr, 2, &count),
            NTP_ERROR_INVALID_ARGUMENT);
  EXPECT_STREQ(ntp_last_error(), "widths is null but capacity is 2");
  EXPECT_EQ(ntp_kernel_layers(k.get(), widths, -1, &count),
            NTP_ERROR_INVALID_ARGUMENT);
  EXPECT_STREQ(ntp_last_error(), "capacity is -1; it must be non-negative");
  EXPECT_EQ(ntp_kernel_activation(nullptr), nullptr);
  ntp_kernel_free(nullptr); // a no-op
}

//===-- Forward -----------------------------------------------------------===//

TEST_F(RuntimeTest, ForwardComputesTheJet) {
  KernelPtr k = loadOrDie(NTP_FAKE_F64);
  for (size_t batch : {1, 3, 4, 5, 10, 17}) { // full and partial tiles
    std::vector<double> x = iota(batch, -2.0);
    EXPECT_EQ(forward(k.get(), x, 0.5), expectedJet(x, 0.5)) << batch;
  }
}

TEST_F(RuntimeTest, ForwardWithBatchZeroIsANoOp) {
  KernelPtr k = loadOrDie(NTP_FAKE_F64);
  double v = 1.0;
  EXPECT_EQ(ntp_forward(k.get(), nullptr, &v, kParams.data(), nullptr, 0),
            NTP_OK);
  EXPECT_EQ(ntp_forward_checked(k.get(), nullptr, 0, &v, 1, kParams.data(), 2,
                                nullptr, 0, 0),
            NTP_OK);
}

TEST_F(RuntimeTest, ForwardRejectsBadArguments) {
  KernelPtr k = loadOrDie(NTP_FAKE_F64);
  std::vector<double> x(4), out(16);
  double v = 1.0;
  const double *p = kParams.data();
  struct Case {
    ntp_kernel *k;
    const void *x, *v, *p;
    void *out;
    int64_t batch;
    const char *error;
  } cases[] = {
      {nullptr, x.data(), &v, p, out.data(), 4, "kernel is null"},
      {k.get(), x.data(), &v, p, out.data(), -3,
       "batch is -3; it must be non-negative"},
      {k.get(), x.data(), nullptr, p, out.data(), 4, "direction is null"},
      {k.get(), x.data(), &v, nullptr, out.data(), 4, "params is null"},
      {k.get(), nullptr, &v, p, nullptr, 0, nullptr}, // fine
      {k.get(), x.data(), nullptr, p, out.data(), 0, "direction is null"},
      {k.get(), nullptr, &v, p, out.data(), 4, "x is null but batch is 4"},
      {k.get(), x.data(), &v, p, nullptr, 4, "out is null but batch is 4"},
      {k.get(), x.data(), &v, p, out.data(), INT64_MAX / 2,
       "batch 4611686018427387903 is too large: the buffer sizes overflow "
       "int64_t"},
  };
  for (const Case &c : cases) {
    int expected = c.error ? NTP_ERROR_INVALID_ARGUMENT : NTP_OK;
    EXPECT_EQ(ntp_forward(c.k, c.x, c.v, c.p, c.out, c.batch), expected);
    if (c.error) {
      EXPECT_STREQ(ntp_last_error(), c.error);
    }
  }
}

TEST_F(RuntimeTest, ForwardCheckedNamesTheMismatchedBuffer) {
  KernelPtr k = loadOrDie(NTP_FAKE_F64);
  std::vector<double> x = iota(6, 0.0), out(4 * 6);
  double v = 1.0;
  const double *p = kParams.data();
  auto call = [&](int64_t nx, int64_t nv, int64_t np, int64_t nout) {
    return ntp_forward_checked(k.get(), x.data(), nx, &v, nv, p, np, out.data(),
                               nout, 6);
  };
  EXPECT_EQ(call(5, 1, 2, 24), NTP_ERROR_INVALID_ARGUMENT);
  EXPECT_STREQ(ntp_last_error(), "x has 5 elements but the kernel expects 6");
  EXPECT_EQ(call(6, 2, 2, 24), NTP_ERROR_INVALID_ARGUMENT);
  EXPECT_STREQ(ntp_last_error(),
               "direction has 2 elements but the kernel expects 1");
  EXPECT_EQ(call(6, 1, 100, 24), NTP_ERROR_INVALID_ARGUMENT);
  EXPECT_STREQ(ntp_last_error(),
               "params has 100 elements but the kernel expects 2");
  EXPECT_EQ(call(6, 1, 2, -1), NTP_ERROR_INVALID_ARGUMENT);
  EXPECT_STREQ(ntp_last_error(),
               "out has -1 elements but the kernel expects 24");
  ASSERT_EQ(call(6, 1, 2, 24), NTP_OK) << ntp_last_error();
  EXPECT_EQ(out, expectedJet(x, 1.0));
}

TEST_F(RuntimeTest, BackwardOfForwardOnlyArtifactIsUnsupported) {
  KernelPtr k = loadOrDie(NTP_FAKE_F64);
  double x = 1, v = 1, cotangent[4] = {}, grad[2];
  EXPECT_EQ(ntp_backward(k.get(), &x, &v, kParams.data(), cotangent, grad, 1),
            NTP_ERROR_UNSUPPORTED);
  EXPECT_STREQ(ntp_last_error(),
               "ntp_backward is not supported by this kernel: it was compiled "
               "without the reverse-mode entry points");
  EXPECT_EQ(ntp_backward(nullptr, &x, &v, kParams.data(), cotangent, grad, 1),
            NTP_ERROR_INVALID_ARGUMENT);
}

TEST_F(RuntimeTest, LastErrorIsPerThread) {
  EXPECT_EQ(ntp_forward(nullptr, nullptr, nullptr, nullptr, nullptr, 0),
            NTP_ERROR_INVALID_ARGUMENT);
  std::string other = "unset";
  std::thread([&] { other = ntp_last_error(); }).join();
  EXPECT_EQ(other, "");
  EXPECT_STREQ(ntp_last_error(), "kernel is null");
}

//===-- Threading ---------------------------------------------------------===//

TEST_F(RuntimeTest, ThreadedForwardMatchesSerial) {
  KernelPtr k = loadOrDie(NTP_FAKE_F64);
  std::vector<double> x = iota(1000, -100.0);
  ASSERT_EQ(ntp_set_num_threads(1), NTP_OK);
  distinctThreads(NTP_FAKE_F64);
  std::vector<double> serial = forward(k.get(), x, 0.25);
  EXPECT_EQ(distinctThreads(NTP_FAKE_F64), 1);
  EXPECT_EQ(serial, expectedJet(x, 0.25));

  // 250 tiles over 4 threads. The first tile waits for a second thread, so
  // the pool's workers must take part however the threads are scheduled.
  ASSERT_EQ(ntp_set_num_threads(4), NTP_OK);
  callHook<void>(NTP_FAKE_F64, "fake_wait_for_second_thread");
  ASSERT_EQ(forward(k.get(), x, 0.25), serial);
  EXPECT_GT(distinctThreads(NTP_FAKE_F64), 1);
  for (int repeat = 0; repeat < 50; ++repeat)
    ASSERT_EQ(forward(k.get(), x, 0.25), serial) << repeat;
}

TEST_F(RuntimeTest, SmallBatchesRunOnTheCallingThread) {
  KernelPtr k = loadOrDie(NTP_FAKE_F64);
  ASSERT_EQ(ntp_set_num_threads(4), NTP_OK);
  std::vector<double> x = iota(12, 0.0); // 3 tiles: too few to split
  distinctThreads(NTP_FAKE_F64);
  for (int repeat = 0; repeat < 20; ++repeat)
    ASSERT_EQ(forward(k.get(), x, 1.0), expectedJet(x, 1.0));
  EXPECT_EQ(distinctThreads(NTP_FAKE_F64), 1);
}

TEST_F(RuntimeTest, ThreadCountChangesTakeEffect) {
  KernelPtr k = loadOrDie(NTP_FAKE_F64);
  std::vector<double> x = iota(4000, 0.0), expected = expectedJet(x, 2.0);
  for (int32_t n : {3, 1, 8, 2, 0, -5}) {
    ASSERT_EQ(ntp_set_num_threads(n), NTP_OK);
    ASSERT_EQ(forward(k.get(), x, 2.0), expected) << n;
  }
  for (int32_t n : {1, 2}) {
    ASSERT_EQ(ntp_set_num_threads(n), NTP_OK);
    distinctThreads(NTP_FAKE_F64);
    for (int repeat = 0; repeat < 20; ++repeat)
      forward(k.get(), x, 2.0);
    EXPECT_LE(distinctThreads(NTP_FAKE_F64), n);
  }
}

TEST_F(RuntimeTest, ConcurrentCallsOnOneKernelAreCorrect) {
  KernelPtr k = loadOrDie(NTP_FAKE_F64);
  ASSERT_EQ(ntp_set_num_threads(4), NTP_OK);
  constexpr int kThreads = 8;
  std::vector<std::vector<double>> results(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      std::vector<double> x = iota(1000 + t, double(t));
      for (int repeat = 0; repeat < 20; ++repeat)
        results[t] = forward(k.get(), x, 0.5 * t);
    });
  for (std::thread &t : threads)
    t.join();
  for (int t = 0; t < kThreads; ++t)
    EXPECT_EQ(results[t], expectedJet(iota(1000 + t, double(t)), 0.5 * t)) << t;
}

TEST_F(RuntimeTest, ForwardWorksInAForkedChild) {
  // The child inherits the pool's state but not its worker threads.
  KernelPtr k = loadOrDie(NTP_FAKE_F64);
  ASSERT_EQ(ntp_set_num_threads(4), NTP_OK);
  std::vector<double> x = iota(1000, 0.0), expected = expectedJet(x, 1.0);
  ASSERT_EQ(forward(k.get(), x, 1.0), expected);
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    std::vector<double> out(expected.size());
    double v = 1.0;
    bool ok = true;
    for (int repeat = 0; repeat < 10; ++repeat)
      ok = ok &&
           ntp_forward(k.get(), x.data(), &v, kParams.data(), out.data(),
                       1000) == NTP_OK &&
           out == expected;
    ::_exit(ok ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  EXPECT_EQ(forward(k.get(), x, 1.0), expected);
}

TEST_F(RuntimeTest, ConcurrentCallsOnDifferentKernelsAreCorrect) {
  KernelPtr f64 = loadOrDie(NTP_FAKE_F64);
  KernelPtr f32 = loadOrDie(NTP_FAKE_F32);
  ASSERT_EQ(ntp_set_num_threads(3), NTP_OK);
  std::vector<double> x = iota(999, -1.0);
  std::vector<float> xf(x.begin(), x.end()), pf(kParams.begin(), kParams.end());
  bool f64ok = true, f32ok = true;
  std::thread a([&] {
    for (int repeat = 0; repeat < 100; ++repeat)
      f64ok = f64ok && forward(f64.get(), x, 1.5) == expectedJet(x, 1.5);
  });
  std::thread b([&] {
    std::vector<float> out(4 * xf.size());
    float v = 1.5f;
    for (int repeat = 0; repeat < 100; ++repeat) {
      f32ok = f32ok && ntp_forward(f32.get(), xf.data(), &v, pf.data(),
                                   out.data(), int64_t(xf.size())) == NTP_OK;
      f32ok = f32ok && out[0] == 2.5f * xf[0] - 0.75f &&
              out[xf.size() + 998] == 2.5f * 1.5f && out.back() == 0.0f;
    }
  });
  a.join();
  b.join();
  EXPECT_TRUE(f64ok);
  EXPECT_TRUE(f32ok);
}

//===-- C++ wrapper -------------------------------------------------------===//

TEST_F(RuntimeTest, CppKernelLoadsAndRuns) {
  ntp::Kernel k = ntp::Kernel::load(NTP_FAKE_F64);
  EXPECT_EQ(k.info().order, kOrder);
  EXPECT_EQ(k.layers(), (std::vector<int32_t>{1, 1}));
  EXPECT_EQ(k.activation(), "identity");

  std::vector<double> x = iota(9, 3.0), out;
  k.forward(x, std::vector<double>{-1.0}, kParams, out);
  EXPECT_EQ(out, expectedJet(x, -1.0));

  std::vector<double> raw(out.size());
  double v = -1.0;
  k.forward(x.data(), x.size(), &v, 1, kParams.data(), kParams.size(),
            raw.data(), raw.size(), 9);
  EXPECT_EQ(raw, out);

  ntp::Kernel moved = std::move(k);
  EXPECT_EQ(k.get(), nullptr);
  EXPECT_EQ(moved.activation(), "identity");
  moved = ntp::Kernel::load(NTP_FAKE_F32);
  EXPECT_EQ(moved.info().dtype, NTP_DTYPE_F32);
}

TEST_F(RuntimeTest, CppErrorsCarryTheStatus) {
  try {
    ntp::Kernel::load(NTP_FAKE_ABI3);
    FAIL() << "expected ntp::Error";
  } catch (const ntp::Error &e) {
    EXPECT_EQ(e.status(), NTP_ERROR_ABI_MISMATCH);
    EXPECT_NE(std::string(e.what()).find("ABI version 3"), std::string::npos);
  }

  ntp::Kernel k = ntp::Kernel::load(NTP_FAKE_F64);
  std::vector<double> out(8), x(2), v(1), params(100);
  try {
    k.forward(x.data(), x.size(), v.data(), v.size(), params.data(),
              params.size(), out.data(), out.size(), 2);
    FAIL() << "expected ntp::Error";
  } catch (const ntp::Error &e) {
    EXPECT_EQ(e.status(), NTP_ERROR_INVALID_ARGUMENT);
    EXPECT_STREQ(e.what(), "params has 100 elements but the kernel expects 2");
  }
}

TEST_F(RuntimeTest, CppForwardChecksTheDtype) {
  ntp::Kernel k = ntp::Kernel::load(NTP_FAKE_F64);
  std::vector<float> x(4), v(1), params(2), out;
  try {
    k.forward(x, v, params, out);
    FAIL() << "expected ntp::Error";
  } catch (const ntp::Error &e) {
    EXPECT_EQ(e.status(), NTP_ERROR_INVALID_ARGUMENT);
    EXPECT_STREQ(e.what(), "this kernel computes in f64 but forward was "
                           "called with float buffers");
  }
  ntp::Kernel f32 = ntp::Kernel::load(NTP_FAKE_F32);
  x = {1, 2, 3, 4};
  params = {2.5f, -0.75f};
  v = {1.0f};
  f32.forward(x, v, params, out);
  ASSERT_EQ(out.size(), 16u);
  EXPECT_EQ(out[3], 2.5f * 4 - 0.75f);
  EXPECT_EQ(out[4], 2.5f);
}

} // namespace
