//===- KernelSpec.cpp - The manifest text of an artifact ------------------===//

#include "ntp/Target/KernelSpec.h"
#include "ntp/Compiler/KernelFacts.h"

#include <sstream>

using namespace ntp;
namespace art = ntp::artifact;

std::string ntp::manifestText(const art::KernelManifest &m) {
  std::ostringstream os;
  os << "ntp-kernel-manifest\n"
     << "abi_version=" << kArtifactAbiVersion << "\n"
     << "name=" << m.name << "\n"
     << "activation=" << m.activation << "\n"
     << "order=" << m.order << "\n"
     << "dtype=" << art::dtypeName(m.dtype) << "\n"
     << "device=" << art::deviceName(m.device) << "\n"
     << "layers=";
  for (size_t i = 0; i < m.layers.size(); ++i)
    os << (i ? "," : "") << m.layers[i];
  os << "\nnum_params=" << m.numParams << "\n"
     << "tile=" << m.tile << "\n"
     << "target_cpu=" << (m.cuda ? "none" : m.targetCpu) << "\n"
     << "backward=" << (m.backward ? 1 : 0) << "\n"
     << "workspace_per_tile=" << m.workspacePerTile << "\n";
  if (!m.cpuFeatures.empty()) {
    os << "cpu_features=";
    for (size_t i = 0; i < m.cpuFeatures.size(); ++i)
      os << (i ? "," : "") << m.cpuFeatures[i];
    os << "\n";
  }
  if (m.cuda)
    os << "chip=" << m.cuda->chip << "\n"
       << "format=" << art::imageFormatName(m.cuda->format) << "\n"
       << "entry=" << entryPointSymbols(m).front() << "\n"
       << "block_size=" << m.cuda->blockSize << "\n"
       << "samples_per_block=" << m.cuda->samplesPerBlock << "\n"
       << "image_bytes=" << m.cuda->imageBytes << "\n";
  return os.str();
}
