//===- GpuBareKernelArgs.cpp - The runtime's kernel ABI -------------------===//
//
// ntp-gpu-bare-kernel-args: after convert-gpu-to-nvvm, each memref argument of
// a kernel is a 5-field descriptor; the runtime launches kernels with one
// bare pointer per buffer and the batch size.
//
//===----------------------------------------------------------------------===//

#include "ntp/Transforms/Passes.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/IR/Builders.h"

namespace ntp {
#define GEN_PASS_DEF_NTPGPUBAREKERNELARGS
#include "ntp/Transforms/Passes.h.inc"
} // namespace ntp

using namespace mlir;

namespace {

struct GpuBareKernelArgsPass
    : public ntp::impl::NtpGpuBareKernelArgsBase<GpuBareKernelArgsPass> {
  void runOnOperation() override {
    for (auto func : getOperation().getOps<LLVM::LLVMFuncOp>())
      if (func->hasAttr("nvvm.kernel") && !func.isExternal())
        if (failed(rewrite(func)))
          return signalPassFailure();
  }

  LogicalResult rewrite(LLVM::LLVMFuncOp func) {
    LLVM::LLVMFunctionType type = func.getFunctionType();
    ArrayRef<Type> params = type.getParams();
    auto isPtr = [](Type t) { return isa<LLVM::LLVMPointerType>(t); };
    auto isI64 = [](Type t) { return t.isInteger(64); };
    // Group the arguments: a descriptor is (ptr, ptr, i64, i64, i64).
    SmallVector<std::pair<unsigned, bool>> groups; // (first arg, is memref)
    for (unsigned i = 0; i < params.size();) {
      if (i + 4 < params.size() && isPtr(params[i]) && isPtr(params[i + 1]) &&
          isI64(params[i + 2]) && isI64(params[i + 3]) &&
          isI64(params[i + 4])) {
        groups.push_back({i, true});
        i += 5;
      } else if (!isPtr(params[i])) {
        groups.push_back({i, false});
        i += 1;
      } else {
        return func.emitError("kernel arguments are not 1-D memref "
                              "descriptors and scalars");
      }
    }
    Block &entry = func.getBody().front();
    OpBuilder b(func.getContext());
    b.setInsertionPointToStart(&entry);
    Location loc = func.getLoc();
    Type i64 = b.getI64Type();
    Value zero = LLVM::ConstantOp::create(b, loc, i64, b.getI64IntegerAttr(0));
    Value unit = LLVM::ConstantOp::create(b, loc, i64, b.getI64IntegerAttr(1));
    SmallVector<Type> newParams;
    unsigned oldCount = entry.getNumArguments();
    unsigned memrefs = 0;
    for (auto [first, isMemRef] : groups) {
      Type t = params[first];
      BlockArgument arg = entry.addArgument(t, loc);
      newParams.push_back(t);
      if (!isMemRef) {
        entry.getArgument(first).replaceAllUsesWith(arg);
        continue;
      }
      ++memrefs;
      entry.getArgument(first).replaceAllUsesWith(arg);
      entry.getArgument(first + 1).replaceAllUsesWith(arg);
      entry.getArgument(first + 2).replaceAllUsesWith(zero);
      // The size is unknown to the kernel (it never reads it) and the
      // stride of a contiguous 1-D buffer is 1.
      entry.getArgument(first + 3).replaceAllUsesWith(zero);
      entry.getArgument(first + 4).replaceAllUsesWith(unit);
    }
    entry.eraseArguments(0, oldCount);
    func.setFunctionType(
        LLVM::LLVMFunctionType::get(type.getReturnType(), newParams));
    func.removeArgAttrsAttr();
    // Inputs are read-only and no buffer overlaps another (the ABI).
    unsigned index = 0, memrefIndex = 0;
    for (auto [first, isMemRef] : groups) {
      (void)first;
      if (isMemRef) {
        func.setArgAttr(index, LLVM::LLVMDialect::getNoAliasAttrName(),
                        b.getUnitAttr());
        if (++memrefIndex < memrefs)
          func.setArgAttr(index, LLVM::LLVMDialect::getReadonlyAttrName(),
                          b.getUnitAttr());
      }
      ++index;
    }
    return success();
  }
};

} // namespace
