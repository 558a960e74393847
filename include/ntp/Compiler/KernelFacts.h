//===- KernelFacts.h - From a network and a target to kernel facts -*- C++ -*-//
//
// The one function that decides what a kernel is (its name, widths,
// activation, order, type, tile, entry points, workspace, target): the
// passes stamp its result on the module as #ntp.kernel, the artifact writers
// read that attribute back, and the JIT keys its cache with its text. Plain
// C++17 on top of runtime/include/ntp/artifact.hpp: no MLIR, so that a JIT
// cache hit needs no MLIR context.
//
//===----------------------------------------------------------------------===//

#ifndef NTP_COMPILER_KERNELFACTS_H
#define NTP_COMPILER_KERNELFACTS_H

#include "ntp/artifact.hpp"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace ntp {

/// The network an ntp.mlp describes.
struct NetworkDescription {
  std::string name = "ntp_kernel";
  std::vector<int64_t> layers;
  /// One name for every hidden layer, or one per hidden layer separated by
  /// commas ("silu,tanh"; ntp::parseActivationList).
  std::string activation = "tanh";
  int64_t order = 0;
  artifact::Dtype dtype = artifact::Dtype::F32;
  /// A partials kernel's request (artifact::KernelManifest::partials rows);
  /// empty for a jet kernel. `order` is then the highest total order a row
  /// may have.
  std::vector<std::vector<int32_t>> partials;
  /// Typed layers: adaptive slopes and residual connections per hidden layer
  /// (artifact::LayerKinds); empty for a plain MLP.
  artifact::LayerKinds kinds;
};

/// The compile options that change a fact of the kernel. The fields are what
/// the artifact contract lets a device state (artifact::KernelManifest): a
/// host kernel's tile and CPU, or a grid launch's chip, mapping and block
/// shape; each device's DeviceFacts reads those it has.
struct KernelTarget {
  artifact::Device device = artifact::Device::Cpu;
  /// CPU: samples per tile, 0 for artifact::defaultTile. CUDA: ignored (the
  /// tile is the samples of one block).
  int64_t tile = 0;
  /// Whether the reverse-mode entry points are generated (CPU only).
  bool backward = false;
  /// A partials kernel with the reverse mode: the jet coefficient rows its
  /// save writes per sample, the workspace being that many coefficients'
  /// worth (artifact::partialsWorkspaceElementsPerTile). 0: the per-ray
  /// reverse's, partials::Plan::jetCoefficients; a reverse mode that
  /// follows a multi-direction or collapsed forward saves the rows of its
  /// blocks (fewer; ntp-generate-backward sets them).
  int64_t partialsSavedRows = 0;
  /// A partials kernel: how ntp-decompose-mlp propagates the rays of its
  /// forward and of its reverse mode (artifact::KernelManifest::
  /// partialsLowering, partialsReverseLowering); empty until it chooses.
  std::string partialsLowering;
  std::string partialsReverseLowering;
  /// CPU: the concrete LLVM CPU name and the recorded features
  /// (artifact::kRecordedCpuFeatures); empty until a target stamps them.
  std::string cpu;
  std::vector<std::string> cpuFeatures;
  /// CUDA: architecture, mapping and block shape (artifact::CudaLaunch).
  std::string chip;
  artifact::GpuMapping mapping = artifact::GpuMapping::Sample;
  int64_t blockSize = 128;     // threads per block (mapping sample)
  int64_t samplesPerBlock = 4; // warps per block (mapping lanes)
};

/// What one device decides about a kernel: its tile, reverse mode and
/// workspace, launch shape, entry points, and their validation. Each target
/// folder that compiles for a device supplies its DeviceFacts in a plain C++
/// file (lib/Target/Cpu/CpuFacts.cpp, lib/Target/NVPTX/NVPTXFacts.cpp) and
/// names it with ntp_register_device_facts in its CMakeLists.txt; every
/// binary linking NtpKernelFacts gets every device's facts, whether or not
/// it registers any target (the #ntp.kernel verifier in ntp-opt, the JIT's
/// cache key on a hit). Header-only, so that those files link nothing.
class DeviceFacts {
public:
  virtual ~DeviceFacts() = default;
  virtual artifact::Device getDevice() const = 0;
  /// Whether the kernel is launched as a grid of blocks (chip, mapping and
  /// block shape) rather than run over host tiles (CPU name and features).
  virtual bool isGridLaunch() const = 0;
  /// Whether its target compiles partials kernels (ntp.mlp partials /
  /// operators) for this device.
  virtual bool supportsPartials() const = 0;
  /// Fills the device's facts of `manifest`, whose network facts are set;
  /// false and one sentence in `error` if `target` is invalid for it.
  virtual bool describe(const KernelTarget &target,
                        artifact::KernelManifest &manifest,
                        std::string &error) const = 0;
  /// The inverse of describe on its result (device-specific fields only).
  virtual void readTarget(const artifact::KernelManifest &manifest,
                          KernelTarget &target) const = 0;
  /// The symbols of the functions the kernel's IR defines.
  virtual std::vector<std::string>
  entryPointSymbols(const artifact::KernelManifest &manifest) const = 0;
};

/// The facts of `device`, or null for a device no target supplies.
const DeviceFacts *lookupDeviceFacts(artifact::Device device);

/// The facts of `network` compiled for `target`, validated (widths, order,
/// activation name, tile, block shape); false and one sentence in `error`
/// otherwise. The CUDA image (format, size) is left to the serializer.
bool describeKernel(const NetworkDescription &network,
                    const KernelTarget &target,
                    artifact::KernelManifest &manifest, std::string &error);

/// The inverse of describeKernel on its result.
NetworkDescription networkOf(const artifact::KernelManifest &manifest);
KernelTarget targetOf(const artifact::KernelManifest &manifest);

/// KernelTarget::partialsSavedRows of a kernel's facts, read back from its
/// workspace_per_tile: the rows when fewer than the per-ray reverse's, else
/// 0 (also for a jet kernel or one without the reverse mode).
int64_t partialsSavedRows(const artifact::KernelManifest &manifest);

/// The symbols of the functions the kernel's IR defines (its device's
/// DeviceFacts::entryPointSymbols): <name>_forward_tiles ... on the CPU (the
/// reverse ones with backward), <name>_forward for CUDA.
std::vector<std::string>
entryPointSymbols(const artifact::KernelManifest &manifest);

/// The canonical text of every fact but the CUDA image: what the JIT keys its
/// cache with, and what two descriptions of the same kernel agree on.
std::string kernelKeyText(const artifact::KernelManifest &manifest);

/// Threads and samples per block of a grid launch with these options.
inline int64_t cudaThreadsPerBlock(const KernelTarget &target) {
  return target.mapping == artifact::GpuMapping::Lanes
             ? 32 * target.samplesPerBlock
             : target.blockSize;
}
inline int64_t cudaSamplesPerBlock(const KernelTarget &target) {
  return target.mapping == artifact::GpuMapping::Lanes ? target.samplesPerBlock
                                                       : target.blockSize;
}

} // namespace ntp

#endif // NTP_COMPILER_KERNELFACTS_H
