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
// The mappings live in GpuKernelSample.cpp and GpuKernelLanes.cpp, the
// staging of the parameters in shared memory in GpuKernelStaging.cpp
// (GpuKernelMapping.h); this file is the pass: it checks the loop-level
// functions, builds the gradient reductions and lowers the math.
//
//===----------------------------------------------------------------------===//

#include "GpuKernelMapping.h"
#include "GpuKernelUtils.h"
#include "ntp/Dialect/Ntp/IR/NtpDialect.h"
#include "ntp/Transforms/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Math/Transforms/Approximation.h"
#include "mlir/Dialect/Math/Transforms/Passes.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace ntp {
#define GEN_PASS_DEF_NTPGPUKERNEL
#include "ntp/Transforms/Passes.h.inc"
} // namespace ntp

using namespace mlir;
using ntp::kSamplesPerBlockAttrName;
using namespace ntp::gpukernel;

namespace {

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

} // namespace

SmallVector<Type> ntp::gpukernel::kernelInputs(func::FuncOp func,
                                               const KernelFunction &facts) {
  FunctionType type = func.getFunctionType();
  SmallVector<Type> inputs(
      TypeRange(type.getInputs()).take_front(facts.numBuffers));
  if (facts.reducedParams > 0)
    inputs.push_back(type.getInput(0));
  inputs.push_back(type.getInput(facts.numBuffers));
  return inputs;
}

void ntp::gpukernel::emitBlockReduction(OpBuilder &b, Location loc,
                                        Value columns, Value partials,
                                        Value batch, int64_t numParams,
                                        int64_t samplesPerBlock,
                                        int64_t threads) {
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

namespace {

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

  LogicalResult convert(func::FuncOp func, const KernelFunction &facts,
                        gpu::GPUModuleOp gpuModule) {
    if (mapping == ntp::GpuMapping::Lanes)
      return convertToLanes(func, facts, gpuModule, samplesPerBlock,
                            maxStaticSharedBytes);
    return convertToSamples(func, facts, gpuModule, blockSize);
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
};

} // namespace
