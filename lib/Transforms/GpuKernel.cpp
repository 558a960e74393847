//===- GpuKernel.cpp - One fused GPU kernel per evaluation ----------------===//
//
// ntp-gpu-kernel: wraps the loop-level forward function (tile size 1) into a
// gpu.func kernel: with mapping=sample one thread evaluates one sample,
// through every layer and every order; with mapping=lanes one warp does,
// neuron j of each layer on lane j % 32, the jets in shared memory. Either
// way the parameters are staged in shared memory.
//
//===----------------------------------------------------------------------===//

#include "GpuKernelUtils.h"
#include "ntp/Dialect/Ntp/IR/NtpDialect.h"
#include "ntp/Transforms/Passes.h"

#include "mlir/Analysis/DataFlow/ConstantPropagationAnalysis.h"
#include "mlir/Analysis/DataFlow/DeadCodeAnalysis.h"
#include "mlir/Analysis/DataFlow/IntegerRangeAnalysis.h"
#include "mlir/Analysis/DataFlowFramework.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Math/Transforms/Approximation.h"
#include "mlir/Dialect/Math/Transforms/Passes.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace ntp {
#define GEN_PASS_DEF_NTPGPUKERNEL
#include "ntp/Transforms/Passes.h.inc"
} // namespace ntp

using namespace mlir;
using ntp::kSamplesPerBlockAttrName;

namespace {

/// Number of parameter elements the kernel reads: one past the largest index
/// of any load from `params`, by integer range analysis. Fails if a use is
/// not a load or an index is unbounded.
static FailureOr<int64_t> countParams(func::FuncOp func, Value params) {
  DataFlowSolver solver;
  solver.load<dataflow::DeadCodeAnalysis>();
  solver.load<dataflow::SparseConstantPropagation>();
  solver.load<dataflow::IntegerRangeAnalysis>();
  if (failed(solver.initializeAndRun(func)))
    return failure();
  int64_t count = 0;
  for (Operation *user : params.getUsers()) {
    Value index;
    int64_t extent = 1;
    if (auto load = dyn_cast<memref::LoadOp>(user)) {
      index = load.getIndices().front();
    } else if (auto load = dyn_cast<vector::LoadOp>(user)) {
      index = load.getIndices().front();
      extent = load.getVectorType().getNumElements();
    } else {
      return failure();
    }
    auto *lattice =
        solver.lookupState<dataflow::IntegerValueRangeLattice>(index);
    if (!lattice || lattice->getValue().isUninitialized())
      return failure();
    const ConstantIntRanges &range = lattice->getValue().getValue();
    if (range.smax().isMaxSignedValue() || range.smin().isNegative())
      return failure();
    count = std::max<int64_t>(count, range.smax().getSExtValue() + extent);
  }
  return count;
}

/// A math op with a native PTX instruction becomes the LLVM intrinsic, which
/// the NVPTX backend selects directly (convert-gpu-to-nvvm would call
/// libdevice's __nv_fmaf & co. instead).
template <typename MathOp, typename IntrinsicOp>
struct MathToIntrinsic : public OpRewritePattern<MathOp> {
  using OpRewritePattern<MathOp>::OpRewritePattern;
  LogicalResult matchAndRewrite(MathOp op,
                                PatternRewriter &rewriter) const override {
    rewriter.replaceOpWithNewOp<IntrinsicOp>(op, op->getResultTypes(),
                                             op->getOperands());
    return success();
  }
};

/// f32 transcendental functions become polynomials (as on the CPU) and fma
/// the LLVM intrinsic; only f64 transcendental functions need libdevice.
static LogicalResult lowerMath(Operation *root) {
  MLIRContext *context = root->getContext();
  RewritePatternSet patterns(context);
  // The elementary functions of the primitives, and a few more that
  // upstream approximates.
  populateMathPolynomialApproximationPatterns(patterns, [](StringRef name) {
    return llvm::is_contained(
        {
#define NTP_ELEMENTARY(name, MathOp, libm) math::MathOp::getOperationName(),
#include "ntp/Support/ElementaryFunctions.def"
            math::LogOp::getOperationName(),
            math::Log2Op::getOperationName(),
            math::ExpM1Op::getOperationName(),
            math::ErfOp::getOperationName(),
        },
        name);
  });
  // convert-gpu-to-nvvm keeps llvm.intr.fma legal but not fabs/floor/...;
  // those become __nv_* calls that emitPtx defines with intrinsics.
  patterns.add<MathToIntrinsic<math::FmaOp, LLVM::FMAOp>>(context);
  return applyPatternsGreedily(root, std::move(patterns));
}

struct GpuKernelPass : public ntp::impl::NtpGpuKernelBase<GpuKernelPass> {
  using NtpGpuKernelBase::NtpGpuKernelBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    SmallVector<func::FuncOp> kernels;
    for (auto func : module.getOps<func::FuncOp>())
      if (func->hasAttr("ntp.kernel"))
        kernels.push_back(func);
    if (kernels.empty())
      return;
    if (blockSize <= 0 || blockSize > 1024) {
      module.emitError("block-size must be in 1..1024, got ")
          << blockSize.getValue();
      return signalPassFailure();
    }
    OpBuilder b(module.getContext());
    b.setInsertionPointToEnd(module.getBody());
    auto gpuModule =
        gpu::GPUModuleOp::create(b, module.getLoc(), "ntp_kernels");
    module->setAttr(gpu::GPUDialect::getContainerModuleAttrName(),
                    b.getUnitAttr());
    for (func::FuncOp func : kernels) {
      if (failed(convert(func, gpuModule)))
        return signalPassFailure();
      func.erase();
    }
    // Helpers the kernels call (outlined activation jets, ...) move into the
    // GPU module with them.
    for (auto func : llvm::make_early_inc_range(module.getOps<func::FuncOp>()))
      func->moveBefore(gpuModule.getBody(), gpuModule.getBody()->end());
    if (failed(lowerMath(gpuModule)))
      return signalPassFailure();
  }

  LogicalResult convert(func::FuncOp func, gpu::GPUModuleOp gpuModule) {
    if (mapping == ntp::GpuMapping::Lanes)
      return convertToLanes(func, gpuModule);
    // Shared-memory staging of the parameters, when they fit.
    FailureOr<int64_t> numParams = checkForward(func);
    if (failed(numParams))
      return failure();
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
    auto kernelType =
        b.getFunctionType(TypeRange(type.getInputs()).take_front(5), {});
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
    Value batch = entry.getArgument(4);

    IRMapping mapping;
    for (unsigned i = 0; i < 5; ++i)
      mapping.map(body.getArgument(i), entry.getArgument(i));
    if (stage) {
      // Cooperative copy: thread t copies elements t, t + blockDim, ...;
      // consecutive threads read consecutive addresses (coalesced).
      Value shared = kernel.getWorkgroupAttributions().front();
      Value count = arith::ConstantIndexOp::create(b, loc, *numParams);
      auto copy = scf::ForOp::create(b, loc, tid, count, bdim);
      {
        OpBuilder::InsertionGuard guard(b);
        b.setInsertionPointToStart(copy.getBody());
        Value value = memref::LoadOp::create(b, loc, entry.getArgument(2),
                                             copy.getInductionVar());
        memref::StoreOp::create(b, loc, value, shared, copy.getInductionVar());
      }
      gpu::BarrierOp::create(b, loc);
      mapping.map(params, shared);
    }
    mapping.map(body.getArgument(5), sample);
    Value sampleEnd = arith::AddIOp::create(b, loc, sample, one);
    mapping.map(body.getArgument(6), sampleEnd);

    // Thread-private buffers stay at the entry (they become registers or a
    // fixed-size local frame); the rest runs for live samples only.
    for (Operation &op : body.without_terminator())
      if (isa<memref::AllocaOp>(op))
        b.clone(op, mapping);
    Value live =
        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt, sample, batch);
    auto guard = scf::IfOp::create(b, loc, live, /*withElse=*/false);
    gpu::ReturnOp::create(b, loc);
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

  /// Checks the loop-level forward function and returns its parameter count
  /// when the parameters can be staged in shared memory (else -1).
  FailureOr<int64_t> checkForward(func::FuncOp func) {
    StringRef name = func.getSymName();
    if (!name.ends_with("_forward_tiles"))
      return func.emitError("only forward kernels run on the GPU; build the "
                            "loop-level module with backward=false (found @")
             << name << ")";
    FunctionType type = func.getFunctionType();
    if (type.getNumInputs() != 7 || type.getNumResults() != 0 ||
        !func.getBody().hasOneBlock())
      return func.emitError("expected (x, v, params, out, batch, tile_begin, "
                            "tile_end) with one block");
    Type element = cast<MemRefType>(type.getInput(2)).getElementType();
    FailureOr<int64_t> numParams =
        countParams(func, func.getBody().front().getArgument(2));
    if (succeeded(numParams) && *numParams > 0 &&
        *numParams * element.getIntOrFloatBitWidth() / 8 <= maxSharedBytes)
      return *numParams;
    return -1;
  }

  /// The lanes mapping: one warp per sample, `samplesPerBlock` samples per
  /// block (thread t: lane t % 32 of sample slot t / 32). The jet buffers of
  /// each sample live in shared memory; every loop over the neurons of a
  /// layer (marked ntp.neuron_loop) is spread over the 32 lanes (neuron j on
  /// lane j % 32), the rest of the writes (seed, output) run on lane 0, and a
  /// barrier separates consecutive writing steps, since a layer reads every
  /// neuron of the previous one. Samples past `batch` compute on a clamped
  /// sample (so every thread reaches every barrier) and write nothing.
  LogicalResult convertToLanes(func::FuncOp func, gpu::GPUModuleOp gpuModule) {
    constexpr int64_t kLanes = 32;
    FailureOr<int64_t> staged = checkForward(func);
    if (failed(staged))
      return failure();
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
    // buffer per thread-private jet buffer of the loop-level function.
    SmallVector<Type> attributions;
    if (*staged > 0)
      attributions.push_back(
          MemRefType::get({*staged}, element, nullptr, workgroup));
    SmallVector<memref::AllocaOp> allocas;
    for (Operation &op : body.without_terminator())
      if (auto alloca = dyn_cast<memref::AllocaOp>(op)) {
        MemRefType t = alloca.getType();
        if (!t.hasStaticShape() || !t.getLayout().isIdentity())
          return alloca.emitError("expected a static jet buffer");
        SmallVector<int64_t> shape{samplesPerBlock};
        llvm::append_range(shape, t.getShape());
        attributions.push_back(
            MemRefType::get(shape, t.getElementType(), nullptr, workgroup));
        allocas.push_back(alloca);
      }

    OpBuilder b(gpuModule.getBodyRegion());
    b.setInsertionPointToEnd(gpuModule.getBody());
    Location loc = func.getLoc();
    StringRef kernelName = func.getSymName().drop_back(strlen("_tiles"));
    auto kernel = gpu::GPUFuncOp::create(
        b, loc, kernelName,
        b.getFunctionType(TypeRange(type.getInputs()).take_front(5), {}),
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
        b, loc, arith::MulIOp::create(b, loc, bid, index(samplesPerBlock)),
        slot);
    Value batch = entry.getArgument(4);
    Value live =
        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt, sample, batch);
    // The runtime never launches an empty batch, so batch - 1 >= 0.
    Value clamped = arith::MinUIOp::create(
        b, loc, sample, arith::SubIOp::create(b, loc, batch, index(1)));
    Value laneZero =
        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, lane, index(0));
    Value liveLaneZero = arith::AndIOp::create(b, loc, live, laneZero);

    IRMapping mapping;
    for (unsigned i = 0; i < 5; ++i)
      mapping.map(body.getArgument(i), entry.getArgument(i));
    unsigned nextAttribution = 0;
    if (*staged > 0) {
      Value shared = kernel.getWorkgroupAttributions()[nextAttribution++];
      Value bdim = index(threads);
      auto copy = scf::ForOp::create(b, loc, tid, index(*staged), bdim);
      {
        OpBuilder::InsertionGuard guard(b);
        b.setInsertionPointToStart(copy.getBody());
        Value value = memref::LoadOp::create(b, loc, entry.getArgument(2),
                                             copy.getInductionVar());
        memref::StoreOp::create(b, loc, value, shared, copy.getInductionVar());
      }
      mapping.map(body.getArgument(2), shared);
    }
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
      Value slice = memref::SubViewOp::create(b, loc, sliceType, shared,
                                              offsets, sizes, strides);
      mapping.map(alloca.getResult(), slice);
    }
    gpu::BarrierOp::create(b, loc); // the staged parameters
    mapping.map(body.getArgument(5), clamped);
    Value clampedEnd = arith::AddIOp::create(b, loc, clamped, index(1));
    mapping.map(body.getArgument(6), clampedEnd);
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
      if (loop.getLowerBound() == clamped &&
          loop.getUpperBound() == clampedEnd && loop.getNumResults() == 0)
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
      if (&op == returnOp || op.getNumResults() != 0 ||
          isMemoryEffectFree(&op) || isa<gpu::BarrierOp>(op) ||
          op.isBeforeInBlock(clampedEnd.getDefiningOp()))
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
    return success();
  }
};

} // namespace
