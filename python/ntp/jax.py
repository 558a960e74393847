#===- jax.py - ntp kernels as JAX primitives --------------------------------===#
#
# ntp.jax.jet(params, x, order, direction=None, *, layers, activation, dtype)
# is the jet [(order+1), batch, d_out] of an MLP computed by a compiled ntp
# kernel inside XLA: three JAX primitives lowered to typed XLA FFI custom
# calls (the handlers of jax_ffi/NtpJaxFfi.cpp, _ntp_jax_ffi.so), with
#
#   jax.jit    the kernel is one custom call in the compiled program;
#   jax.grad   a custom VJP: the forward saves every layer's jets in a
#              workspace (ntp_forward_save), the backward is the generated
#              reverse mode (ntp_backward_saved), for params, x and the
#              direction, each only when it is differentiated;
#   jax.vmap   batching rules: a vmapped axis of x with shared params and
#              direction is folded into the points (one kernel call); params
#              or directions that differ per instance, and the reverse mode
#              (whose parameter gradient sums over a call's whole batch), run
#              one call per instance inside one custom call.
#
# Kernels are JIT-compiled once per (widths, activation, order, dtype,
# device) and kept for the process (their handle is an attribute of the
# custom call, so they must outlive every executable). JAX lives in its own
# virtual environment (README, "From JAX"); `import ntp` never imports it.
#
#===----------------------------------------------------------------------===#
import ctypes
import functools
import os
import re
import threading

import numpy as np

import jax
import jax.numpy as jnp
from jax.core import ShapedArray
from jax.extend.core import Primitive
from jax.interpreters import batching, mlir

import ntp
from ntp import Error, _fail

__all__ = ["jet", "flatten_params", "kernel", "ACTIVATIONS"]

ACTIVATIONS = ("tanh", "sigmoid", "sin", "identity", "exp", "softplus")
_MAX_ORDER = 16  # kMaxOrder (artifact.hpp)

_lock = threading.RLock()
_kernels = {}  # (spec, device) -> ntp.Kernel, kept for the process
_lib = None


#===----------------------------------------------------------------------===#
# The FFI library and its targets
#===----------------------------------------------------------------------===#

def _ffi():
    """_ntp_jax_ffi.so with its targets registered with XLA (once)."""
    global _lib
    if _lib is None:
        with _lock:
            if _lib is None:
                ntp._capi.runtime()  # the one runtime the handlers link
                path = os.path.join(os.path.dirname(os.path.abspath(
                    __file__)), "_ntp_jax_ffi.so")
                if not os.path.exists(path):
                    _fail("ntp.jax needs %s, which CMake builds when it finds "
                          "a JAX environment (scripts/dev.sh test creates "
                          "one; or configure with -DNTP_JAX_PYTHON=<python "
                          "with jax>)" % path, ntp.ERROR_UNSUPPORTED)
                lib = ctypes.CDLL(path)
                cap = jax.ffi.pycapsule
                for name, sym, platform in (
                        ("ntp_jet", lib.NtpJaxJetCpu, "cpu"),
                        ("ntp_jet_save", lib.NtpJaxJetSaveCpu, "cpu"),
                        ("ntp_jet_bwd", lib.NtpJaxJetBwdCpu, "cpu"),
                        ("ntp_jet", lib.NtpJaxJetCuda, "CUDA")):
                    jax.ffi.register_ffi_target(name, cap(sym),
                                                platform=platform)
                _lib = lib
    return _lib


def kernel(layers, activation, order, dtype, device="cpu"):
    """The ntp.Kernel ntp.jax uses for this spec (compiled once, cached)."""
    spec = (tuple(int(w) for w in layers), activation, int(order), dtype)
    return _kernel(spec, device)


def _kernel(spec, device):
    key = (spec, device)
    k = _kernels.get(key)
    if k is None:
        with _lock:
            k = _kernels.get(key)
            if k is None:
                layers, activation, order, dtype = spec
                k = ntp.compile(list(layers), activation, order, dtype,
                                device=device, backward=device == "cpu")
                _kernels[key] = k
    return k


def _handle(spec, device):
    return np.int64(_kernel(spec, device)._h.value)


#===----------------------------------------------------------------------===#
# Primitives: every operand has a leading instance axis I (see NtpJaxFfi.cpp)
#   ntp_jet       x [I,N,d], v [I,d], p [I,P] -> out [I,n+1,N,q]
#   ntp_jet_save  x, v, p -> out, ws [I,W] (uint8)
#   ntp_jet_bwd   x, v, p, c [I,n+1,N,q], ws -> pg [I,P|0], xg [I,N|0,d],
#                 vg [I,d|0]
#===----------------------------------------------------------------------===#

def _dims(spec):
    layers, _, order, dtype = spec
    num_params = sum(layers[i] * layers[i + 1] + layers[i + 1]
                     for i in range(len(layers) - 1))
    return layers[0], layers[-1], order, num_params, np.dtype(dtype)


_impls = {}


def _impl(prim, *args, **params):
    """Eager calls: the primitive alone under jax.jit (one per params)."""
    key = (prim, tuple(sorted(params.items())))
    f = _impls.get(key)
    if f is None:
        f = jax.jit(functools.partial(prim.bind, **params))
        _impls[key] = f
    return f(*args)


def _primitive(name, multiple_results):
    p = Primitive(name)
    p.multiple_results = multiple_results
    p.def_impl(functools.partial(_impl, p))
    return p


jet_p = _primitive("ntp_jet", False)
jet_save_p = _primitive("ntp_jet_save", True)
jet_bwd_p = _primitive("ntp_jet_bwd", True)


def _jet_abstract(x, v, p, *, spec):
    _, q, n, _, dt = _dims(spec)
    return ShapedArray((x.shape[0], n + 1, x.shape[1], q), dt)


def _workspace_bytes(spec, points):
    return _kernel(spec, "cpu").workspace_size(points)


def _jet_save_abstract(x, v, p, *, spec):
    return [_jet_abstract(x, v, p, spec=spec),
            ShapedArray((x.shape[0], _workspace_bytes(spec, x.shape[1])),
                        np.uint8)]


def _jet_bwd_abstract(x, v, p, c, ws, *, spec, need_p, need_x, need_v):
    d, _, _, num_params, dt = _dims(spec)
    i, points = x.shape[0], x.shape[1]
    return [ShapedArray((i, num_params if need_p else 0), dt),
            ShapedArray((i, points if need_x else 0, d), dt),
            ShapedArray((i, d if need_v else 0), dt)]


jet_p.def_abstract_eval(_jet_abstract)
jet_save_p.def_abstract_eval(_jet_save_abstract)
jet_bwd_p.def_abstract_eval(_jet_bwd_abstract)


def _lowering(target, device):
    def rule(ctx, *operands, spec, **_):
        _ffi()
        return jax.ffi.ffi_lowering(target)(
            ctx, *operands, kernel=_handle(spec, device))
    return rule


def _no_cuda_reverse(ctx, *operands, **_):
    _fail("jax.grad of ntp.jax.jet on a GPU: ntp's CUDA kernels have no "
          "reverse mode yet (the runtime's backward is CPU-only); run the "
          "differentiated jet on the CPU", ntp.ERROR_UNSUPPORTED)


mlir.register_lowering(jet_p, _lowering("ntp_jet", "cpu"), platform="cpu")
mlir.register_lowering(jet_p, _lowering("ntp_jet", "cuda"), platform="cuda")
mlir.register_lowering(jet_save_p, _lowering("ntp_jet_save", "cpu"),
                       platform="cpu")
mlir.register_lowering(jet_bwd_p, _lowering("ntp_jet_bwd", "cpu"),
                       platform="cpu")
for _p in (jet_save_p, jet_bwd_p):
    mlir.register_lowering(_p, _no_cuda_reverse, platform="cuda")


def _axis_size(args, dims):
    return next(a.shape[d] for a, d in zip(args, dims) if d is not None)


def _instances(args, dims, size):
    """Each operand with the vmapped axis merged into its instance axis:
    [B, I, ...] -> [B*I, ...] (unbatched operands broadcast to B)."""
    out = []
    for a, d in zip(args, dims):
        a = (jnp.broadcast_to(a, (size,) + a.shape) if d is None
             else jnp.moveaxis(a, d, 0))
        out.append(a.reshape((size * a.shape[1],) + a.shape[2:]))
    return out


def _split(a, size):
    return a.reshape((size, a.shape[0] // size) + a.shape[1:])


def _jet_batch(args, dims, *, spec):
    x, v, p = args
    bx, bv, bp = dims
    size = _axis_size(args, dims)
    if bv is None and bp is None:
        # Shared params and direction: the vmapped axis joins the points,
        # one kernel call for all of them.
        x = jnp.moveaxis(x, bx, 1)  # [I, B, N, d]
        i, _, points, d = x.shape
        out = jet_p.bind(x.reshape(i, size * points, d), v, p, spec=spec)
        return out.reshape(i, out.shape[1], size, points, out.shape[3]), 2
    out = jet_p.bind(*_instances(args, dims, size), spec=spec)
    return _split(out, size), 0


def _per_instance_batch(prim):
    def rule(args, dims, **params):
        size = _axis_size(args, dims)
        outs = prim.bind(*_instances(args, dims, size), **params)
        return [_split(o, size) for o in outs], [0] * len(outs)
    return rule


batching.primitive_batchers[jet_p] = _jet_batch
batching.primitive_batchers[jet_save_p] = _per_instance_batch(jet_save_p)
batching.primitive_batchers[jet_bwd_p] = _per_instance_batch(jet_bwd_p)


#===----------------------------------------------------------------------===#
# The differentiable jet: a custom VJP over the primitives
#===----------------------------------------------------------------------===#

class _Wanted:
    """Which inputs the backward differentiates (static residual)."""

    def __init__(self, x, v, p):
        self.bits = (bool(x), bool(v), bool(p))


jax.tree_util.register_pytree_node(
    _Wanted, lambda w: ((), w.bits), lambda bits, _: _Wanted(*bits))


@functools.lru_cache(maxsize=None)
def _differentiable(spec):
    @jax.custom_vjp
    def f(x, v, p):
        return jet_p.bind(x[None], v[None], p[None], spec=spec)[0]

    def fwd(x, v, p):
        out, ws = jet_save_p.bind(x.value[None], v.value[None],
                                  p.value[None], spec=spec)
        wanted = _Wanted(x.perturbed, v.perturbed, p.perturbed)
        return out[0], (x.value, v.value, p.value, ws, wanted)

    def bwd(res, c):
        x, v, p, ws, wanted = res
        need_x, need_v, need_p = wanted.bits
        if isinstance(c, jax.custom_derivatives.SymbolicZero):
            return None, None, None
        pg, xg, vg = jet_bwd_p.bind(
            x[None], v[None], p[None], c[None], ws, spec=spec,
            need_p=need_p, need_x=need_x, need_v=need_v)
        return (xg[0] if need_x else None, vg[0] if need_v else None,
                pg[0] if need_p else None)

    f.defvjp(fwd, bwd, symbolic_zeros=True)
    return f


#===----------------------------------------------------------------------===#
# Arguments
#===----------------------------------------------------------------------===#

_DTYPE_NAMES = {"float32": "float32", "f32": "float32",
                "float64": "float64", "f64": "float64"}


def _dtype_name(dtype, what):
    try:
        name = np.dtype(dtype).name
    except TypeError:
        name = str(dtype)
    name = _DTYPE_NAMES.get(name)
    if name is None:
        _fail("%s is %s; ntp kernels compute in float32 or float64" %
              (what, dtype))
    return name


def _array(a, dtype, what):
    """`a` as a JAX array of `dtype` (refusing other dtypes: no silent
    casts); numpy and JAX arrays and tracers pass."""
    adt = getattr(a, "dtype", None)
    if adt is None:
        _fail("%s must be an array, not %s" % (what, type(a).__name__))
    if np.dtype(adt).name != dtype:
        _fail("%s has dtype %s but the kernel computes in %s; convert it "
              "first (.astype)" % (what, np.dtype(adt).name, dtype))
    return jnp.asarray(a)


def _natural(name):
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name)]


def _pairs(params):
    """params as a list of (W [out, in], b [out]) pairs, or None for a flat
    vector."""
    if isinstance(params, dict) or hasattr(params, "items"):
        d = dict(params.items())
        if "params" in d and len(d) == 1:
            d = dict(d["params"].items())
        layers = []
        for name in sorted(d, key=_natural):
            sub = d[name]
            if not hasattr(sub, "items") or "kernel" not in sub:
                _fail("params[%r] is not a Flax Dense layer (a dict with "
                      "'kernel' [in, out] and 'bias')" % name)
            if "bias" not in sub:
                _fail("params[%r] has no 'bias' (ntp's layers are affine)" %
                      name)
            layers.append((name, sub["kernel"], sub["bias"], True))
        if not layers:
            _fail("params is an empty dict")
        return layers
    if isinstance(params, (list, tuple)):
        layers = []
        for i, layer in enumerate(params):
            if hasattr(layer, "weight") and hasattr(layer, "bias"):
                w, b = layer.weight, layer.bias  # equinox.nn.Linear
            elif isinstance(layer, (list, tuple)) and len(layer) == 2:
                w, b = layer
            else:
                _fail("params[%d] is not a (W [out, in], b [out]) pair" % i)
            if b is None:
                _fail("params[%d] has no bias (ntp's layers are affine)" % i)
            layers.append(("params[%d]" % i, w, b, False))
        if not layers:
            _fail("params is an empty list")
        return layers
    return None


def flatten_params(params, dtype, layers=None):
    """(flat parameter vector in DESIGN.md order, widths) from a list of
    (W [out, in], b) pairs (torch/Equinox layout), a Flax parameter dict
    (layers by the natural order of their names, 'kernel' [in, out]
    transposed), or a flat vector (then `layers` is required)."""
    pairs = _pairs(params)
    if pairs is None:
        p = _array(params, dtype, "params")
        if p.ndim != 1:
            _fail("params has shape %s: pass a list of (W, b) pairs, a Flax "
                  "parameter dict or a flat vector" % (list(p.shape),))
        if layers is None:
            _fail("params is a flat vector: pass layers=[d_in, ..., d_out]")
        widths = tuple(int(w) for w in layers)
        want = _dims((widths, None, 0, dtype))[3]
        if p.shape[0] != want:
            _fail("params holds %d values but layers %s have %d parameters" %
                  (p.shape[0], list(widths), want))
        return p, widths
    flat, widths = [], None
    for name, w, b, transposed in pairs:
        w = _array(w, dtype, "%s weight" % name)
        b = _array(b, dtype, "%s bias" % name)
        if transposed:
            if w.ndim != 2:
                _fail("%s kernel has shape %s, expected [in, out]" %
                      (name, list(w.shape)))
            w = w.T
        if w.ndim != 2 or b.shape != (w.shape[0],):
            _fail("%s has weight %s and bias %s, expected [out, in] and "
                  "[out]" % (name, list(w.shape), list(b.shape)))
        if widths is None:
            widths = [w.shape[1]]
        elif w.shape[1] != widths[-1]:
            _fail("%s takes %d inputs but the layer before gives %d" %
                  (name, w.shape[1], widths[-1]))
        widths.append(w.shape[0])
        flat += [w.reshape(-1), b]
    widths = tuple(int(v) for v in widths)
    if layers is not None and tuple(int(v) for v in layers) != widths:
        _fail("layers=%s but params have widths %s" %
              (list(layers), list(widths)))
    return jnp.concatenate(flat), widths


def jet(params, x, order, direction=None, *, layers=None, activation,
        dtype=None):
    """The jet out[k, b, j] = d^k/dt^k f_j(x_b + t v) at t = 0, k = 0..order,
    of the MLP f with `params`, as a JAX array [(order+1), batch, d_out].

    params: a list of (W [out, in], b [out]) pairs (as torch and Equinox
    hold them; equinox.nn.Linear layers work too), a Flax parameter dict
    ({'params': {'Dense_0': {'kernel': [in, out], 'bias': ...}, ...}}), or a
    flat vector in DESIGN.md order (W_1, b_1, ..., W_L, b_L) with `layers`.
    x: [batch, d_in] (or [batch] for one input). direction: [d_in]; None is
    v = 1 and needs one input. activation: one of ACTIVATIONS. dtype:
    float32 or float64 (default: x's); every array must have it (float64
    needs jax_enable_x64).

    Differentiable once (jax.grad, jax.vjp) with respect to params, x and
    direction; not forward-mode differentiable (jax.jvp, jacfwd). Works
    under jax.jit and jax.vmap."""
    if activation not in ACTIVATIONS:
        _fail("activation %r is not supported: ntp compiles %s" % (
            activation, ", ".join(ACTIVATIONS)))
    if isinstance(order, bool) or not isinstance(order, (int, np.integer)):
        _fail("order must be an int, not %s" % type(order).__name__)
    if not 0 <= order <= _MAX_ORDER:
        _fail("order %d is out of range: 0..%d" % (order, _MAX_ORDER))
    if dtype is None:
        if getattr(x, "dtype", None) is None:
            _fail("x must be an array, not %s" % type(x).__name__)
        dtype = _dtype_name(x.dtype, "x's dtype")
    else:
        dtype = _dtype_name(dtype, "dtype")
    if dtype == "float64" and not jax.config.jax_enable_x64:
        _fail("dtype float64 needs 64-bit JAX: "
              "jax.config.update('jax_enable_x64', True)")
    x = _array(x, dtype, "x")
    p, widths = flatten_params(params, dtype, layers)
    if len(widths) < 2:
        _fail("layers %s: a network needs at least an input and an output "
              "width" % list(widths))
    d = widths[0]
    one_d = x.ndim == 1 and d == 1
    if one_d:
        x = x[:, None]
    if x.ndim != 2 or x.shape[1] != d:
        _fail("x has shape %s, expected [batch, %d]%s" % (
            list(x.shape), d, " or [batch]" if d == 1 else ""))
    if direction is None:
        if d != 1:
            _fail("direction is required: the network has %d inputs (v = 1 "
                  "is the default for one input only)" % d)
        v = jnp.ones((1,), dtype)
    else:
        v = _array(direction, dtype, "direction")
        if v.shape != (d,):
            _fail("direction has shape %s, expected [%d]" % (
                list(v.shape), d))
    spec = (widths, activation, int(order), dtype)
    if jax.default_backend() == "cpu":
        _kernel(spec, "cpu")  # compile now: errors here, not in lowering
    _ffi()
    return _differentiable(spec)(x, v, p)
