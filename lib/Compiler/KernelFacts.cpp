//===- KernelFacts.cpp - From a network and a target to kernel facts ------===//

#include "ntp/Compiler/KernelFacts.h"
#include "ntp/Support/ActivationRules.h"

#include <sstream>

using namespace ntp;
namespace art = ntp::artifact;

static bool fail(std::string &error, std::string message) {
  error = std::move(message);
  return false;
}

int64_t ntp::cudaThreadsPerBlock(const KernelTarget &target) {
  return target.mapping == art::GpuMapping::Lanes ? 32 * target.samplesPerBlock
                                                  : target.blockSize;
}

int64_t ntp::cudaSamplesPerBlock(const KernelTarget &target) {
  return target.mapping == art::GpuMapping::Lanes ? target.samplesPerBlock
                                                  : target.blockSize;
}

bool ntp::describeKernel(const NetworkDescription &network,
                         const KernelTarget &target, art::KernelManifest &m,
                         std::string &error) {
  std::optional<int64_t> params = art::countParams(network.layers);
  if (!params)
    return fail(error, "the network needs at least two layer widths (input "
                       "and output), all positive, with a parameter count "
                       "that fits in int64");
  if (network.order < 0 || network.order > kMaxOrder)
    return fail(error, "the derivative order must be in [0, " +
                           std::to_string(kMaxOrder) + "], got " +
                           std::to_string(network.order));
  // One activation for every hidden layer, or one per hidden layer; the
  // manifest and the cache key hold the canonical spelling.
  std::optional<std::vector<std::string>> activations =
      parseActivationList(network.activation, network.layers.size() - 2, error);
  if (!activations)
    return false;
  if (network.name.empty())
    return fail(error, "the kernel needs a name");
  m = art::KernelManifest();
  m.name = network.name;
  m.activation = canonicalActivationList(
      *activations, network.activation.substr(0, network.activation.find(',')));
  m.order = static_cast<int32_t>(network.order);
  m.dtype = network.dtype;
  m.device = target.device;
  m.layers = network.layers;
  m.numParams = *params;

  if (target.device == art::Device::Cuda) {
    // Forward only. A thread's jet buffers hold one sample; the kernel's
    // tile, as the runtime launches it, is the samples of one block.
    if (target.backward)
      return fail(error, "the CUDA target has no reverse mode yet");
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
    return true;
  }
  if (target.device != art::Device::Cpu)
    return fail(error, "unknown device");
  if (target.tile < 0 || target.tile > 4096)
    return fail(error, "the tile must be 0 (automatic) or in 1..4096, got " +
                           std::to_string(target.tile));
  m.tile = target.tile ? target.tile : art::defaultTile(network.dtype);
  m.backward = target.backward;
  if (m.backward) {
    std::optional<int64_t> workspace =
        art::workspaceElementsPerTile(m.layers, m.order, m.tile);
    if (!workspace)
      return fail(error, "the workspace of one tile overflows int64");
    m.workspacePerTile = *workspace;
  }
  for (const std::string &feature : target.cpuFeatures) {
    bool known = false;
    for (std::string_view recorded : art::kRecordedCpuFeatures)
      known |= recorded == feature;
    if (!known)
      return fail(error, "'" + feature + "' is not a recorded CPU feature");
  }
  m.targetCpu = target.cpu;
  m.cpuFeatures = target.cpuFeatures;
  return true;
}

NetworkDescription ntp::networkOf(const art::KernelManifest &m) {
  NetworkDescription network;
  network.name = m.name;
  network.layers = m.layers;
  network.activation = m.activation;
  network.order = m.order;
  network.dtype = m.dtype;
  return network;
}

KernelTarget ntp::targetOf(const art::KernelManifest &m) {
  KernelTarget target;
  target.device = m.device;
  target.tile = m.tile;
  target.backward = m.backward;
  target.cpu = m.targetCpu;
  target.cpuFeatures = m.cpuFeatures;
  if (m.cuda) {
    target.chip = m.cuda->chip;
    target.mapping = m.cuda->mapping;
    if (m.cuda->mapping == art::GpuMapping::Lanes)
      target.samplesPerBlock = m.cuda->samplesPerBlock;
    else
      target.blockSize = m.cuda->blockSize;
  }
  return target;
}

std::vector<std::string> ntp::entryPointSymbols(const art::KernelManifest &m) {
  if (m.device == art::Device::Cuda)
    return {m.name + "_forward"};
  std::vector<std::string> symbols;
  for (art::EntryPoint entry : art::kEntryPoints)
    if (entry == art::EntryPoint::Forward || m.backward)
      symbols.push_back(art::entryPointSymbol(m.name, entry));
  return symbols;
}

std::string ntp::kernelKeyText(const art::KernelManifest &m) {
  std::ostringstream os;
  os << "name=" << m.name << "\nlayers=";
  for (size_t i = 0; i < m.layers.size(); ++i)
    os << (i ? "," : "") << m.layers[i];
  os << "\nactivation=" << m.activation << "\norder=" << m.order
     << "\ndtype=" << art::dtypeName(m.dtype)
     << "\ndevice=" << art::deviceName(m.device) << "\ntile=" << m.tile
     << "\nbackward=" << (m.backward ? 1 : 0)
     << "\nworkspace_per_tile=" << m.workspacePerTile
     << "\nnum_params=" << m.numParams << "\ntarget_cpu=" << m.targetCpu
     << "\ncpu_features=";
  for (size_t i = 0; i < m.cpuFeatures.size(); ++i)
    os << (i ? "," : "") << m.cpuFeatures[i];
  os << "\n";
  if (m.cuda)
    os << "chip=" << m.cuda->chip
       << "\nmapping=" << art::gpuMappingName(m.cuda->mapping)
       << "\nblock_size=" << m.cuda->blockSize
       << "\nsamples_per_block=" << m.cuda->samplesPerBlock << "\n";
  for (const std::string &symbol : entryPointSymbols(m))
    os << "entry=" << symbol << "\n";
  return os.str();
}
