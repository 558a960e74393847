//===- CpuFacts.cpp - What the CPU device decides about a kernel ----------===//
//
// Plain C++ (no MLIR, no LLVM): the tile, the reverse mode and its workspace,
// the recorded CPU and features, and the entry points of a CPU kernel. Linked
// into NtpKernelFacts through ntp_register_device_facts.
//
//===----------------------------------------------------------------------===//

#include "ntp/Compiler/KernelFacts.h"

#include <memory>

using namespace ntp;
namespace art = ntp::artifact;

namespace {

class CpuFacts : public DeviceFacts {
public:
  art::Device getDevice() const override { return art::Device::Cpu; }
  bool isGridLaunch() const override { return false; }
  bool supportsPartials() const override { return true; }

  bool describe(const KernelTarget &target, art::KernelManifest &m,
                std::string &error) const override {
    if (target.tile < 0 || target.tile > 4096) {
      error = "the tile must be 0 (automatic) or in 1..4096, got " +
              std::to_string(target.tile);
      return false;
    }
    m.tile = target.tile ? target.tile : art::defaultTile(m.dtype);
    m.backward = target.backward;
    if (m.backward) {
      std::optional<int64_t> workspace =
          art::workspaceElementsPerTile(m.layers, m.order, m.tile, m.kinds);
      if (!workspace) {
        error = "the workspace of one tile overflows int64";
        return false;
      }
      m.workspacePerTile = *workspace;
    }
    for (const std::string &feature : target.cpuFeatures) {
      bool known = false;
      for (std::string_view recorded : art::kRecordedCpuFeatures)
        known |= recorded == feature;
      if (!known) {
        error = "'" + feature + "' is not a recorded CPU feature";
        return false;
      }
    }
    m.targetCpu = target.cpu;
    m.cpuFeatures = target.cpuFeatures;
    return true;
  }

  void readTarget(const art::KernelManifest &m,
                  KernelTarget &target) const override {
    target.cpu = m.targetCpu;
    target.cpuFeatures = m.cpuFeatures;
  }

  std::vector<std::string>
  entryPointSymbols(const art::KernelManifest &m) const override {
    std::vector<std::string> symbols;
    for (art::EntryPoint entry : art::kEntryPoints)
      if (entry == art::EntryPoint::Forward || m.backward)
        symbols.push_back(art::entryPointSymbol(m.name, entry));
    return symbols;
  }
};

} // namespace

namespace ntp {
std::unique_ptr<DeviceFacts> createCpuDeviceFacts();
} // namespace ntp

std::unique_ptr<DeviceFacts> ntp::createCpuDeviceFacts() {
  return std::make_unique<CpuFacts>();
}
