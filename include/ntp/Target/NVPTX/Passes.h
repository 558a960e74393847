//===- Passes.h - NVPTX target passes ---------------------------*- C++ -*-===//

#ifndef NTP_TARGET_NVPTX_PASSES_H
#define NTP_TARGET_NVPTX_PASSES_H

#include "ntp/Transforms/PassOptions.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"

namespace ntp {

#define GEN_PASS_DECL
#include "ntp/Target/NVPTX/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "ntp/Target/NVPTX/Passes.h.inc"

} // namespace ntp

#endif // NTP_TARGET_NVPTX_PASSES_H
