//===- KernelSpec.cpp - What a compiled kernel computes -------------------===//

#include "ntp/Target/KernelSpec.h"
#include "ntp/Dialect/Ntp/IR/NtpOps.h"


using namespace mlir;
using namespace ntp;

int64_t KernelSpec::numParams() const {
  int64_t count = 0;
  for (size_t l = 1; l < layers.size(); ++l)
    count += layers[l] * layers[l - 1] + layers[l];
  return count;
}

int64_t KernelSpec::workspacePerTile() const {
  // The seed, then per layer the affine output and (hidden layers) the
  // activation output.
  int64_t widths = layers.front();
  for (size_t l = 1; l < layers.size(); ++l)
    widths += layers[l] * (l + 1 < layers.size() ? 2 : 1);
  return (order + 1) * widths * tile;
}

ntp::artifact::KernelManifest
KernelSpec::artifactManifest(StringRef targetCpu,
                             ArrayRef<std::string> cpuFeatures) const {
  namespace art = ntp::artifact;
  art::KernelManifest m;
  m.name = name;
  m.activation = activation;
  m.order = static_cast<int32_t>(order);
  m.dtype = isF64 ? art::Dtype::F64 : art::Dtype::F32;
  m.device = art::Device::Cpu;
  m.layers = layers;
  m.numParams = numParams();
  m.tile = tile;
  m.backward = hasBackward;
  m.workspacePerTile = hasBackward ? workspacePerTile() : 0;
  m.targetCpu = targetCpu.str();
  m.cpuFeatures.assign(cpuFeatures.begin(), cpuFeatures.end());
  return m;
}

std::string KernelSpec::manifest(StringRef targetCpu,
                                 ArrayRef<std::string> cpuFeatures) const {
  return ntp::artifact::serializeManifest(
      artifactManifest(targetCpu, cpuFeatures));
}

FailureOr<KernelSpec> ntp::getKernelSpec(ModuleOp module, int64_t tile) {
  auto mlps = llvm::to_vector(module.getOps<MlpOp>());
  if (mlps.size() != 1)
    return module.emitError("expected exactly one ntp.mlp in the module, "
                            "found ")
           << mlps.size();
  MlpOp mlp = mlps.front();
  KernelSpec spec;
  spec.name = mlp.getSymName().str();
  spec.layers.assign(mlp.getLayers().begin(), mlp.getLayers().end());
  spec.activation = mlp.getActivation().str();
  spec.order = mlp.getOrder();
  spec.isF64 = isa<Float64Type>(mlp.getElementType());
  spec.tile = tile > 0 ? tile : (spec.isF64 ? 8 : 16);
  return spec;
}
