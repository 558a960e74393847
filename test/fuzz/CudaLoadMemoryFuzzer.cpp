//===- CudaLoadMemoryFuzzer.cpp - libFuzzer: ntp_kernel_load_memory -------===//
//
// Fuzzes ntp_kernel_load_memory, the C API's loader of in-memory CUDA
// artifacts: container and manifest validation, then the driver (context,
// architecture checks, module load, entry lookup) and, for a kernel that
// loads, one ntp_forward_async launch.
//
// The driver is $NTP_LIBCUDA: by default the fake driver of
// test/unit/runtime/fixtures/fake_libcuda.c (no GPU, checks images and
// records launches; its device pointers are never dereferenced). With
// NTP_FUZZ_EXPECT_NO_DRIVER=1 (and NTP_LIBCUDA naming no library) every
// artifact that passes validation must fail with NTP_ERROR_NO_DEVICE.
//
// Linked with --wrap=dlopen: the only library the runtime may open is the
// driver; a CPU artifact in memory must be refused before any dlopen.
//
//===----------------------------------------------------------------------===//
#include "FuzzSupport.h"

#include <cstring>

extern "C" void *__real_dlopen(const char *file, int flags);

namespace {
std::string driverPath;
bool expectNoDriver = false;
} // namespace

extern "C" void *__wrap_dlopen(const char *file, int flags) {
  if (!file || driverPath != file) {
    std::fprintf(stderr, "dlopen of '%s', not of the driver '%s'\n",
                 file ? file : "(null)", driverPath.c_str());
    std::abort();
  }
  return __real_dlopen(file, flags);
}

extern "C" int LLVMFuzzerInitialize(int *, char ***) {
#ifdef NTP_FUZZ_FAKE_LIBCUDA
  setenv("NTP_LIBCUDA", NTP_FUZZ_FAKE_LIBCUDA, /*overwrite=*/0);
#else
  setenv("NTP_LIBCUDA", "/nonexistent/libcuda.so.1", 0);
#endif
  driverPath = std::getenv("NTP_LIBCUDA");
  const char *noDriver = std::getenv("NTP_FUZZ_EXPECT_NO_DRIVER");
  expectNoDriver = noDriver && *noDriver == '1';
  return 0;
}

static void load(std::string_view bytes) {
  using namespace ntp::artifact;
  // What validation alone says about these bytes.
  ArtifactView view;
  std::string reason;
  ntp_status valid = openArtifact(bytes, view, reason);

  ntp_kernel *kernel = reinterpret_cast<ntp_kernel *>(0x1);
  // A non-null pointer for size 0: the API refuses null data.
  const void *data = bytes.empty() ? "" : bytes.data();
  ntp_status status =
      ntp_kernel_load_memory(data, static_cast<int64_t>(bytes.size()), &kernel);
  NTP_FUZZ_CHECK(ntp::fuzz::isStatus(status));
  if (ntp::fuzz::verbose())
    std::fprintf(stderr, "ntp_kernel_load_memory: %d %s\n", status,
                 status ? ntp_last_error() : "");
  if (status != NTP_OK) {
    NTP_FUZZ_CHECK(kernel == nullptr);
    const char *message = ntp_last_error();
    NTP_FUZZ_CHECK(message && *message);
    if (valid != NTP_OK) {
      // Refused by validation, with validation's status.
      NTP_FUZZ_CHECK(status == valid);
    } else if (view.manifest.device == Device::Cpu) {
      NTP_FUZZ_CHECK(status == NTP_ERROR_UNSUPPORTED);
    } else if (expectNoDriver) {
      NTP_FUZZ_CHECK(status == NTP_ERROR_NO_DEVICE);
    }
    return;
  }
  // Loaded: only a valid CUDA artifact can.
  NTP_FUZZ_CHECK(valid == NTP_OK);
  NTP_FUZZ_CHECK(view.manifest.device == Device::Cuda);
  NTP_FUZZ_CHECK(!expectNoDriver);
  NTP_FUZZ_CHECK(kernel != nullptr);
  ntp_kernel_info info;
  NTP_FUZZ_CHECK(ntp_kernel_info_get(kernel, &info) == NTP_OK);
  NTP_FUZZ_CHECK(info.device == NTP_DEVICE_CUDA);
  NTP_FUZZ_CHECK(info.order == view.manifest.order);
  NTP_FUZZ_CHECK(info.num_params == view.manifest.numParams);
  // One launch (the fake driver records it; the pointers are never read).
  char dummy[8];
  ntp_status launch = ntp_forward_async(kernel, dummy, dummy, dummy, dummy,
                                        /*batch=*/3, nullptr);
  NTP_FUZZ_CHECK(ntp::fuzz::isStatus(launch));
  if (ntp::fuzz::verbose())
    std::fprintf(stderr, "ntp_forward_async: %d %s\n", launch,
                 launch ? ntp_last_error() : "");
  // CUDA kernels have no reverse mode.
  NTP_FUZZ_CHECK(ntp_backward(kernel, dummy, dummy, dummy, dummy, dummy, 1) ==
                 NTP_ERROR_UNSUPPORTED);
  ntp_kernel_free(kernel);
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string_view input(reinterpret_cast<const char *>(data), size);
  load(input);
  std::vector<std::string> forms = ntp::fuzz::artifactForms(input);
  for (size_t i = 1; i < forms.size(); ++i)
    load(forms[i]);
  return 0;
}
