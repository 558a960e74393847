//===- ManifestFuzzer.cpp - libFuzzer: the manifest parser ----------------===//
//
// Fuzzes parseManifest with arbitrary text. Every manifest it accepts must
// satisfy the invariants of FuzzSupport.h (derived fields equal their one
// definition; serialize -> parse is the identity, serialize a fixed point),
// seal into a container that openArtifact accepts, and give a kernel through
// ntp_kernel_create (CPU) or be refused there with a status (CUDA, or CPU
// features this host lacks). The entry point given to ntp_kernel_create is
// never called.
//
//===----------------------------------------------------------------------===//
#include "FuzzSupport.h"

using namespace ntp::artifact;

static void forwardNeverCalled() { std::abort(); }

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string_view text(reinterpret_cast<const char *>(data), size);
  KernelManifest m;
  std::string error;
  ntp_status status = parseManifest(text, m, error);
  NTP_FUZZ_CHECK(ntp::fuzz::isStatus(status));
  NTP_FUZZ_CHECK(status == NTP_OK || status == NTP_ERROR_BAD_ARTIFACT ||
                 status == NTP_ERROR_ABI_MISMATCH);
  if (status != NTP_OK) {
    NTP_FUZZ_CHECK(!error.empty());
    return 0;
  }
  ntp::fuzz::checkAcceptedManifest(m);

  // Sealed with a payload of the size the manifest promises (CUDA), the
  // container must validate to the same manifest.
  if (!m.cuda || m.cuda->imageBytes <= 4096) {
    std::string payload(m.cuda ? size_t(m.cuda->imageBytes) : size_t(16), 'p');
    std::string sealed = sealArtifactText(payload, text);
    ArtifactView view;
    std::string reason;
    NTP_FUZZ_CHECK(openArtifact(sealed, view, reason) == NTP_OK);
    NTP_FUZZ_CHECK(ntp::fuzz::sameManifest(view.manifest, m));
  }

  // ntp_kernel_create reads the text up to its NUL (parseManifest refuses
  // text with a NUL, so the accepted text has none).
  std::string nulTerminated(text);
  ntp_kernel *kernel = nullptr;
  ntp_kernel_entry_points entry = {
      reinterpret_cast<void *>(&forwardNeverCalled),
      reinterpret_cast<void *>(&forwardNeverCalled),
      reinterpret_cast<void *>(&forwardNeverCalled),
      reinterpret_cast<void *>(&forwardNeverCalled)};
  ntp_status created = ntp_kernel_create_with(nulTerminated.c_str(), &entry,
                                              nullptr, nullptr, &kernel);
  NTP_FUZZ_CHECK(ntp::fuzz::isStatus(created));
  if (m.device == Device::Cuda) {
    NTP_FUZZ_CHECK(created == NTP_ERROR_UNSUPPORTED && kernel == nullptr);
    return 0;
  }
  if (created != NTP_OK) {
    // Only a CPU this host cannot run, or a variant table (which only
    // ntp_kernel_load chooses from), is refused.
    NTP_FUZZ_CHECK(created == NTP_ERROR_UNSUPPORTED && kernel == nullptr);
    return 0;
  }
  ntp_kernel_info info;
  NTP_FUZZ_CHECK(ntp_kernel_info_get(kernel, &info) == NTP_OK);
  NTP_FUZZ_CHECK(info.order == m.order && info.num_params == m.numParams);
  NTP_FUZZ_CHECK(info.input_dim == m.layers.front() &&
                 info.output_dim == m.layers.back());
  int64_t bytes = 0;
  ntp_status ws = ntp_workspace_size(kernel, 5, &bytes);
  NTP_FUZZ_CHECK(ws == NTP_OK || ws == NTP_ERROR_UNSUPPORTED ||
                 ws == NTP_ERROR_INVALID_ARGUMENT);
  ntp_kernel_free(kernel);
  return 0;
}
