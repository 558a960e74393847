//===- GpuKernel.cpp - One fused GPU kernel per evaluation ----------------===//
//
// ntp-gpu-kernel: wraps the loop-level forward function (tile size 1) into a
// gpu.func kernel: with mapping=sample one thread evaluates one sample,
// through every layer and every order; with mapping=lanes one warp does,
// neuron j of each layer on lane j % 32, the jets in shared memory. Either
// way the parameters are staged in shared memory.
//
// The reverse mode (ntp-generate-backward with per-sample-grads) becomes two
// more kernels of the same shape, <name>_forward_save and
// <name>_backward_saved, the latter writing each sample's parameter gradient
// into its own column and, after a barrier, one row of per-block partial
// sums (the block's samples in order); <name>_reduce_params_grad sums the
// rows in block order into the gradient. No float atomics: the result is
// the same bit for bit on every run and every GPU.
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

/// Threads per block of <name>_reduce_params_grad (a thread per parameter).
constexpr int64_t kReduceBlockSize = 128;

/// What ntp-gpu-kernel needs to know of a loop-level kernel function
/// (x, v, params, ..., batch, tile_begin, tile_end).
struct KernelFunction {
  unsigned numBuffers = 0; // memref arguments before batch
  int64_t staged = -1;     // parameters staged in shared memory, or -1
  /// backward_saved: the parameter count of the per-sample gradient
  /// columns in buffer 4, reduced per block into an extra partials argument.
  int64_t reducedParams = 0;
};

/// The parameter count P of the per-sample gradient columns of `func`
/// (ntp-generate-backward's reinterpret_cast of `grad` into [P] with
/// stride batch), or 0 when it has none.
static int64_t gradientColumns(func::FuncOp func, Value grad) {
  int64_t count = 0;
  func.walk([&](memref::ReinterpretCastOp cast) {
    if (cast.getSource() == grad)
      count = cast.getType().getDimSize(0);
  });
  return count;
}

/// After a kernel's body: the per-sample gradient columns of this block's
/// samples (columns[p * batch + sample]) summed in sample order into row
/// blockIdx of `partials` ([blocks, P]), parameter p by thread p, p +
/// threads, ...
static void emitBlockReduction(OpBuilder &b, Location loc, Value columns,
                               Value partials, Value batch, int64_t numParams,
                               int64_t samplesPerBlock, int64_t threads) {
  auto c = [&](int64_t v) -> Value {
    return arith::ConstantIndexOp::create(b, loc, v);
  };
  Type element = cast<MemRefType>(columns.getType()).getElementType();
  Value tid = gpu::ThreadIdOp::create(b, loc, gpu::Dimension::x);
  Value bid = gpu::BlockIdOp::create(b, loc, gpu::Dimension::x);
  Value first = arith::MulIOp::create(b, loc, bid, c(samplesPerBlock));
  // The grid covers the batch, so first < batch.
  Value count = arith::MinSIOp::create(
      b, loc, c(samplesPerBlock), arith::SubIOp::create(b, loc, batch, first));
  auto params = scf::ForOp::create(b, loc, tid, c(numParams), c(threads));
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(params.getBody());
  Value p = params.getInductionVar();
  Value column = arith::AddIOp::create(
      b, loc, arith::MulIOp::create(b, loc, p, batch), first);
  Value zero = arith::ConstantOp::create(b, loc, b.getFloatAttr(element, 0));
  auto samples =
      scf::ForOp::create(b, loc, c(0), count, c(1), ValueRange{zero});
  {
    OpBuilder::InsertionGuard inner(b);
    b.setInsertionPointToStart(samples.getBody());
    Value value =
        memref::LoadOp::create(b, loc, columns,
                               ValueRange{arith::AddIOp::create(
                                   b, loc, column, samples.getInductionVar())});
    scf::YieldOp::create(b, loc,
                         ValueRange{arith::AddFOp::create(
                             b, loc, samples.getRegionIterArg(0), value)});
  }
  Value row = arith::AddIOp::create(
      b, loc, arith::MulIOp::create(b, loc, bid, c(numParams)), p);
  memref::StoreOp::create(b, loc, samples.getResult(0), partials,
                          ValueRange{row});
}

struct GpuKernelPass : public ntp::impl::NtpGpuKernelBase<GpuKernelPass> {
  using NtpGpuKernelBase::NtpGpuKernelBase;

  /// <name>_reduce_params_grad(partials, grad, rows): grad[p] = the sum of
  /// partials[r * P + p] over r = 0, 1, ..., rows - 1, a thread per p. It
  /// writes grad (rows = 0 writes zeros).
  void buildReduceKernel(gpu::GPUModuleOp gpuModule, StringRef name,
                         Type element, int64_t numParams, Location loc) {
    OpBuilder b(gpuModule.getBodyRegion());
    b.setInsertionPointToEnd(gpuModule.getBody());
    auto flat = MemRefType::get({ShapedType::kDynamic}, element);
    auto kernel = gpu::GPUFuncOp::create(
        b, loc, (name + "_reduce_params_grad").str(),
        b.getFunctionType({flat, flat, b.getIndexType()}, {}));
    kernel->setAttr(gpu::GPUDialect::getKernelFuncAttrName(), b.getUnitAttr());
    int32_t threads = static_cast<int32_t>(kReduceBlockSize);
    kernel.setKnownBlockSize(ArrayRef<int32_t>{threads, 1, 1});
    kernel->setAttr(kSamplesPerBlockAttrName,
                    b.getI64IntegerAttr(kReduceBlockSize));
    Block &entry = kernel.getBody().front();
    b.setInsertionPointToStart(&entry);
    auto c = [&](int64_t v) -> Value {
      return arith::ConstantIndexOp::create(b, loc, v);
    };
    Value tid = gpu::ThreadIdOp::create(b, loc, gpu::Dimension::x);
    Value bid = gpu::BlockIdOp::create(b, loc, gpu::Dimension::x);
    Value p = arith::AddIOp::create(
        b, loc, arith::MulIOp::create(b, loc, bid, c(kReduceBlockSize)), tid);
    Value inRange = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt, p,
                                          c(numParams));
    auto guard = scf::IfOp::create(b, loc, inRange, /*withElse=*/false);
    gpu::ReturnOp::create(b, loc);
    b.setInsertionPoint(guard.thenBlock()->getTerminator());
    Value zero = arith::ConstantOp::create(b, loc, b.getFloatAttr(element, 0));
    auto rows = scf::ForOp::create(b, loc, c(0), entry.getArgument(2), c(1),
                                   ValueRange{zero});
    {
      OpBuilder::InsertionGuard inner(b);
      b.setInsertionPointToStart(rows.getBody());
      Value index = arith::AddIOp::create(
          b, loc,
          arith::MulIOp::create(b, loc, rows.getInductionVar(), c(numParams)),
          p);
      Value value = memref::LoadOp::create(b, loc, entry.getArgument(0),
                                           ValueRange{index});
      scf::YieldOp::create(b, loc,
                           ValueRange{arith::AddFOp::create(
                               b, loc, rows.getRegionIterArg(0), value)});
    }
    memref::StoreOp::create(b, loc, rows.getResult(0), entry.getArgument(1),
                            ValueRange{p});
  }

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
      FailureOr<KernelFunction> facts = checkKernelFunction(func);
      if (failed(facts) || failed(convert(func, *facts, gpuModule)))
        return signalPassFailure();
      if (facts->reducedParams > 0) {
        StringRef name = func.getSymName();
        name.consume_back("_backward_saved_tiles");
        buildReduceKernel(gpuModule, name,
                          cast<MemRefType>(func.getFunctionType().getInput(2))
                              .getElementType(),
                          facts->reducedParams, func.getLoc());
      }
      func.erase();
    }
    // Helpers the kernels call (outlined activation jets, ...) move into the
    // GPU module with them.
    for (auto func : llvm::make_early_inc_range(module.getOps<func::FuncOp>()))
      func->moveBefore(gpuModule.getBody(), gpuModule.getBody()->end());
    if (failed(lowerMath(gpuModule)))
      return signalPassFailure();
  }

  /// The kernel's arguments: the function's buffers, the partials of a
  /// reducing kernel, then batch.
  static SmallVector<Type> kernelInputs(func::FuncOp func,
                                        const KernelFunction &facts) {
    FunctionType type = func.getFunctionType();
    SmallVector<Type> inputs(
        TypeRange(type.getInputs()).take_front(facts.numBuffers));
    if (facts.reducedParams > 0)
      inputs.push_back(type.getInput(0));
    inputs.push_back(type.getInput(facts.numBuffers));
    return inputs;
  }

  LogicalResult convert(func::FuncOp func, const KernelFunction &facts,
                        gpu::GPUModuleOp gpuModule) {
    if (mapping == ntp::GpuMapping::Lanes)
      return convertToLanes(func, facts, gpuModule);
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

  /// Checks a loop-level kernel function (forward, forward-save or
  /// backward-saved with per-sample gradients) and returns what its GPU
  /// kernel needs: the parameter count when the parameters can be staged
  /// in shared memory (else -1), the reduced gradient's size.
  FailureOr<KernelFunction> checkKernelFunction(func::FuncOp func) {
    StringRef name = func.getSymName();
    if (name.ends_with("_backward_tiles"))
      return func.emitError("the recomputing backward does not run on the "
                            "GPU; generate the reverse mode with "
                            "per-sample-grads (found @")
             << name << ")";
    bool reduces = name.ends_with("_backward_saved_tiles");
    if (!reduces && !name.ends_with("_forward_tiles") &&
        !name.ends_with("_forward_save_tiles"))
      return func.emitError("not a kernel function of ntp-decompose-mlp or "
                            "ntp-generate-backward: @")
             << name;
    FunctionType type = func.getFunctionType();
    unsigned n = type.getNumInputs();
    bool shaped =
        n >= 7 && type.getNumResults() == 0 && func.getBody().hasOneBlock();
    for (unsigned i = 0; shaped && i < n; ++i) {
      auto memref = dyn_cast<MemRefType>(type.getInput(i));
      shaped = i + 3 < n ? memref && memref.getRank() == 1
                         : type.getInput(i).isIndex();
    }
    if (!shaped)
      return func.emitError("expected (x, v, params, buffers..., batch, "
                            "tile_begin, tile_end) with one block");
    KernelFunction facts;
    facts.numBuffers = n - 3;
    Block &body = func.getBody().front();
    if (reduces) {
      facts.reducedParams = gradientColumns(func, body.getArgument(4));
      if (facts.reducedParams <= 0)
        return func.emitError("a backward on the GPU needs per-sample "
                              "gradient columns (ntp-generate-backward "
                              "per-sample-grads)");
    }
    Type element = cast<MemRefType>(type.getInput(2)).getElementType();
    FailureOr<int64_t> numParams = countParams(func, body.getArgument(2));
    if (succeeded(numParams) && *numParams > 0 &&
        *numParams * element.getIntOrFloatBitWidth() / 8 <= maxSharedBytes)
      facts.staged = *numParams;
    return facts;
  }

  /// The lanes mapping: one warp per sample, `samplesPerBlock` samples per
  /// block (thread t: lane t % 32 of sample slot t / 32). The jet buffers of
  /// each sample live in shared memory; every loop over the neurons of a
  /// layer (marked ntp.neuron_loop) is spread over the 32 lanes (neuron j on
  /// lane j % 32), the rest of the writes (seed, output) run on lane 0, and a
  /// barrier separates consecutive writing steps, since a layer reads every
  /// neuron of the previous one. Samples past `batch` compute on a clamped
  /// sample (so every thread reaches every barrier) and write nothing.
  LogicalResult convertToLanes(func::FuncOp func, const KernelFunction &facts,
                               gpu::GPUModuleOp gpuModule) {
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
        jetBytes += samplesPerBlock * t.getNumElements() *
                    t.getElementTypeBitWidth() / 8;
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
             << jetBytes << " bytes for " << samplesPerBlock.getValue()
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
        b, loc, arith::MulIOp::create(b, loc, bid, index(samplesPerBlock)),
        slot);
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
      Value slice = memref::SubViewOp::create(b, loc, sliceType, shared,
                                              offsets, sizes, strides);
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
};

} // namespace
