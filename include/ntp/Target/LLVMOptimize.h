//===- LLVMOptimize.h - LLVM's O3 pipeline for a kernel module --*- C++ -*-===//
//
// The one place the targets run LLVM's middle end: the CPU and NVPTX
// serializers both optimize their translated module through it.
//
//===----------------------------------------------------------------------===//

#ifndef NTP_TARGET_LLVMOPTIMIZE_H
#define NTP_TARGET_LLVMOPTIMIZE_H

namespace llvm {
class Module;
class TargetMachine;
} // namespace llvm

namespace ntp {

/// Runs LLVM's default per-module O3 pipeline on `module`, with the cost
/// models of `machine`.
void optimizeLLVMModule(llvm::Module &module, llvm::TargetMachine &machine);

} // namespace ntp

#endif // NTP_TARGET_LLVMOPTIMIZE_H
