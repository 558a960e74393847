//===- TargetBackend.cpp - The registry of targets ------------------------===//

#include "ntp/Target/TargetBackend.h"

#include <mutex>

using namespace ntp;

TargetBackend::~TargetBackend() = default;
TargetOptionsBase::~TargetOptionsBase() = default;

CompileOptions &CompileOptions::operator=(const CompileOptions &other) {
  if (this == &other)
    return *this;
  tileSize = other.tileSize;
  backward = other.backward;
  outline = other.outline;
  formulation = other.formulation;
  targetOptions.clear();
  for (const auto &[name, options] : other.targetOptions)
    targetOptions.emplace(name, options->clone());
  return *this;
}

namespace {
struct Registry {
  std::mutex mutex;
  std::vector<std::unique_ptr<TargetBackend>> targets;
};
Registry &registry() {
  static Registry instance;
  return instance;
}
} // namespace

void ntp::registerTargetBackend(std::unique_ptr<TargetBackend> target) {
  Registry &r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  for (const auto &existing : r.targets)
    if (existing->getName() == target->getName())
      return;
  r.targets.push_back(std::move(target));
}

const TargetBackend *ntp::lookupTargetBackend(llvm::StringRef name) {
  Registry &r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  for (const auto &target : r.targets)
    if (target->getName() == name)
      return target.get();
  return nullptr;
}

std::vector<const TargetBackend *> ntp::getTargetBackends() {
  Registry &r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  std::vector<const TargetBackend *> targets;
  for (const auto &target : r.targets)
    targets.push_back(target.get());
  return targets;
}
