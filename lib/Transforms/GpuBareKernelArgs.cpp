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

/// Whether the kernel may write through `pointer`: a store to an address
/// derived from it (through GEPs, casts, and the pointer fields of the
/// memref descriptors that convert-gpu-to-nvvm builds), or any use other
/// than a load.
static bool mayWriteThrough(Value pointer) {
  SmallVector<Value> pointers = {pointer}, descriptors;
  while (!pointers.empty() || !descriptors.empty()) {
    if (!descriptors.empty()) {
      Value d = descriptors.pop_back_val();
      for (OpOperand &use : d.getUses()) {
        Operation *user = use.getOwner();
        if (auto insert = dyn_cast<LLVM::InsertValueOp>(user);
            insert && use.getOperandNumber() == 0) {
          descriptors.push_back(insert.getResult());
          continue;
        }
        if (auto extract = dyn_cast<LLVM::ExtractValueOp>(user)) {
          if (isa<LLVM::LLVMPointerType>(extract.getType()))
            pointers.push_back(extract.getResult());
          continue;
        }
        return true;
      }
      continue;
    }
    Value p = pointers.pop_back_val();
    for (OpOperand &use : p.getUses()) {
      Operation *user = use.getOwner();
      if (isa<LLVM::LoadOp>(user))
        continue;
      if (isa<LLVM::GEPOp, LLVM::AddrSpaceCastOp, LLVM::BitcastOp>(user) &&
          use.getOperandNumber() == 0) {
        pointers.push_back(user->getResult(0));
        continue;
      }
      if (auto insert = dyn_cast<LLVM::InsertValueOp>(user);
          insert && use.getOperandNumber() == 1) {
        descriptors.push_back(insert.getResult());
        continue;
      }
      return true; // a store, a call, an atomic, ...: writable
    }
  }
  return false;
}

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
    // No buffer overlaps another (the ABI); those the kernel only reads
    // are readonly (read through the non-coherent cache, ld.global.nc).
    (void)memrefs;
    unsigned index = 0;
    for (auto [first, isMemRef] : groups) {
      (void)first;
      if (isMemRef) {
        func.setArgAttr(index, LLVM::LLVMDialect::getNoAliasAttrName(),
                        b.getUnitAttr());
        if (!mayWriteThrough(entry.getArgument(index)))
          func.setArgAttr(index, LLVM::LLVMDialect::getReadonlyAttrName(),
                          b.getUnitAttr());
      }
      ++index;
    }
    return success();
  }
};

} // namespace
