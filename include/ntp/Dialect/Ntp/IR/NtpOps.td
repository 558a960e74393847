//===- NtpOps.td - ntp operations --------------------------*- tablegen -*-===//

#ifndef NTP_OPS_TD
#define NTP_OPS_TD

include "ntp/Dialect/Ntp/IR/NtpDialect.td"
include "mlir/IR/SymbolInterfaces.td"
include "mlir/IR/CommonTypeConstraints.td"
include "mlir/IR/CommonAttrConstraints.td"
include "mlir/Interfaces/SideEffectInterfaces.td"

def Ntp_FloatElement : AnyTypeOf<[F32, F64]>;
def Ntp_JetBuffer : MemRefRankOf<[F32, F64], [3]>;
def Ntp_FlatBuffer : MemRefRankOf<[F32, F64], [1]>;
def Ntp_GradBuffer : MemRefRankOf<[F32, F64], [1, 2]>;

//===----------------------------------------------------------------------===//
// ntp.mlp
//===----------------------------------------------------------------------===//

def Ntp_MlpOp : Ntp_Op<"mlp", [Symbol]> {
  let summary = "A multilayer perceptron and the derivative order to compute";
  let description = [{
    Describes f: R^d -> R^q with affine layers of the given widths
    `[d, h_1, ..., h_{L-1}, q]` and an activation after every layer but the
    last: `activation` is one name for every hidden layer (`"tanh"`) or a
    list with one name per hidden layer (`["silu", "tanh"]`, `"identity"`
    for a linear layer inside), and requests its jet of order `order` along a direction: for every
    sample x and direction v, out[k] = d^k/dt^k f(x + t v) at t = 0,
    k = 0..order. `element_type` (f32 or f64) is the arithmetic precision.

    Parameters come as one flat vector in torch.nn.Linear order
    (W_1 [h_1, d] row-major, b_1, ..., W_L, b_L).

    Typed layers (optional; without them the op is a plain MLP). Hidden
    layer l computes Y = W_l H + b_l, then sigma_l(a_l * Y) with

    - `slopes`: an adaptive activation's trainable slope a_l, one name for
      every hidden layer or a list with one per hidden layer: `"none"` (no
      slope), `"layer"` (one scalar a_l), `"neuron"` (one a_l per neuron);
    - `residual`: a list with one flag per hidden layer; a residual layer
      computes H_l = H_{l-1} + sigma_l(a_l * Y) (its input and output
      widths must agree, and it may not be the first hidden layer, whose
      input is the network input).

    - `fourier m`: a Fourier-feature input embedding of m >= 1
      frequencies, x -> H_0 = [sin(2 pi B x), cos(2 pi B x)] (width 2m)
      before the first layer, B [m, d] trainable and first in the flat
      vector (then W_1 is [h_1, 2m]). It decomposes into
      `ntp.fourier_project` (2 pi B x, and 2 pi B x + pi / 2 for the
      cosines, since cos z = sin(z + pi / 2)) and one `"sin"` activation.

    - `gated`: the modified MLP (Wang, Teng, Perdikaris 2021; jaxpi's
      ModifiedMlp). With X the network input (after the Fourier embedding
      if present), U = sigma_1(W_u X + b_u) and V = sigma_1(W_v X + b_v)
      (both with the first hidden layer's activation and no slope), H_0 = X,
      and hidden layer l computes Z_l = sigma_l(a_l * (W_l H_{l-1} + b_l))
      and H_l = (1 - Z_l) U + Z_l V = U + Z_l (V - U) (`ntp.gate_jets`: the
      product of jets is a Leibniz sum); the output layer reads H_L. Every
      hidden width must be the width h of U and V; no layer is residual.
      W_u [h, in] and b_u, then W_v and b_v lead the dense layers: [B], W_u,
      b_u, W_v, b_v, W_1, b_1, [a_1], ..., W_L, b_L, the order of
      `module.parameters()` of a PyTorch module that registers the u-encoder
      nn.Linear, the v-encoder nn.Linear, the hidden nn.Linears and the
      output nn.Linear in that order.

    A layer's slopes follow its bias in the flat vector: W_1, b_1, [a_1],
    W_2, b_2, [a_2], ..., W_L, b_L, the order of `module.parameters()` of
    `nn.Sequential(nn.Linear(d, h_1), Adaptive(), Tanh(), ...)` with
    `Adaptive` a module holding `a` (shape [1] or [h_l]) that multiplies
    its input. Rules (checked by the verifier with a message naming the
    broken one): slope names are none, layer or neuron; a list has one entry
    per hidden layer; residual layers as above; a gated network's hidden
    widths agree and it has no residual layer. Partials kernels (below)
    take every typed layer.

    Bounds, enforced by the verifier (the constants are in
    `runtime/include/ntp/artifact.hpp`, shared with the runtime): every width
    in [1, kMaxWidth = 65536]; the parameter count, computed with overflow
    checks by `ntp::artifact::countParams`, must fit in 64 bits and be at
    most kMaxParams = 2^24; `order` in [0, kMaxOrder = 32] (Faà di Bruno's
    formulation, where exact, only to a smaller order per activation:
    `ActivationRule::maxFaaDiBrunoOrder`, 20 for tanh). The tile, chosen
    by `ntp-decompose-mlp`, is bounded there (1..kMaxTile = 64, and one
    tile's jets within kMaxTileStackBytes = 4 MiB of stack).

    `ntp-decompose-mlp` turns this op into a function of per-layer jet ops.

    With `partials` and/or `operators` the op asks for partial derivatives
    instead of a jet (a *partials kernel*): out[p][b][j] = D^{alpha_p}
    f_j(x_b) for the multi-indices alpha_p of `partials` (one entry per input
    coordinate: [2, 0, 0] is d^2/dx0^2, [1, 1, 0] d^2/dx0 dx1, [0, 0, 0] f
    itself) in the order given, then the named operators of `operators`
    (`#ntp.laplacian`, `#ntp.biharmonic`, optionally over a subset of the
    coordinates) in the order given; out is [P, batch, q]. `order` is then
    the highest total order a request may have. The rules, checked by the
    verifier with a message naming the broken one: a multi-index has exactly
    d = layers[0] entries, none negative; its total order (2 for a
    Laplacian, 4 for a biharmonic) is at most `order`; no request appears
    twice; an operator's coordinates exist (0..d-1) and appear once; the
    request is not empty. The kernel computes each request from univariate
    jets along integer directions by the exact interpolation of Griewank,
    Utke and Walther (ntp/Support/Partials.h).

    Example:

    ```mlir
    ntp.mlp @pinn layers [1, 24, 24, 24, 1] activation "tanh" order 9 : f32
    ntp.mlp @heat layers [3, 64, 64, 1] activation "tanh" order 2
        partials [[0, 0, 0], [0, 0, 1]] operators [#ntp.laplacian<[0, 1]>]
        : f64
    ntp.mlp @mixed layers [1, 32, 32, 1] activation ["silu", "tanh"] order 4 : f64
    ntp.mlp @adaptive layers [2, 32, 32, 32, 1] activation "tanh"
        slopes ["layer", "neuron", "none"] residual [false, true, true]
        order 4 : f64
    ntp.mlp @fourier layers [2, 64, 64, 1] activation "tanh" fourier 16
        order 3 : f64
    ntp.mlp @modified layers [2, 64, 64, 64, 1] activation "tanh" gated
        order 3 : f64
    ```
  }];
  let arguments = (ins SymbolNameAttr:$sym_name, DenseI64ArrayAttr:$layers,
                   AnyAttrOf<[StrAttr, StrArrayAttr]>:$activation,
                   I64Attr:$order, TypeAttr:$element_type,
                   OptionalAttr<ArrayAttr>:$partials,
                   OptionalAttr<ArrayAttr>:$operators,
                   OptionalAttr<AnyAttrOf<[StrAttr, StrArrayAttr]>>:$slopes,
                   OptionalAttr<DenseBoolArrayAttr>:$residual,
                   OptionalAttr<I64Attr>:$fourier,
                   UnitAttr:$gated);
  let assemblyFormat = [{
    $sym_name `layers` $layers `activation` $activation
    (`fourier` $fourier^)? (`gated` $gated^)? (`slopes` $slopes^)?
    (`residual` $residual^)?
    `order` $order
    (`partials` $partials^)? (`operators` $operators^)? `:`
    $element_type attr-dict
  }];
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    /// Number of parameters: sum over layers of out * in + out
    /// (ntp::artifact::countParams; 0 where the verifier would fail).
    int64_t getNumParams();
    /// The activation of each hidden layer (the one name repeated, or the
    /// list; empty entries where the verifier would fail).
    ::llvm::SmallVector<std::string> getHiddenActivations();
    /// The canonical spelling of getHiddenActivations() outside the dialect
    /// (ntp::canonicalActivationList: "tanh" or "silu,tanh").
    std::string getActivationSpec();
    /// Whether `partials` or `operators` is given (a partials kernel).
    bool isPartialsKernel() { return getPartials() || getOperators(); }
    /// The request as rows of ntp::artifact::KernelManifest::partials
    /// (multi-indices, then operator rows); empty for a jet kernel or an
    /// invalid request (which the verifier refuses).
    std::vector<std::vector<int32_t>> getRequestRows();
    /// The typed layers of `slopes` and `residual` (empty vectors where
    /// absent; unknown slope names read as none, which the verifier
    /// refuses).
    ::ntp::artifact::LayerKinds getLayerKinds();

  private:
    ::mlir::LogicalResult verifyRequest();
    ::mlir::LogicalResult verifyLayerKinds();
  public:
  }];
}

//===----------------------------------------------------------------------===//
// Per-layer jet operations (on buffers)
//===----------------------------------------------------------------------===//

def Ntp_SeedOp : Ntp_Op<"seed"> {
  let summary = "Seeds the input jet of one tile of samples";
  let description = [{
    Writes the jet of the network input for samples
    `[tile * T, tile * T + T)` (T the tile size, the last dimension of `jet`):
    order 0 is x (row-major `[batch, d]`), order 1 the direction `v` (`[d]`).
    Orders >= 2 are structural zeros and are not written: consumers know from
    their `live_orders` not to read them. Lanes past `batch` repeat the last
    sample so that arithmetic on them stays finite; they are never stored.

    Example:

    ```mlir
    ntp.seed %x, %v into %jet, %batch, %tile
        : memref<?xf32>, memref<?xf32>, memref<10x1x16xf32>
    ```
  }];
  let arguments = (ins Ntp_FlatBuffer:$x, Ntp_FlatBuffer:$direction,
                   Ntp_JetBuffer:$jet, Index:$batch, Index:$tile);
  let assemblyFormat = [{
    $x `,` $direction `into` $jet `,` $batch `,` $tile attr-dict `:`
    type($x) `,` type($direction) `,` type($jet)
  }];
  let hasVerifier = 1;
}

def Ntp_AffineOp : Ntp_Op<"affine"> {
  let summary = "Applies an affine layer to every order of a jet";
  let description = [{
    out[k] = W in[k] (+ b for k = 0), for k < `live_orders`, with W
    (`[out, in]` row-major) and b read from `params` at `weight_offset`
    (b follows W). The same W multiplies every order; orders >= `live_orders`
    of the input are structural zeros, so those of the output are too and are
    not written.

    Example:

    ```mlir
    ntp.affine %in, %params[0] into %out live_orders 2
        : memref<10x1x16xf32>, memref<?xf32>, memref<10x24x16xf32>
    ```
  }];
  let arguments = (ins Ntp_JetBuffer:$input, Ntp_FlatBuffer:$params,
                   ConfinedAttr<I64Attr, [IntNonNegative]>:$weight_offset,
                   Ntp_JetBuffer:$output,
                   ConfinedAttr<I64Attr, [IntPositive]>:$live_orders);
  let assemblyFormat = [{
    $input `,` $params `[` $weight_offset `]` `into` $output `live_orders`
    $live_orders attr-dict `:` type($input) `,` type($params) `,`
    type($output)
  }];
  let hasVerifier = 1;
}

def Ntp_ActivateOp : Ntp_Op<"activate"> {
  let summary = "Applies an activation to a jet (Faà di Bruno)";
  let description = [{
    out = sigma(in) on jets: out[0] = sigma(in[0]) and, for m >= 1,
    out[m] = sum_{k=1..m} sigma^(k)(in[0]) B_{m,k}(in[1], ..., in[m-k+1]).
    Input orders >= `live_orders` are structural zeros and are not read; every
    output order is written. `ntp-expand-faa-di-bruno` expands this op into
    arithmetic with exact coefficients.

    Example:

    ```mlir
    ntp.activate "tanh" %in into %out live_orders 2
        : memref<10x24x16xf32>, memref<10x24x16xf32>
    ```
  }];
  let arguments = (ins StrAttr:$activation, Ntp_JetBuffer:$input,
                   Ntp_JetBuffer:$output,
                   ConfinedAttr<I64Attr, [IntPositive]>:$live_orders);
  let assemblyFormat = [{
    $activation $input `into` $output `live_orders` $live_orders attr-dict `:`
    type($input) `,` type($output)
  }];
  let hasVerifier = 1;
}

def Ntp_ScaleOp : Ntp_Op<"scale"> {
  let summary = "Multiplies a jet by trainable slopes (adaptive activations)";
  let description = [{
    out[k][j] = a_j in[k][j] for k < `live_orders`: the slope of an adaptive
    activation sigma(a y), read from `params` at `slope_offset` (one a for
    every neuron, or with `per_neuron` one per neuron). A jet times a
    parameter is linear in the jet: every order is scaled alike, and input
    orders past `live_orders` stay structural zeros (not written).

    Example:

    ```mlir
    ntp.scale %in, %params[73] into %out live_orders 10 per_neuron
        : memref<10x24x16xf32>, memref<?xf32>, memref<10x24x16xf32>
    ```
  }];
  let arguments = (ins Ntp_JetBuffer:$input, Ntp_FlatBuffer:$params,
                   ConfinedAttr<I64Attr, [IntNonNegative]>:$slope_offset,
                   Ntp_JetBuffer:$output,
                   ConfinedAttr<I64Attr, [IntPositive]>:$live_orders,
                   UnitAttr:$per_neuron);
  let assemblyFormat = [{
    $input `,` $params `[` $slope_offset `]` `into` $output `live_orders`
    $live_orders (`per_neuron` $per_neuron^)? attr-dict `:` type($input) `,`
    type($params) `,` type($output)
  }];
  let hasVerifier = 1;
}

def Ntp_FourierProjectOp : Ntp_Op<"fourier_project"> {
  let summary = "The arguments of a Fourier-feature embedding's sines";
  let description = [{
    For B ([m, in] row-major in `params` at `weight_offset`) and an output of
    width 2m: out[k][i] = 2 pi sum_j B[i mod m][j] in[k][j], plus pi / 2 at
    order 0 for i >= m, for k < `live_orders`. The `"sin"` activation of
    it is [sin(2 pi B x), cos(2 pi B x)] (cos z = sin(z + pi / 2)), so
    that the embedding is one linear map and one activation table entry.

    Example:

    ```mlir
    ntp.fourier_project %in, %params[0] into %out live_orders 2
        : memref<10x2x16xf32>, memref<?xf32>, memref<10x32x16xf32>
    ```
  }];
  let arguments = (ins Ntp_JetBuffer:$input, Ntp_FlatBuffer:$params,
                   ConfinedAttr<I64Attr, [IntNonNegative]>:$weight_offset,
                   Ntp_JetBuffer:$output,
                   ConfinedAttr<I64Attr, [IntPositive]>:$live_orders);
  let assemblyFormat = [{
    $input `,` $params `[` $weight_offset `]` `into` $output `live_orders`
    $live_orders attr-dict `:` type($input) `,` type($params) `,`
    type($output)
  }];
  let hasVerifier = 1;
}

def Ntp_AddJetsOp : Ntp_Op<"add_jets"> {
  let summary = "Adds two jets (residual connections, cotangent sums)";
  let description = [{
    out[k] = lhs[k] + rhs[k] for k < `live_orders` (differentiation is
    linear). `output` may be `lhs` or `rhs` (the update is elementwise).
    The forward of a residual layer H + F(H); the backward sums a skip
    connection's cotangent into the chain's with it.

    Example:

    ```mlir
    ntp.add_jets %h, %f into %out live_orders 10
        : memref<10x24x16xf32>, memref<10x24x16xf32>, memref<10x24x16xf32>
    ```
  }];
  let arguments = (ins Ntp_JetBuffer:$lhs, Ntp_JetBuffer:$rhs,
                   Ntp_JetBuffer:$output,
                   ConfinedAttr<I64Attr, [IntPositive]>:$live_orders);
  let assemblyFormat = [{
    $lhs `,` $rhs `into` $output `live_orders` $live_orders attr-dict `:`
    type($lhs) `,` type($rhs) `,` type($output)
  }];
  let hasVerifier = 1;
}

def Ntp_GateJetsOp : Ntp_Op<"gate_jets"> {
  let summary = "The modified MLP's gate U + Z (V - U) on jets";
  let description = [{
    out = u + z (v - u) on jets, the hidden layer output of a gated network
    (see `ntp.mlp`'s `gated`): with w = v - u and the jets holding
    derivatives (out[k] = d^k out), the product is Leibniz's rule
      out[k] = u[k] + sum_{j=0..k} C(k, j) z[j] w[k - j]
    for k < `live_orders` (binomial coefficients, exact as constants).
    Orders of the operands at or past `live_orders` are not read. The
    output may not alias an operand (every order reads all lower ones).

    Example:

    ```mlir
    ntp.gate_jets %u, %v, %z into %out live_orders 10
        : memref<10x24x16xf32>, memref<10x24x16xf32>, memref<10x24x16xf32>,
          memref<10x24x16xf32>
    ```
  }];
  let arguments = (ins Ntp_JetBuffer:$u, Ntp_JetBuffer:$v, Ntp_JetBuffer:$z,
                   Ntp_JetBuffer:$output,
                   ConfinedAttr<I64Attr, [IntPositive]>:$live_orders);
  let assemblyFormat = [{
    $u `,` $v `,` $z `into` $output `live_orders` $live_orders attr-dict `:`
    type($u) `,` type($v) `,` type($z) `,` type($output)
  }];
  let hasVerifier = 1;
}

def Ntp_StoreJetOp : Ntp_Op<"store_jet"> {
  let summary = "Stores the output jet of one tile of samples";
  let description = [{
    Writes out[k][b][j] = jet[k][j][b - tile * T] for the samples b of the tile
    that are below `batch`, in the layout `[(n + 1), batch, q]`. Orders >=
    `live_orders` are written as zeros (a network without activations has
    vanishing derivatives beyond order 1).

    Example:

    ```mlir
    ntp.store_jet %jet into %out, %batch, %tile live_orders 10
        : memref<10x1x16xf32>, memref<?xf32>
    ```
  }];
  let arguments = (ins Ntp_JetBuffer:$jet, Ntp_FlatBuffer:$out, Index:$batch,
                   Index:$tile,
                   ConfinedAttr<I64Attr, [IntPositive]>:$live_orders);
  let assemblyFormat = [{
    $jet `into` $out `,` $batch `,` $tile `live_orders` $live_orders attr-dict
    `:` type($jet) `,` type($out)
  }];
  let hasVerifier = 1;
}

def Ntp_CombinePartialsOp : Ntp_Op<"combine_partials"> {
  let summary = "Combines univariate jets into partial derivatives";
  let description = [{
    `rays` holds the jets of one tile along several directions, stacked
    along the order dimension (`[sum of (orders + 1), q, tile]`: the rows of
    direction r, then of r + 1, ...). Writes

      out[p][j][s] = sum_c weights[p * C + c] * rays[c][j][s]

    for every request p < P = out.shape[0], with C = rays.shape[0]: the
    exact interpolation weights of the requested partial derivatives
    (ntp/Support/Partials.h), a constant P x C matrix, mostly zeros, which
    the lowering unrolls (zero weights cost nothing). `out` is then stored
    like a jet of P orders by `ntp.store_jet`.

    Example:

    ```mlir
    ntp.combine_partials %rays into %out weights [1.0, 0.0, -0.25, 0.5]
        : memref<2x1x8xf64>, memref<2x1x8xf64>
    ```
  }];
  let arguments = (ins Ntp_JetBuffer:$rays, Ntp_JetBuffer:$output,
                   DenseF64ArrayAttr:$weights);
  let assemblyFormat = [{
    $rays `into` $output `weights` $weights attr-dict `:` type($rays) `,`
    type($output)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Multi-direction jets: many rays in one buffer sharing order 0
//===----------------------------------------------------------------------===//

// The ray layout of a multi-direction jet buffer [rows, width, tile]:
// row 0 holds order 0 (shared by every ray); then groups of rays, group g
// holding ray_counts[g] rays of order ray_orders[g], ray i of the group in
// rows base_g + i * ray_orders[g] + (k - 1) for its orders k = 1..ray_orders[g];
// then, if collapsed_order N > 0, one collapsed row S = sum over the rays of
// collapse_weights[g] * (order N of the ray), which a ray of a weighted group
// does not hold itself (collapsed Taylor mode). rows = 1 + sum counts *
// orders + (N > 0). Orders >= live_orders of every ray (and the collapsed
// row if N >= live_orders) are structural zeros: neither read nor written.
class Ntp_RaysOp<string mnemonic> : Ntp_Op<mnemonic> {
  dag layoutArgs = (ins DenseI64ArrayAttr:$ray_counts,
                    DenseI64ArrayAttr:$ray_orders,
                    DenseF64ArrayAttr:$collapse_weights,
                    ConfinedAttr<I64Attr, [IntNonNegative]>:$collapsed_order);
  string layoutFormat = [{
    `ray_counts` $ray_counts `ray_orders` $ray_orders `collapse_weights`
    $collapse_weights `collapsed_order` $collapsed_order
  }];
  let hasVerifier = 1;
}

def Ntp_SeedRaysOp : Ntp_RaysOp<"seed_rays"> {
  let summary = "Seeds a multi-direction input jet of one tile of samples";
  let description = [{
    Writes row 0 of `jet` (ray layout: see the `ray_counts` attributes below)
    with the samples of the tile like `ntp.seed` (lanes past `batch` repeat
    the last sample), and the order-1 row of every ray with its direction:
    ray r (counted across groups in layout order) reads
    `directions[r * d .. r * d + d)`. Orders >= 2 and the collapsed row are
    structural zeros and are not written.

    The ray layout (shared by `ntp.seed_rays`, `ntp.affine_rays`,
    `ntp.activate_rays`): row 0 holds order 0, shared by every ray; group g
    holds `ray_counts[g]` rays of order `ray_orders[g]`, ray i of it in rows
    `base_g + i * ray_orders[g] + k - 1` for k = 1..ray_orders[g]; then, if
    `collapsed_order` N > 0, one collapsed row holding the sum over the rays
    of `collapse_weights[g]` times their order N (collapsed Taylor mode:
    rays of a weighted group carry orders up to at least N - 1 but not N).
    The buffer has 1 + sum counts * orders + (N > 0) rows.

    Example:

    ```mlir
    ntp.seed_rays %x, %dirs into %jet, %batch, %tile ray_counts [2]
        ray_orders [1] collapse_weights [1.0] collapsed_order 2
        : memref<?xf64>, memref<?xf64>, memref<4x2x8xf64>
    ```
  }];
  let arguments = !con((ins Ntp_FlatBuffer:$x, Ntp_FlatBuffer:$directions,
                            Ntp_JetBuffer:$jet, Index:$batch, Index:$tile),
                       layoutArgs);
  let assemblyFormat = "$x `,` $directions `into` $jet `,` $batch `,` $tile "
                       # layoutFormat # [{ attr-dict `:` type($x) `,`
                       type($directions) `,` type($jet) }];
}

def Ntp_AffineRaysOp : Ntp_RaysOp<"affine_rays"> {
  let summary = "Applies an affine layer to every row of a multi-direction jet";
  let description = [{
    out[row] = W in[row] (+ b for row 0) for every live row of the ray
    layout (see `ntp.seed_rays`): row 0, orders k < `live_orders` of every
    ray, and the collapsed row if `collapsed_order` < `live_orders` (W is
    linear, so the collapsed sum is carried through). W and b as in
    `ntp.affine`. The lowering loads each weight once per chunk of rows (a
    register block), not once per ray.

    Example:

    ```mlir
    ntp.affine_rays %in, %params[0] into %out live_orders 2 ray_counts [2]
        ray_orders [1] collapse_weights [1.0] collapsed_order 2
        : memref<4x2x8xf64>, memref<?xf64>, memref<4x16x8xf64>
    ```
  }];
  let arguments = !con((ins Ntp_JetBuffer:$input, Ntp_FlatBuffer:$params,
                       ConfinedAttr<I64Attr, [IntNonNegative]>:$weight_offset,
                       Ntp_JetBuffer:$output,
                       ConfinedAttr<I64Attr, [IntPositive]>:$live_orders),
                       layoutArgs);
  let assemblyFormat = [{
    $input `,` $params `[` $weight_offset `]` `into` $output `live_orders`
    $live_orders }] # layoutFormat # [{ attr-dict `:` type($input) `,`
    type($params) `,` type($output)
  }];
}

def Ntp_ActivateRaysOp : Ntp_RaysOp<"activate_rays"> {
  let summary = "Applies an activation to a multi-direction jet";
  let description = [{
    The jet of sigma along every ray of the layout (see `ntp.seed_rays`),
    with the primitives of sigma (tanh(y0), ...) and every polynomial in them
    evaluated once per neuron and sample, and only the terms that read a
    ray's orders >= 1 evaluated per ray: out[0] = sigma(in[0]); for each ray,
    its orders 1..n by the activation's jet expansion (the cheaper of Faà di
    Bruno and the Taylor recurrence); and the collapsed row
      Z = sigma'(y0) S + sum_r w_r R_N(y_1^(r), ..., y_{N-1}^(r)),
    R_N the expansion of order N with its term linear in y_N left out (the
    forward Laplacian for N = 2: Z = sigma' S + sigma'' sum_r w_r (y_1^(r))^2).
    Jets hold derivatives (not Taylor coefficients). Input orders >=
    `live_orders` are structural zeros and are not read; every output row is
    written.

    Example:

    ```mlir
    ntp.activate_rays "tanh" %in into %out live_orders 2 ray_counts [2]
        ray_orders [1] collapse_weights [1.0] collapsed_order 2
        : memref<4x16x8xf64>, memref<4x16x8xf64>
    ```
  }];
  let arguments = !con((ins StrAttr:$activation, Ntp_JetBuffer:$input,
                       Ntp_JetBuffer:$output,
                       ConfinedAttr<I64Attr, [IntPositive]>:$live_orders),
                       layoutArgs);
  let assemblyFormat = [{
    $activation $input `into` $output `live_orders` $live_orders
    }] # layoutFormat # [{ attr-dict `:` type($input) `,` type($output)
  }];
}

//===----------------------------------------------------------------------===//
// Multi-direction jets: the modified MLP's gate
//===----------------------------------------------------------------------===//

def Ntp_GateRaysOp : Ntp_RaysOp<"gate_rays"> {
  let summary = "The modified MLP's gate U + Z (V - U) on multi-direction jets";
  let description = [{
    `ntp.gate_jets` on the ray layout (see `ntp.seed_rays`): with D = V - U
    and the jets holding derivatives, the product Z D is Leibniz's rule
    along each ray, sharing order 0:
      out[0]   = U0 + Z0 D0,
      out_k^(r) = U_k^(r) + sum_{i=0..k} C(k, i) Z_i^(r) D_{k-i}^(r)
    for every ray r and its orders k = 1..n_r (Z_0^(r) = Z0, D_0^(r) = D0),
    and, with a collapsed row of order N (the rows S_U, S_V, S_Z hold
    sum_r w_r of order N of each ray), its weighted sum of order N
      S = S_U + Z0 (S_V - S_U) + S_Z D0
          + sum_r w_r sum_{k=1..N-1} C(N, k) Z_k^(r) D_{N-k}^(r),
    which reads only the orders 1..N-1 a weighted ray carries. U, V and Z
    are outputs of `ntp.activate_rays` (every row written): every row of
    the operands is read and every row of the output written. All four
    buffers have one shape; the output may not be an operand.

    Example:

    ```mlir
    ntp.gate_rays %u, %v, %z into %out ray_counts [2] ray_orders [1]
        collapse_weights [1.0] collapsed_order 2
        : memref<4x16x8xf64>, memref<4x16x8xf64>, memref<4x16x8xf64>,
          memref<4x16x8xf64>
    ```
  }];
  let arguments = !con((ins Ntp_JetBuffer:$u, Ntp_JetBuffer:$v,
                            Ntp_JetBuffer:$z, Ntp_JetBuffer:$output),
                       layoutArgs);
  let assemblyFormat = "$u `,` $v `,` $z `into` $output " # layoutFormat #
                       [{ attr-dict `:` type($u) `,` type($v) `,` type($z)
                       `,` type($output) }];
}

//===----------------------------------------------------------------------===//
// Reverse mode of multi-direction jets (issue 12: the collapsed and
// multi-direction lowerings' own reverse mode, lib/Transforms/RaysBackward.cpp)
//===----------------------------------------------------------------------===//

def Ntp_ActivateRaysVjpOp : Ntp_RaysOp<"activate_rays_vjp"> {
  let summary = "Reverse mode of ntp.activate_rays";
  let description = [{
    Given the input `input` of an `ntp.activate_rays` with the same
    attributes and the cotangent `out_cotangent` of every row of its output,
    writes the cotangent of every row of the input (rows the forward did not
    read, orders >= `live_orders`, get 0, so that a following
    `ntp.affine_vjp` over all rows reads no unwritten row):
      - each ray's orders k = 1..n_g: the univariate jet VJP of its orders
        (`ntp.activate_vjp`'s expansion), the ray's order-0 cotangent left
        out, and for a ray of a weighted group (order N - 1, N =
        `collapsed_order`) the order-N cotangent w_g Zbar (Zbar the collapsed
        row's cotangent): the VJP of R_N, the expansion of order N without
        its term linear in y_N;
      - the collapsed row S: sigma'(y0) Zbar;
      - row 0: sigma'(y0) zbar_0 + sigma''(y0) S Zbar plus every ray's
        order-0 VJP term, summed over the rays.
    For the forward Laplacian (N = 2, rays of order 1, Z = s1 S +
    s2 sum_r w_r y_r^2, sK the K-th derivative of sigma at y0):
    ybar_r = s1 zbar_r + 2 w_r s2 y_r Zbar, Sbar = s1 Zbar,
    y0bar = s1 zbar_0 + s2 S Zbar + sum_r (s2 y_r zbar_r + w_r s3 y_r^2 Zbar).
    The primitives of y0 and the nodes reading no ray are evaluated once per
    neuron, as in the forward. A weighted group must have order N - 1 (what
    ntp-decompose-mlp emits).

    Example:

    ```mlir
    ntp.activate_rays_vjp "tanh" %in, %outbar into %inbar live_orders 2
        ray_counts [2] ray_orders [1] collapse_weights [1.0]
        collapsed_order 2
        : memref<4x16x8xf64>, memref<4x16x8xf64>, memref<4x16x8xf64>
    ```
  }];
  let arguments = !con((ins StrAttr:$activation, Ntp_JetBuffer:$input,
                       Ntp_JetBuffer:$out_cotangent,
                       Ntp_JetBuffer:$in_cotangent,
                       ConfinedAttr<I64Attr, [IntPositive]>:$live_orders),
                       layoutArgs);
  let assemblyFormat = [{
    $activation $input `,` $out_cotangent `into` $in_cotangent `live_orders`
    $live_orders }] # layoutFormat # [{ attr-dict `:` type($input) `,`
    type($out_cotangent) `,` type($in_cotangent)
  }];
}

//===----------------------------------------------------------------------===//
// Reverse mode of the modified MLP's gate on multi-direction jets (issues
// 12/14: gated networks' fast reverse, lib/Transforms/RaysBackward.cpp)
//===----------------------------------------------------------------------===//

def Ntp_GateRaysVjpOp : Ntp_RaysOp<"gate_rays_vjp"> {
  let summary = "Reverse mode of ntp.gate_rays: U, V and Z cotangents";
  let description = [{
    Given the operands U, V, Z of an `ntp.gate_rays` with the same layout
    attributes and the cotangent `out_cotangent` (Obar) of every row of its
    output, writes the cotangents of every row of U, V and Z: Leibniz's
    rule transposed along each ray, sharing order 0. With D = V - U, the
    output is U + (Z D) row by row, so Ubar = Obar - Dbar and Vbar = Dbar,
    and with Sbar the collapsed row's cotangent (N = `collapsed_order`,
    w_r the weight of ray r's group, terms with N absent when N = 0):
      Zbar_0 = D0 Obar_0 + sum_r sum_{k=1..n_r} D_k^(r) Obar_k^(r)
               + S_D Sbar,
      Dbar_0 = Z0 Obar_0 + sum_r sum_{k=1..n_r} Z_k^(r) Obar_k^(r)
               + S_Z Sbar,
      Zbar_j^(r) = sum_{k=j..n_r} C(k, j) D_{k-j}^(r) Obar_k^(r)
                   + [1 <= j <= N-1] w_r C(N, j) D_{N-j}^(r) Sbar,
      Dbar_j^(r) = sum_{k=j..n_r} C(k, j) Z_{k-j}^(r) Obar_k^(r)
                   + [1 <= j <= N-1] w_r C(N, j) Z_{N-j}^(r) Sbar,
      Zbar_S = D0 Sbar,  Dbar_S = Z0 Sbar
    (j = 1..n_r, Z_0^(r) = Z0, D_0^(r) = D0, S_D = S_V - S_U). `z_cotangent`
    is written; `u_cotangent` and `v_cotangent` are written, or with
    `accumulate` added to: U and V feed every gate of the network, so their
    cotangents sum over the layers (the first gate the reverse mode meets
    writes, the others add). All seven buffers have one shape; no
    cotangent may alias an operand or another cotangent.

    Example:

    ```mlir
    ntp.gate_rays_vjp %u, %v, %z, %outbar into %ubar, %vbar, %zbar
        ray_counts [2] ray_orders [1] collapse_weights [1.0]
        collapsed_order 2 accumulate
        : memref<4x16x8xf64>, memref<4x16x8xf64>, memref<4x16x8xf64>,
          memref<4x16x8xf64>, memref<4x16x8xf64>, memref<4x16x8xf64>,
          memref<4x16x8xf64>
    ```
  }];
  let arguments = !con((ins Ntp_JetBuffer:$u, Ntp_JetBuffer:$v,
                            Ntp_JetBuffer:$z, Ntp_JetBuffer:$out_cotangent,
                            Ntp_JetBuffer:$u_cotangent,
                            Ntp_JetBuffer:$v_cotangent,
                            Ntp_JetBuffer:$z_cotangent),
                       layoutArgs, (ins UnitAttr:$accumulate));
  let assemblyFormat = [{
    $u `,` $v `,` $z `,` $out_cotangent `into` $u_cotangent `,`
    $v_cotangent `,` $z_cotangent }] # layoutFormat #
    [{ (`accumulate` $accumulate^)? attr-dict `:` type($u) `,` type($v) `,`
    type($z) `,` type($out_cotangent) `,` type($u_cotangent) `,`
    type($v_cotangent) `,` type($z_cotangent)
  }];
}

//===----------------------------------------------------------------------===//
// Reverse-mode (VJP) jet operations: the generated backward
//===----------------------------------------------------------------------===//

def Ntp_LoadCotangentOp : Ntp_Op<"load_cotangent"> {
  let summary = "Loads the cotangent of the output jet for one tile";
  let description = [{
    jet[k][j][s] = cotangent[k][tile * T + s][j] (layout `[(n + 1), batch, q]`)
    for samples below `batch`, and 0 for lanes past it, so that padding lanes
    contribute nothing to parameter gradients.

    Example:

    ```mlir
    ntp.load_cotangent %c into %jet, %batch, %tile
        : memref<?xf32>, memref<10x1x16xf32>
    ```
  }];
  let arguments = (ins Ntp_FlatBuffer:$cotangent, Ntp_JetBuffer:$jet,
                   Index:$batch, Index:$tile);
  let assemblyFormat = [{
    $cotangent `into` $jet `,` $batch `,` $tile attr-dict `:`
    type($cotangent) `,` type($jet)
  }];
  let hasVerifier = 1;
}

def Ntp_AffineVjpOp : Ntp_Op<"affine_vjp"> {
  let summary = "Reverse mode of ntp.affine: weight, bias and input cotangents";
  let description = [{
    For the layer out[k] = W in[k] (+ b for k = 0), given the cotangent
    `out_cotangent` of its output, accumulates the parameter gradient into
    `grad` (same layout as params, at `weight_offset`):
      grad_W[i][j] += sum_{k < live_orders} sum_s outbar_k[i][s] in_k[j][s],
      grad_b[i]    += sum_s outbar_0[i][s].
    `grad` is either flat (`[P]`: the sum over the samples s of the tile is
    done here) or lane-wise (`[P, L]`, L dividing the tile: lane l
    accumulates the samples l, l + L, ... with vector adds, a tile spanning
    several registers folded to one register's lanes before the add;
    `ntp.reduce_lanes` sums the lanes once after all tiles, instead of one
    horizontal reduction per weight and tile).
    and, if `in_cotangent` is given, writes inbar_k = W^T outbar_k for
    k < `live_orders` (input orders past them are structural zeros, whose
    cotangents nobody needs). With `skip_bias` the bias gradient is left
    out: the rows are a later block of rows of a multi-direction jet, whose
    row 0 (order 0) another ntp.affine_vjp reverses (RaysBackward.cpp).

    Example:

    ```mlir
    ntp.affine_vjp %in, %params[48], %outbar into %grad input_cotangent %inbar
        live_orders 10 : memref<10x24x16xf32>, memref<?xf32>,
        memref<10x24x16xf32>, memref<?xf32>, memref<10x24x16xf32>
    ```
  }];
  let arguments = (ins Ntp_JetBuffer:$input, Ntp_FlatBuffer:$params,
                   ConfinedAttr<I64Attr, [IntNonNegative]>:$weight_offset,
                   Ntp_JetBuffer:$out_cotangent,
                   Optional<Ntp_JetBuffer>:$in_cotangent, Ntp_GradBuffer:$grad,
                   ConfinedAttr<I64Attr, [IntPositive]>:$live_orders,
                   UnitAttr:$skip_bias);
  let assemblyFormat = [{
    $input `,` $params `[` $weight_offset `]` `,` $out_cotangent `into` $grad
    (`input_cotangent` $in_cotangent^)? `live_orders` $live_orders
    (`skip_bias` $skip_bias^)? attr-dict
    `:` type($input) `,` type($params) `,` type($out_cotangent) `,`
    type($grad) (`,` type($in_cotangent)^)?
  }];
  let hasVerifier = 1;
}

def Ntp_ReduceLanesOp : Ntp_Op<"reduce_lanes"> {
  let summary = "Adds lane-wise gradient accumulators into a flat gradient";
  let description = [{
    grad[i] += sum_s lanes[i][s]: the one horizontal reduction per parameter
    that ends a backward accumulating lane-wise (see `ntp.affine_vjp`).

    Example:

    ```mlir
    ntp.reduce_lanes %lanes into %grad : memref<1273x16xf32>, memref<?xf32>
    ```
  }];
  let arguments = (ins MemRefRankOf<[F32, F64], [2]>:$lanes,
                   Ntp_FlatBuffer:$grad);
  let assemblyFormat = [{
    $lanes `into` $grad attr-dict `:` type($lanes) `,` type($grad)
  }];
  let hasVerifier = 1;
}

def Ntp_ActivateVjpOp : Ntp_Op<"activate_vjp"> {
  let summary = "Reverse mode of ntp.activate (the VJP of Faà di Bruno)";
  let description = [{
    Given the input jet `input` of an activation and the cotangent
    `out_cotangent` of its output jet (every order), writes the cotangent of
    the input orders k < `live_orders`:
      inbar_k = sum_m outbar_m * d z_m / d y_k.
    `ntp-expand-faa-di-bruno` derives it at compile time by reverse-mode
    differentiation of the expansion DAG (d sigma^(k)/dy0 = sigma^(k+1),
    d B_{m,k}/d y_j = C(m, j) B_{m-j,k-1}): a fixed polynomial expansion in
    the primitives of y0, the input jet and the cotangents.

    The optional `output` is the jet that `ntp.activate` of the same
    activation wrote from `input` (a saved or recomputed forward). Where the
    activation's value is one of its primitives and the VJP needs no other
    (tanh: z_0 = tanh(y_0); exp), the expansion reads that primitive from
    the output's order 0 instead of evaluating it again: the same value, to
    the bit, for a load instead of a transcendental function per neuron.

    Example:

    ```mlir
    ntp.activate_vjp "tanh" %in, %outbar into %inbar live_orders 10
        output %out : memref<10x24x16xf32>, memref<10x24x16xf32>,
        memref<10x24x16xf32>, memref<10x24x16xf32>
    ```
  }];
  let arguments = (ins StrAttr:$activation, Ntp_JetBuffer:$input,
                   Ntp_JetBuffer:$out_cotangent, Ntp_JetBuffer:$in_cotangent,
                   ConfinedAttr<I64Attr, [IntPositive]>:$live_orders,
                   Optional<Ntp_JetBuffer>:$output);
  let assemblyFormat = [{
    $activation $input `,` $out_cotangent `into` $in_cotangent `live_orders`
    $live_orders (`output` $output^)? attr-dict `:` type($input) `,`
    type($out_cotangent) `,` type($in_cotangent) (`,` type($output)^)?
  }];
  let hasVerifier = 1;
}

def Ntp_ScaleVjpOp : Ntp_Op<"scale_vjp"> {
  let summary = "Reverse mode of ntp.scale: slope and input cotangents";
  let description = [{
    For out[k][j] = a_j in[k][j] (k < `live_orders`), given the cotangent
    `out_cotangent` of the output, accumulates the slopes' gradient into
    `grad` (at `slope_offset`, flat or lane-wise as for `ntp.affine_vjp`)
      grad_a[j] += sum_{k < live_orders} sum_s outbar_k[j][s] in_k[j][s]
    (one a for every neuron: the sum also runs over j), and writes
    inbar_k[j] = a_j outbar_k[j] for k < `live_orders`.

    Example:

    ```mlir
    ntp.scale_vjp %in, %params[73], %outbar into %grad input_cotangent %inbar
        live_orders 10 per_neuron : memref<10x24x16xf32>, memref<?xf32>,
        memref<10x24x16xf32>, memref<?xf32>, memref<10x24x16xf32>
    ```
  }];
  let arguments = (ins Ntp_JetBuffer:$input, Ntp_FlatBuffer:$params,
                   ConfinedAttr<I64Attr, [IntNonNegative]>:$slope_offset,
                   Ntp_JetBuffer:$out_cotangent, Ntp_GradBuffer:$grad,
                   Ntp_JetBuffer:$in_cotangent,
                   ConfinedAttr<I64Attr, [IntPositive]>:$live_orders,
                   UnitAttr:$per_neuron);
  let assemblyFormat = [{
    $input `,` $params `[` $slope_offset `]` `,` $out_cotangent `into` $grad
    `input_cotangent` $in_cotangent `live_orders` $live_orders
    (`per_neuron` $per_neuron^)? attr-dict `:` type($input) `,`
    type($params) `,` type($out_cotangent) `,` type($grad) `,`
    type($in_cotangent)
  }];
  let hasVerifier = 1;
}

def Ntp_FourierProjectVjpOp : Ntp_Op<"fourier_project_vjp"> {
  let summary = "Reverse mode of ntp.fourier_project";
  let description = [{
    Given the cotangent `out_cotangent` of the projection's output (width
    2m), accumulates
      grad_B[r][j] += 2 pi sum_{k < live_orders} sum_s
                      (outbar_k[r] + outbar_k[r + m])[s] in_k[j][s]
    into `grad` (flat or lane-wise, as for `ntp.affine_vjp`) and writes
    inbar_k[j] = 2 pi sum_i B[i mod m][j] outbar_k[i] for k < `live_orders`.

    Example:

    ```mlir
    ntp.fourier_project_vjp %in, %params[0], %outbar into %grad
        input_cotangent %inbar live_orders 2 : memref<10x2x16xf32>,
        memref<?xf32>, memref<10x32x16xf32>, memref<?xf32>,
        memref<10x2x16xf32>
    ```
  }];
  let arguments = (ins Ntp_JetBuffer:$input, Ntp_FlatBuffer:$params,
                   ConfinedAttr<I64Attr, [IntNonNegative]>:$weight_offset,
                   Ntp_JetBuffer:$out_cotangent, Ntp_GradBuffer:$grad,
                   Ntp_JetBuffer:$in_cotangent,
                   ConfinedAttr<I64Attr, [IntPositive]>:$live_orders);
  let assemblyFormat = [{
    $input `,` $params `[` $weight_offset `]` `,` $out_cotangent `into` $grad
    `input_cotangent` $in_cotangent `live_orders` $live_orders attr-dict `:`
    type($input) `,` type($params) `,` type($out_cotangent) `,` type($grad)
    `,` type($in_cotangent)
  }];
  let hasVerifier = 1;
}

def Ntp_GateJetsVjpOp : Ntp_Op<"gate_jets_vjp"> {
  let summary = "Reverse mode of ntp.gate_jets: U, V and Z cotangents";
  let description = [{
    For out[k] = u[k] + sum_j C(k, j) z[j] w[k - j] (w = v - u,
    k < `live_orders`), given the cotangent `out_cotangent` of the output,
      zbar[j] = sum_{k=j..n} C(k, j) w[k - j] outbar[k],
      wbar[i] = sum_{k=i..n} C(k, i) z[k - i] outbar[k],
      ubar[i] = outbar[i] - wbar[i],  vbar[i] = wbar[i]
    (n = `live_orders` - 1). `z_cotangent` is written; `u_cotangent` and
    `v_cotangent` are written, or with `accumulate` added to: U and V feed
    every gate of the network, so their cotangents sum over the layers
    (the first gate the reverse mode meets writes, the others add).

    Example:

    ```mlir
    ntp.gate_jets_vjp %u, %v, %z, %outbar into %ubar, %vbar, %zbar
        live_orders 10 accumulate : memref<10x24x16xf32>,
        memref<10x24x16xf32>, memref<10x24x16xf32>, memref<10x24x16xf32>,
        memref<10x24x16xf32>, memref<10x24x16xf32>, memref<10x24x16xf32>
    ```
  }];
  let arguments = (ins Ntp_JetBuffer:$u, Ntp_JetBuffer:$v, Ntp_JetBuffer:$z,
                   Ntp_JetBuffer:$out_cotangent, Ntp_JetBuffer:$u_cotangent,
                   Ntp_JetBuffer:$v_cotangent, Ntp_JetBuffer:$z_cotangent,
                   ConfinedAttr<I64Attr, [IntPositive]>:$live_orders,
                   UnitAttr:$accumulate);
  let assemblyFormat = [{
    $u `,` $v `,` $z `,` $out_cotangent `into` $u_cotangent `,`
    $v_cotangent `,` $z_cotangent `live_orders` $live_orders
    (`accumulate` $accumulate^)? attr-dict `:` type($u) `,` type($v) `,`
    type($z) `,` type($out_cotangent) `,` type($u_cotangent) `,`
    type($v_cotangent) `,` type($z_cotangent)
  }];
  let hasVerifier = 1;
}

def Ntp_SeedVjpOp : Ntp_Op<"seed_vjp"> {
  let summary = "Writes the input gradient of one tile from the seed cotangent";
  let description = [{
    x_grad[b][j] = jet_cotangent[0][j][b - tile * T] for the samples of the
    tile below `batch`: the gradient of the loss with respect to the points x.

    Example:

    ```mlir
    ntp.seed_vjp %seedbar into %xgrad, %batch, %tile
        : memref<10x1x16xf32>, memref<?xf32>
    ```
  }];
  let arguments = (ins Ntp_JetBuffer:$jet_cotangent, Ntp_FlatBuffer:$x_grad,
                   Index:$batch, Index:$tile);
  let assemblyFormat = [{
    $jet_cotangent `into` $x_grad `,` $batch `,` $tile attr-dict `:`
    type($jet_cotangent) `,` type($x_grad)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Multivariate Taylor mode: truncated polynomials over a set of monomials
//===----------------------------------------------------------------------===//

// The multivariate lowering of a partials kernel (ntp/Support/Multivariate.h)
// keeps, per neuron, the Taylor coefficients c_beta = D^beta y / beta! over
// a down-closed set M of monomials in a jet buffer of |M| rows, row 0 the
// constant monomial. Its seed and affine layers are the ray ops on the ray
// layout of |M| - 1 rays of order 1 (ray_counts [|M| - 1] ray_orders [1]):
// `ntp.seed_rays` writes x into row 0 and each ray's direction into its row
// (e_i for the monomial e_i, zeros for the monomials of degree >= 2), and
// `ntp.affine_rays` with live_orders 2 maps every row (the bias on row 0
// only), which is the affine map of a polynomial; the typed layers' jet ops
// (ntp.scale, ntp.add_jets, ntp.fourier_project) map every row likewise.
// Only the activation needs the polynomial structure:

def Ntp_ActivatePolyOp : Ntp_Op<"activate_poly"> {
  let summary = "Composes an activation with a truncated multivariate "
                "polynomial";
  let description = [{
    Row r of `input` and `output` holds, per neuron and sample, the Taylor
    coefficient of the monomial `monomials[r * variables ..
    (r + 1) * variables)` (row 0 the zero monomial, the value). With y0 =
    row 0 and u the polynomial with its row 0 zeroed,

      out = sum_{k=0..n} sigma^(k)(y0) / k! u^k   truncated to the set,

    n the highest total degree of a monomial. sigma^(k)(y0) is the
    activation's jet of order n along y0 + t; the powers p_k = p_{k-1} u
    keep only monomials of degree >= k (a product table fixed at compile
    time, u^2 summing each symmetric pair once). The set must be
    down-closed (a monomial's coefficient of the output reads only those
    below it), so it is closed under the products. Every row is read and
    written.

    Example (f and its gradient and Hessian diagonal in 2 variables):

    ```mlir
    ntp.activate_poly "tanh" %in into %out
        monomials [0, 0, 1, 0, 0, 1, 2, 0, 0, 2] variables 2
        : memref<5x16x8xf64>, memref<5x16x8xf64>
    ```
  }];
  let arguments = (ins StrAttr:$activation, Ntp_JetBuffer:$input,
                   Ntp_JetBuffer:$output, DenseI64ArrayAttr:$monomials,
                   ConfinedAttr<I64Attr, [IntPositive]>:$variables);
  let assemblyFormat = [{
    $activation $input `into` $output `monomials` $monomials `variables`
    $variables attr-dict `:` type($input) `,` type($output)
  }];
  let hasVerifier = 1;
}

def Ntp_ActivatePolyVjpOp : Ntp_Op<"activate_poly_vjp"> {
  let summary = "Reverse mode of ntp.activate_poly";
  let description = [{
    Given the input `input` of an `ntp.activate_poly` with the same
    activation and monomials and the cotangent `out_cotangent` of every row
    of its output, writes the cotangent of every row of the input (the
    multivariate lowering's own reverse mode, lib/Transforms/
    RaysBackward.cpp). The forward is the truncation of sigma(u) to the
    monomial set, u the input polynomial (row 0 included), so its
    derivative along a change du of the input is q du truncated, with
    q = sigma'(u) truncated:

      q = sum_{k=0..n} sigma^(k+1)(y0) / k! p_k,
      inbar_gamma = sum_{beta >= gamma} outbar_beta q_{beta - gamma},

    p_k the forward's powers of the non-constant part (p_0 = 1), beta and
    gamma rows of the set (componentwise order; the set is down-closed, so
    beta - gamma is a row). Row 0's cotangent reads the rows of q up to
    degree n, hence sigma's jet to order n + 1: the total degree must stay
    below the maximum order. Every row is read and written; the cotangents
    may not alias the input.

    Example (f and its gradient and Hessian diagonal in 2 variables):

    ```mlir
    ntp.activate_poly_vjp "tanh" %in, %outbar into %inbar
        monomials [0, 0, 1, 0, 0, 1, 2, 0, 0, 2] variables 2
        : memref<5x16x8xf64>, memref<5x16x8xf64>, memref<5x16x8xf64>
    ```
  }];
  let arguments = (ins StrAttr:$activation, Ntp_JetBuffer:$input,
                   Ntp_JetBuffer:$out_cotangent, Ntp_JetBuffer:$in_cotangent,
                   DenseI64ArrayAttr:$monomials,
                   ConfinedAttr<I64Attr, [IntPositive]>:$variables);
  let assemblyFormat = [{
    $activation $input `,` $out_cotangent `into` $in_cotangent `monomials`
    $monomials `variables` $variables attr-dict `:` type($input) `,`
    type($out_cotangent) `,` type($in_cotangent)
  }];
  let hasVerifier = 1;
}

def Ntp_GatePolyOp : Ntp_Op<"gate_poly"> {
  let summary = "The modified MLP's gate U + Z (V - U) on truncated "
                "multivariate polynomials";
  let description = [{
    `ntp.gate_rays` for the multivariate lowering: row r of every buffer
    holds, per neuron and sample, the Taylor coefficient of the monomial
    `monomials[r * variables .. (r + 1) * variables)` (row 0 the value).
    With D = V - U, the product Z D truncated to the set is the Cauchy
    product over the monomials:

      out_beta = U_beta + sum_{gamma <= beta} Z_gamma D_{beta - gamma},

    gamma running over the rows componentwise below beta (row 0 included;
    the set is down-closed, so beta - gamma is a row). U, V and Z are
    outputs of `ntp.activate_poly` (every row written); every row of the
    operands is read and every row of the output written. All four buffers
    have one shape, one row per monomial; the output may not be an operand.

    Example (f and its gradient in 2 variables):

    ```mlir
    ntp.gate_poly %u, %v, %z into %out monomials [0, 0, 1, 0, 0, 1]
        variables 2
        : memref<3x16x8xf64>, memref<3x16x8xf64>, memref<3x16x8xf64>,
          memref<3x16x8xf64>
    ```
  }];
  let arguments = (ins Ntp_JetBuffer:$u, Ntp_JetBuffer:$v, Ntp_JetBuffer:$z,
                   Ntp_JetBuffer:$output, DenseI64ArrayAttr:$monomials,
                   ConfinedAttr<I64Attr, [IntPositive]>:$variables);
  let assemblyFormat = [{
    $u `,` $v `,` $z `into` $output `monomials` $monomials `variables`
    $variables attr-dict `:` type($u) `,` type($v) `,` type($z) `,`
    type($output)
  }];
  let hasVerifier = 1;
}

def Ntp_GatePolyVjpOp : Ntp_Op<"gate_poly_vjp"> {
  let summary = "Reverse mode of ntp.gate_poly: U, V and Z cotangents";
  let description = [{
    Given the operands U, V, Z of an `ntp.gate_poly` with the same monomials
    and the cotangent `out_cotangent` (Obar) of every row of its output,
    writes the cotangents of every row of U, V and Z: the Cauchy product
    transposed. With D = V - U the output is U + Z D truncated to the set,
    so Ubar = Obar - Dbar, Vbar = Dbar and

      Zbar_gamma = sum_{beta >= gamma} Obar_beta D_{beta - gamma},
      Dbar_gamma = sum_{beta >= gamma} Obar_beta Z_{beta - gamma},

    beta and gamma rows of the set (componentwise order). `z_cotangent` is
    written; `u_cotangent` and `v_cotangent` are written, or with
    `accumulate` added to (U and V feed every gate of the network, so their
    cotangents sum over the layers). All seven buffers have one shape; no
    cotangent may alias an operand or another cotangent.

    Example:

    ```mlir
    ntp.gate_poly_vjp %u, %v, %z, %outbar into %ubar, %vbar, %zbar
        monomials [0, 0, 1, 0, 0, 1] variables 2 accumulate
        : memref<3x16x8xf64>, memref<3x16x8xf64>, memref<3x16x8xf64>,
          memref<3x16x8xf64>, memref<3x16x8xf64>, memref<3x16x8xf64>,
          memref<3x16x8xf64>
    ```
  }];
  let arguments = (ins Ntp_JetBuffer:$u, Ntp_JetBuffer:$v, Ntp_JetBuffer:$z,
                   Ntp_JetBuffer:$out_cotangent, Ntp_JetBuffer:$u_cotangent,
                   Ntp_JetBuffer:$v_cotangent, Ntp_JetBuffer:$z_cotangent,
                   DenseI64ArrayAttr:$monomials,
                   ConfinedAttr<I64Attr, [IntPositive]>:$variables,
                   UnitAttr:$accumulate);
  let assemblyFormat = [{
    $u `,` $v `,` $z `,` $out_cotangent `into` $u_cotangent `,`
    $v_cotangent `,` $z_cotangent `monomials` $monomials `variables`
    $variables (`accumulate` $accumulate^)? attr-dict `:` type($u) `,`
    type($v) `,` type($z) `,` type($out_cotangent) `,` type($u_cotangent)
    `,` type($v_cotangent) `,` type($z_cotangent)
  }];
  let hasVerifier = 1;
}

#endif // NTP_OPS_TD
