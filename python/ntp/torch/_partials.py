#===- torch/_partials.py - ntp.torch.partials, differentiable --------------===#
#
# partials(net, x, partials, operators): mixed partial derivatives and PDE
# operators of a network by one partials kernel (CPU), and _Partials, the
# autograd Function over ntp_partials_save / ntp_partials_backward_saved
# (ntp_partials / ntp_partials_backward above RECOMPUTE_ABOVE_BYTES).
#
#===----------------------------------------------------------------------===#
import math

import torch

from ntp import Error, ERROR_INVALID_ARGUMENT, ERROR_UNSUPPORTED
from ntp import torch as _package  # RECOMPUTE_ABOVE_BYTES, read at each call
from ntp._compile import (_check_partials_lowering,
                          _check_partials_reverse_lowering)
from ._kernels import _flat, partials_kernel_for
from ._netcache import _describe_cached, _explain, _typed_params
from ._pool import _PartialsPool, _partials_pools, _workspace

_Tensor, _grad_enabled = torch.Tensor, torch.is_grad_enabled


class _Partials(torch.autograd.Function):
    """forward: ntp_partials_save into a pooled workspace; backward:
    ntp_partials_backward_saved on the same buffers (the runtime checks the
    workspace's header against x and params). Above RECOMPUTE_ABOVE_BYTES:
    ntp_partials, then ntp_partials_backward."""

    @staticmethod
    def forward(ctx, k, x, *params):
        flat = _flat(params)  # a copy: later in-place updates do not matter
        n = x.shape[0]
        if k._ws_size(n) > _package.RECOMPUTE_ABOVE_BYTES:
            out = k.partials(x, flat)
            ctx.ntp = (k, x, flat, None, [p.shape for p in params])
            return out
        pool = _partials_pools.get(id(k))
        if pool is None:
            pool = _partials_pools.setdefault(id(k), _PartialsPool(k))
        out, ws = k.partials_save(x, flat, _workspace(pool, n))
        ctx.ntp = (k, x, flat, ws, [p.shape for p in params])
        return out

    @staticmethod
    def backward(ctx, g):
        if _grad_enabled():
            raise Error(ERROR_UNSUPPORTED, "ntp.torch.partials does not "
                        "support double backward (create_graph=True or a "
                        "gradient of its gradient)")
        k, x, flat, ws, shapes = ctx.ntp
        g = g.to(x.dtype).contiguous()
        if ws is None:
            pg, xg = k.partials_backward(
                x, flat, g, need_x_grad=ctx.needs_input_grad[1])
        else:
            pg, xg = k.partials_backward_saved(
                x, flat, g, ws, need_x_grad=ctx.needs_input_grad[1])
        if not any(ctx.needs_input_grad[2:]):
            return (None, xg) + (None,) * len(shapes)
        grads = pg.split_with_sizes([math.prod(s) for s in shapes])
        return (None, xg) + tuple(gr.view(s) for gr, s in zip(grads, shapes))


def partials(net, x, partials=(), operators=(), partials_lowering="auto",
             partials_reverse_lowering="auto"):
    """Partial derivatives of `net` at the points x by one fused ntp kernel:

        out[p, b, j] = D^alpha_p net(x_b)_j,

    the multi-indices `partials` (e.g. [[2, 0], [1, 1], [0, 0]]; [0, 0] is
    net itself) in order, then the named `operators` ("laplacian",
    "biharmonic", "laplacian:0,1" for a subset), as a tensor [P, batch,
    d_out] that autograd differentiates with respect to every parameter of
    net and to x (not twice), through the kernel's generated reverse mode
    (ntp_partials_save / ntp_partials_backward_saved). net as for jet; x
    [batch, d_in] on the CPU, of the parameters' dtype. partials_lowering:
    how the forward propagates its rays ("auto", "per-ray",
    "multi-direction", "collapsed"; ntp.compile); with autograd the forward
    is ntp_partials_save, unless its workspace would exceed
    RECOMPUTE_ABOVE_BYTES: then it is ntp_partials and the backward
    recomputes the rays (the same gradients). partials_reverse_lowering:
    "auto" (the reverse mode follows the forward's lowering where it can)
    or "per-ray" (the reverse mode from per-ray jets beside the forward: a
    larger workspace, the same gradients; ntp.compile)."""
    d = _describe_cached(net)
    if not isinstance(x, _Tensor):
        _explain(d, x)
    rows = tuple(tuple(int(e) for e in r) for r in partials)
    ops = tuple(str(o) for o in operators)
    if not rows and not ops:
        raise Error(ERROR_INVALID_ARGUMENT, "partials and operators are both "
                    "empty: request at least one partial derivative")
    params, grad_p = [], False
    if d.typed:
        params, grad_p = _typed_params(d, x)
        if any(p.device != x.device for p in params):
            _explain(d, x)
    for m, ws, bs in d.layers:
        w, b = m.weight, m.bias
        if (w is None or b is None or w.dtype is not x.dtype
                or b.dtype is not x.dtype or w.device != x.device
                or b.device != x.device or w.shape != ws or b.shape != bs):
            _explain(d, x)
        grad_p = grad_p or w.requires_grad or b.requires_grad
        params += [w, b]
    if x.is_cuda:
        raise Error(ERROR_UNSUPPORTED, "ntp.torch.partials runs on the CPU "
                    "only (partials kernels are compiled for the CPU only so "
                    "far)")
    widths = d.widths
    if x.dim() != 2 or x.shape[1] != widths[0]:
        raise Error(ERROR_INVALID_ARGUMENT, "x has shape %s, expected "
                    "[batch, %d]" % (list(x.shape), widths[0]))
    _check_partials_lowering(partials_lowering)
    _check_partials_reverse_lowering(partials_reverse_lowering)
    k = partials_kernel_for(widths, d.act, rows, ops, x.dtype,
                            partials_lowering, d.typed,
                            partials_reverse_lowering)
    x = x.contiguous()
    if not (grad_p or x.requires_grad) or not _grad_enabled():
        return k.partials(x, _flat(params))
    return _Partials.apply(k, x, *params)
