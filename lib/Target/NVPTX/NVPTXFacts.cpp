//===- NVPTXFacts.cpp - What the CUDA device decides about a kernel -------===//
//
// Plain C++ (no MLIR, no LLVM): the launch shape (chip, mapping, block) and
// entry points of a CUDA kernel, and the tile the runtime launches it with.
// Linked into NtpKernelFacts through ntp_register_device_facts.
//
//===----------------------------------------------------------------------===//

#include "ntp/Compiler/KernelFacts.h"

#include <memory>

using namespace ntp;
namespace art = ntp::artifact;

namespace {

class CudaFacts : public DeviceFacts {
public:
  art::Device getDevice() const override { return art::Device::Cuda; }
  bool isGridLaunch() const override { return true; }
  // Partials kernels: the same lowerings as on the CPU at tile size 1 (a
  // sample per thread or per warp); their reverse mode keeps per-sample
  // gradient columns like a jet kernel's.
  bool supportsPartials() const override { return true; }

  bool describe(const KernelTarget &target, art::KernelManifest &m,
                std::string &error) const override {
    // A thread's jet buffers hold one sample; the kernel's tile, as the
    // runtime launches it, is the samples of one block.
    if (target.chip.empty())
      return fail(error, "a CUDA kernel needs a chip (sm_XX)");
    if (target.mapping == art::GpuMapping::Sample &&
        (target.blockSize < 1 || target.blockSize > 1024))
      return fail(error, "the block size must be in 1..1024, got " +
                             std::to_string(target.blockSize));
    if (target.mapping == art::GpuMapping::Lanes &&
        (target.samplesPerBlock < 1 || target.samplesPerBlock > 32))
      return fail(error, "the samples per block must be in 1..32, got " +
                             std::to_string(target.samplesPerBlock));
    m.tile = cudaSamplesPerBlock(target);
    art::CudaLaunch launch;
    launch.chip = target.chip;
    launch.mapping = target.mapping;
    launch.blockSize = cudaThreadsPerBlock(target);
    launch.samplesPerBlock = cudaSamplesPerBlock(target);
    m.cuda = launch;
    // The reverse mode saves each sample's jets (the tile's, as on the CPU).
    m.backward = target.backward;
    if (m.backward) {
      std::optional<int64_t> workspace =
          art::workspaceElementsPerTile(m.layers, m.order, m.tile, m.kinds);
      if (!workspace)
        return fail(error, "the workspace of one block overflows int64");
      m.workspacePerTile = *workspace;
    }
    return true;
  }

  void readTarget(const art::KernelManifest &m,
                  KernelTarget &target) const override {
    if (!m.cuda)
      return;
    target.chip = m.cuda->chip;
    target.mapping = m.cuda->mapping;
    if (m.cuda->mapping == art::GpuMapping::Lanes)
      target.samplesPerBlock = m.cuda->samplesPerBlock;
    else
      target.blockSize = m.cuda->blockSize;
  }

  std::vector<std::string>
  entryPointSymbols(const art::KernelManifest &m) const override {
    return art::cudaEntrySymbols(m);
  }

private:
  static bool fail(std::string &error, std::string message) {
    error = std::move(message);
    return false;
  }
};

} // namespace

namespace ntp {
std::unique_ptr<DeviceFacts> createCudaDeviceFacts();
} // namespace ntp

std::unique_ptr<DeviceFacts> ntp::createCudaDeviceFacts() {
  return std::make_unique<CudaFacts>();
}
