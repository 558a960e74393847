//===- GpuKernelSample.cpp - ntp-gpu-kernel, a thread per sample ----------===//
//
// mapping=sample: thread blockIdx.x * blockDim.x + threadIdx.x evaluates
// sample `sample` through every layer and every order, its jet buffers
// thread-private (registers, or local memory where they are indexed
// dynamically), the parameters staged in shared memory when they fit. The
// loop-level tile loop then runs once, for tile = sample, and is inlined.
//
//===----------------------------------------------------------------------===//

#include "GpuKernelMapping.h"
#include "GpuKernelUtils.h"

#include "mlir/IR/IRMapping.h"
#include "mlir/IR/PatternMatch.h"

#include <cstring>

using namespace mlir;
using namespace ntp::gpukernel;
using ntp::kSamplesPerBlockAttrName;

LogicalResult ntp::gpukernel::convertToSamples(func::FuncOp func,
                                               const KernelFunction &facts,
                                               gpu::GPUModuleOp gpuModule,
                                               int64_t blockSize) {
  // Shared-memory staging of the parameters, when they fit.
  const int64_t *numParams = &facts.staged;
  unsigned numBuffers = facts.numBuffers;
  StringRef name = func.getSymName();
  FunctionType type = func.getFunctionType();
  Block &body = func.getBody().front();
  Type element = cast<MemRefType>(type.getInput(2)).getElementType();
  Value params = body.getArgument(2);
  bool stage = *numParams > 0;
  auto workgroup = gpu::AddressSpaceAttr::get(
      func.getContext(), gpu::GPUDialect::getWorkgroupAddressSpace());
  SmallVector<Type> attributions;
  if (stage)
    attributions.push_back(
        MemRefType::get({*numParams}, element, nullptr, workgroup));

  OpBuilder b(gpuModule.getBodyRegion());
  b.setInsertionPointToEnd(gpuModule.getBody());
  Location loc = func.getLoc();
  StringRef kernelName = name.drop_back(strlen("_tiles"));
  SmallVector<Type> inputs = kernelInputs(func, facts);
  auto kernelType = b.getFunctionType(inputs, {});
  auto kernel =
      gpu::GPUFuncOp::create(b, loc, kernelName, kernelType, attributions);
  kernel->setAttr(gpu::GPUDialect::getKernelFuncAttrName(), b.getUnitAttr());
  int32_t block = static_cast<int32_t>(blockSize);
  kernel.setKnownBlockSize(ArrayRef<int32_t>{block, 1, 1});
  kernel->setAttr(kSamplesPerBlockAttrName, b.getI64IntegerAttr(block));
  Block &entry = kernel.getBody().front();
  b.setInsertionPointToStart(&entry);

  Value tid = gpu::ThreadIdOp::create(b, loc, gpu::Dimension::x);
  Value bid = gpu::BlockIdOp::create(b, loc, gpu::Dimension::x);
  Value bdim = gpu::BlockDimOp::create(b, loc, gpu::Dimension::x);
  Value sample = arith::AddIOp::create(
      b, loc, arith::MulIOp::create(b, loc, bid, bdim), tid);
  Value one = arith::ConstantIndexOp::create(b, loc, 1);
  Value batch = entry.getArgument(kernel.getNumArguments() - 1);

  IRMapping mapping;
  for (unsigned i = 0; i < numBuffers; ++i)
    mapping.map(body.getArgument(i), entry.getArgument(i));
  mapping.map(body.getArgument(numBuffers), batch);
  if (stage) {
    // Cooperative copy: thread t copies elements t, t + blockDim, ...
    Value shared = kernel.getWorkgroupAttributions().front();
    Value count = arith::ConstantIndexOp::create(b, loc, *numParams);
    emitParamsCopy(b, loc, entry.getArgument(2), shared, tid, count, bdim);
    gpu::BarrierOp::create(b, loc);
    mapping.map(params, shared);
  }
  mapping.map(body.getArgument(numBuffers + 1), sample);
  Value sampleEnd = arith::AddIOp::create(b, loc, sample, one);
  mapping.map(body.getArgument(numBuffers + 2), sampleEnd);

  // Thread-private buffers stay at the entry (they become registers or a
  // fixed-size local frame); the rest runs for live samples only.
  for (Operation &op : body.without_terminator())
    if (isa<memref::AllocaOp>(op))
      b.clone(op, mapping);
  Value live =
      arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt, sample, batch);
  auto guard = scf::IfOp::create(b, loc, live, /*withElse=*/false);
  auto returnOp = gpu::ReturnOp::create(b, loc);
  if (facts.reducedParams > 0) {
    b.setInsertionPoint(returnOp);
    gpu::BarrierOp::create(b, loc); // every sample's column is written
    emitBlockReduction(b, loc, entry.getArgument(4),
                       entry.getArgument(numBuffers), batch,
                       facts.reducedParams, blockSize, blockSize);
  }
  b.setInsertionPoint(guard.thenBlock()->getTerminator());
  for (Operation &op : body.without_terminator())
    if (!isa<memref::AllocaOp>(op))
      b.clone(op, mapping);

  // The tile loop now runs exactly once, for tile = sample: inline it.
  SmallVector<scf::ForOp> tileLoops;
  guard.thenBlock()->walk([&](scf::ForOp loop) {
    if (loop.getLowerBound() == sample && loop.getUpperBound() == sampleEnd)
      tileLoops.push_back(loop);
  });
  IRRewriter rewriter(b);
  for (scf::ForOp loop : tileLoops) {
    if (loop.getNumResults() != 0)
      continue;
    Block *loopBody = loop.getBody();
    rewriter.eraseOp(loopBody->getTerminator());
    rewriter.inlineBlockBefore(loopBody, loop, ValueRange{sample});
    rewriter.eraseOp(loop);
  }
  return success();
}
