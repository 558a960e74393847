//===- GpuEmulate.cpp - Run ntp's GPU kernels on the host -----------------===//
//
// ntp-gpu-emulate: turns each gpu.func kernel of ntp-gpu-kernel into a host
// function that runs the blocks of a launch one after the other, and in each
// block the phases between barriers thread by thread, so that the kernels'
// distribution of work, barriers and shared buffers are tested without a GPU.
//
//===----------------------------------------------------------------------===//

#include "GpuKernelUtils.h"
#include "ntp/Transforms/Passes.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

namespace ntp {
#define GEN_PASS_DEF_NTPGPUEMULATE
#include "ntp/Transforms/Passes.h.inc"
} // namespace ntp

using namespace mlir;
using ntp::kSamplesPerBlockAttrName;
using ntp::reinferSubviewTypes;

namespace {

struct GpuEmulatePass : public ntp::impl::NtpGpuEmulateBase<GpuEmulatePass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    for (auto gpuModule :
         llvm::make_early_inc_range(module.getOps<gpu::GPUModuleOp>())) {
      for (auto kernel : gpuModule.getOps<gpu::GPUFuncOp>())
        if (kernel.isKernel() && failed(emulate(kernel, module)))
          return signalPassFailure();
      // Helpers the kernels call move back to the host module.
      for (auto func :
           llvm::make_early_inc_range(gpuModule.getOps<func::FuncOp>()))
        func->moveBefore(module.getBody(), module.getBody()->end());
      gpuModule.erase();
    }
    module->removeAttr(gpu::GPUDialect::getContainerModuleAttrName());
  }

  LogicalResult emulate(gpu::GPUFuncOp kernel, ModuleOp module) {
    auto samples = kernel->getAttrOfType<IntegerAttr>(kSamplesPerBlockAttrName);
    std::optional<ArrayRef<int32_t>> known = kernel.getKnownBlockSize();
    if (!samples || !known || !kernel.getBody().hasOneBlock())
      return kernel.emitError("not a kernel of ntp-gpu-kernel (no known "
                              "block size or samples per block)");
    int64_t threads = (*known)[0];
    Block &body = kernel.getBody().front();
    Location loc = kernel.getLoc();
    OpBuilder b(module.getBodyRegion());
    b.setInsertionPointToEnd(module.getBody());
    SmallVector<Type> inputs(kernel.getArgumentTypes());
    IndexType index = b.getIndexType();
    inputs.append({index, index});
    auto func =
        func::FuncOp::create(b, loc, (kernel.getName() + "_tiles").str(),
                             b.getFunctionType(inputs, {}));
    func->setAttr("ntp.kernel", b.getUnitAttr());
    Block *entry = func.addEntryBlock();
    b.setInsertionPointToStart(entry);
    auto c = [&](int64_t v) -> Value {
      return arith::ConstantIndexOp::create(b, loc, v);
    };
    Value blockDim = c(threads);
    unsigned numArgs = kernel.getNumArguments();
    auto blocks = scf::ForOp::create(b, loc, entry->getArgument(numArgs),
                                     entry->getArgument(numArgs + 1), c(1));
    func::ReturnOp::create(b, loc);

    b.setInsertionPoint(blocks.getBody()->getTerminator());
    IRMapping shared; // what every phase of a block sees
    for (unsigned i = 0; i < kernel.getNumArguments(); ++i)
      shared.map(kernel.getArgument(i), entry->getArgument(i));
    for (BlockArgument buffer : kernel.getWorkgroupAttributions()) {
      auto type = cast<MemRefType>(buffer.getType());
      auto local = MemRefType::get(type.getShape(), type.getElementType());
      // One buffer for all blocks in turn, at the function's entry.
      OpBuilder atEntry = OpBuilder::atBlockBegin(entry);
      shared.map(buffer, memref::AllocaOp::create(atEntry, loc, local));
    }

    // A thread's private buffer at the kernel's top level (a partials
    // kernel's constant directions in the lanes mapping) may be read in later
    // phases: one buffer for all threads, at the function's entry.
    for (Operation &op : body)
      if (isa<memref::AllocaOp>(op) && op.getNumOperands() == 0) {
        OpBuilder atEntry = OpBuilder::atBlockBegin(entry);
        atEntry.clone(op, shared);
      }
    // Phases: the top-level ops between barriers.
    SmallVector<SmallVector<Operation *>> phases(1);
    for (Operation &op : body) {
      if (isa<gpu::BarrierOp>(op))
        phases.emplace_back();
      else if (!isa<gpu::ReturnOp>(op) &&
               !(isa<memref::AllocaOp>(op) && op.getNumOperands() == 0))
        phases.back().push_back(&op);
    }
    OpBuilder atEntry = OpBuilder::atBlockBegin(entry); // entry is not empty
    SmallVector<Operation *> pure; // side-effect-free ops of earlier phases
    for (ArrayRef<Operation *> phase : phases) {
      auto thread = scf::ForOp::create(b, loc, c(0), blockDim, c(1));
      OpBuilder inner = OpBuilder::atBlockTerminator(thread.getBody());
      IRMapping mapping = shared;
      auto clone = [&](Operation *op) -> LogicalResult {
        if (isa<gpu::ThreadIdOp>(op))
          mapping.map(op->getResult(0), thread.getInductionVar());
        else if (isa<gpu::BlockIdOp>(op))
          mapping.map(op->getResult(0), blocks.getInductionVar());
        else if (isa<gpu::BlockDimOp>(op))
          mapping.map(op->getResult(0), blockDim);
        else if (op->getDialect() && isa<gpu::GPUDialect>(op->getDialect()))
          return op->emitError("cannot emulate this GPU op");
        else if (isa<memref::AllocaOp>(op) && op->getNumOperands() == 0)
          // A thread's private buffer: one for all threads in turn, at the
          // function's entry (in the loops it would grow the stack).
          atEntry.clone(*op, mapping);
        else
          inner.clone(*op, mapping);
        return success();
      };
      for (Operation *op : pure)
        if (failed(clone(op)))
          return failure();
      for (Operation *op : phase)
        if (failed(clone(op)))
          return failure();
      // Only side-effect-free values may be recomputed in a later phase.
      for (Operation *op : phase) {
        if (op->getNumRegions() == 0 && isMemoryEffectFree(op)) {
          pure.push_back(op);
          continue;
        }
        for (Operation *user : op->getUsers())
          if (!llvm::is_contained(phase, body.findAncestorOpInBlock(*user)))
            return op->emitError("a value with side effects crosses a "
                                 "barrier; cannot emulate");
      }
    }
    reinferSubviewTypes(func);
    return success();
  }
};

} // namespace
