//===- KernelSpec.h - What a compiled kernel computes -----------*- C++ -*-===//
//
// The facts about a kernel that outlive its IR: they go into the artifact's
// manifest (checked by the runtime loader) and into the generated C header.
//
//===----------------------------------------------------------------------===//

#ifndef NTP_TARGET_KERNELSPEC_H
#define NTP_TARGET_KERNELSPEC_H

#include "ntp/artifact.hpp"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Support/LLVM.h"

#include <cstdint>
#include <string>
#include <vector>

namespace ntp {

/// ABI version of the artifacts this compiler writes; the runtime's
/// NTP_ABI_VERSION must match it.
constexpr int kArtifactAbiVersion = ntp::artifact::kAbiVersion;

struct KernelSpec {
  std::string name;
  std::vector<int64_t> layers;
  std::string activation;
  int64_t order = 0;
  bool isF64 = false;
  int64_t tile = 0;
  /// Whether the reverse-mode entry points were generated.
  bool hasBackward = true;

  int64_t numParams() const;
  int64_t inputDim() const { return layers.front(); }
  int64_t outputDim() const { return layers.back(); }
  /// Elements of saved jets per tile for the forward-save / backward-saved
  /// path: every layer's jet, [order + 1, width, tile] each (the same plan
  /// as ntp-generate-backward).
  int64_t workspacePerTile() const;
  const char *dtypeName() const { return isF64 ? "f64" : "f32"; }
  const char *cType() const { return isF64 ? "double" : "float"; }
  /// The manifest of a CPU artifact of this kernel (ntp/artifact.hpp).
  /// `cpuFeatures`: instruction-set features the code needs (x86 only),
  /// checked against the host by the runtime before the first call.
  ntp::artifact::KernelManifest
  artifactManifest(llvm::StringRef targetCpu,
                   llvm::ArrayRef<std::string> cpuFeatures = {}) const;
  /// Its text, serializeManifest(artifactManifest(...)).
  std::string manifest(llvm::StringRef targetCpu,
                       llvm::ArrayRef<std::string> cpuFeatures = {}) const;
};

/// The spec of the only ntp.mlp in `module`; emits an error and fails if
/// there is not exactly one. `tile` 0 picks the default for the type.
mlir::FailureOr<KernelSpec> getKernelSpec(mlir::ModuleOp module, int64_t tile);

} // namespace ntp

#endif // NTP_TARGET_KERNELSPEC_H
