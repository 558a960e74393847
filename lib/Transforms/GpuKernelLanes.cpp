//===- GpuKernelLanes.cpp - ntp-gpu-kernel, a warp per sample -------------===//
//
// mapping=lanes: a warp evaluates a sample, neuron j of each layer on lane
// j % 32, the jets in shared memory (one slice per sample of the block), the
// parameters staged beside them when they fit; barriers separate the
// writing steps.
//
//===----------------------------------------------------------------------===//

#include "GpuKernelMapping.h"
#include "GpuKernelUtils.h"
#include "ntp/Dialect/Ntp/IR/NtpDialect.h"

#include "mlir/IR/IRMapping.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#include "llvm/ADT/SmallPtrSet.h"

#include <cstdint>
#include <cstring>

using namespace mlir;
using namespace ntp::gpukernel;
using ntp::kSamplesPerBlockAttrName;

/// The lanes mapping: one warp per sample, `samplesPerBlock` samples per
/// block (thread t: lane t % 32 of sample slot t / 32). The jet buffers of
/// each sample live in shared memory; every loop over the neurons of a
/// layer (marked ntp.neuron_loop) is spread over the 32 lanes (neuron j on
/// lane j % 32), the rest of the writes (seed, output) run on lane 0, and a
/// barrier separates consecutive writing steps, since a layer reads every
/// neuron of the previous one. Samples past `batch` compute on a clamped
/// sample (so every thread reaches every barrier) and write nothing.
LogicalResult ntp::gpukernel::convertToLanes(func::FuncOp func,
                                             const KernelFunction &facts,
                                             gpu::GPUModuleOp gpuModule,
                                             int64_t samplesPerBlock,
                                             int64_t maxStaticSharedBytes) {
  constexpr int64_t kLanes = 32;
  const int64_t *staged = &facts.staged;
  unsigned numBuffers = facts.numBuffers;
  if (samplesPerBlock < 1 || samplesPerBlock * kLanes > 1024)
    return func.emitError("samples-per-block must be in 1..32, got ")
           << samplesPerBlock;
  FunctionType type = func.getFunctionType();
  Block &body = func.getBody().front();
  Type element = cast<MemRefType>(type.getInput(2)).getElementType();
  MLIRContext *context = func.getContext();
  auto workgroup = gpu::AddressSpaceAttr::get(
      context, gpu::GPUDialect::getWorkgroupAddressSpace());

  // Workgroup buffers: the staged parameters, then one [slots x shape]
  // buffer per thread-private jet buffer of the loop-level function. A
  // rank-1 buffer (a partials kernel's constant ray directions) stays
  // private: every thread writes the same constants into its own copy,
  // with no guard and no barrier.
  SmallVector<Type> attributions;
  SmallVector<memref::AllocaOp> allocas, privateAllocas;
  int64_t jetBytes = 0;
  for (Operation &op : body.without_terminator())
    if (auto alloca = dyn_cast<memref::AllocaOp>(op)) {
      MemRefType t = alloca.getType();
      if (!t.hasStaticShape() || !t.getLayout().isIdentity())
        return alloca.emitError("expected a static jet buffer");
      if (t.getRank() == 1) {
        privateAllocas.push_back(alloca);
        continue;
      }
      SmallVector<int64_t> shape{samplesPerBlock};
      llvm::append_range(shape, t.getShape());
      attributions.push_back(
          MemRefType::get(shape, t.getElementType(), nullptr, workgroup));
      allocas.push_back(alloca);
      jetBytes +=
          samplesPerBlock * t.getNumElements() * t.getElementTypeBitWidth() / 8;
    }
  // A kernel declares at most 48 KB of static shared memory: the jets
  // first, the parameters only if they fit beside them. (The host
  // emulation has no such limit.)
  const int64_t sharedLimit =
      maxStaticSharedBytes > 0 ? int64_t(maxStaticSharedBytes) : INT64_MAX;
  if (jetBytes > sharedLimit)
    // At the network's location, without the function in a note.
    return mlir::emitError(func.getLoc(),
                           "the lanes mapping keeps each sample's jet "
                           "buffers in shared memory: ")
           << jetBytes << " bytes for " << samplesPerBlock
           << " samples per block exceed the " << sharedLimit
           << " bytes a kernel can declare; use fewer samples per block "
              "or the sample mapping";
  int64_t stagedBytes =
      *staged > 0 ? *staged * element.getIntOrFloatBitWidth() / 8 : 0;
  int64_t stagedCount = *staged;
  if (stagedBytes > sharedLimit - jetBytes)
    stagedCount = -1; // read the parameters from global memory
  staged = &stagedCount;
  if (*staged > 0)
    attributions.insert(
        attributions.begin(),
        MemRefType::get({*staged}, element, nullptr, workgroup));

  OpBuilder b(gpuModule.getBodyRegion());
  b.setInsertionPointToEnd(gpuModule.getBody());
  Location loc = func.getLoc();
  StringRef kernelName = func.getSymName().drop_back(strlen("_tiles"));
  auto kernel = gpu::GPUFuncOp::create(
      b, loc, kernelName, b.getFunctionType(kernelInputs(func, facts), {}),
      attributions);
  kernel->setAttr(gpu::GPUDialect::getKernelFuncAttrName(), b.getUnitAttr());
  int32_t threads = static_cast<int32_t>(samplesPerBlock * kLanes);
  kernel.setKnownBlockSize(ArrayRef<int32_t>{threads, 1, 1});
  kernel->setAttr(kSamplesPerBlockAttrName,
                  b.getI64IntegerAttr(samplesPerBlock));
  Block &entry = kernel.getBody().front();
  b.setInsertionPointToStart(&entry);

  auto index = [&](int64_t v) -> Value {
    return arith::ConstantIndexOp::create(b, loc, v);
  };
  Value tid = gpu::ThreadIdOp::create(b, loc, gpu::Dimension::x);
  Value bid = gpu::BlockIdOp::create(b, loc, gpu::Dimension::x);
  Value lane = arith::RemUIOp::create(b, loc, tid, index(kLanes));
  Value slot = arith::DivUIOp::create(b, loc, tid, index(kLanes));
  Value sample = arith::AddIOp::create(
      b, loc, arith::MulIOp::create(b, loc, bid, index(samplesPerBlock)), slot);
  Value batch = entry.getArgument(kernel.getNumArguments() - 1);
  Value live =
      arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt, sample, batch);
  // The runtime never launches an empty batch, so batch - 1 >= 0.
  Value clamped = arith::MinUIOp::create(
      b, loc, sample, arith::SubIOp::create(b, loc, batch, index(1)));
  Value laneZero =
      arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, lane, index(0));
  Value liveLaneZero = arith::AndIOp::create(b, loc, live, laneZero);

  IRMapping mapping;
  for (unsigned i = 0; i < numBuffers; ++i)
    mapping.map(body.getArgument(i), entry.getArgument(i));
  mapping.map(body.getArgument(numBuffers), batch);
  unsigned nextAttribution = 0;
  if (*staged > 0) {
    Value shared = kernel.getWorkgroupAttributions()[nextAttribution++];
    Value bdim = index(threads);
    emitParamsCopy(b, loc, entry.getArgument(2), shared, tid, index(*staged),
                   bdim);
    mapping.map(body.getArgument(2), shared);
  }
  // Private buffers, and the stores into them, stay per thread.
  llvm::SmallPtrSet<Value, 4> privateBuffers;
  for (memref::AllocaOp alloca : privateAllocas)
    privateBuffers.insert(b.clone(*alloca, mapping)->getResult(0));
  // This sample's slice of each workgroup jet buffer.
  for (memref::AllocaOp alloca : allocas) {
    Value shared = kernel.getWorkgroupAttributions()[nextAttribution++];
    MemRefType t = alloca.getType();
    SmallVector<OpFoldResult> offsets{slot}, sizes{b.getIndexAttr(1)},
        strides(t.getRank() + 1, b.getIndexAttr(1));
    for (int64_t extent : t.getShape()) {
      offsets.push_back(b.getIndexAttr(0));
      sizes.push_back(b.getIndexAttr(extent));
    }
    auto sliceType = memref::SubViewOp::inferRankReducedResultType(
        t.getShape(), cast<MemRefType>(shared.getType()), offsets, sizes,
        strides);
    Value slice = memref::SubViewOp::create(b, loc, sliceType, shared, offsets,
                                            sizes, strides);
    mapping.map(alloca.getResult(), slice);
  }
  gpu::BarrierOp::create(b, loc); // the staged parameters
  mapping.map(body.getArgument(numBuffers + 1), clamped);
  Value clampedEnd = arith::AddIOp::create(b, loc, clamped, index(1));
  mapping.map(body.getArgument(numBuffers + 2), clampedEnd);
  auto returnOp = gpu::ReturnOp::create(b, loc);
  b.setInsertionPoint(returnOp);
  for (Operation &op : body.without_terminator())
    if (!isa<memref::AllocaOp>(op))
      b.clone(op, mapping);

  // Subviews of the (now workgroup, strided) buffers: re-infer their types.
  ntp::reinferSubviewTypes(kernel);

  // The tile loop runs once, for tile = the clamped sample: inline it.
  IRRewriter rewriter(b);
  SmallVector<scf::ForOp> tileLoops;
  for (auto loop : entry.getOps<scf::ForOp>())
    if (loop.getLowerBound() == clamped && loop.getUpperBound() == clampedEnd &&
        loop.getNumResults() == 0)
      tileLoops.push_back(loop);
  for (scf::ForOp loop : tileLoops) {
    Block *loopBody = loop.getBody();
    rewriter.eraseOp(loopBody->getTerminator());
    rewriter.inlineBlockBefore(loopBody, loop, ValueRange{clamped});
    rewriter.eraseOp(loop);
  }

  // Spread the neuron loops over the lanes; guard every other writing
  // step; separate the steps by barriers.
  Value lanes = nullptr;
  for (Operation &op : llvm::make_early_inc_range(entry)) {
    if (&op == returnOp || op.getNumResults() != 0 || isMemoryEffectFree(&op) ||
        isa<gpu::BarrierOp>(op) ||
        op.isBeforeInBlock(clampedEnd.getDefiningOp()))
      continue;
    if (auto store = dyn_cast<memref::StoreOp>(op);
        store && privateBuffers.contains(store.getMemRef()))
      continue;
    b.setInsertionPoint(&op);
    Value condition = liveLaneZero;
    if (auto loop = dyn_cast<scf::ForOp>(op);
        loop && loop->hasAttr(ntp::kNeuronLoopAttrName)) {
      if (!lanes)
        lanes = index(kLanes);
      Value start = arith::AddIOp::create(
          b, loc, loop.getLowerBound(),
          arith::MulIOp::create(b, loc, lane, loop.getStep()));
      Value step = arith::MulIOp::create(b, loc, loop.getStep(), lanes);
      loop.getLowerBoundMutable().assign(start);
      loop.getStepMutable().assign(step);
      condition = live;
    }
    auto guard = scf::IfOp::create(b, loc, condition, /*withElse=*/false);
    op.moveBefore(guard.thenBlock()->getTerminator());
    b.setInsertionPointAfter(guard);
    gpu::BarrierOp::create(b, loc);
  }
  if (facts.reducedParams > 0) {
    // The last step ended with a barrier: every column is written.
    b.setInsertionPoint(returnOp);
    emitBlockReduction(b, loc, entry.getArgument(4),
                       entry.getArgument(numBuffers), batch,
                       facts.reducedParams, samplesPerBlock, threads);
  }
  return success();
}
