//===- CudaArtifact.h - CUDA kernels from a validated artifact --*- C++ -*-===//
#ifndef NTP_RUNTIME_CUDAARTIFACT_H
#define NTP_RUNTIME_CUDAARTIFACT_H

#include "Kernel.h"

#include <string>

namespace ntp::rt {

/// Loads the image of the validated CUDA artifact `view` through the
/// driver; `what` names the artifact in messages ("'k.ntp'", "from memory").
int loadCudaArtifact(const ntp::artifact::ArtifactView &view,
                     const std::string &what, ntp_kernel **out);

} // namespace ntp::rt

#endif // NTP_RUNTIME_CUDAARTIFACT_H
