//===- GpuKernelStaging.cpp - Parameters in shared memory -----------------===//
//
// Both mappings of ntp-gpu-kernel copy the parameters into a workgroup
// buffer when they fit (max-shared-bytes, and for the lanes mapping beside
// the jets): every sample of a block reads every parameter, so one coalesced
// copy per block replaces a global read per sample. The count comes from
// integer range analysis of the loop-level function's loads.
//
//===----------------------------------------------------------------------===//

#include "GpuKernelMapping.h"

#include "mlir/Analysis/DataFlow/ConstantPropagationAnalysis.h"
#include "mlir/Analysis/DataFlow/DeadCodeAnalysis.h"
#include "mlir/Analysis/DataFlow/IntegerRangeAnalysis.h"
#include "mlir/Analysis/DataFlowFramework.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

using namespace mlir;

/// Number of parameter elements the kernel reads: one past the largest index
/// of any load from `params`, by integer range analysis. Fails if a use is
/// not a load or an index is unbounded.
FailureOr<int64_t> ntp::gpukernel::countParams(func::FuncOp func,
                                               Value params) {
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

void ntp::gpukernel::emitParamsCopy(OpBuilder &b, Location loc, Value params,
                                    Value shared, Value tid, Value count,
                                    Value stride) {
  auto copy = scf::ForOp::create(b, loc, tid, count, stride);
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(copy.getBody());
  Value value = memref::LoadOp::create(b, loc, params, copy.getInductionVar());
  memref::StoreOp::create(b, loc, value, shared, copy.getInductionVar());
}
