//===- NtpAttributes.td - ntp attributes -------------------*- tablegen -*-===//

#ifndef NTP_ATTRIBUTES_TD
#define NTP_ATTRIBUTES_TD

include "ntp/Dialect/Ntp/IR/NtpDialect.td"
include "mlir/IR/AttrTypeBase.td"
include "mlir/IR/BuiltinAttributeInterfaces.td"

class Ntp_Attr<string name, string attrMnemonic, list<Trait> traits = []>
    : AttrDef<Ntp_Dialect, name, traits> {
  let mnemonic = attrMnemonic;
}

//===----------------------------------------------------------------------===//
// #ntp.kernel
//===----------------------------------------------------------------------===//

def Ntp_KernelAttr : Ntp_Attr<"Kernel", "kernel"> {
  let summary = "The facts of the kernel a module compiles to";
  let description = [{
    The single source of the facts a target and the runtime need about the
    kernel a module holds: the network (name, widths, activation, order,
    element type), the tile, whether the reverse-mode entry points exist and
    the workspace they need per tile, the entry-point symbols, and the target
    (the CPU and its recorded instruction-set features, or the CUDA chip,
    mapping and block shape). It sits on the module as the `ntp.kernel`
    attribute.

    `ntp-decompose-mlp` stamps it, `ntp-generate-backward` adds the reverse
    mode, and the target pipelines add their target facts; each builds it
    from `ntp::describeKernel` (include/ntp/Compiler/KernelFacts.h), the one
    function that decides these facts, and the verifier checks the attribute
    against it. The artifact writers read it back into an
    `ntp::artifact::KernelManifest` and never recompute a fact; the JIT's
    cache key is the text of the same function's result.

    Example (CPU, after `ntp-cpu-pipeline` and the CPU target):

    ```mlir
    module attributes {ntp.kernel = #ntp.kernel<"pinn", layers = [1, 24, 1],
        activation = "tanh", order = 3, element_type = f32, tile = 16,
        backward = true, workspace_per_tile = 6464,
        entry_points = [@pinn_forward_tiles, @pinn_backward_tiles,
                        @pinn_forward_save_tiles, @pinn_backward_saved_tiles],
        target_cpu = "x86-64-v3", cpu_features = ["avx", "avx2", "fma"]>}
    ```

    and for CUDA (after `ntp-gpu-pipeline`; the tile is the samples of one
    block, a thread's jet buffers holding one sample): `device = "cuda",
    tile = 128, backward = false, entry_points = [@pinn_forward],
    chip = "sm_90", mapping = "sample", block_size = 128,
    samples_per_block = 128`.

    A partials kernel (an ntp.mlp with `partials` / `operators`) also
    records its request, the rows of `ntp::artifact::KernelManifest::partials`
    flattened (each row has layers[0] entries; an operator's row holds -2
    (laplacian) or -4 (biharmonic) in the coordinates it sums over):
    `partials = [2, 0, 1, 1, -2, -2]` for d = 2.

    A network with typed layers records them as the manifest spells them
    (`ntp::artifact::LayerKinds`): `slopes = "none,neuron"` (one of none,
    layer, neuron per hidden layer), `residual = "0,1"` and `fourier = 16`
    (the frequencies of a Fourier-feature embedding), and `gated = 1` for
    the modified MLP's gates; all are absent for a plain MLP.

    `ntp-decompose-mlp` records how a partials kernel's rays are propagated,
    as it summarizes its choice: `partials_lowering = "multivariate: 35
    monomials of degree <= 4; 694080 flops + 192 primitives per sample"`
    and, when the reverse mode will be generated, `partials_reverse_lowering`
    (the artifact's manifest carries both; ntp_kernel_partials_lowering).
  }];
  let parameters = (ins
    StringRefParameter<"the ntp.mlp's symbol name">:$name,
    ArrayRefParameter<"int64_t", "widths, input to output">:$layers,
    StringRefParameter<"activation name">:$activation,
    "int64_t":$order,
    "::mlir::Type":$element_type,
    StringRefParameter<"cpu or cuda", "\"cpu\"">:$device,
    "int64_t":$tile,
    "::mlir::BoolAttr":$backward,
    DefaultValuedParameter<"int64_t", "0">:$workspace_per_tile,
    "::mlir::ArrayAttr":$entry_points,
    StringRefParameter<"LLVM CPU name", "\"\"">:$target_cpu,
    OptionalParameter<"::mlir::ArrayAttr">:$cpu_features,
    StringRefParameter<"NVIDIA architecture", "\"\"">:$chip,
    StringRefParameter<"sample or lanes", "\"\"">:$mapping,
    DefaultValuedParameter<"int64_t", "0">:$block_size,
    DefaultValuedParameter<"int64_t", "0">:$samples_per_block,
    OptionalParameter<"::mlir::DenseI32ArrayAttr">:$partials,
    StringRefParameter<"adaptive slope per hidden layer", "\"\"">:$slopes,
    StringRefParameter<"residual flag per hidden layer", "\"\"">:$residual,
    DefaultValuedParameter<"int64_t", "0">:$fourier,
    DefaultValuedParameter<"int64_t", "0">:$gated,
    StringRefParameter<"the forward's lowering (summary)", "\"\"">:
        $partials_lowering,
    StringRefParameter<"the reverse mode's lowering (summary)", "\"\"">:
        $partials_reverse_lowering
  );
  let assemblyFormat = [{
    `<` $name `,` `layers` `=` `[` $layers `]` `,` struct($activation, $order,
    $element_type, $device, $tile, $backward, $workspace_per_tile,
    $entry_points, $target_cpu, $cpu_features, $chip, $mapping, $block_size,
    $samples_per_block, $partials, $slopes, $residual, $fourier, $gated,
    $partials_lowering, $partials_reverse_lowering) `>`
  }];
  let genVerifyDecl = 1;
  let extraClassDeclaration = [{
    /// The attribute holding `manifest`'s facts (and its entry points).
    static KernelAttr get(::mlir::MLIRContext *context,
                          const ::ntp::artifact::KernelManifest &manifest);
    /// The facts as the artifact writers and the runtime take them.
    ::ntp::artifact::KernelManifest getManifest() const;
  }];
}

//===----------------------------------------------------------------------===//
// Named differential operators of a partials request
//===----------------------------------------------------------------------===//

def Ntp_LaplacianAttr : Ntp_Attr<"Laplacian", "laplacian"> {
  let summary = "The Laplacian, sum_i d^2/dx_i^2, as a partials request";
  let description = [{
    Requests sum over i in `coordinates` of d^2 f / dx_i^2 (all input
    coordinates when none are given). Used in the `operators` of `ntp.mlp`.

    ```mlir
    #ntp.laplacian            // over every input coordinate
    #ntp.laplacian<[0, 1]>    // over x0 and x1 only (e.g. not the time)
    ```
  }];
  let parameters = (ins OptionalArrayRefParameter<"int64_t">:$coordinates);
  let assemblyFormat = "(`<` `[` $coordinates^ `]` `>`)?";
}

def Ntp_BiharmonicAttr : Ntp_Attr<"Biharmonic", "biharmonic"> {
  let summary = "The biharmonic, sum_{i,j} d^4/dx_i^2 dx_j^2";
  let description = [{
    Requests sum over i, j in `coordinates` of d^4 f / dx_i^2 dx_j^2 (all
    input coordinates when none are given), the total order 4.

    ```mlir
    #ntp.biharmonic
    #ntp.biharmonic<[0, 2]>
    ```
  }];
  let parameters = (ins OptionalArrayRefParameter<"int64_t">:$coordinates);
  let assemblyFormat = "(`<` `[` $coordinates^ `]` `>`)?";
}

#endif // NTP_ATTRIBUTES_TD
