//===- KernelSpec.h - The manifest text of an artifact ----------*- C++ -*-===//
//
// The facts about a kernel live on its module as #ntp.kernel and are read
// back as an ntp::artifact::KernelManifest (NtpAttributes.h); this writes the
// manifest text the runtime loader checks.
//
//===----------------------------------------------------------------------===//

#ifndef NTP_TARGET_KERNELSPEC_H
#define NTP_TARGET_KERNELSPEC_H

#include "ntp/artifact.hpp"

#include <string>

namespace ntp {

/// ABI version of the artifacts this compiler writes; the runtime's
/// NTP_ABI_VERSION must match it.
constexpr int kArtifactAbiVersion = 1;

/// The manifest text of `manifest` (see runtime/include/ntp/runtime.h),
/// including the CUDA keys when it has a CUDA launch.
std::string manifestText(const artifact::KernelManifest &manifest);

/// The C type of the kernel's elements.
inline const char *cTypeName(artifact::Dtype dtype) {
  return dtype == artifact::Dtype::F64 ? "double" : "float";
}

} // namespace ntp

#endif // NTP_TARGET_KERNELSPEC_H
