//===- KernelSpec.cpp - What a compiled kernel computes -------------------===//

#include "ntp/Target/KernelSpec.h"
#include "ntp/Dialect/Ntp/IR/NtpOps.h"

#include "llvm/ADT/StringExtras.h"

#include <sstream>

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

std::string KernelSpec::manifest(StringRef targetCpu,
                                 ArrayRef<std::string> cpuFeatures) const {
  std::ostringstream os;
  os << "ntp-kernel-manifest\n"
     << "abi_version=" << kArtifactAbiVersion << "\n"
     << "name=" << name << "\n"
     << "activation=" << activation << "\n"
     << "order=" << order << "\n"
     << "dtype=" << dtypeName() << "\n"
     << "device=cpu\n"
     << "layers=";
  for (size_t i = 0; i < layers.size(); ++i)
    os << (i ? "," : "") << layers[i];
  os << "\nnum_params=" << numParams() << "\n"
     << "tile=" << tile << "\n"
     << "target_cpu=" << targetCpu.str() << "\n"
     << "backward=" << (hasBackward ? 1 : 0) << "\n"
     << "workspace_per_tile=" << (hasBackward ? workspacePerTile() : 0) << "\n";
  if (!cpuFeatures.empty())
    os << "cpu_features=" << llvm::join(cpuFeatures, ",") << "\n";
  return os.str();
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
