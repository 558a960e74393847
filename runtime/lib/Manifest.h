//===- Manifest.h - ntp kernel artifact manifest ----------------*- C++ -*-===//
//
// Parses and validates the `ntp_kernel_manifest` text that every artifact made
// by ntp-compile exports (see runtime.h for the artifact contract).
//
//===----------------------------------------------------------------------===//
#ifndef NTP_RUNTIME_MANIFEST_H
#define NTP_RUNTIME_MANIFEST_H

#include "ntp/runtime.h"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ntp::rt {

struct Manifest {
  int32_t order = 0;
  std::vector<int32_t> layers; // input_dim, hidden..., output_dim
  std::string activation;
  int64_t numParams = 0;
  ntp_dtype dtype = NTP_DTYPE_F32;
  ntp_device device = NTP_DEVICE_CPU;
  int64_t tile = 1;
  /// Whether the artifact exports the reverse-mode entry points, and the
  /// elements of saved jets per tile they need (forward-save path).
  bool backward = false;
  int64_t workspacePerTile = 0;
  /// The LLVM CPU and the instruction-set features the code needs
  /// (`target_cpu`, `cpu_features`; both optional).
  std::string targetCpu;
  std::vector<std::string> cpuFeatures;
};

/// The features of `features` (LLVM names) that this runtime can test and
/// the host CPU lacks; empty on non-x86 hosts.
std::vector<std::string>
missingCpuFeatures(const std::vector<std::string> &features);

/// Parses `text` into `manifest`. On failure returns NTP_ERROR_ABI_MISMATCH
/// or NTP_ERROR_BAD_ARTIFACT and sets `error` to a sentence fragment that the
/// caller prefixes with the artifact's path.
ntp_status parseManifest(std::string_view text, Manifest &manifest,
                         std::string &error);

} // namespace ntp::rt

#endif // NTP_RUNTIME_MANIFEST_H
