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
           "(0: 16 for f32, 8 for f64, one AVX-512 register)">
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
  }];
  let dependentDialects = ["mlir::func::FuncDialect", "mlir::memref::MemRefDialect",
                           "mlir::scf::SCFDialect", "mlir::arith::ArithDialect",
                           "mlir::vector::VectorDialect"];
}

def NtpExpandFaaDiBruno : Pass<"ntp-expand-faa-di-bruno", "mlir::ModuleOp"> {
  let summary = "Expand activation jets into arithmetic by Faà di Bruno's formula";
  let description = [{
    Rewrites every `ntp.activate` (and `ntp.activate_vjp`, by reverse-mode
    differentiation of the same expansion) into a loop over neurons whose body loads
    the live input orders of one neuron for a tile of samples (one vector per
    order), evaluates the primitives of the activation (e.g. tanh), the
    derivative polynomials sigma^(k) in them, the partial Bell polynomials by
    their recurrence, and stores every output order. Coefficients are exact
    integers computed at compile time; common subexpressions are shared across
    orders and structural zeros are folded (see ntp/Support/FaaDiBruno.h).

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
  }];
  let options = [
    Option<"outline", "outline", "bool", /*default=*/"false",
           "Put each neuron's arithmetic in a shared private function">,
    Option<"formulation", "formulation", "::ntp::JetFormulation",
           /*default=*/"::ntp::JetFormulation::Auto",
           "Exact formulation of the jet: auto (the one with fewer flops), "
           "faa-di-bruno or taylor", [{::ntp::jetFormulationValues()}]>
  ];
  let dependentDialects = ["mlir::arith::ArithDialect", "mlir::func::FuncDialect",
                           "mlir::math::MathDialect",
                           "mlir::memref::MemRefDialect", "mlir::scf::SCFDialect",
                           "mlir::vector::VectorDialect"];
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

#endif // NTP_TRANSFORMS_PASSES_TD
