#===- _compile.py - Making kernels: ntp.compile, ntp.load ------------------===#
#
# compile (the JIT, in process: ntp_jit_compile, from widths and an
# activation or from ntp.mlp text, which partials requests and typed layers
# are written as) and load (an ntp-compile artifact: ntp_kernel_load).
#
#===----------------------------------------------------------------------===#
import ctypes

from . import _capi
from ._errors import _check, _fail
from ._kernel import Kernel

_DTYPES = {"float32": _capi.DTYPE_F32, "f32": _capi.DTYPE_F32,
           "float64": _capi.DTYPE_F64, "f64": _capi.DTYPE_F64}
_DEVICES = {"cpu": _capi.DEVICE_CPU, "cuda": _capi.DEVICE_CUDA}


def load(path):
    """Loads an ahead-of-time artifact made by ntp-compile (ntp_kernel_load):
    a CPU shared object or a CUDA artifact."""
    lib = _capi.runtime()
    h = ctypes.c_void_p()
    _check(lib.ntp_kernel_load(str(path).encode(), ctypes.byref(h)))
    return Kernel(h.value)


def _check_partials_lowering(lowering):
    """Refuses a partials_lowering that is not a name (the JIT checks the
    name); also ntp.torch's and ntp.jax's check, before their caches."""
    if not isinstance(lowering, str):
        _fail("partials_lowering must be one of 'auto', 'per-ray', "
              "'multi-direction', 'collapsed', 'multivariate', not %r" % (lowering,))


def _check_partials_reverse_lowering(lowering):
    """Refuses a partials_reverse_lowering that is not a string (the JIT
    checks the name)."""
    if not isinstance(lowering, str):
        _fail("partials_reverse_lowering must be 'auto' or 'per-ray', not %r"
              % (lowering,))


def _cstr(s):
    return None if s is None else str(s).encode()


def _typed_attributes(fourier, slopes, residual, gated=False):
    """The typed layers (issue 14) as ntp.mlp attribute text: `fourier m`
    (m frequencies, 0: none), `slopes` (one of "none", "layer", "neuron"
    for every hidden layer, or a list with one per hidden layer; None: no
    slopes), `residual` (one flag per hidden layer; None: none), `gated`
    (the modified MLP). The compiler's verifier checks the counts and
    names."""
    text = ""
    if fourier:
        text += " fourier %d" % int(fourier)
    if gated:
        text += " gated"
    if slopes is not None:
        if isinstance(slopes, str):
            text += ' slopes "%s"' % slopes
        else:
            text += " slopes [%s]" % ", ".join('"%s"' % s for s in slopes)
    if residual is not None:
        text += " residual [%s]" % ", ".join("true" if r else "false"
                                             for r in residual)
    return text


def _partials_mlir(layers, activation, order, dtype, partials, operators,
                   typed=""):
    """The ntp.mlp of a partials kernel (the C JIT takes it as spec.mlir);
    typed: _typed_attributes' text."""
    rows = [[int(e) for e in row] for row in partials]
    ops = []
    for text in operators:
        name, colon, subset = str(text).partition(":")
        if name not in ("laplacian", "biharmonic"):
            _fail("unknown operator %r (expected laplacian or biharmonic, "
                  "optionally with a subset as in laplacian:0,1)" % (text,))
        if colon and not subset.strip():
            _fail("the coordinates of operator %r must be comma-separated "
                  "integers (as in laplacian:0,1; no ':' means all inputs)"
                  % (text,))
        order = max(order, 2 if name == "laplacian" else 4)
        coords = subset.strip()
        ops.append("#ntp.%s%s" % (name, "<[%s]>" % coords if coords else ""))
    for row in rows:
        order = max(order, sum(e for e in row if e > 0))
    # One name, or the per-layer list ("silu,tanh" is ["silu", "tanh"] in
    # IR, where a comma inside one string is no activation).
    acts = str(activation).split(",")
    act = '"%s"' % acts[0] if len(acts) == 1 else "[%s]" % ", ".join(
        '"%s"' % a.strip() for a in acts)
    text = "ntp.mlp @ntp_kernel layers [%s] activation %s%s order %d" % (
        ", ".join(str(int(w)) for w in layers), act, typed, order)
    if rows:
        text += " partials [%s]" % ", ".join(
            "[%s]" % ", ".join(str(e) for e in row) for row in rows)
    if ops:
        text += " operators [%s]" % ", ".join(ops)
    return text + " : %s\n" % ("f64" if dtype == "float64" else "f32")


def compile(layers, activation="tanh", order=0, dtype="float64", device="cpu",
            *, backward=True, cache_dir=None, use_cache=True, tile=0,
            cpu=None, features=None, chip=None, gpu_format="auto",
            gpu_mapping="sample", mlir=None, partials=None, operators=None,
            partials_lowering=None, fourier=0, slopes=None, residual=None,
            gated=False, partials_reverse_lowering=None):
    """Compiles a network in process (ntp_jit_compile) and returns a Kernel.

    layers: widths from input to output ([1, 24, 24, 24, 1]); activation:
    tanh, sigmoid, sin, cos, identity, exp, softplus, silu, gelu, gelu_tanh
    for every hidden layer, or one per hidden layer separated by commas
    ("silu,tanh"); order: derivative order n;
    dtype: "float32"/"float64"; device: "cpu" or "cuda" (an NVPTX kernel;
    with backward, the reverse mode of --gpu-backward). Compiled objects are cached on disk (cache_dir, else
    $NTP_CACHE_DIR, $XDG_CACHE_HOME/ntp, ~/.cache/ntp; "off" or
    use_cache=False: no cache). `mlir`: the text of a module with one ntp.mlp
    instead of layers/activation/order/dtype. `partials` (multi-indices,
    e.g. [[2, 0], [1, 1]]) and/or `operators` ("laplacian", "biharmonic",
    "laplacian:0,1" for a subset) make a partials kernel (Kernel.partials);
    the order is then at least their highest total order.
    `partials_lowering`: how its forward (Kernel.partials) propagates the
    rays, as ntp-compile --partials-lowering spells it: "auto" (None: the
    fewest operations), "per-ray", "multi-direction", "multivariate" or
    "collapsed" (needs a laplacian or biharmonic request); the reverse mode
    follows a multi-direction, collapsed or multivariate forward where its
    blocks fit the stack bound (else the cheapest multi-direction or
    collapsed blocks that fit; per-ray beside a per-ray forward).
    `partials_reverse_lowering`: "auto" (None: as just said) or "per-ray"
    (the reverse mode from per-ray jets beside the forward, with a larger
    workspace, Kernel.workspace_size). Typed layers
    (README, issue 14): `fourier` m (a Fourier-feature embedding of m
    frequencies, B [m, input width] first in the parameters), `slopes`
    ("none", "layer" or "neuron" for every hidden layer, or a list with one
    per hidden layer: adaptive activations sigma(a * y)), `residual` (one
    flag per hidden layer), `gated` (the modified MLP: parameters [B], W_u,
    b_u, W_v, b_v, then per hidden layer W_l, b_l [, a_l], W_out, b_out;
    compilers without it refuse it); they make the kernel from its ntp.mlp
    text."""
    if dtype not in _DTYPES:
        _fail("dtype must be 'float32' or 'float64', not %r" % (dtype,))
    if device not in _DEVICES:
        _fail("device must be 'cpu' or 'cuda', not %r" % (device,))
    fmt = {"auto": 0, "ptx": 1, "cubin": 2}.get(gpu_format)
    mapping = {"sample": 0, "lanes": 1}.get(gpu_mapping)
    if fmt is None or mapping is None:
        _fail("gpu_format must be auto/ptx/cubin and gpu_mapping "
              "sample/lanes")
    lib = _capi.jit()
    spec = _capi.JitSpec()
    lib.ntp_jit_spec_init(ctypes.byref(spec))
    keep = []
    typed = _typed_attributes(fourier, slopes, residual, gated)
    if mlir is None and (partials or operators or typed):
        mlir = _partials_mlir(layers, activation, order, dtype,
                              partials or [], operators or [], typed)
    if partials_lowering is not None:
        _check_partials_lowering(partials_lowering)
        spec.partials_lowering = _cstr(partials_lowering)
    if partials_reverse_lowering is not None:
        _check_partials_reverse_lowering(partials_reverse_lowering)
        spec.partials_reverse_lowering = _cstr(partials_reverse_lowering)
    if mlir is not None:
        spec.mlir = _cstr(mlir)
    else:
        widths = [int(w) for w in layers]
        arr = (ctypes.c_int64 * len(widths))(*widths)
        keep.append(arr)
        spec.layers = ctypes.cast(arr, ctypes.POINTER(ctypes.c_int64))
        spec.num_layers = len(widths)
        spec.activation = _cstr(activation)
        spec.order = int(order)
        spec.dtype = _DTYPES[dtype]
    opts = _capi.JitOptions()
    lib.ntp_jit_options_init(ctypes.byref(opts))
    opts.device = _DEVICES[device]
    opts.tile = int(tile)
    opts.use_cache = 1 if use_cache else 0
    opts.backward = 1 if backward else 0
    opts.cpu, opts.features = _cstr(cpu), _cstr(features)
    opts.cache_dir, opts.chip = _cstr(cache_dir), _cstr(chip)
    opts.gpu_format, opts.gpu_mapping = fmt, mapping
    report = _capi.JitReport()
    h = ctypes.c_void_p()
    _check(lib.ntp_jit_compile_report(ctypes.byref(spec), ctypes.byref(opts),
                                      ctypes.byref(h), ctypes.byref(report)))
    return Kernel(h.value, report={
        "cache_hit": bool(report.cache_hit),
        "cache_stored": bool(report.cache_stored),
        "cache_rebuilt": bool(report.cache_rebuilt),
        "seconds": report.seconds,
        "cache_path": report.cache_path.decode(errors="replace"),
        "warning": report.warning.decode(errors="replace")})
