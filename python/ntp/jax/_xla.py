#===- jax/_xla.py - The FFI library, kernels and primitives ----------------===#
#
# What every ntp.jax primitive rests on: _ffi() loads _ntp_jax_ffi.so and
# registers its targets with XLA (once); _kernel compiles a spec once and
# keeps it for the process (the custom calls name it by handle); _primitive
# makes a primitive whose eager calls run it under jax.jit; _lowering is a
# primitive's lowering to its custom call; and the batching rules join a
# vmapped axis of x to the points (_points_batch) or make it per-instance
# calls (_per_instance_batch).
#
#===----------------------------------------------------------------------===#
import ctypes
import functools
import os
import threading

import numpy as np

import jax
import jax.numpy as jnp
from jax.extend.core import Primitive

import ntp
from ntp import _fail
from ntp import jax as _package  # RECOMPUTE_ABOVE_BYTES, read at trace time

_lock = threading.RLock()
_kernels = {}  # (spec, device[, CUDA options]) -> ntp.Kernel, kept for
               # the process
_lib = None


def _ffi():
    """_ntp_jax_ffi.so with its targets registered with XLA (once)."""
    global _lib
    if _lib is None:
        with _lock:
            if _lib is None:
                ntp._capi.runtime()  # the one runtime the handlers link
                # In ntp/, beside this package (python/CMakeLists.txt).
                path = os.path.join(os.path.dirname(os.path.dirname(
                    os.path.abspath(__file__))), "_ntp_jax_ffi.so")
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


_CUDA_OPTION_NAMES = ("gpu_format", "gpu_mapping", "chip")


def _cuda_options():
    """CUDA_COMPILE_OPTIONS, checked, as a hashable tuple."""
    opts = _package.CUDA_COMPILE_OPTIONS
    if not hasattr(opts, "items"):
        _fail("ntp.jax.CUDA_COMPILE_OPTIONS must be a dict, not %s" %
              type(opts).__name__)
    for name in opts:
        if name not in _CUDA_OPTION_NAMES:
            _fail("ntp.jax.CUDA_COMPILE_OPTIONS takes %s, not %r" % (
                ", ".join(_CUDA_OPTION_NAMES), name))
    return tuple(sorted(opts.items()))


def _kernel(spec, device):
    """A jet spec (layers, activation, order, dtype) or a partials spec
    (layers, activation, (alphas, operators, lowering, reverse_lowering),
    dtype), compiled once (CUDA: once per CUDA_COMPILE_OPTIONS)."""
    options = _cuda_options() if device == "cuda" else ()
    key = (spec, device) + ((options,) if options else ())
    k = _kernels.get(key)
    if k is None:
        with _lock:
            k = _kernels.get(key)
            if k is None:
                layers, activation, order, dtype = spec
                if isinstance(order, tuple):
                    alphas, operators, lowering, reverse = order
                    # "auto" as None: the JIT's disk-cache key of a kernel
                    # without it, which "auto" compiles the same.
                    if reverse == "auto":
                        reverse = None
                    k = ntp.compile(list(layers), activation, 0, dtype,
                                    device=device, partials=list(alphas),
                                    operators=list(operators),
                                    partials_lowering=lowering,
                                    partials_reverse_lowering=reverse,
                                    **dict(options))
                else:
                    # CUDA kernels carry the reverse mode too (the JIT's
                    # --gpu-backward): jax.grad runs on XLA's stream.
                    k = ntp.compile(list(layers), activation, order, dtype,
                                    device=device, **dict(options))
                _kernels[key] = k
    return k


def _handle(spec, device):
    return np.int64(_kernel(spec, device)._h.value)


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


def _reverse_mode(spec, points, device="cpu"):
    """"saved" or "recompute": how jax.grad runs `spec` at `points` points
    per call (RECOMPUTE_ABOVE_BYTES)."""
    if device != "cpu":
        return "saved"
    ws = _kernel(spec, device).workspace_size(max(int(points), 1))
    return "recompute" if ws > _package.RECOMPUTE_ABOVE_BYTES else "saved"


def _workspace_bytes(spec, points, device="cpu"):
    return _kernel(spec, device).workspace_size(points)


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
    """Where the computation being traced will run: the default backend, or
    _package._TRACE_DEVICE when set (tests that lower for CUDA on a machine
    without a GPU)."""
    forced = _package._TRACE_DEVICE
    if forced is not None:
        if forced not in ("cpu", "cuda"):
            _fail("ntp.jax._TRACE_DEVICE must be None, 'cpu' or 'cuda', not "
                  "%r" % (forced,))
        return forced
    return "cuda" if jax.default_backend() in ("gpu", "cuda") else "cpu"


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


def _points_batch(prim):
    """vmap of a primitive with one output whose operands are x and what it
    shares (direction, params): a vmapped axis of x alone joins the points,
    one kernel call for all of them; else one call per instance."""
    def rule(args, dims, *, spec):
        size = _axis_size(args, dims)
        if all(d is None for d in dims[1:]):
            x = jnp.moveaxis(args[0], dims[0], 1)  # [I, B, N, d]
            i, _, points, d = x.shape
            out = prim.bind(x.reshape(i, size * points, d), *args[1:],
                            spec=spec)
            return out.reshape(i, out.shape[1], size, points,
                               out.shape[3]), 2
        out = prim.bind(*_instances(args, dims, size), spec=spec)
        return _split(out, size), 0
    return rule


def _per_instance_batch(prim):
    def rule(args, dims, **params):
        size = _axis_size(args, dims)
        outs = prim.bind(*_instances(args, dims, size), **params)
        return [_split(o, size) for o in outs], [0] * len(outs)
    return rule
