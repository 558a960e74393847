//===- CpuArtifact.h - CPU kernels: shared objects, host checks -*- C++ -*-===//
#ifndef NTP_RUNTIME_CPUARTIFACT_H
#define NTP_RUNTIME_CPUARTIFACT_H

#include "Kernel.h"

#include <string>
#include <vector>

namespace ntp::rt {

/// The features of `features` (LLVM names) that this runtime can test and
/// the host CPU lacks (or NTP_CPU_FEATURES, when set, does not list); empty
/// on non-x86 hosts.
std::vector<std::string>
missingCpuFeatures(const std::vector<std::string> &features);

/// The features of kRecordedCpuFeatures the host CPU has (less those that
/// NTP_CPU_FEATURES, when set, does not list); empty on non-x86 hosts.
std::vector<std::string> hostCpuFeatures();

/// The index of the first of manifest.cpuVariants whose features are all in
/// `hostFeatures` (the artifact lists them in order of preference), -1 when
/// none is.
int chooseCpuVariant(const ntp::artifact::KernelManifest &manifest,
                     const std::vector<std::string> &hostFeatures);

/// chooseCpuVariant, or NTP_ERROR_UNSUPPORTED and one sentence naming the
/// variants when none fits; `what` names the artifact.
int selectCpuVariant(const ntp::artifact::KernelManifest &manifest,
                     const std::vector<std::string> &hostFeatures,
                     const std::string &what, size_t &index);

/// The manifest of variant `index` of a multi-variant artifact: the
/// artifact's with that variant's CPU and features and no cpu_variants (the
/// text of its ntp_kernel_v<index>_manifest symbol).
ntp::artifact::KernelManifest
cpuVariantManifest(const ntp::artifact::KernelManifest &manifest, size_t index);

/// Whether a CPU kernel with this manifest can run here (device=cpu, the
/// host has its instruction-set features, no cpu_variants); `what` names it
/// in messages.
int checkCpuManifest(const ntp::artifact::KernelManifest &manifest,
                     const std::string &what);

/// Loads the validated CPU artifact `view`, read from the file at `path`:
/// checks its payload is a complete shared object for this machine, chooses
/// the variant of a multi-variant artifact (selectCpuVariant), dlopens the
/// file, then cross-checks the manifest symbols against the trailer's
/// manifest and resolves the (chosen variant's) entry points.
int loadCpuArtifact(const std::string &path,
                    const ntp::artifact::ArtifactView &view, ntp_kernel **out);

} // namespace ntp::rt

#endif // NTP_RUNTIME_CPUARTIFACT_H
