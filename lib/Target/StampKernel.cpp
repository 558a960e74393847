//===- StampKernel.cpp - A target's facts on the module's #ntp.kernel -----===//

#include "ntp/Target/StampKernel.h"
#include "ntp/Dialect/Ntp/IR/NtpAttributes.h"

using namespace mlir;
using namespace ntp;

LogicalResult ntp::stampKernelTarget(ModuleOp module,
                                     const KernelTargetUpdate &update) {
  FailureOr<artifact::KernelManifest> current = readKernelManifest(module);
  if (failed(current))
    return failure();
  KernelTarget target = targetOf(*current);
  artifact::KernelManifest facts;
  std::string error;
  if (!update(target, error) ||
      !describeKernel(networkOf(*current), target, facts, error))
    return module.emitError(error);
  module->setAttr(kKernelAttrName, KernelAttr::get(module.getContext(), facts));
  return success();
}

namespace {
struct StampKernelTargetPass
    : public PassWrapper<StampKernelTargetPass, OperationPass<ModuleOp>> {
  MLIR_DEFINE_EXPLICIT_INTERNAL_INLINE_TYPE_ID(StampKernelTargetPass)

  explicit StampKernelTargetPass(KernelTargetUpdate update)
      : update(std::move(update)) {}
  StringRef getArgument() const override { return "ntp-stamp-kernel-target"; }
  StringRef getDescription() const override {
    return "Add the target's facts to the module's #ntp.kernel";
  }
  void runOnOperation() override {
    if (failed(stampKernelTarget(getOperation(), update)))
      signalPassFailure();
  }

  KernelTargetUpdate update;
};
} // namespace

std::unique_ptr<Pass>
ntp::createStampKernelTargetPass(KernelTargetUpdate update) {
  return std::make_unique<StampKernelTargetPass>(std::move(update));
}
