//===- DecomposeMlp.cpp - ntp.mlp -> per-layer jet ops --------------------===//
//
// Turns the network description into the kernel function: a loop over tiles
// of samples whose body is one seed, one affine + activate per hidden layer,
// a final affine and one store. This is where the structural zeros of the
// input jet (orders >= 2) are tracked, as `live_orders` on every op. This
// file is the pass (the kernel's facts, the stack bound, which builder runs);
// the builder is MlpKernelBuilder.h, its jet kernels MlpJetKernels.cpp, its
// partials kernels MlpPartialsKernels.cpp.
//
//===----------------------------------------------------------------------===//

#include "MlpKernelBuilder.h"
#include "RaysBackward.h"

#include "ntp/Compiler/KernelFacts.h"
#include "ntp/Dialect/Ntp/IR/JetBuffer.h"
#include "ntp/Dialect/Ntp/IR/NtpAttributes.h"
#include "ntp/Dialect/Ntp/IR/NtpOps.h"
#include "ntp/Support/Partials.h"
#include "ntp/Support/PartialsLowering.h"
#include "ntp/Transforms/Passes.h"
#include "ntp/artifact.hpp"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"

namespace ntp {
#define GEN_PASS_DEF_NTPDECOMPOSEMLP
#include "ntp/Transforms/Passes.h.inc"
} // namespace ntp

using namespace mlir;
using namespace ntp;
using namespace ntp::decompose;

namespace {

/// The smallest stack budget the blocks of rays beside a fast forward are
/// planned under (below it a block holds a few rows, and per ray is as
/// good).
constexpr int64_t kMinBesideStackBytes = int64_t(64) << 10;

struct DecomposeMlpPass
    : public ntp::impl::NtpDecomposeMlpBase<DecomposeMlpPass> {
  using NtpDecomposeMlpBase::NtpDecomposeMlpBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    SmallVector<MlpOp> mlps(module.getOps<MlpOp>());
    for (MlpOp mlp : mlps) {
      if (tileSize < 0 || tileSize > artifact::kMaxTile) {
        mlp.emitError("tile size must be in [1, ")
            << artifact::kMaxTile << "] (kMaxTile) or 0 for the default, got "
            << static_cast<int64_t>(tileSize);
        return signalPassFailure();
      }
      // The kernel's facts (the tile among them) come from the one function
      // that decides them; a module compiling to one kernel carries them as
      // #ntp.kernel for the passes after this one and the artifact writers.
      NetworkDescription network;
      network.name = mlp.getSymName().str();
      network.layers.assign(mlp.getLayers().begin(), mlp.getLayers().end());
      network.activation = mlp.getActivationSpec();
      network.order = mlp.getOrder();
      network.dtype = isa<Float64Type>(mlp.getElementType())
                          ? artifact::Dtype::F64
                          : artifact::Dtype::F32;
      network.partials = mlp.getRequestRows();
      network.kinds = mlp.getLayerKinds();
      KernelTarget target;
      target.tile = tileSize;
      artifact::KernelManifest facts;
      std::string error;
      if (!describeKernel(network, target, facts, error)) {
        mlp.emitError(error);
        return signalPassFailure();
      }
      partials::Plan plan;
      if (facts.isPartials() &&
          !partials::planPartials(facts.partials, facts.inputDim(), plan,
                                  error)) {
        mlp.emitError(error);
        return signalPassFailure();
      }
      // How the rays are propagated: the ntp.mlp's ntp.partials_lowering,
      // else the pass option; auto picks the fewest operations.
      partials::LoweringPlan lowering, reverseLowering;
      // The reverse mode follows the forward's blocks of rays, or comes
      // from blocks of rays of its own beside the forward (a multivariate
      // forward, or blocks too large for the reverse's stack bound).
      bool reverseFollows = false, reverseBesideRays = false;
      if (facts.isPartials()) {
        std::string name = partialsLowering;
        if (auto attr = mlp->getAttrOfType<StringAttr>("ntp.partials_lowering"))
          name = attr.str();
        std::optional<partials::Lowering> kind = partials::parseLowering(name);
        if (!kind) {
          mlp.emitError("unknown partials lowering '")
              << name
              << "' (expected auto, per-ray, multi-direction, collapsed or "
                 "multivariate)";
          return signalPassFailure();
        }
        partials::LoweringNetwork network;
        network.layers = facts.layers;
        for (const std::string &a : mlp.getHiddenActivations())
          network.activations.push_back(a);
        // Typed layers, as the count sees them: the Fourier embedding a
        // layer of width 2m with the sin activation, a residual network a
        // third buffer per block.
        if (int64_t m = facts.kinds.fourier) {
          network.layers.insert(network.layers.begin() + 1, 2 * m);
          network.activations.insert(network.activations.begin(), "sin");
        }
        network.buffers = KernelBuilder::partialsBuffers(facts.kinds);
        network.lastHiddenResidual =
            facts.layers.size() > 2 &&
            facts.kinds.isResidual(facts.layers.size() - 3);
        // The modified MLP: U and V from X (the input, or the Fourier
        // features), two more buffers per block.
        if (facts.kinds.gated) {
          network.gatedInput = facts.kinds.fourier ? 1 : 0;
          network.buffers += 2;
        }
        network.tile = facts.tile;
        // MlpPartialsKernels.cpp's ntp.invariant_rays.
        network.invariantSeedRows = !facts.kinds.fourier && facts.tile > 1;
        network.elementBytes = artifact::dtypeBytes(facts.dtype);
        network.stackBytes = partialsStackBytes > 0
                                 ? int64_t(partialsStackBytes)
                                 : artifact::kMaxTileStackBytes;
        // The forward's lowering is chosen as for a forward-only kernel:
        // the reverse mode is generated from per-ray rays of its own
        // (reverseRays below).
        if (!partials::planLowering(plan, facts.partials, network, *kind,
                                    /*backward=*/false, lowering, error)) {
          mlp.emitError(error);
          return signalPassFailure();
        }
        // The reverse mode follows a fast forward (RaysBackward.cpp) unless
        // forced per-ray or its recomputing tile would overflow the stack.
        std::string reverseName = partialsReverseLowering;
        if (auto attr =
                mlp->getAttrOfType<StringAttr>("ntp.partials_reverse_lowering"))
          reverseName = attr.str();
        if (reverseName != "auto" && reverseName != "per-ray") {
          mlp.emitError("unknown partials reverse lowering '")
              << reverseName << "' (expected auto or per-ray)";
          return signalPassFailure();
        }
        // Gated blocks are reversed on the ray layout too
        // (ntp.gate_rays_vjp), except with residual layers, whose skip
        // cotangents the gated reverse does not carry: those are reversed
        // per ray.
        bool gatedResidual =
            facts.kinds.gated &&
            llvm::any_of(facts.kinds.residual, [](bool r) { return r; });
        // Whether the blocks of rays of `candidate` have a reverse mode whose
        // recomputing tile fits the stack. A multivariate forward is one
        // block of its monomials' rows (ntp.activate_poly_vjp and
        // ntp.gate_poly_vjp read sigma's jet one order past the degree,
        // which planPartials bounds by 16).
        auto raysReverseFits = [&](const partials::LoweringPlan &candidate) {
          bool multivariate =
              candidate.lowering == partials::Lowering::Multivariate;
          if (candidate.lowering == partials::Lowering::PerRay ||
              reverseName != "auto" || gatedResidual)
            return false;
          int64_t maxRows =
              multivariate ? static_cast<int64_t>(candidate.monomials.size())
                           : 0;
          for (const partials::RayBlock &block : candidate.blocks)
            maxRows = std::max(maxRows, block.rows());
          std::optional<int64_t> stack =
              ntp::backward::raysReverseStackElements(
                  facts.layers, facts.kinds, maxRows, candidate.columns,
                  static_cast<int64_t>(plan.terms.size()), facts.tile);
          return stack &&
                 *stack <= artifact::kMaxTileStackBytes / network.elementBytes;
        };
        reverseFollows = backward && raysReverseFits(lowering);
        if (backward && reverseFollows)
          reverseLowering = lowering;
        else if (backward && lowering.lowering != partials::Lowering::PerRay &&
                 reverseName == "auto" && !gatedResidual) {
          // Blocks whose recomputing reverse would overflow the stack: the
          // reverse mode comes from blocks of rays beside the forward, the
          // cheapest ray lowering by the same count, planned under halved
          // stack budgets until its reverse fits; per ray when the cheapest
          // is per ray.
          partials::LoweringNetwork rayNetwork = network;
          rayNetwork.multivariate = false;
          for (; rayNetwork.stackBytes >= kMinBesideStackBytes;
               rayNetwork.stackBytes /= 2) {
            partials::LoweringPlan rays;
            std::string ignored;
            if (!partials::planLowering(plan, facts.partials, rayNetwork,
                                        partials::Lowering::Auto,
                                        /*backward=*/false, rays, ignored) ||
                rays.lowering == partials::Lowering::PerRay)
              break;
            if (raysReverseFits(rays)) {
              reverseLowering = std::move(rays);
              reverseBesideRays = true;
              break;
            }
          }
        }
        if (backward && !reverseFollows && !reverseBesideRays)
          partials::planLowering(plan, facts.partials, network,
                                 partials::Lowering::PerRay, /*backward=*/true,
                                 reverseLowering, error);
      }
      bool fast =
          facts.isPartials() && lowering.lowering != partials::Lowering::PerRay;
      // A partials kernel with the reverse mode and a fast forward whose
      // reverse does not follow it also gets the rays (per ray, or blocks
      // of rays) ntp-generate-backward differentiates.
      bool reverseRays = fast && backward && !reverseFollows;
      // The jets of a tile live on the stack: bounded, or the kernel
      // overflows the thread's stack at run time (a fast forward's blocks
      // were kept within it by planLowering).
      std::optional<int64_t> stack =
          fast && (!reverseRays || reverseBesideRays)
              ? std::optional<int64_t>(0)
          : facts.isPartials()
              ? std::optional<int64_t>(KernelBuilder::partialsStackElements(
                    facts.layers, facts.kinds, plan, facts.tile))
              : artifact::jetStackElementsPerTile(facts.layers, facts.order,
                                                  facts.tile, facts.kinds);
      if (!stack || *stack > artifact::kMaxTileStackBytes /
                                 artifact::dtypeBytes(facts.dtype)) {
        mlp.emitError("the jets of one tile of ")
            << facts.tile << " samples need more than "
            << artifact::kMaxTileStackBytes
            << " bytes of stack (kMaxTileStackBytes); use a smaller tile, "
               "narrower layers or a lower order";
        return signalPassFailure();
      }
      // The choices, where a user sees them (#ntp.kernel's
      // partials_lowering and partials_reverse_lowering: --emit=jets,
      // CompileOutput, the artifact's manifest, ntp_kernel_partials_lowering).
      if (facts.isPartials()) {
        facts.partialsLowering = lowering.summary();
        if (backward)
          facts.partialsReverseLowering = reverseLowering.summary();
      }
      if (mlps.size() == 1)
        module->setAttr(kKernelAttrName, KernelAttr::get(&getContext(), facts));
      OpBuilder b(mlp);
      if (fast) {
        func::FuncOp forward =
            lowering.lowering == partials::Lowering::Multivariate
                ? KernelBuilder(mlp, facts.tile)
                      .buildPolyPartials(b, plan, lowering)
                : KernelBuilder(mlp, facts.tile)
                      .buildMultiPartials(b, plan, lowering);
        // ntp-generate-backward reads the reverse mode's plan from these
        // rays and then erases them; the kernel's forward entry stays the
        // fast one. Both compute out from the same exact weights, so
        // forward-save's out equals the forward's within rounding.
        if (reverseRays) {
          func::FuncOp rays =
              reverseBesideRays
                  ? KernelBuilder(mlp, facts.tile)
                        .buildMultiPartials(b, plan, reverseLowering,
                                            kReverseRaysSuffix)
                  : KernelBuilder(mlp, facts.tile)
                        .buildPartials(b, plan, kReverseRaysSuffix);
          forward->setAttr(kReverseRaysAttrName,
                           FlatSymbolRefAttr::get(rays.getSymNameAttr()));
        }
      } else if (facts.isPartials())
        KernelBuilder(mlp, facts.tile).buildPartials(b, plan);
      else if (facts.kinds.gated)
        KernelBuilder(mlp, facts.tile).buildGated(b);
      else
        KernelBuilder(mlp, facts.tile).build(b);
      mlp.erase();
    }
  }
};

} // namespace
