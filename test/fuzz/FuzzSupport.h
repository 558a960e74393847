//===- FuzzSupport.h - Shared helpers of the artifact fuzzers ---*- C++ -*-===//
//
// The container's checksum is a wall a byte-mutating fuzzer almost never
// gets over, so every harness tries an input three ways: as it is, with the
// checksum field of its trailer recomputed (when the trailer's sizes add up),
// and resealed (payload = everything before the manifest magic, manifest =
// the rest). The seeds are plain artifacts and manifests; the fixed-up forms
// reach the manifest parser and the payload checks behind the checksum.
//
// Invariants are checked with NTP_FUZZ_CHECK, which aborts: libFuzzer
// reports the input as a crash.
//
//===----------------------------------------------------------------------===//
#ifndef NTP_TEST_FUZZ_FUZZSUPPORT_H
#define NTP_TEST_FUZZ_FUZZSUPPORT_H

#include "ntp/artifact.hpp"

#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#define NTP_FUZZ_CHECK(cond)                                                   \
  do {                                                                         \
    if (!(cond)) {                                                             \
      std::fprintf(stderr, "%s:%d: fuzz invariant failed: %s\n", __FILE__,     \
                   __LINE__, #cond);                                           \
      std::abort();                                                            \
    }                                                                          \
  } while (0)

namespace ntp::fuzz {

inline uint64_t readLE(std::string_view bytes, size_t at, int n) {
  uint64_t value = 0;
  for (int i = n - 1; i >= 0; --i)
    value = (value << 8) | static_cast<unsigned char>(bytes[at + i]);
  return value;
}

/// `bytes` with the trailer's checksum field recomputed, or "" when it has no
/// trailer magic or its sizes do not add up (then there is nothing to fix).
inline std::string withFixedChecksum(std::string_view bytes) {
  using namespace ntp::artifact;
  if (bytes.size() < kTrailerBytes ||
      bytes.substr(bytes.size() - kTrailerMagic.size()) != kTrailerMagic)
    return "";
  size_t base = bytes.size() - kTrailerBytes;
  uint64_t payload = readLE(bytes, base, 8);
  uint64_t manifest = readLE(bytes, base + 8, 8);
  if (payload > base || manifest != base - payload)
    return "";
  std::string trailer(bytes.substr(base));
  for (int i = 0; i < 8; ++i)
    trailer[16 + i] = 0;
  uint64_t sum =
      checksum64(trailer, checksum64(bytes.substr(payload, manifest),
                                     checksum64(bytes.substr(0, payload))));
  std::string out(bytes);
  for (int i = 0; i < 8; ++i)
    out[base + 16 + i] = static_cast<char>((sum >> (8 * i)) & 0xff);
  return out;
}

/// `bytes` sealed as a container: the manifest is everything from the last
/// "ntp-kernel-manifest" on, the payload what precedes it.
inline std::string resealed(std::string_view bytes) {
  using namespace ntp::artifact;
  size_t at = bytes.rfind(kManifestMagic);
  if (at == std::string_view::npos)
    at = bytes.size();
  return sealArtifactText(bytes.substr(0, at), bytes.substr(at));
}

/// The forms of one input the harnesses try: as is, checksum fixed, resealed
/// (when different from the input).
inline std::vector<std::string> artifactForms(std::string_view bytes) {
  std::vector<std::string> forms{std::string(bytes)};
  std::string fixed = withFixedChecksum(bytes);
  if (!fixed.empty() && fixed != bytes)
    forms.push_back(std::move(fixed));
  // Resealing a sealed artifact would nest it; only bare bytes are sealed.
  if (bytes.size() < ntp::artifact::kTrailerBytes ||
      bytes.substr(bytes.size() - ntp::artifact::kTrailerMagic.size()) !=
          ntp::artifact::kTrailerMagic)
    forms.push_back(resealed(bytes));
  return forms;
}

inline bool sameManifest(const ntp::artifact::KernelManifest &a,
                         const ntp::artifact::KernelManifest &b) {
  bool cudaSame = a.cuda.has_value() == b.cuda.has_value();
  if (cudaSame && a.cuda)
    cudaSame = a.cuda->chip == b.cuda->chip &&
               a.cuda->format == b.cuda->format &&
               a.cuda->mapping == b.cuda->mapping &&
               a.cuda->blockSize == b.cuda->blockSize &&
               a.cuda->samplesPerBlock == b.cuda->samplesPerBlock &&
               a.cuda->imageBytes == b.cuda->imageBytes;
  return cudaSame && a.name == b.name && a.activation == b.activation &&
         a.order == b.order && a.dtype == b.dtype && a.device == b.device &&
         a.layers == b.layers && a.numParams == b.numParams &&
         a.tile == b.tile && a.backward == b.backward &&
         a.workspacePerTile == b.workspacePerTile &&
         a.targetCpu == b.targetCpu && a.cpuFeatures == b.cpuFeatures &&
         a.kinds.slopesText() == b.kinds.slopesText() &&
         a.kinds.residualText() == b.kinds.residualText() &&
         a.kinds.fourier == b.kinds.fourier && a.kinds.gated == b.kinds.gated &&
         a.cpuVariants == b.cpuVariants;
}

/// What every accepted manifest must satisfy, whatever the text was: the
/// derived fields equal their one definition, and serializing it gives text
/// that parses back to the same manifest and serializes to itself.
inline void checkAcceptedManifest(const ntp::artifact::KernelManifest &m) {
  using namespace ntp::artifact;
  NTP_FUZZ_CHECK(m.layers.size() >= 2);
  NTP_FUZZ_CHECK(countParams(m.layers, m.kinds) == m.numParams);
  NTP_FUZZ_CHECK(m.tile >= 1);
  std::optional<int64_t> workspace =
      workspaceElementsPerTile(m.layers, m.order, m.tile, m.kinds);
  NTP_FUZZ_CHECK(workspace.has_value());
  if (m.isPartials() && m.backward) // a multiple: the plan's coefficients
    NTP_FUZZ_CHECK(m.workspacePerTile > 0 &&
                   m.workspacePerTile %
                           *workspaceElementsPerTile(m.layers, 0, m.tile) ==
                       0);
  else
    NTP_FUZZ_CHECK(m.workspacePerTile == (m.backward ? *workspace : 0));
  NTP_FUZZ_CHECK(m.cuda.has_value() == (m.device == Device::Cuda));
  if (m.cuda) {
    NTP_FUZZ_CHECK(m.cuda->blockSize >= 1 && m.cuda->blockSize <= 1024);
    NTP_FUZZ_CHECK(m.cuda->samplesPerBlock == m.tile);
    NTP_FUZZ_CHECK(m.cuda->imageBytes >= 1);
    NTP_FUZZ_CHECK(!m.backward);
  }
  std::string text = serializeManifest(m);
  KernelManifest again;
  std::string error;
  ntp_status status = parseManifest(text, again, error);
  if (status != NTP_OK)
    std::fprintf(stderr, "re-parse of the serialized manifest failed: %s\n%s",
                 error.c_str(), text.c_str());
  NTP_FUZZ_CHECK(status == NTP_OK);
  NTP_FUZZ_CHECK(sameManifest(m, again));
  NTP_FUZZ_CHECK(serializeManifest(again) == text);
}

/// With NTP_FUZZ_VERBOSE=1, harnesses say what became of each input (to
/// check by hand that the seeds reach as deep as intended).
inline bool verbose() {
  static const bool on = [] {
    const char *value = std::getenv("NTP_FUZZ_VERBOSE");
    return value && *value == '1';
  }();
  return on;
}

/// Whether `status` is one of runtime.h's values.
inline bool isStatus(int status) {
  return status >= NTP_OK && status <= NTP_ERROR_INTERNAL;
}

} // namespace ntp::fuzz

#endif // NTP_TEST_FUZZ_FUZZSUPPORT_H
