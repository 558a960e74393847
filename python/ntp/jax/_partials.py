#===- jax/_partials.py - ntp.jax.partials and laplacian --------------------===#
#
# The partials primitives (CPU and CUDA), their shapes, lowerings and
# batching rules, the custom VJP over them (_differentiable_partials), and
# partials and laplacian themselves.
#
#   ntp_partials       x [I,N,d], p [I,P] -> out [I,R,N,q]
#   ntp_partials_save  x, p -> out, ws [I,W] (uint8)
#   ntp_partials_bwd   x, p, c [I,R,N,q], ws -> pg [I,P|0], xg [I,N|0,d]
#   ntp_partials_bwd_recompute  x, p, c -> pg, xg (no workspace)
#
# spec = (widths, activation, (alphas, operators, lowering,
# reverse_lowering), dtype). As for the jets, the save and the backward
# carry the `device` the trace chose (_trace_device): W is that device's
# kernel's workspace size, and the lowering for another platform is
# refused. The forward and the recomputing
# backward take no workspace and lower for the platform XLA asks for.
#
#===----------------------------------------------------------------------===#
import functools

import numpy as np

import jax
from jax.core import ShapedArray
from jax.interpreters import batching, mlir

import ntp
from ntp import _fail
from ._args import _check_activation, _dtype_name, _prepare, _requests
from ._jet import _Wanted
from ._xla import (_dims, _ffi, _kernel, _lowering, _per_instance_batch,
                   _points_batch, _primitive, _reverse_mode, _trace_device,
                   _workspace_bytes)

partials_p = _primitive("ntp_partials", False)
partials_save_p = _primitive("ntp_partials_save", True)
partials_bwd_p = _primitive("ntp_partials_bwd", True)
partials_bwd_recompute_p = _primitive("ntp_partials_bwd_recompute", True)


def _num_requests(spec):
    """R: the multi-indices, then the operators, one row each (the order of
    ntp_partials' out; each handler checks it against its kernel)."""
    alphas, operators = spec[2][:2]
    return len(alphas) + len(operators)


def _partials_abstract(x, p, *, spec):
    _, q, _, _, dt = _dims((spec[0], None, 0, spec[3]))
    return ShapedArray((x.shape[0], _num_requests(spec), x.shape[1], q), dt)


def _partials_save_abstract(x, p, *, spec, device):
    return [_partials_abstract(x, p, spec=spec),
            ShapedArray((x.shape[0], _workspace_bytes(spec, x.shape[1],
                                                      device)), np.uint8)]


def _partials_bwd_abstract(x, p, c, ws, *, spec, device, need_p, need_x):
    d, _, _, num_params, dt = _dims((spec[0], None, 0, spec[3]))
    i, points = x.shape[0], x.shape[1]
    return [ShapedArray((i, num_params if need_p else 0), dt),
            ShapedArray((i, points if need_x else 0, d), dt)]


def _partials_bwd_recompute_abstract(x, p, c, *, spec, need_p, need_x):
    return _partials_bwd_abstract(x, p, c, None, spec=spec, device=None,
                                  need_p=need_p, need_x=need_x)


partials_p.def_abstract_eval(_partials_abstract)
partials_save_p.def_abstract_eval(_partials_save_abstract)
partials_bwd_p.def_abstract_eval(_partials_bwd_abstract)
partials_bwd_recompute_p.def_abstract_eval(_partials_bwd_recompute_abstract)


for _p, _t in ((partials_p, "ntp_partials"),
               (partials_save_p, "ntp_partials_save"),
               (partials_bwd_p, "ntp_partials_bwd"),
               (partials_bwd_recompute_p, "ntp_partials_bwd_recompute")):
    mlir.register_lowering(_p, _lowering(_t, "cpu"), platform="cpu")
    mlir.register_lowering(_p, _lowering(_t, "cuda"), platform="cuda")


batching.primitive_batchers[partials_p] = _points_batch(partials_p)
batching.primitive_batchers[partials_save_p] = _per_instance_batch(
    partials_save_p)
batching.primitive_batchers[partials_bwd_p] = _per_instance_batch(
    partials_bwd_p)
batching.primitive_batchers[partials_bwd_recompute_p] = _per_instance_batch(
    partials_bwd_recompute_p)


def _partials_reverse_mode(spec, device):
    """None when jax.grad of this partials kernel can run, else why not."""
    try:
        _kernel(spec, device).workspace_size(1)
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
        device = _trace_device()
        why = _partials_reverse_mode(spec, device)
        if why is not None:
            _fail(why, ntp.ERROR_UNSUPPORTED)
        # On CUDA always the saved pair (RECOMPUTE_ABOVE_BYTES is about
        # host memory; the runtime's recomputing GPU call would take the
        # same scratch on the stream).
        wanted = _Wanted(x.perturbed, False, p.perturbed, device,
                         how=_reverse_mode(spec, x.value.shape[0], device))
        if wanted.how == "recompute":
            out = partials_p.bind(x.value[None], p.value[None], spec=spec)
            return out[0], (x.value, p.value, None, wanted)
        out, ws = partials_save_p.bind(x.value[None], p.value[None],
                                       spec=spec, device=device)
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
                                         spec=spec, device=wanted.device,
                                         need_p=need_p, need_x=need_x)
        return (xg[0] if need_x else None, pg[0] if need_p else None)

    f.defvjp(fwd, bwd, symbolic_zeros=True)
    return f


def partials_kernel(layers, activation, partials=(), operators=(),
                    dtype="float64", partials_lowering="auto", device="cpu",
                    partials_reverse_lowering="auto"):
    """The partials ntp.Kernel ntp.jax uses for this request, forward
    lowering and reverse-mode lowering on `device` ("cpu" or "cuda";
    compiled once, cached)."""
    spec = (tuple(int(w) for w in layers), activation,
            _requests(partials, operators, len(layers) and int(layers[0]),
                      partials_lowering, partials_reverse_lowering),
            _dtype_name(dtype, "dtype"))
    return _kernel(spec, device)  # ntp.compile refuses other devices


def partials(params, x, *, layers=None, activation, partials=(),
             operators=(), dtype=None, partials_lowering="auto",
             partials_reverse_lowering="auto"):
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
    ntp.Error saying so. On a CUDA backend the same primitives lower to
    the CUDA handlers (NVPTX kernels on XLA's stream; CUDA_COMPILE_OPTIONS).
    partials_lowering: how the forward propagates its rays ("auto",
    "per-ray", "multi-direction", "collapsed"; ntp.compile); under
    jax.grad the forward is the reverse mode's save, unless (CPU) its
    workspace would exceed RECOMPUTE_ABOVE_BYTES: then it is this forward
    and the backward recomputes the rays (the same gradients).
    partials_reverse_lowering: "auto" (the reverse mode follows the
    forward's lowering where it can) or "per-ray" (the reverse mode from
    per-ray jets beside the forward: a larger workspace, the same
    gradients; ntp.compile)."""
    _check_activation(activation)
    x, p, widths, dtype = _prepare(params, x, layers, dtype)
    request = _requests(partials, operators, widths[0], partials_lowering,
                        partials_reverse_lowering)
    spec = (widths, activation, request, dtype)
    _kernel(spec, _trace_device())  # compile now: errors here, not lowering
    _ffi()
    return _differentiable_partials(spec)(x, p)


def laplacian(params, x, *, layers=None, activation, coordinates=None,
              dtype=None, partials_lowering="auto",
              partials_reverse_lowering="auto"):
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
                    partials_lowering=partials_lowering,
                    partials_reverse_lowering=partials_reverse_lowering)[0]
