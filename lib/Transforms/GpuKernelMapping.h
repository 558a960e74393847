//===- GpuKernelMapping.h - Work per GPU thread -----------------*- C++ -*-===//
//
// Internal to ntp-gpu-kernel. GpuKernel.cpp (the pass: checking the
// loop-level functions, the gradient reduction, math) hands each function to
// one of two mappings, GpuKernelSample.cpp (a thread per sample) or
// GpuKernelLanes.cpp (a warp per sample); both stage the parameters in
// shared memory with GpuKernelStaging.cpp.
//
//===----------------------------------------------------------------------===//

#ifndef NTP_LIB_TRANSFORMS_GPUKERNELMAPPING_H
#define NTP_LIB_TRANSFORMS_GPUKERNELMAPPING_H

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/Builders.h"
#include "mlir/Support/LLVM.h"

#include <cstdint>

namespace ntp::gpukernel {

/// What ntp-gpu-kernel needs to know of a loop-level kernel function
/// (x, v, params, ..., batch, tile_begin, tile_end).
struct KernelFunction {
  unsigned numBuffers = 0; // memref arguments before batch
  int64_t staged = -1;     // parameters staged in shared memory, or -1
  /// backward_saved: the parameter count of the per-sample gradient
  /// columns in buffer 4, reduced per block into an extra partials argument.
  int64_t reducedParams = 0;
};

/// The kernel's arguments: the function's buffers, the partials of a
/// reducing kernel, then batch.
mlir::SmallVector<mlir::Type> kernelInputs(mlir::func::FuncOp func,
                                           const KernelFunction &facts);

/// After a kernel's body: the per-sample gradient columns of this block's
/// samples (columns[p * batch + sample]) summed in sample order into row
/// blockIdx of `partials` ([blocks, P]), parameter p by thread p, p +
/// threads, ...
void emitBlockReduction(mlir::OpBuilder &b, mlir::Location loc,
                        mlir::Value columns, mlir::Value partials,
                        mlir::Value batch, int64_t numParams,
                        int64_t samplesPerBlock, int64_t threads);

//===----------------------------------------------------------------------===//
// Shared-memory staging (GpuKernelStaging.cpp)
//===----------------------------------------------------------------------===//

/// Number of parameter elements the kernel reads: one past the largest index
/// of any load from `params`, by integer range analysis. Fails if a use is
/// not a load or an index is unbounded.
mlir::FailureOr<int64_t> countParams(mlir::func::FuncOp func,
                                     mlir::Value params);

/// Cooperative copy of `count` parameters from `params` into `shared`:
/// thread `tid` copies elements tid, tid + stride, ...; consecutive threads
/// read consecutive addresses (coalesced). The caller places the barrier.
void emitParamsCopy(mlir::OpBuilder &b, mlir::Location loc, mlir::Value params,
                    mlir::Value shared, mlir::Value tid, mlir::Value count,
                    mlir::Value stride);

//===----------------------------------------------------------------------===//
// The mappings (GpuKernelSample.cpp, GpuKernelLanes.cpp)
//===----------------------------------------------------------------------===//

/// The sample mapping: one thread per sample, `blockSize` threads per block,
/// the jets thread-private.
mlir::LogicalResult convertToSamples(mlir::func::FuncOp func,
                                     const KernelFunction &facts,
                                     mlir::gpu::GPUModuleOp gpuModule,
                                     int64_t blockSize);

/// The lanes mapping: one warp per sample, `samplesPerBlock` samples per
/// block, the jets in shared memory, at most `maxStaticSharedBytes` of it
/// (0: no limit).
mlir::LogicalResult convertToLanes(mlir::func::FuncOp func,
                                   const KernelFunction &facts,
                                   mlir::gpu::GPUModuleOp gpuModule,
                                   int64_t samplesPerBlock,
                                   int64_t maxStaticSharedBytes);

} // namespace ntp::gpukernel

#endif // NTP_LIB_TRANSFORMS_GPUKERNELMAPPING_H
