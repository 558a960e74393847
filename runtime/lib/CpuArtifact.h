//===- CpuArtifact.h - CPU kernels: shared objects, host checks -*- C++ -*-===//
#ifndef NTP_RUNTIME_CPUARTIFACT_H
#define NTP_RUNTIME_CPUARTIFACT_H

#include "Kernel.h"

#include <string>
#include <vector>

namespace ntp::rt {

/// The features of `features` (LLVM names) that this runtime can test and
/// the host CPU lacks; empty on non-x86 hosts.
std::vector<std::string>
missingCpuFeatures(const std::vector<std::string> &features);

/// Whether a CPU kernel with this manifest can run here (device=cpu, the
/// host has its instruction-set features); `what` names it in messages.
int checkCpuManifest(const ntp::artifact::KernelManifest &manifest,
                     const std::string &what);

/// Loads the validated CPU artifact `view`, read from the file at `path`:
/// checks its payload is a complete shared object for this machine, dlopens
/// the file, then cross-checks the manifest symbol against the trailer's
/// manifest and resolves the entry points.
int loadCpuArtifact(const std::string &path,
                    const ntp::artifact::ArtifactView &view, ntp_kernel **out);

} // namespace ntp::rt

#endif // NTP_RUNTIME_CPUARTIFACT_H
