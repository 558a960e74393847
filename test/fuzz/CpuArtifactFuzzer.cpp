//===- CpuArtifactFuzzer.cpp - libFuzzer: the CPU artifact validator ------===//
//
// Fuzzes what runs before dlopen on a CPU artifact: the container reader
// (openArtifact: trailer, sizes, checksum, ABI version), the manifest parser
// behind it, and the payload and host checks of loadCpuArtifact (ELF header,
// program headers and segments inside the payload, CPU features).
//
// Fuzzed code is never loaded: this binary is linked with --wrap=dlopen, so
// the runtime's call to dlopen lands in __wrap_dlopen below, which only
// checks that nothing unvalidated got that far and returns null ("dlopen
// failed"). Input: the bytes of an artifact file (see FuzzSupport.h for the
// checksum-fixed and resealed forms tried as well).
//
//===----------------------------------------------------------------------===//
#include "FuzzSupport.h"

#include "CpuArtifact.h"
#include "Kernel.h"

#include <cstring>
#include <dlfcn.h>

using namespace ntp::artifact;

namespace {
/// The artifact being validated when dlopen is reached, if one is.
const ArtifactView *validating = nullptr;
int dlopenCalls = 0;
} // namespace

// The runtime's dlopen calls come here (-Wl,--wrap=dlopen): only a payload
// that passed every check may reach it, and it is never mapped.
extern "C" void *__wrap_dlopen(const char *file, int flags) {
  (void)flags;
  NTP_FUZZ_CHECK(validating != nullptr);
  NTP_FUZZ_CHECK(file && std::strcmp(file, "./fuzz-artifact.so") == 0);
  NTP_FUZZ_CHECK(validating->payload.size() >= 4 &&
                 std::memcmp(validating->payload.data(),
                             "\x7f"
                             "ELF",
                             4) == 0);
  ++dlopenCalls;
  ::dlerror(); // no stale message (the sanitizer's own dlsym misses leave one)
  return nullptr;
}

static void validate(std::string_view bytes) {
  ArtifactView view;
  std::string error;
  ntp_status status = openArtifact(bytes, view, error);
  NTP_FUZZ_CHECK(ntp::fuzz::isStatus(status));
  if (ntp::fuzz::verbose())
    std::fprintf(stderr, "openArtifact: %d %s\n", status, error.c_str());
  if (status != NTP_OK) {
    NTP_FUZZ_CHECK(!error.empty());
    return;
  }
  // A validated container accounts for every byte.
  NTP_FUZZ_CHECK(view.payload.size() + view.manifestText.size() +
                     kTrailerBytes ==
                 bytes.size());
  NTP_FUZZ_CHECK(view.payload.data() == bytes.data());
  ntp::fuzz::checkAcceptedManifest(view.manifest);
  if (view.manifest.device != Device::Cpu)
    return;
  ntp_kernel *kernel = nullptr;
  validating = &view;
  int result = ntp::rt::guarded([&] {
    return ntp::rt::loadCpuArtifact("fuzz-artifact.so", view, &kernel);
  });
  validating = nullptr;
  if (ntp::fuzz::verbose())
    std::fprintf(stderr, "loadCpuArtifact: %d %s\n", result,
                 ntp::rt::lastError().c_str());
  // dlopen "failed", so no kernel can come out of it.
  NTP_FUZZ_CHECK(result != NTP_OK && kernel == nullptr);
  NTP_FUZZ_CHECK(ntp::fuzz::isStatus(result));
  NTP_FUZZ_CHECK(!ntp::rt::lastError().empty());
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string_view input(reinterpret_cast<const char *>(data), size);
  // The input itself straight from libFuzzer's exactly-sized buffer, so that
  // ASan sees any read past its end; then the fixed-up forms.
  validate(input);
  std::vector<std::string> forms = ntp::fuzz::artifactForms(input);
  for (size_t i = 1; i < forms.size(); ++i)
    validate(forms[i]);
  return 0;
}
