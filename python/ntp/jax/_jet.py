#===- jax/_jet.py - ntp.jax.jet: primitives and custom VJP -----------------===#
#
# The jet primitives (ntp_jet, ntp_jet_save, ntp_jet_bwd,
# ntp_jet_bwd_recompute), their shapes, lowerings and batching rules, the
# custom VJP over them (_differentiable), and jet itself.
#
#   ntp_jet       x [I,N,d], v [I,d], p [I,P] -> out [I,n+1,N,q]
#   ntp_jet_save  x, v, p -> out, ws [I,W] (uint8)
#   ntp_jet_bwd   x, v, p, c [I,n+1,N,q], ws -> pg [I,P|0], xg [I,N|0,d],
#                 vg [I,d|0]
#
# Every operand has a leading instance axis I (see NtpJaxFfi.cpp).
#
#===----------------------------------------------------------------------===#
import functools

import numpy as np

import jax
import jax.numpy as jnp
from jax.core import ShapedArray
from jax.interpreters import batching, mlir

from ntp import _fail
from ntp import jax as _package  # _DIRECTION_GRAD_BY_XLA, read at trace time
from ._args import _MAX_ORDER, _array, _check_activation, _prepare
from ._xla import (_dims, _ffi, _kernel, _lowering, _per_instance_batch,
                   _points_batch, _primitive, _reverse_mode, _trace_device,
                   _workspace_bytes)

jet_p = _primitive("ntp_jet", False)
jet_save_p = _primitive("ntp_jet_save", True)
jet_bwd_p = _primitive("ntp_jet_bwd", True)
# x, v, p, c -> pg, xg, vg without a workspace (ntp_backward_full; CPU)
jet_bwd_recompute_p = _primitive("ntp_jet_bwd_recompute", True)


def _jet_abstract(x, v, p, *, spec):
    _, q, n, _, dt = _dims(spec)
    return ShapedArray((x.shape[0], n + 1, x.shape[1], q), dt)


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


for _p, _t in ((jet_p, "ntp_jet"), (jet_save_p, "ntp_jet_save"),
               (jet_bwd_p, "ntp_jet_bwd")):
    mlir.register_lowering(_p, _lowering(_t, "cpu"), platform="cpu")
    mlir.register_lowering(_p, _lowering(_t, "cuda"), platform="cuda")
mlir.register_lowering(jet_bwd_recompute_p,
                       _lowering("ntp_jet_bwd_recompute", "cpu"),
                       platform="cpu")


batching.primitive_batchers[jet_p] = _points_batch(jet_p)
batching.primitive_batchers[jet_save_p] = _per_instance_batch(jet_save_p)
batching.primitive_batchers[jet_bwd_p] = _per_instance_batch(jet_bwd_p)
batching.primitive_batchers[jet_bwd_recompute_p] = _per_instance_batch(
    jet_bwd_recompute_p)


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


@functools.lru_cache(maxsize=None)
def _differentiable(spec):
    @jax.custom_vjp
    def f(x, v, p):
        return jet_p.bind(x[None], v[None], p[None], spec=spec)[0]

    def fwd(x, v, p):
        device = _trace_device()
        how = "saved" if _package._DIRECTION_GRAD_BY_XLA else _reverse_mode(
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
        if device == "cpu" and not _package._DIRECTION_GRAD_BY_XLA:
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


def kernel(layers, activation, order, dtype, device="cpu"):
    """The ntp.Kernel ntp.jax uses for this spec (compiled once, cached)."""
    spec = (tuple(int(w) for w in layers), activation, int(order), dtype)
    return _kernel(spec, device)


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
    _check_activation(activation)
    if isinstance(order, bool) or not isinstance(order, (int, np.integer)):
        _fail("order must be an int, not %s" % type(order).__name__)
    if not 0 <= order <= _MAX_ORDER:
        _fail("order %d is out of range: 0..%d" % (order, _MAX_ORDER))
    x, p, widths, dtype = _prepare(params, x, layers, dtype)
    d = widths[0]
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
