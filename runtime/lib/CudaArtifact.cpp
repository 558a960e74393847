//===- CudaArtifact.cpp - CUDA kernels from a validated artifact ----------===//
//
// The container and manifest were validated by the loader (the CUDA keys
// strictly: chip, format, mapping, block_size, samples_per_block,
// image_bytes == the payload's size); what is left is the driver
// (Cuda.cpp).
//
//===----------------------------------------------------------------------===//
#include "CudaArtifact.h"

#include "Cuda.h"

#include <memory>

using namespace ntp::artifact;

namespace ntp::rt {

int loadCudaArtifact(const ArtifactView &view, const std::string &what,
                     ntp_kernel **out) {
  const KernelManifest &m = view.manifest;
  if (m.device != Device::Cuda || !m.cuda)
    return fail(NTP_ERROR_BAD_ARTIFACT, what + " is not a CUDA kernel");
  auto kernel = std::make_unique<ntp_kernel>();
  kernel->manifest = m;
  kernel->identity = checksum64(view.manifestText);
  CudaImageInfo info;
  info.chip = m.cuda->chip;
  info.isPtx = m.cuda->format == ImageFormat::Ptx;
  info.entry = cudaEntrySymbol(m);
  info.blockSize = static_cast<int>(m.cuda->blockSize);
  info.samplesPerBlock = static_cast<int>(m.cuda->samplesPerBlock);
  if (m.backward) {
    info.forwardSaveEntry = cudaKernelSymbol(m, CudaKernel::ForwardSave);
    info.backwardSavedEntry = cudaKernelSymbol(m, CudaKernel::BackwardSaved);
    info.reduceEntry = cudaKernelSymbol(m, CudaKernel::ReduceParamsGrad);
  }
  std::string image(view.payload); // NUL-terminated, as PTX must be
  std::string reason;
  if (ntp_status status = cudaLoad(image, info, &kernel->cuda, reason))
    return fail(status, "cannot load CUDA kernel " + what + ": " + reason);
  *out = kernel.release();
  return NTP_OK;
}

} // namespace ntp::rt
