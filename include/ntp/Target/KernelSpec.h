//===- KernelSpec.h - What the compiler's artifacts declare -----*- C++ -*-===//
//
// The facts about a kernel live on its module as #ntp.kernel and are read
// back as an ntp::artifact::KernelManifest (NtpAttributes.h), which
// ntp::artifact::serializeManifest / sealArtifact write into the artifact.
//
//===----------------------------------------------------------------------===//

#ifndef NTP_TARGET_KERNELSPEC_H
#define NTP_TARGET_KERNELSPEC_H

#include "ntp/artifact.hpp"

namespace ntp {

/// ABI version of the artifacts this compiler writes; the runtime's
/// NTP_ABI_VERSION must match it.
constexpr int kArtifactAbiVersion = ntp::artifact::kAbiVersion;

/// The C type of the kernel's elements.
inline const char *cTypeName(artifact::Dtype dtype) {
  return dtype == artifact::Dtype::F64 ? "double" : "float";
}

} // namespace ntp

#endif // NTP_TARGET_KERNELSPEC_H
