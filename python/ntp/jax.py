#===- jax.py - ntp kernels as JAX primitives --------------------------------===#
#
# ntp.jax.jet(params, x, order, direction=None, *, layers, activation, dtype)
# is the jet [(order+1), batch, d_out] of an MLP computed by a compiled ntp
# kernel inside XLA; ntp.jax.partials(params, x, *, partials, operators, ...)
# the partial derivatives [P, batch, d_out] of a partials kernel
# (ntp_partials), ntp.jax.laplacian(...) its one-operator case. Each is JAX
# primitives lowered to typed XLA FFI custom calls (the handlers of
# jax_ffi/NtpJaxFfi.cpp, _ntp_jax_ffi.so), with
#
#   jax.jit    the kernel is one custom call in the compiled program;
#   jax.grad   a custom VJP: the forward saves every layer's jets in a
#              workspace (ntp_forward_save), the backward is the generated
#              reverse mode (ntp_backward_saved), for params, x and the
#              direction, each only when it is differentiated (on CUDA
#              the _async calls on XLA's stream); partials the same over
#              ntp_partials_save / ntp_partials_backward_saved once the
#              runtime has them (refused in one sentence until then);
#   jax.vmap   batching rules: a vmapped axis of x with shared params and
#              direction is folded into the points (one kernel call); params
#              or directions that differ per instance, and the reverse mode
#              (whose parameter gradient sums over a call's whole batch), run
#              one call per instance inside one custom call.
#
# Kernels are JIT-compiled once per (widths, activation, order or request,
# dtype, device) and kept for the process (their handle is an attribute of the
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

__all__ = ["jet", "partials", "laplacian", "flatten_params", "kernel",
           "partials_kernel", "ACTIVATIONS"]

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
                targets = [
                    ("ntp_jet", lib.NtpJaxJetCpu, "cpu"),
                    ("ntp_jet_save", lib.NtpJaxJetSaveCpu, "cpu"),
                    ("ntp_jet_bwd", lib.NtpJaxJetBwdCpu, "cpu"),
                    ("ntp_jet_bwd_recompute", lib.NtpJaxJetBwdRecomputeCpu,
                     "cpu"),
                    ("ntp_jet", lib.NtpJaxJetCuda, "CUDA"),
                    ("ntp_jet_save", lib.NtpJaxJetSaveCuda, "CUDA"),
                    ("ntp_jet_bwd", lib.NtpJaxJetBwdCuda, "CUDA"),
                    ("ntp_partials", lib.NtpJaxPartialsCpu, "cpu"),
                    ("ntp_partials_save", lib.NtpJaxPartialsSaveCpu, "cpu"),
                    ("ntp_partials_bwd", lib.NtpJaxPartialsBwdCpu, "cpu"),
                    ("ntp_partials_bwd_recompute",
                     lib.NtpJaxPartialsBwdRecomputeCpu, "cpu"),
                    ("ntp_partials", lib.NtpJaxPartialsCuda, "CUDA"),
                    ("ntp_partials_save", lib.NtpJaxPartialsSaveCuda, "CUDA"),
                    ("ntp_partials_bwd", lib.NtpJaxPartialsBwdCuda, "CUDA"),
                    ("ntp_partials_bwd_recompute",
                     lib.NtpJaxPartialsBwdRecomputeCuda, "CUDA")]
                for name, sym, platform in targets:
                    jax.ffi.register_ffi_target(name, cap(sym),
                                                platform=platform)
                _lib = lib
    return _lib


def kernel(layers, activation, order, dtype, device="cpu"):
    """The ntp.Kernel ntp.jax uses for this spec (compiled once, cached)."""
    spec = (tuple(int(w) for w in layers), activation, int(order), dtype)
    return _kernel(spec, device)


def partials_kernel(layers, activation, partials=(), operators=(),
                    dtype="float64", partials_lowering="auto"):
    """The partials ntp.Kernel ntp.jax uses for this request and forward
    lowering (compiled once, cached)."""
    spec = (tuple(int(w) for w in layers), activation,
            _requests(partials, operators, len(layers) and int(layers[0]),
                      partials_lowering),
            _dtype_name(dtype, "dtype"))
    return _kernel(spec, "cpu")


def _kernel(spec, device):
    """A jet spec (layers, activation, order, dtype) or a partials spec
    (layers, activation, (alphas, operators, lowering), dtype), compiled
    once."""
    key = (spec, device)
    k = _kernels.get(key)
    if k is None:
        with _lock:
            k = _kernels.get(key)
            if k is None:
                layers, activation, order, dtype = spec
                if isinstance(order, tuple):
                    alphas, operators, lowering = order
                    k = ntp.compile(list(layers), activation, 0, dtype,
                                    device=device, partials=list(alphas),
                                    operators=list(operators),
                                    partials_lowering=lowering)
                else:
                    # CUDA kernels carry the reverse mode too (the JIT's
                    # --gpu-backward): jax.grad runs on XLA's stream.
                    k = ntp.compile(list(layers), activation, order, dtype,
                                    device=device)
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
# x, v, p, c -> pg, xg, vg without a workspace (ntp_backward_full; CPU)
jet_bwd_recompute_p = _primitive("ntp_jet_bwd_recompute", True)

# jax.grad saves every layer's jets in a workspace (ntp_forward_save /
# ntp_partials_save, then the _backward_saved calls) up to this many bytes
# per kernel call, and above it runs the forward alone (ntp_forward /
# ntp_partials, a partials kernel's own lowering) and the backward that
# recomputes the jets tile by tile on the stack (ntp_backward_full /
# ntp_partials_backward): the same gradients for the same cotangent. XLA
# allocates the workspace at every step, and glibc maps a block this large
# anew each time, so the step pages it in (10.8k page faults per step at
# order 9, batch 4096, f64: 48 MB) and the backward streams it back from
# memory; recomputing was faster there (the d = 8 Laplacian at batch 1024,
# 39 / 77 MB: half the step; benchmarks/jax_jet_overhead.py). Read at trace
# time; CPU only (a CUDA workspace is device memory).
RECOMPUTE_ABOVE_BYTES = 32 << 20


def _reverse_mode(spec, points, device="cpu"):
    """"saved" or "recompute": how jax.grad runs `spec` at `points` points
    per call (RECOMPUTE_ABOVE_BYTES)."""
    if device != "cpu":
        return "saved"
    ws = _kernel(spec, device).workspace_size(max(int(points), 1))
    return "recompute" if ws > RECOMPUTE_ABOVE_BYTES else "saved"


def _jet_abstract(x, v, p, *, spec):
    _, q, n, _, dt = _dims(spec)
    return ShapedArray((x.shape[0], n + 1, x.shape[1], q), dt)


def _workspace_bytes(spec, points, device="cpu"):
    return _kernel(spec, device).workspace_size(points)


def _jet_save_abstract(x, v, p, *, spec, device):
    return [_jet_abstract(x, v, p, spec=spec),
            ShapedArray((x.shape[0], _workspace_bytes(spec, x.shape[1],
                                                      device)), np.uint8)]


def _jet_bwd_abstract(x, v, p, c, ws, *, spec, device, need_p, need_x,
                      need_v):
    d, _, _, num_params, dt = _dims(spec)
    i, points = x.shape[0], x.shape[1]
    return [ShapedArray((i, num_params if need_p else 0), dt),
            ShapedArray((i, points if need_x else 0, d), dt),
            ShapedArray((i, d if need_v else 0), dt)]


def _jet_bwd_recompute_abstract(x, v, p, c, *, spec, need_p, need_x,
                                need_v):
    return _jet_bwd_abstract(x, v, p, c, None, spec=spec, device="cpu",
                             need_p=need_p, need_x=need_x, need_v=need_v)


jet_p.def_abstract_eval(_jet_abstract)
jet_save_p.def_abstract_eval(_jet_save_abstract)
jet_bwd_p.def_abstract_eval(_jet_bwd_abstract)
jet_bwd_recompute_p.def_abstract_eval(_jet_bwd_recompute_abstract)


def _lowering(target, device):
    def rule(ctx, *operands, spec, **params):
        # The reverse mode's workspace was sized for the device the trace
        # chose (its `device` parameter); the platform must agree.
        traced = params.get("device", device)
        if traced != device:
            _fail("ntp.jax traced the reverse mode for the %s but XLA lowers "
                  "it for the %s; set jax's default device before tracing" %
                  (traced, device))
        _ffi()
        return jax.ffi.ffi_lowering(target)(
            ctx, *operands, kernel=_handle(spec, device))
    return rule


def _trace_device():
    """Where the computation being traced will run: the default backend."""
    return "cuda" if jax.default_backend() in ("gpu", "cuda") else "cpu"


for _p, _t in ((jet_p, "ntp_jet"), (jet_save_p, "ntp_jet_save"),
               (jet_bwd_p, "ntp_jet_bwd")):
    mlir.register_lowering(_p, _lowering(_t, "cpu"), platform="cpu")
    mlir.register_lowering(_p, _lowering(_t, "cuda"), platform="cuda")
mlir.register_lowering(jet_bwd_recompute_p,
                       _lowering("ntp_jet_bwd_recompute", "cpu"),
                       platform="cpu")


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
batching.primitive_batchers[jet_bwd_recompute_p] = _per_instance_batch(
    jet_bwd_recompute_p)


#===----------------------------------------------------------------------===#
# The differentiable jet: a custom VJP over the primitives
#===----------------------------------------------------------------------===#

class _Wanted:
    """Which inputs the backward differentiates, the device the forward was
    traced for and how the reverse mode runs ("saved" or "recompute"; static
    residuals)."""

    def __init__(self, x, v, p, device="cpu", how="saved"):
        self.bits = (bool(x), bool(v), bool(p))
        self.device = device
        self.how = how


jax.tree_util.register_pytree_node(
    _Wanted, lambda w: ((), w.bits + (w.device, w.how)),
    lambda aux, _: _Wanted(*aux))


# The CUDA path's direction gradient (a second backward call, summed by
# XLA) on every device: for tests, which have no GPU, to check its
# arithmetic against the CPU handler's host-side sum.
_DIRECTION_GRAD_BY_XLA = False


@functools.lru_cache(maxsize=None)
def _differentiable(spec):
    @jax.custom_vjp
    def f(x, v, p):
        return jet_p.bind(x[None], v[None], p[None], spec=spec)[0]

    def fwd(x, v, p):
        device = _trace_device()
        how = "saved" if _DIRECTION_GRAD_BY_XLA else _reverse_mode(
            spec, x.value.shape[0], device)
        wanted = _Wanted(x.perturbed, v.perturbed, p.perturbed, device, how)
        if how == "recompute":
            out = jet_p.bind(x.value[None], v.value[None], p.value[None],
                             spec=spec)
            return out[0], (x.value, v.value, p.value, None, wanted)
        out, ws = jet_save_p.bind(x.value[None], v.value[None],
                                  p.value[None], spec=spec, device=device)
        return out[0], (x.value, v.value, p.value, ws, wanted)

    def bwd(res, c):
        x, v, p, ws, wanted = res
        need_x, need_v, need_p = wanted.bits
        device = wanted.device
        if isinstance(c, jax.custom_derivatives.SymbolicZero):
            return None, None, None
        if wanted.how == "recompute":
            pg, xg, vg = jet_bwd_recompute_p.bind(
                x[None], v[None], p[None], c[None], spec=spec,
                need_p=need_p, need_x=need_x, need_v=need_v)
            return (xg[0] if need_x else None, vg[0] if need_v else None,
                    pg[0] if need_p else None)
        if device == "cpu" and not _DIRECTION_GRAD_BY_XLA:
            pg, xg, vg = jet_bwd_p.bind(
                x[None], v[None], p[None], c[None], ws, spec=spec,
                device=device, need_p=need_p, need_x=need_x, need_v=need_v)
            return (xg[0] if need_x else None, vg[0] if need_v else None,
                    pg[0] if need_p else None)
        # CUDA: the handler leaves the direction gradient to XLA, the sum
        # over the points of the x gradient of the cotangent shifted down
        # one order (c'[k-1] = k c[k]; see NtpJaxFfi.cpp).
        xg = pg = vg = None
        if x.shape[0] == 0:  # an empty batch: zero gradients, no launch
            return (jnp.zeros_like(x) if need_x else None,
                    jnp.zeros_like(v) if need_v else None,
                    jnp.zeros_like(p) if need_p else None)
        if need_p or need_x:
            pg, xg, _ = jet_bwd_p.bind(
                x[None], v[None], p[None], c[None], ws, spec=spec,
                device=device, need_p=need_p, need_x=need_x, need_v=False)
            pg, xg = (pg[0] if need_p else None), (xg[0] if need_x else None)
        if need_v:
            k = jnp.arange(1, c.shape[0], dtype=c.dtype)[:, None, None]
            shifted = jnp.concatenate([k * c[1:], jnp.zeros_like(c[:1])])
            _, sx, _ = jet_bwd_p.bind(
                x[None], v[None], p[None], shifted[None], ws, spec=spec,
                device=device, need_p=False, need_x=True, need_v=False)
            vg = sx[0].sum(axis=0)
        return xg, vg, pg

    f.defvjp(fwd, bwd, symbolic_zeros=True)
    return f


#===----------------------------------------------------------------------===#
# Partials kernels (CPU): every operand with a leading instance axis I
#   ntp_partials       x [I,N,d], p [I,P] -> out [I,R,N,q]
#   ntp_partials_save  x, p -> out, ws [I,W] (uint8)
#   ntp_partials_bwd   x, p, c [I,R,N,q], ws -> pg [I,P|0], xg [I,N|0,d]
#   ntp_partials_bwd_recompute  x, p, c -> pg, xg (no workspace)
# spec = (widths, activation, (alphas, operators, lowering), dtype)
#===----------------------------------------------------------------------===#

partials_p = _primitive("ntp_partials", False)
partials_save_p = _primitive("ntp_partials_save", True)
partials_bwd_p = _primitive("ntp_partials_bwd", True)
partials_bwd_recompute_p = _primitive("ntp_partials_bwd_recompute", True)



def _num_requests(spec):
    return len(_kernel(spec, "cpu").requests)


def _partials_abstract(x, p, *, spec):
    _, q, _, _, dt = _dims((spec[0], None, 0, spec[3]))
    return ShapedArray((x.shape[0], _num_requests(spec), x.shape[1], q), dt)


def _partials_save_abstract(x, p, *, spec):
    return [_partials_abstract(x, p, spec=spec),
            ShapedArray((x.shape[0], _workspace_bytes(spec, x.shape[1])),
                        np.uint8)]


def _partials_bwd_abstract(x, p, c, ws, *, spec, need_p, need_x):
    d, _, _, num_params, dt = _dims((spec[0], None, 0, spec[3]))
    i, points = x.shape[0], x.shape[1]
    return [ShapedArray((i, num_params if need_p else 0), dt),
            ShapedArray((i, points if need_x else 0, d), dt)]


def _partials_bwd_recompute_abstract(x, p, c, *, spec, need_p, need_x):
    return _partials_bwd_abstract(x, p, c, None, spec=spec, need_p=need_p,
                                  need_x=need_x)


partials_p.def_abstract_eval(_partials_abstract)
partials_save_p.def_abstract_eval(_partials_save_abstract)
partials_bwd_p.def_abstract_eval(_partials_bwd_abstract)
partials_bwd_recompute_p.def_abstract_eval(_partials_bwd_recompute_abstract)


def _partials_on_gpu(ctx, *operands, **_):
    _fail("ntp.jax.partials runs on the CPU only: its CUDA handlers are "
          "registered but not lowered to yet (ntp's CUDA partials kernels "
          "run through the C API and ntp.Kernel with device pointers)",
          ntp.ERROR_UNSUPPORTED)


for _p, _t in ((partials_p, "ntp_partials"),
               (partials_save_p, "ntp_partials_save"),
               (partials_bwd_p, "ntp_partials_bwd"),
               (partials_bwd_recompute_p, "ntp_partials_bwd_recompute")):
    mlir.register_lowering(_p, _lowering(_t, "cpu"), platform="cpu")
    mlir.register_lowering(_p, _partials_on_gpu, platform="cuda")


def _partials_batch(args, dims, *, spec):
    x, p = args
    bx, bp = dims
    size = _axis_size(args, dims)
    if bp is None:
        # Shared params: the vmapped axis joins the points (one call).
        x = jnp.moveaxis(x, bx, 1)  # [I, B, N, d]
        i, _, points, d = x.shape
        out = partials_p.bind(x.reshape(i, size * points, d), p, spec=spec)
        return out.reshape(i, out.shape[1], size, points, out.shape[3]), 2
    out = partials_p.bind(*_instances(args, dims, size), spec=spec)
    return _split(out, size), 0


batching.primitive_batchers[partials_p] = _partials_batch
batching.primitive_batchers[partials_save_p] = _per_instance_batch(
    partials_save_p)
batching.primitive_batchers[partials_bwd_p] = _per_instance_batch(
    partials_bwd_p)
batching.primitive_batchers[partials_bwd_recompute_p] = _per_instance_batch(
    partials_bwd_recompute_p)


def _partials_reverse_mode(spec):
    """None when jax.grad of this partials kernel can run, else why not."""
    try:
        _kernel(spec, "cpu").workspace_size(1)
    except ntp.Error as e:
        if e.status != ntp.ERROR_UNSUPPORTED:
            raise
        return ("jax.grad of ntp.jax.partials is not available: this "
                "partials kernel has no reverse mode (the runtime's "
                "ntp_partials_save / ntp_partials_backward_saved, issue 12)")
    return None


@functools.lru_cache(maxsize=None)
def _differentiable_partials(spec):
    @jax.custom_vjp
    def f(x, p):
        return partials_p.bind(x[None], p[None], spec=spec)[0]

    def fwd(x, p):
        why = _partials_reverse_mode(spec)
        if why is not None:
            _fail(why, ntp.ERROR_UNSUPPORTED)
        wanted = _Wanted(x.perturbed, False, p.perturbed,
                         how=_reverse_mode(spec, x.value.shape[0]))
        if wanted.how == "recompute":
            out = partials_p.bind(x.value[None], p.value[None], spec=spec)
            return out[0], (x.value, p.value, None, wanted)
        out, ws = partials_save_p.bind(x.value[None], p.value[None],
                                       spec=spec)
        return out[0], (x.value, p.value, ws, wanted)

    def bwd(res, c):
        x, p, ws, wanted = res
        need_x, _, need_p = wanted.bits
        if isinstance(c, jax.custom_derivatives.SymbolicZero):
            return None, None
        if wanted.how == "recompute":
            pg, xg = partials_bwd_recompute_p.bind(
                x[None], p[None], c[None], spec=spec, need_p=need_p,
                need_x=need_x)
        else:
            pg, xg = partials_bwd_p.bind(x[None], p[None], c[None], ws,
                                         spec=spec, need_p=need_p,
                                         need_x=need_x)
        return (xg[0] if need_x else None, pg[0] if need_p else None)

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


def _requests(partials, operators, d, lowering="auto"):
    """The request as a hashable (alphas, operators, lowering) triple,
    checked enough for a clear sentence before the compiler's own verifier
    (and the JIT, for the lowering's name) sees it."""
    if not isinstance(lowering, str):
        _fail("partials_lowering must be one of 'auto', 'per-ray', "
              "'multi-direction', 'collapsed', not %r" % (lowering,))
    if isinstance(partials, str) or isinstance(operators, str):
        _fail("partials must be a list of multi-indices and operators a list "
              "of names (e.g. operators=['laplacian'])")
    alphas = []
    for row in partials or ():
        if isinstance(row, str) or not hasattr(row, "__len__"):
            _fail("partials must be a list of multi-indices (one entry per "
                  "input), not %r" % (row,))
        if any(isinstance(e, bool) or not isinstance(e, (int, np.integer))
               for e in row):
            _fail("multi-index %r must hold integers" % (list(row),))
        alphas.append(tuple(int(e) for e in row))
    ops = []
    for op in operators or ():
        if not isinstance(op, str):
            _fail("operators must be names such as 'laplacian', "
                  "'biharmonic' or 'laplacian:0,1', not %r" % (op,))
        ops.append(op.replace(" ", ""))
    if not alphas and not ops:
        _fail("the request is empty: pass partials=[...] and/or "
              "operators=[...]")
    return tuple(alphas), tuple(ops), lowering


def _prepare(params, x, layers, activation, dtype):
    """(x [batch, d], flat params, widths, dtype name), checked."""
    if activation not in ACTIVATIONS:
        _fail("activation %r is not supported: ntp compiles %s" % (
            activation, ", ".join(ACTIVATIONS)))
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
    if x.ndim == 1 and d == 1:
        x = x[:, None]
    if x.ndim != 2 or x.shape[1] != d:
        _fail("x has shape %s, expected [batch, %d]%s" % (
            list(x.shape), d, " or [batch]" if d == 1 else ""))
    return x, p, widths, dtype


def partials(params, x, *, layers=None, activation, partials=(),
             operators=(), dtype=None, partials_lowering="auto"):
    """Partial derivatives out[r, b, j] = D^{alpha_r} f_j(x_b) of the MLP f,
    as a JAX array [P, batch, d_out]: the multi-indices of `partials` in
    the order given (e.g. [[2, 0], [1, 1], [0, 0]]: u_xx, u_xy, u), then the
    `operators` in the order given ('laplacian', 'biharmonic', or a subset
    of the inputs as 'laplacian:0,1'), as ntp_partials computes them (one
    fused kernel; ntp.compile(partials=..., operators=...)).

    params, x, activation, dtype: as for jet (x [batch, d_in]). Works under
    jax.jit and jax.vmap (a vmapped axis of x with shared params is one
    kernel call). jax.grad (params and x) needs the partials reverse mode
    of the runtime (issue 12); without it jax.grad is refused with an
    ntp.Error saying so. CPU only. partials_lowering: how the forward
    propagates its rays ("auto", "per-ray", "multi-direction",
    "collapsed"; ntp.compile); under jax.grad the forward is the reverse
    mode's save, whose rays are per-ray, unless its workspace would exceed
    RECOMPUTE_ABOVE_BYTES: then it is this forward and the backward
    recomputes the rays (the same gradients)."""
    x, p, widths, dtype = _prepare(params, x, layers, activation, dtype)
    request = _requests(partials, operators, widths[0], partials_lowering)
    spec = (widths, activation, request, dtype)
    if jax.default_backend() != "cpu":
        _partials_on_gpu(None)
    _kernel(spec, "cpu")  # compile now: errors here, not in lowering
    _ffi()
    return _differentiable_partials(spec)(x, p)


def laplacian(params, x, *, layers=None, activation, coordinates=None,
              dtype=None, partials_lowering="auto"):
    """The Laplacian sum_i d^2 f_j / dx_i^2 at each point, [batch, d_out]:
    over every input, or over `coordinates` (e.g. [0, 1]: the spatial ones
    of (x, y, t)). One operator of partials (the collapsed Taylor mode
    where the compiler chooses it); same arguments and transformations."""
    op = "laplacian"
    if coordinates is not None:
        coords = list(coordinates)
        if not coords or any(isinstance(c, bool) or
                             not isinstance(c, (int, np.integer))
                             for c in coords):
            _fail("coordinates must be a non-empty list of input indices, "
                  "not %r" % (coordinates,))
        op += ":" + ",".join(str(int(c)) for c in coords)
    return partials(params, x, layers=layers, activation=activation,
                    operators=[op], dtype=dtype,
                    partials_lowering=partials_lowering)[0]
