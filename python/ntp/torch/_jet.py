#===- torch/_jet.py - ntp.torch.jet, differentiable ------------------------===#
#
# jet(net, x, order, direction): the per-call path (written for speed,
# benchmarks/python_step.py) and _Jet, the autograd Function over
# ntp_forward_save / ntp_backward_saved (ntp_forward / ntp_backward_full
# above RECOMPUTE_ABOVE_BYTES of workspace).
#
#===----------------------------------------------------------------------===#
import torch
from torch import nn

import ntp
from ntp import Error, ERROR_INVALID_ARGUMENT, ERROR_UNSUPPORTED
from ntp import torch as _package  # RECOMPUTE_ABOVE_BYTES, read at each call
from . import _netcache
from ._compile import _compiling, _custom_op
from ._kernels import _flat, kernel_for
from ._netcache import _describe_cached, _explain, _typed_params
from ._pool import _Fast, _workspace

# The per-call path below runs on every training step, so it is written for
# speed (benchmarks/python_step.py measures it): what does not change between
# calls (the module walk, the kernel, the expected shapes) is kept per net and
# revalidated by identity; what can change (every parameter tensor, its
# dtype, device, shape and requires_grad; x; Softplus attributes) is read and
# checked at every call, and a failed check goes to the slow path that says
# exactly what is wrong.

_Linear, _Sequential, _Tensor = nn.Linear, nn.Sequential, torch.Tensor
_empty, _empty_like = torch.empty, torch.empty_like
_grad_enabled = torch.is_grad_enabled
_ones = {}  # dtype -> a CPU tensor [1] holding 1: the default direction


def _ones_ptr(dtype):
    t = _ones.get(dtype)
    if t is None:
        t = _ones.setdefault(dtype, torch.ones(1, dtype=dtype))
    return t.data_ptr()


class _Jet(torch.autograd.Function):
    """forward: ntp_forward_save; backward: ntp_backward_saved on the same
    buffers (above RECOMPUTE_ABOVE_BYTES of workspace: ntp_forward, then
    ntp_backward_full). jet() checked every argument (dtype, device, shapes); the
    runtime checks that the workspace was saved for this very x, direction
    and params (a hash in its header)."""

    @staticmethod
    def forward(ctx, run, x, v, *params):
        k, fast, n, pv, layout, grad_p = run
        flat = _flat(params)  # a copy: later in-place updates do not matter
        if fast is None:  # CUDA: forward only (backward refuses, below)
            ctx.ntp = (k, None)
            return k.forward(x, flat, v)
        shape = (fast.rows, n, fast.cols)
        out = _empty(shape, dtype=x.dtype)
        px, pp = x.data_ptr(), flat.data_ptr()
        if fast.kernel._ws_size(n) > _package.RECOMPUTE_ABOVE_BYTES:
            ws = pw = None  # the backward recomputes (ntp_backward_full)
            st = fast.forward(fast.h, px, pv, pp, out.data_ptr(), n)
        else:
            ws = _workspace(fast, n)
            pw = ws.data_ptr()
            st = fast.forward_save(fast.h, px, pv, pp, out.data_ptr(), pw, n)
        if st:
            ntp._check(st)
        # x, v, flat and ws stay alive with ctx: the pointers point into them.
        ctx.ntp = (k, fast, n, x, v, flat, ws, px, pv, pp, pw, layout, shape,
                   grad_p)
        return out

    @staticmethod
    def backward(ctx, g):
        if _grad_enabled():
            raise Error(ERROR_UNSUPPORTED, "ntp.torch.jet does not support "
                        "double backward (create_graph=True or a gradient "
                        "of its gradient); the jet itself already holds the "
                        "input derivatives up to its order")
        saved = ctx.ntp
        k, fast = saved[0], saved[1]
        if fast is None:
            raise Error(ERROR_UNSUPPORTED, "ntp.torch.jet has no backward on "
                        "%s (ntp's CUDA kernels are forward only); run it "
                        "under torch.no_grad()" % k.device)
        _, _, n, x, _, _, _, px, pv, pp, pw, layout, shape, grad_p = saved
        dtype = x.dtype
        if g.dtype is not dtype:
            g = g.to(dtype)
        g = g.contiguous()
        if g.shape != shape:  # autograd's promise
            raise Error(ntp.ERROR_INTERNAL, "ntp.torch.jet got a gradient "
                        "of shape %s" % list(g.shape))
        sizes, shapes = layout
        pg = _empty(fast.num_params, dtype=dtype) if grad_p else None
        xg = _empty_like(x) if ctx.needs_input_grad[1] else None
        pgp = None if pg is None else pg.data_ptr()
        xgp = None if xg is None else xg.data_ptr()
        if pw is None:
            st = fast.backward_full(fast.h, px, pv, pp, g.data_ptr(), pgp,
                                    xgp, n)
        else:
            st = fast.backward_saved(fast.h, px, pv, pp, g.data_ptr(), pgp,
                                     xgp, pw, n)
        if st:
            ntp._check(st)
        if pg is None:
            return (None, xg, None) + (None,) * len(sizes)
        # One split into [W_1, b_1, ...] views, then each weight viewed 2-D
        # (biases are 1-D already): L + 1 ops instead of unflatten's 4L.
        grads = [None, xg, None]
        grads += pg.split_with_sizes(sizes)
        for i, shape in shapes:
            grads[i] = grads[i].view(shape)
        return tuple(grads)


def _direction(x, direction, d_in):
    if direction is None:
        if d_in != 1:
            raise Error(ERROR_INVALID_ARGUMENT, "direction is required: the "
                        "network has %d inputs (direction=None means v = 1 "
                        "for one input only)" % d_in)
        return None
    v = torch.as_tensor(direction, dtype=x.dtype, device=x.device)
    if v.shape != (d_in,):
        raise Error(ERROR_INVALID_ARGUMENT, "direction has shape %s, "
                    "expected [%d]" % (list(v.shape), d_in))
    return v.detach().contiguous()


def jet(net, x, order, direction=None):
    """The jet of `net` at the points x along `direction`:

        out[k, b, j] = d^k/dt^k net(x_b + t v)_j at t = 0,  k = 0..order,

    a tensor [(order+1), batch, d_out] differentiable with respect to every
    parameter of net and to x (not twice). net: an nn.Sequential of
    nn.Linear and activation modules (nn.Tanh, nn.Sigmoid, nn.SiLU, nn.GELU,
    ntp.torch.Sin, nn.Identity, nn.Softplus(threshold=float('inf'))), or an
    ntp.torch.MLP; with typed layers, also ntp.torch.FourierFeatures (first),
    AdaptiveActivation and Residual (describe_network says what goes where).
    x: [batch, d_in] (or [batch] for one input), of the parameters' dtype
    (float32/float64) and device; a non-contiguous x is copied. direction:
    [d_in]; None means v = 1 and needs d_in = 1. Parameters are read from
    net at every call."""
    # The common case first: the same net as last time.
    last_ref, d = _netcache._last
    if (type(net) is not _Sequential or last_ref() is not net or d.softplus
            or not d.current()):
        d = _describe_cached(net)
    if type(x) is not _Tensor and not isinstance(x, _Tensor):
        _explain(d, x)
    # Every parameter, read live (when m is exactly nn.Linear, through its
    # _parameters: the same tensor as m.weight without nn.Module.__getattr__),
    # checked against x's dtype and device and the shape the layers need.
    dtype, cuda = x.dtype, x.is_cuda
    params, grad_p = [], False
    if d.typed:  # (d.layers is empty then)
        params, grad_p = _typed_params(d, x)
    for m, ws, bs in d.layers:
        if type(m) is _Linear:
            pd = m._parameters
            try:
                w, b = pd["weight"], pd["bias"]
            except KeyError:  # e.g. weight_norm keeps weight elsewhere
                w, b = m.weight, m.bias
        else:  # a subclass, or functional_call's stand-in class
            w, b = m.weight, m.bias
        if (w is None or b is None or w.dtype is not dtype
                or b.dtype is not dtype or w.is_cuda is not cuda
                or b.is_cuda is not cuda or w.shape != ws or b.shape != bs):
            _explain(d, x)
        if w.requires_grad or b.requires_grad:
            grad_p = True
        params.append(w)
        params.append(b)
    if cuda:
        dev = x.get_device()
        if any(p.get_device() != dev for p in params):
            _explain(d, x)
    widths = d.widths
    dim = x.dim()
    if dim == 1 and widths[0] == 1:
        x, dim = x.reshape(-1, 1), 2
    if dim != 2 or x.shape[1] != widths[0]:
        raise Error(ERROR_INVALID_ARGUMENT, "x has shape %s, expected "
                    "[batch, %d]" % (list(x.shape), widths[0]))
    key = (order, dtype, dev) if cuda else (order, dtype)
    entry = d.kernels.get(key)
    if entry is None:
        if type(order) is not int or order < 0:
            raise Error(ERROR_INVALID_ARGUMENT, "order must be an int >= 0, "
                        "not %r" % (order,))
        kernel = kernel_for(widths, d.act, order, dtype, x.device, d.typed)
        entry = d.kernels[key] = (kernel, None if cuda else _Fast(kernel))
    kernel, fast = entry
    x = x.contiguous()
    if direction is None and widths[0] == 1:
        v, pv = None, None if cuda else _ones_ptr(dtype)
    else:
        v = _direction(x, direction, widths[0])
        pv = None if cuda else v.data_ptr()
    if _custom_op is not None and not d.typed and _compiling():
        return _custom_op(x, v, widths, d.act, order, *params)
    if not (grad_p or x.requires_grad) or not _grad_enabled():
        # Nothing to differentiate: the plain forward, no autograd node (and
        # no graph recorded by the flattening, for the same reason).
        flat = _flat(params)
        if cuda:
            return kernel.forward(x, flat, v)
        n = x.shape[0]
        out = _empty((fast.rows, n, fast.cols), dtype=dtype)
        st = fast.forward(fast.h, x.data_ptr(), pv, flat.data_ptr(),
                          out.data_ptr(), n)
        if st:
            ntp._check(st)
        return out
    return _Jet.apply((kernel, fast, x.shape[0], pv, d.layout, grad_p), x, v,
                      *params)
