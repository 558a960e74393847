//===- KernelFacts.cpp - From a network and a target to kernel facts ------===//

#include "ntp/Compiler/KernelFacts.h"
#include "ntp/Support/ActivationRules.h"
#include "ntp/Support/Partials.h"

#include <memory>
#include <sstream>

using namespace ntp;
namespace art = ntp::artifact;

static bool fail(std::string &error, std::string message) {
  error = std::move(message);
  return false;
}

// Every device's facts, from the target folders (lib/Target/CMakeLists.txt
// generates one NTP_DEVICE_FACTS(<factory>) line per
// ntp_register_device_facts).
namespace ntp {
#define NTP_DEVICE_FACTS(factory) std::unique_ptr<DeviceFacts> factory();
#include "ntp/Target/DeviceFacts.inc"
#undef NTP_DEVICE_FACTS
} // namespace ntp

const DeviceFacts *ntp::lookupDeviceFacts(art::Device device) {
  static const std::vector<std::unique_ptr<DeviceFacts>> all = [] {
    std::vector<std::unique_ptr<DeviceFacts>> facts;
#define NTP_DEVICE_FACTS(factory) facts.push_back(ntp::factory());
#include "ntp/Target/DeviceFacts.inc"
#undef NTP_DEVICE_FACTS
    return facts;
  }();
  for (const std::unique_ptr<DeviceFacts> &facts : all)
    if (facts->getDevice() == device)
      return facts.get();
  return nullptr;
}

bool ntp::describeKernel(const NetworkDescription &network,
                         const KernelTarget &target, art::KernelManifest &m,
                         std::string &error) {
  // Typed layers (adaptive slopes, residual connections, Fourier
  // features): their rules first, since the counts depend on them.
  if (std::string broken = network.kinds.check(network.layers); !broken.empty())
    return fail(error, broken);
  std::optional<int64_t> params =
      art::countParams(network.layers, network.kinds);
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
  // Typed layers: every kernel kind takes every kind (a gated partials
  // kernel runs per ray: ntp-decompose-mlp).
  if (!network.partials.empty()) {
    partials::Plan plan;
    if (!partials::validateRequest(network.partials, network.layers.front(),
                                   network.order, error) ||
        !partials::planPartials(network.partials, network.layers.front(), plan,
                                error))
      return false;
    if (const DeviceFacts *device = lookupDeviceFacts(target.device);
        device && !device->supportsPartials())
      return fail(error, "partials kernels are compiled for the CPU only so "
                         "far");
  }
  m = art::KernelManifest();
  m.name = network.name;
  m.activation = canonicalActivationList(
      *activations, network.activation.substr(0, network.activation.find(',')));
  m.order = static_cast<int32_t>(network.order);
  m.dtype = network.dtype;
  m.device = target.device;
  m.layers = network.layers;
  m.numParams = *params;
  m.partials = network.partials;
  // Canonical: a network without typed layers has empty kinds.
  if (!network.kinds.empty())
    m.kinds = network.kinds;
  // The recorded lowerings: a partials kernel's, each beginning with a
  // lowering name (the artifact's parser holds the manifest to the same).
  for (const std::string *lowering :
       {&target.partialsLowering, &target.partialsReverseLowering}) {
    if (lowering->empty())
      continue;
    if (!m.isPartials())
      return fail(error, "only a partials kernel records how its rays are "
                         "propagated (partials_lowering)");
    if (std::string problem = art::partialsLoweringProblem(*lowering);
        !problem.empty())
      return fail(error, "the recorded partials lowering " + problem);
  }
  m.partialsLowering = target.partialsLowering;
  m.partialsReverseLowering = target.partialsReverseLowering;

  const DeviceFacts *device = lookupDeviceFacts(target.device);
  if (!device)
    return fail(error, "no target compiles for the " +
                           std::string(art::deviceName(target.device)) +
                           " device");
  if (!device->describe(target, m, error))
    return false;
  // A partials kernel saves the jets of all its rays (ntp-generate-backward):
  // the jet coefficients of its plan in place of order + 1, or the rows of
  // the blocks of a fast forward its reverse mode follows (at most as many).
  if (m.isPartials() && m.backward) {
    partials::Plan plan;
    std::optional<int64_t> workspace;
    if (!partials::planPartials(m.partials, m.inputDim(), plan, error))
      return false;
    int64_t rows = target.partialsSavedRows ? target.partialsSavedRows
                                            : plan.jetCoefficients();
    if (rows < 1 || rows > plan.jetCoefficients())
      return fail(error, "the reverse mode saves " + std::to_string(rows) +
                             " jet coefficient rows per sample, but one of "
                             "this request saves 1 to " +
                             std::to_string(plan.jetCoefficients()));
    workspace =
        art::partialsWorkspaceElementsPerTile(m.layers, rows, m.tile, m.kinds);
    if (!workspace)
      return fail(error, "the workspace of one tile overflows int64");
    m.workspacePerTile = *workspace;
  }
  return true;
}

int64_t ntp::partialsSavedRows(const art::KernelManifest &m) {
  if (!m.isPartials() || !m.backward)
    return 0;
  std::optional<int64_t> perRow =
      art::workspaceElementsPerTile(m.layers, 0, m.tile, m.kinds);
  partials::Plan plan;
  std::string error;
  if (!perRow || *perRow < 1 || m.workspacePerTile % *perRow != 0 ||
      !partials::planPartials(m.partials, m.inputDim(), plan, error))
    return 0;
  int64_t rows = m.workspacePerTile / *perRow;
  return rows == plan.jetCoefficients() ? 0 : rows;
}

NetworkDescription ntp::networkOf(const art::KernelManifest &m) {
  NetworkDescription network;
  network.name = m.name;
  network.layers = m.layers;
  network.activation = m.activation;
  network.order = m.order;
  network.dtype = m.dtype;
  network.partials = m.partials;
  network.kinds = m.kinds;
  return network;
}

KernelTarget ntp::targetOf(const art::KernelManifest &m) {
  KernelTarget target;
  target.device = m.device;
  target.tile = m.tile;
  target.backward = m.backward;
  target.partialsSavedRows = partialsSavedRows(m);
  target.partialsLowering = m.partialsLowering;
  target.partialsReverseLowering = m.partialsReverseLowering;
  if (const DeviceFacts *device = lookupDeviceFacts(m.device))
    device->readTarget(m, target);
  return target;
}

std::vector<std::string> ntp::entryPointSymbols(const art::KernelManifest &m) {
  const DeviceFacts *device = lookupDeviceFacts(m.device);
  return device ? device->entryPointSymbols(m) : std::vector<std::string>();
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
  if (!m.partials.empty()) {
    os << "partials=";
    for (size_t p = 0; p < m.partials.size(); ++p)
      for (size_t i = 0; i < m.partials[p].size(); ++i)
        os << (i ? "," : p ? ";" : "") << m.partials[p][i];
    os << "\n";
  }
  if (std::string slopes = m.kinds.slopesText(); !slopes.empty())
    os << "slopes=" << slopes << "\n";
  if (std::string residual = m.kinds.residualText(); !residual.empty())
    os << "residual=" << residual << "\n";
  if (m.kinds.fourier > 0)
    os << "fourier=" << m.kinds.fourier << "\n";
  if (m.kinds.gated)
    os << "gated=1\n";
  for (const std::string &symbol : entryPointSymbols(m))
    os << "entry=" << symbol << "\n";
  return os.str();
}
