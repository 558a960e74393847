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
};

/// The compile options that change a fact of the kernel.
struct KernelTarget {
  artifact::Device device = artifact::Device::Cpu;
  /// CPU: samples per tile, 0 for artifact::defaultTile. CUDA: ignored (the
  /// tile is the samples of one block).
  int64_t tile = 0;
  /// Whether the reverse-mode entry points are generated (CPU only).
  bool backward = false;
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

/// The facts of `network` compiled for `target`, validated (widths, order,
/// activation name, tile, block shape); false and one sentence in `error`
/// otherwise. The CUDA image (format, size) is left to the serializer.
bool describeKernel(const NetworkDescription &network,
                    const KernelTarget &target,
                    artifact::KernelManifest &manifest, std::string &error);

/// The inverse of describeKernel on its result.
NetworkDescription networkOf(const artifact::KernelManifest &manifest);
KernelTarget targetOf(const artifact::KernelManifest &manifest);

/// The symbols of the functions the kernel's IR defines, in the order of
/// artifact::kEntryPoints: <name>_forward_tiles ... on the CPU (the reverse
/// ones with backward), <name>_forward for CUDA.
std::vector<std::string>
entryPointSymbols(const artifact::KernelManifest &manifest);

/// The canonical text of every fact but the CUDA image: what the JIT keys its
/// cache with, and what two descriptions of the same kernel agree on.
std::string kernelKeyText(const artifact::KernelManifest &manifest);

/// CUDA threads and samples per block of a launch with these options.
int64_t cudaThreadsPerBlock(const KernelTarget &target);
int64_t cudaSamplesPerBlock(const KernelTarget &target);

} // namespace ntp

#endif // NTP_COMPILER_KERNELFACTS_H
