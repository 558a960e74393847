//===- Passes.td - ntp transformation passes ---------------*- tablegen -*-===//

#ifndef NTP_TRANSFORMS_PASSES_TD
#define NTP_TRANSFORMS_PASSES_TD

include "mlir/Pass/PassBase.td"

def NtpDecomposeMlp : Pass<"ntp-decompose-mlp", "mlir::ModuleOp"> {
  let summary = "Decompose ntp.mlp into a kernel function of per-layer jet ops";
  let description = [{
    Replaces every `ntp.mlp @name` by a function `@name_forward_tiles` that
    evaluates the jet for a range of sample tiles:

    ```mlir
    func.func @name_forward_tiles(%x: memref<?xT>, %v: memref<?xT>,
        %params: memref<?xT>, %out: memref<?xT>, %batch: index,
        %tile_begin: index, %tile_end: index)
    ```

    Its body loops over tiles and, per tile, seeds the input jet, then applies
    `ntp.affine` and `ntp.activate` layer by layer on two ping-pong jet buffers
    on the stack, and stores the output jet. The decomposition tracks which
    orders can be nonzero (`live_orders`): the seed has orders 0 and 1 only, so
    the first affine layer and the first activation read two orders.
  }];
  let dependentDialects = ["mlir::func::FuncDialect", "mlir::memref::MemRefDialect",
                           "mlir::scf::SCFDialect", "mlir::arith::ArithDialect"];
  let options = [
    Option<"tileSize", "tile-size", "int64_t", /*default=*/"0",
           "Samples per tile, the vector length of the arithmetic "
           "(0: 16 for f32, 8 for f64, one AVX-512 register)">,
    Option<"partialsLowering", "partials-lowering", "std::string",
           /*default=*/"\"auto\"",
           "How a partials kernel propagates its rays: auto (fewest "
           "operations), per-ray, multi-direction, collapsed or multivariate "
           "(ntp/Support/PartialsLowering.h); an ntp.mlp's "
           "ntp.partials_lowering attribute takes precedence">,
    Option<"backward", "backward", "bool", /*default=*/"true",
           "Whether ntp-generate-backward may follow (the pipelines set it "
           "from their backward option): a partials kernel whose forward's "
           "own blocks of rays are not reversed then also gets the rays its "
           "reverse mode is generated from (@<name>_reverse_rays_tiles: per "
           "ray, or the cheapest blocks of rays that fit the stack bound where "
           "the forward's own do not)">,
    Option<"partialsReverseLowering", "partials-reverse-lowering",
           "std::string", /*default=*/"\"auto\"",
           "How a partials kernel's reverse mode propagates its rays: auto "
           "(the forward's lowering when its reverse fits the stack bound; "
           "else the cheapest ray "
           "blocks planned under halved stack budgets until their reverse "
           "fits, or per-ray when that is the cheapest) or per-ray (per-ray "
           "rays beside a fast forward); an ntp.mlp's "
           "ntp.partials_reverse_lowering attribute takes precedence">,
    Option<"partialsStackBytes", "partials-stack-bytes", "int64_t",
           /*default=*/"0",
           "Bytes one tile's ray buffers may take when a partials kernel "
           "packs its rays into blocks (0: kMaxTileStackBytes; the GPU "
           "lanes mapping: its share of 48 KB of shared memory)">
  ];
}

def NtpGenerateBackward : Pass<"ntp-generate-backward", "mlir::ModuleOp"> {
  let summary = "Generate reverse-mode kernels from the per-layer jet ops";
  let description = [{
    For every kernel function `@name_forward_tiles` made by
    `ntp-decompose-mlp`, reads its sequence of jet ops (seed, affine,
    activate, store) and generates, by applying each op's VJP rule in reverse
    order:

    - `@name_backward_tiles(x, v, params, cotangent, grad, x_grad, batch,
      tile_begin, tile_end)`: recomputes the forward jets of a tile in stack
      buffers, then walks the layers backwards (`ntp.load_cotangent`,
      `ntp.affine_vjp`, `ntp.activate_vjp`, `ntp.seed_vjp`), adding the
      parameter gradient J^T c into `grad` and writing the gradient with
      respect to x into `x_grad`;
    - `@name_forward_save_tiles(x, v, params, out, workspace, ...)` and
      `@name_backward_saved_tiles(x, v, params, cotangent, grad, x_grad,
      workspace, ...)`: the training path that does not pay twice, keeping
      every layer's jet of every tile in `workspace` (attribute
      `ntp.workspace_per_tile` on the forward: elements per tile).

    With `per-sample-grads` (the GPU pipeline, tile size 1) only the
    forward-save / backward-saved pair is generated, and `grad` holds one
    gradient per sample, `grad[p * batch + sample]`, each sample's column
    zeroed and accumulated by its own tile (no lane accumulators, no
    `ntp.reduce_lanes`): `ntp-gpu-kernel` reduces the samples of a block and
    then the blocks, in a fixed order.
  }];
  let dependentDialects = ["mlir::func::FuncDialect", "mlir::memref::MemRefDialect",
                           "mlir::scf::SCFDialect", "mlir::arith::ArithDialect",
                           "mlir::vector::VectorDialect"];
  let options = [
    Option<"perSampleGrads", "per-sample-grads", "bool", /*default=*/"false",
           "Generate only forward-save and backward-saved, writing one "
           "parameter gradient per sample into grad (tile size 1; for the "
           "GPU kernels)">,
    Option<"gradLaneBits", "grad-lane-bits", "int64_t", /*default=*/"0",
           "Bits of the lane-wise gradient accumulators of one parameter "
           "(the target's vector register, e.g. 256 on AVX2): a wider tile "
           "folds its lanes into that width before adding them, so that the "
           "accumulators move fewer bytes per tile; 0: one lane per sample "
           "of the tile; -1: per kernel from machine-facts "
           "(ntp::chooseGradLaneBits; 0 without them)">,
    ListOption<"machineFacts", "machine-facts", "int64_t",
               "The CPU's vector bits, vector registers, FMA latency, FMA "
               "pipes, load ports and optionally L1 data bytes (for "
               "grad-lane-bits=-1)">,
  ];
}

// What ntp-expand-activation-jets and its alias share.
defvar expandActivationJetsOptions = [
  Option<"outline", "outline", "bool", /*default=*/"false",
         "Put each neuron's arithmetic in a shared private function">,
  Option<"formulation", "formulation", "::ntp::JetFormulation",
         /*default=*/"::ntp::JetFormulation::Auto",
         "Exact formulation of the jet: auto (the one with fewer flops), "
         "faa-di-bruno or taylor", [{::ntp::jetFormulationValues()}]>,
  Option<"interleave", "interleave", "int64_t", /*default=*/"1",
         "Neurons whose jets are computed together, their operations "
         "interleaved (independent chains in flight to cover FMA latency); "
         "0: chosen from machine-facts">,
  ListOption<"machineFacts", "machine-facts", "int64_t",
             "The CPU's vector bits, vector registers, FMA latency, FMA "
             "pipes, load ports and optionally L1 data bytes (for "
             "interleave=0)">,
  Option<"hoistPrimitives", "hoist-primitives", "bool", /*default=*/"false",
         "Evaluate a layer's primitives (tanh(y_0), ...) for all its neurons "
         "in a loop of their own before the loop of the jets">
];
defvar expandActivationJetsDialects = [
  "mlir::arith::ArithDialect", "mlir::func::FuncDialect",
  "mlir::math::MathDialect", "mlir::memref::MemRefDialect",
  "mlir::scf::SCFDialect", "mlir::vector::VectorDialect"
];

def NtpExpandActivationJets : Pass<"ntp-expand-activation-jets",
                                   "mlir::ModuleOp"> {
  let summary = "Expand activation jets into exact arithmetic (Faà di Bruno's "
                "formula or the Taylor recurrence)";
  let description = [{
    Rewrites every `ntp.activate` (and `ntp.activate_vjp`, by reverse-mode
    differentiation of the same expansion) into a loop over neurons whose
    body loads the live input orders of one neuron for a tile of samples (one
    vector per order), evaluates the primitives of the activation (e.g.
    tanh), then, with Faà di Bruno's formula, the derivative polynomials
    sigma^(k) in them and the partial Bell polynomials by their recurrence,
    and stores every output order. Coefficients are exact integers computed
    at compile time; common subexpressions are shared across orders and
    structural zeros are folded (see ntp/Support/ActivationJet.h).

    Formerly `ntp-expand-faa-di-bruno`, a name still registered as an alias.

    With `outline`, the arithmetic of one neuron is a private, non-inlined
    function per (activation, order, live orders, vector type), called from
    the neuron loop: identical layers and the forward and reverse-mode
    kernels of a module share one copy, which divides the machine code and
    its generation time (order 16: about 5x) at no measurable run-time cost.

    `formulation` picks the arithmetic: `faa-di-bruno` (above), `taylor`
    (the O(n^2) univariate Taylor recurrence of the primitives, u_i' =
    D_i(u) y', on normalized coefficients, rescaled to derivatives at the
    end), or `auto` (default): per op, whichever has fewer flops by the cost
    model (the forward and the VJP each by their own count; ties: Faà di
    Bruno). Outlined functions of the Taylor formulation end in `_taylor`.

    `interleave` = m > 1 evaluates m neurons per iteration of the neuron
    loop, emitting each node of the DAG for all m before the next one, so
    that m independent dependency chains are in flight (the arithmetic of
    each neuron is unchanged, so the results are bitwise those of m = 1);
    neurons past the last multiple of m take the one-neuron body. Outlined
    functions of m neurons end in `_x<m>`. With interleave=0, m is chosen per
    op (ntp::chooseInterleave) from `machine-facts`, which the CPU target
    reads off the LLVM scheduling model of its CPU.

    `hoist-primitives` evaluates the primitives of y_0 of every neuron of
    the layer first, in a loop of their own, into a stack buffer (one per
    function and type, marked `ntp.primitive_buffer`) that the loop of the
    jets loads them from: a primitive is a long dependency chain at the head
    of each neuron's arithmetic that out-of-order execution cannot overlap
    with the previous neuron's once that takes a hundred instructions, while
    a loop of independent evaluations pipelines. The operations and their
    inputs are the same, so the results are bitwise those without it;
    outlined functions that take the primitives as arguments end in `_p`.
  }];
  let options = expandActivationJetsOptions;
  let dependentDialects = expandActivationJetsDialects;
}

def NtpExpandFaaDiBruno : Pass<"ntp-expand-faa-di-bruno", "mlir::ModuleOp"> {
  let summary = "Alias of ntp-expand-activation-jets (its former name)";
  let description = [{
    The same pass as `ntp-expand-activation-jets`, with the same options,
    under the name it had when Faà di Bruno's formula was its only
    formulation.
  }];
  let options = expandActivationJetsOptions;
  let dependentDialects = expandActivationJetsDialects;
}

def NtpApproximateMath : Pass<"ntp-approximate-math"> {
  let summary = "Replace transcendental functions by vectorizable polynomials";
  let description = [{
    Rewrites f32 `math.tanh`, `math.exp`, `math.log1p`, `math.sin` and
    `math.cos` (scalar or vector) into upstream MLIR's polynomial
    approximations, and f64 `math.exp` and `math.tanh` into ntp's own
    full-accuracy ones (Cody-Waite range reduction and a degree-13 Taylor
    polynomial; tanh through expm1, accurate near 0): built from arith and
    math.fma only, so the activation's primitives vectorize instead of
    becoming one libm call per lane. Other f64 ops (sin, cos, log1p) still
    reach libm.
  }];
  let dependentDialects = ["mlir::arith::ArithDialect", "mlir::math::MathDialect",
                           "mlir::vector::VectorDialect"];
}

//===----------------------------------------------------------------------===//
// GPU kernels
//===----------------------------------------------------------------------===//

def NtpGpuKernel : Pass<"ntp-gpu-kernel", "mlir::ModuleOp"> {
  let summary = "Wrap the loop-level forward kernel into one fused GPU kernel";
  let description = [{
    Turns the loop-level `@<name>_forward_tiles` function (built with
    tile-size=1, forward only) into
    `gpu.module @ntp_kernels { gpu.func @<name>_forward(%x, %v, %params,
    %out: memref<?xT>, %batch: index) kernel }`: one thread per sample
    (`sample = blockIdx.x * blockDim.x + threadIdx.x`), the parameters copied
    cooperatively into a workgroup (shared memory) buffer, a barrier, then
    the whole tile body (all layers, all orders) for `tile = sample` under
    `sample < batch`. Math: f32 transcendental functions become polynomials
    (as on the CPU), fma/abs/floor/ceil/sqrt/copysign LLVM intrinsics (native
    PTX instructions); f64 transcendental functions stay math ops and become
    libdevice calls. The jet buffers stay thread-private (registers, or
    local memory where they are indexed dynamically).

    With `mapping=lanes` a warp evaluates a sample instead (block =
    32 x samples-per-block threads, sample = blockIdx.x * samples-per-block +
    threadIdx.x / 32): each jet buffer becomes a workgroup buffer with one
    slice per sample, every `ntp.neuron_loop` loop runs neuron j on lane
    j % 32, other writing steps (seed, output) run on lane 0, and
    `gpu.barrier`s separate the steps. Threads of samples past `batch`
    compute on a clamped sample and write nothing, so that every thread
    reaches every barrier.

    ```mlir
    // Before: func.func @net_forward_tiles(%x, %v, %p, %out: memref<?xf32>,
    //           %batch, %tile_begin, %tile_end: index) {ntp.kernel}
    // After:
    gpu.module @ntp_kernels {
      gpu.func @net_forward(%x: memref<?xf32>, %v: memref<?xf32>,
                            %p: memref<?xf32>, %out: memref<?xf32>,
                            %batch: index)
          workgroup(%w: memref<13xf32, #gpu.address_space<workgroup>>)
          kernel { ... }
    }
    ```
  }];
  let dependentDialects = ["mlir::gpu::GPUDialect", "mlir::scf::SCFDialect",
                           "mlir::arith::ArithDialect",
                           "mlir::memref::MemRefDialect",
                           "mlir::math::MathDialect",
                           "mlir::vector::VectorDialect",
                           "mlir::LLVM::LLVMDialect"];
  let options = [
    Option<"blockSize", "block-size", "int64_t", /*default=*/"128",
           "Threads per block (recorded as the kernel's known block size)">,
    Option<"maxSharedBytes", "max-shared-bytes", "int64_t",
           /*default=*/"49152",
           "Stage the parameters in shared memory when they fit in this "
           "many bytes (else read them from global memory)">,
    Option<"maxStaticSharedBytes", "max-static-shared-bytes", "int64_t",
           /*default=*/"49152",
           "The lanes mapping: the most static shared memory a kernel may "
           "declare (jets beyond it are refused; the parameters are staged "
           "only if they fit beside the jets); 0: no limit (the host "
           "emulation)">,
    Option<"mapping", "mapping", "::ntp::GpuMapping",
           /*default=*/"::ntp::GpuMapping::Sample",
           "Work per thread: 'sample' (one thread per sample, jets in the "
           "thread's registers/local memory) or 'lanes' (one warp per "
           "sample, one neuron per lane, jets in shared memory)",
           [{::ntp::gpuMappingValues()}]>,
    Option<"samplesPerBlock", "samples-per-block", "int64_t",
           /*default=*/"4",
           "mapping=lanes: samples (warps) per block">,
  ];
}

def NtpGpuEmulate : Pass<"ntp-gpu-emulate", "mlir::ModuleOp"> {
  let summary = "Run ntp's GPU kernels on the host, for testing their logic";
  let description = [{
    Turns every kernel that `ntp-gpu-kernel` made (before NVVM conversion)
    into a host function with the CPU kernels' signature,
    `@<name>_forward_tiles(x, v, params, out, batch, tile_begin, tile_end)`,
    that executes blocks `tile_begin..tile_end` of the launch grid one after
    the other: the block's workgroup buffers become stack buffers, and the
    kernel body is cut at its top-level `gpu.barrier`s into phases, each run
    for thread 0, 1, ..., blockDim - 1 in turn (a barrier orders every
    thread's phase before any thread's next one, which running the phases
    thread by thread respects). Thread-private values are recomputed in each
    phase from the thread and block ids (only side-effect-free top-level
    ops may cross a barrier). The CPU lowering then compiles it like a CPU
    kernel with one block per tile, so the GPU kernels' distribution of
    work, barriers and shared buffers run in CI against the reference
    evaluator; what comes after this point (NVVM, PTX, the driver) does not.
  }];
  let dependentDialects = ["mlir::func::FuncDialect", "mlir::scf::SCFDialect",
                           "mlir::arith::ArithDialect",
                           "mlir::memref::MemRefDialect"];
}

def NtpGpuBareKernelArgs : Pass<"ntp-gpu-bare-kernel-args",
                                "mlir::gpu::GPUModuleOp"> {
  let summary = "Give lowered ntp kernels the runtime's bare-pointer ABI";
  let description = [{
    After convert-gpu-to-nvvm, a kernel taking `memref<?xT>` arguments takes
    each as a 5-field descriptor (allocated, aligned, offset, size, stride).
    The upstream bare-pointer convention cannot express dynamic shapes, so
    this pass rewrites every `nvvm.kernel` function whose arguments are
    1-D descriptors and scalars into one taking a bare pointer per memref
    (offset 0, stride 1), marked noalias (and readonly for the inputs):
    `(T *x, T *v, T *params, T *out, i64 batch)`, what the runtime passes to
    cuLaunchKernel.
  }];
  let dependentDialects = ["mlir::LLVM::LLVMDialect"];
}

#endif // NTP_TRANSFORMS_PASSES_TD
