//===- Pipelines.h - Named ntp pipelines ------------------------*- C++ -*-===//
//
// One pipeline per target, shared by ntp-opt (as a named pass pipeline) and
// ntp-compile / the JIT (built in C++), so that what the tools run is exactly
// what the tests run.
//
//===----------------------------------------------------------------------===//

#ifndef NTP_PIPELINES_PIPELINES_H
#define NTP_PIPELINES_PIPELINES_H

#include "ntp/Transforms/PassOptions.h"

#include "mlir/Pass/PassOptions.h"

namespace mlir {
class OpPassManager;
} // namespace mlir

namespace ntp {

struct CpuPipelineOptions
    : public mlir::PassPipelineOptions<CpuPipelineOptions> {
  Option<int64_t> tileSize{*this, "tile-size",
                           llvm::cl::desc("Samples per tile (0: automatic)"),
                           llvm::cl::init(0)};
  Option<bool> backward{
      *this, "backward",
      llvm::cl::desc("Also generate the reverse-mode kernels (backward, "
                     "forward-save, backward-saved)"),
      llvm::cl::init(true)};
  Option<bool> outline{
      *this, "outline",
      llvm::cl::desc("Share each neuron's Faà di Bruno arithmetic in one "
                     "non-inlined function per activation, order and type"),
      llvm::cl::init(true)};
  Option<JetFormulation> formulation{
      *this, "formulation",
      llvm::cl::desc("Exact formulation of the activation jets: auto (fewer "
                     "flops), faa-di-bruno or taylor"),
      llvm::cl::init(JetFormulation::Auto), jetFormulationValues()};
  Option<int64_t> partialsStackBytes{
      *this, "partials-stack-bytes",
      llvm::cl::desc("Bytes a partials kernel's ray buffers may take per "
                     "tile (ntp-decompose-mlp; 0: kMaxTileStackBytes)"),
      llvm::cl::init(0)};
  Option<bool> perSampleGrads{
      *this, "per-sample-grads",
      llvm::cl::desc("Reverse mode with one parameter gradient per sample "
                     "(ntp-generate-backward per-sample-grads; the GPU's)"),
      llvm::cl::init(false)};
  Option<int64_t> gradLaneBits{
      *this, "grad-lane-bits",
      llvm::cl::desc("Bits of the lane-wise parameter-gradient accumulators "
                     "(ntp-generate-backward grad-lane-bits; 0: one lane "
                     "per sample of the tile, -1: chosen from machine-facts)"),
      llvm::cl::init(0)};
  Option<int64_t> interleave{
      *this, "interleave",
      llvm::cl::desc("Neurons whose activation jets are interleaved "
                     "(ntp-expand-activation-jets; 0: from machine-facts)"),
      llvm::cl::init(1)};
  Option<int64_t> affineOutputs{
      *this, "affine-outputs",
      llvm::cl::desc("Output neurons per register block of the affine layers "
                     "(convert-ntp-to-loops; 0: from machine-facts)"),
      llvm::cl::init(1)};
  Option<int64_t> affineOrders{
      *this, "affine-orders",
      llvm::cl::desc("Live orders per register block of the affine layers "
                     "(0: all)"),
      llvm::cl::init(0)};
  Option<bool> hoistPrimitives{
      *this, "hoist-primitives",
      llvm::cl::desc("Evaluate each layer's activation primitives in a loop "
                     "of their own before its jets "
                     "(ntp-expand-activation-jets)"),
      llvm::cl::init(false)};
  Option<int64_t> gradOutputs{
      *this, "grad-outputs",
      llvm::cl::desc("Output neurons per register tile of the affine VJPs' "
                     "parameter gradients (convert-ntp-to-loops; 0: chosen "
                     "with affine-outputs=0, else unblocked)"),
      llvm::cl::init(0)};
  Option<int64_t> gradInputs{
      *this, "grad-inputs",
      llvm::cl::desc("Input neurons per register tile of the affine VJPs' "
                     "parameter gradients (with grad-outputs)"),
      llvm::cl::init(0)};
  ListOption<int64_t> machineFacts{
      *this, "machine-facts",
      llvm::cl::desc("The CPU's vector bits, vector registers, FMA latency, "
                     "FMA pipes, load ports and optionally L1 data bytes "
                     "(for the automatic choices)")};
  Option<int64_t> rayRows{
      *this, "ray-rows",
      llvm::cl::desc("Rows per register block of the multi-direction affine "
                     "layers (convert-ntp-to-loops; 0: from machine-facts)"),
      llvm::cl::init(0)};
  Option<int64_t> rayNeurons{
      *this, "ray-neurons",
      llvm::cl::desc("Output neurons per register block of the "
                     "multi-direction affine layers (0: chosen)"),
      llvm::cl::init(0)};
};

struct GpuPipelineOptions
    : public mlir::PassPipelineOptions<GpuPipelineOptions> {
  Option<std::string> chip{*this, "chip",
                           llvm::cl::desc("NVIDIA architecture (sm_80, ...)"),
                           llvm::cl::init("sm_90")};
  Option<std::string> features{
      *this, "features",
      llvm::cl::desc("LLVM NVPTX features (e.g. +ptx80); empty: the "
                     "backend's default PTX version for the chip"),
      llvm::cl::init("")};
  Option<int64_t> blockSize{
      *this, "block-size", llvm::cl::desc("Threads per block (mapping=sample)"),
      llvm::cl::init(128)};
  Option<GpuMapping> mapping{
      *this, "mapping",
      llvm::cl::desc("'sample' (a thread per sample) or 'lanes' (a warp per "
                     "sample, a neuron per lane)"),
      llvm::cl::init(GpuMapping::Sample), gpuMappingValues()};
  Option<int64_t> samplesPerBlock{
      *this, "samples-per-block",
      llvm::cl::desc("Samples (warps) per block (mapping=lanes)"),
      llvm::cl::init(4)};
  Option<bool> backward{
      *this, "backward",
      llvm::cl::desc("Also the reverse-mode kernels: forward-save, "
                     "backward-saved (per-sample gradients reduced per "
                     "block) and the gradient reduction"),
      llvm::cl::init(false)};
};

/// ntp.mlp -> per-layer jet ops -> Faà di Bruno arithmetic -> loops.
void buildJetLoopsPipeline(mlir::OpPassManager &pm,
                           const CpuPipelineOptions &options);
/// The whole CPU pipeline: ntp.mlp -> LLVM dialect (`ntp-cpu-pipeline`).
void buildCpuPipeline(mlir::OpPassManager &pm,
                      const CpuPipelineOptions &options);

/// The NVPTX pipeline (`ntp-gpu-pipeline`): ntp.mlp -> one fused kernel
/// per evaluation, a gpu.module of LLVM/NVVM dialect ops with an
/// #nvvm.target, ready for LLVM's NVPTX backend (or gpu-module-to-binary).
void buildGpuPipeline(mlir::OpPassManager &pm,
                      const GpuPipelineOptions &options);
/// The GPU pipeline up to the gpu.func kernel, then ntp-gpu-emulate and the
/// host lowering (`ntp-gpu-emulation-pipeline`): the GPU kernel's logic as a
/// host kernel with one block per tile, for tests without a GPU.
void buildGpuEmulationPipeline(mlir::OpPassManager &pm,
                               const GpuPipelineOptions &options);

void registerNtpPipelines();

} // namespace ntp

#endif // NTP_PIPELINES_PIPELINES_H
