#===- torch.py - ntp kernels as differentiable PyTorch functions -----------===#
#
# ntp.torch.jet(net, x, order) computes the jet of an nn.Sequential MLP with
# a compiled ntp kernel and returns it as a tensor [(order+1), batch, d_out]
# that autograd differentiates with respect to every parameter of net and to
# x: a torch.autograd.Function over ntp_forward_save / ntp_backward_saved
# (ntp's generated reverse mode, no recomputation). Kernels are compiled
# once per (widths, activation, order, dtype, device) and kept for the
# process (and in the JIT's disk cache across processes).
#
#===----------------------------------------------------------------------===#
import math
import threading
import weakref

import torch
from torch import nn

import ntp
from ntp import Error, ERROR_INVALID_ARGUMENT, ERROR_UNSUPPORTED

__all__ = ["jet", "Sin", "MLP", "kernel_for", "describe"]


class Sin(nn.Module):
    """sin as a module, so that sin networks can be nn.Sequential."""

    def forward(self, x):
        return torch.sin(x)


_ACTIVATIONS = {nn.Tanh: "tanh", nn.Sigmoid: "sigmoid", Sin: "sin",
                nn.Identity: "identity"}
_MODULES = {"tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "sin": Sin,
            "identity": nn.Identity,
            "softplus": lambda: nn.Softplus(threshold=math.inf)}


class MLP(nn.Module):
    """An MLP in ntp's shape: Linear layers with one activation between
    them (none after the last). `net` is the nn.Sequential; MLP(x) is
    net(x) and ntp.torch.jet(mlp, x, n) its jet."""

    def __init__(self, layers, activation="tanh", dtype=None, device=None):
        super().__init__()
        if activation not in _MODULES:
            raise Error(ERROR_INVALID_ARGUMENT,
                        "activation must be one of %s, not %r" % (
                            ", ".join(sorted(_MODULES)), activation))
        mods = []
        for i in range(len(layers) - 1):
            mods.append(nn.Linear(layers[i], layers[i + 1], dtype=dtype,
                                  device=device))
            if i + 2 < len(layers):
                mods.append(_MODULES[activation]())
        self.net = nn.Sequential(*mods)
        self.layers, self.activation = tuple(layers), activation

    def forward(self, x):
        return self.net(x)


def _refuse(what, why):
    raise Error(ERROR_UNSUPPORTED, "ntp.torch.jet cannot compile %s: %s"
                % (what, why))


def _activation_of(m, where):
    if isinstance(m, nn.Softplus):
        if m.beta != 1:
            _refuse(where + " (nn.Softplus(beta=%g))" % m.beta,
                    "ntp's softplus has beta 1")
        if not math.isinf(m.threshold):
            _refuse(where + " (nn.Softplus(threshold=%g))" % m.threshold,
                    "nn.Softplus returns x itself above the threshold, and "
                    "its derivatives there are those of x, not of "
                    "softplus; ntp's softplus has no threshold, so the jets "
                    "would differ. Use nn.Softplus(threshold=float('inf'))"
                    ", the exact softplus")
        return "softplus"
    for cls, name in _ACTIVATIONS.items():
        if type(m) is cls:
            return name
    _refuse(where + " (%s)" % type(m).__name__,
            "not an activation ntp has (nn.Tanh, nn.Sigmoid, "
            "nn.Softplus(threshold=inf), nn.Identity, ntp.torch.Sin)")


def _flatten(net, prefix):
    for name, m in net.named_children():
        where = "%s.%s" % (prefix, name) if prefix else name
        if type(m) is nn.Sequential:
            yield from _flatten(m, where)
        else:
            yield where, m


def describe(net):
    """(widths, activation, [nn.Linear...]) of an MLP ntp can compile, or
    ntp.Error naming the first module it cannot."""
    if isinstance(net, MLP):
        net = net.net
    if type(net) is not nn.Sequential:
        _refuse("a %s" % type(net).__name__,
                "ntp.torch.jet takes an nn.Sequential of nn.Linear and "
                "activation modules (or an ntp.torch.MLP); a model with its "
                "own forward could compute anything")
    mods = list(_flatten(net, ""))
    if not mods:
        _refuse("an empty nn.Sequential", "there is no layer")
    linears, widths, act = [], [], None
    expect_linear = True
    for where, m in mods:
        if expect_linear:
            if not isinstance(m, nn.Linear):
                _refuse("module %s (%s)" % (where, type(m).__name__),
                        "expected an nn.Linear here (ntp's networks "
                        "alternate Linear layers and one activation)")
            if m.bias is None:
                _refuse("module %s (Linear without bias)" % where,
                        "ntp's layers have a bias; use bias=True (zero it if "
                        "you want none)")
            if widths and m.in_features != widths[-1]:
                _refuse("module %s" % where, "in_features %d does not match "
                        "the previous layer's %d" % (m.in_features,
                                                     widths[-1]))
            if not widths:
                widths.append(m.in_features)
            widths.append(m.out_features)
            linears.append(m)
        else:
            a = _activation_of(m, "module " + where)
            if act is not None and a != act:
                _refuse("module %s (%s)" % (where, type(m).__name__),
                        "mixed activations (%s, then %s): an ntp kernel has "
                        "one activation for all hidden layers" % (act, a))
            act = a
        expect_linear = not expect_linear
    if expect_linear:  # ended on an activation
        _refuse("module %s (%s)" % (mods[-1][0], type(mods[-1][1]).__name__),
                "an activation after the last Linear layer; ntp's networks "
                "end with a Linear layer")
    return tuple(widths), act or "identity", linears


_cache = {}
_cache_lock = threading.Lock()

try:  # one C++ call instead of a reshape per parameter and a cat (and
    # a slice and a view per parameter back)
    from torch._utils import _flatten_dense_tensors as _flat
    from torch._utils import _unflatten_dense_tensors as _unflat
except ImportError:  # pragma: no cover
    def _flat(params):
        return torch.cat([p.reshape(-1) for p in params])

    def _unflat(flat, params):
        out, off = [], 0
        for p in params:
            out.append(flat[off:off + p.numel()].view(p.shape))
            off += p.numel()
        return out


def kernel_for(widths, activation, order, dtype, device):
    """The process-wide kernel for this network shape (compiled once)."""
    dname = {torch.float32: "float32", torch.float64: "float64"}.get(dtype)
    if dname is None:
        raise Error(ERROR_INVALID_ARGUMENT, "ntp computes in float32 or "
                    "float64, not %s" % dtype)
    key = (widths, activation, int(order), dname, str(device))
    k = _cache.get(key)
    if k is None:
        with _cache_lock:  # one compile per key, even from many threads
            k = _cache.get(key)
            if k is None:
                k = ntp.compile(list(widths), activation, int(order), dname,
                                device.type,
                                backward=(device.type == "cpu"))
                _cache[key] = k
    return k


class _Jet(torch.autograd.Function):
    """forward: ntp_forward_save (arguments checked by Kernel.forward_save);
    backward: ntp_backward_saved on the same, already checked buffers."""

    @staticmethod
    def forward(ctx, kernel, x, v, *params):
        flat = _flat(params)  # under no_grad here
        xd = x.detach()
        k = kernel
        if k.device == "cpu":
            # jet() checked x (contiguous [batch, d_in], the kernel's dtype,
            # on the CPU) and the parameters' dtype and device; what is left
            # to check is the parameter count (a weight of the wrong shape).
            n = xd.shape[0]
            if flat.numel() != k.num_params:
                raise Error(ERROR_INVALID_ARGUMENT, "net has %d parameters "
                            "but its layers %s need %d; a weight or bias "
                            "has the wrong shape" % (
                                flat.numel(), list(k.layers), k.num_params))
            out = torch.empty((k.order + 1, n, k.output_dim), dtype=xd.dtype)
            ws = torch.empty(k._ws_size(n), dtype=torch.uint8)
            ctx.ptrs = (xd.data_ptr(), k._direction(xd, v), flat.data_ptr(),
                        ws.data_ptr())
            px, pv, pp, pw = ctx.ptrs
            ntp._check(k._lib.ntp_forward_save(k._h, px, pv, pp,
                                               out.data_ptr(), pw, n))
        else:
            out, ws = k.forward(xd, flat, v), None
        # Kept alive with ctx: the pointers above point into them.
        ctx.kernel, ctx.keep = kernel, (xd, v, flat, ws)
        ctx.params = params  # for their shapes
        return out

    @staticmethod
    def backward(ctx, g):
        if torch.is_grad_enabled():
            raise Error(ERROR_UNSUPPORTED, "ntp.torch.jet does not support "
                        "double backward (create_graph=True or a gradient "
                        "of its gradient); the jet itself already holds the "
                        "input derivatives up to its order")
        k = ctx.kernel
        xd, _, flat, ws = ctx.keep
        if ws is None:
            raise Error(ERROR_UNSUPPORTED, "ntp.torch.jet has no backward on "
                        "%s (ntp's CUDA kernels are forward only); run it "
                        "under torch.no_grad()" % k.device)
        g = g.contiguous()
        if g.dtype is not xd.dtype:
            g = g.to(xd.dtype)
        n = xd.shape[0]
        if g.shape != (k.order + 1, n, k.output_dim):  # autograd's promise
            raise Error(ntp.ERROR_INTERNAL, "ntp.torch.jet got a gradient "
                        "of shape %s" % list(g.shape))
        pg = torch.empty(k.num_params, dtype=xd.dtype)
        xg = torch.empty_like(xd) if ctx.needs_input_grad[1] else None
        px, pv, pp, pw = ctx.ptrs
        ntp._check(k._lib.ntp_backward_saved(
            k._h, px, pv, pp, g.data_ptr(), pg.data_ptr(),
            None if xg is None else xg.data_ptr(), pw, n))
        return (None, xg, None) + tuple(_unflat(pg, ctx.params))


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


def _leaves(net):
    out = []
    for m in net._modules.values():
        if type(m) is nn.Sequential:
            out.extend(_leaves(m))
        else:
            out.append(m)
    return out


class _Described:
    """describe(net), kept while net's modules stay the same objects."""

    def __init__(self, net, leaves):
        self.leaves = leaves
        self.widths, self.act, self.linears = describe(net)
        self.softplus = [m for m in leaves if isinstance(m, nn.Softplus)]
        self.kernels = {}


_described = weakref.WeakKeyDictionary()
_described_lock = threading.Lock()


def _describe_cached(net):
    if isinstance(net, MLP):
        net = net.net
    if type(net) is not nn.Sequential:
        describe(net)  # raises, naming what net is
    leaves = _leaves(net)
    d = _described.get(net)
    if d is None or d.leaves != leaves:
        d = _Described(net, leaves)
        with _described_lock:
            _described[net] = d
    for m in d.softplus:  # attributes are not structure: check them again
        _activation_of(m, "a Softplus module")
    return d


def jet(net, x, order, direction=None):
    """The jet of `net` at the points x along `direction`:

        out[k, b, j] = d^k/dt^k net(x_b + t v)_j at t = 0,  k = 0..order,

    a tensor [(order+1), batch, d_out] differentiable with respect to every
    parameter of net and to x (not twice). net: an nn.Sequential of
    nn.Linear and activation modules (nn.Tanh, nn.Sigmoid, ntp.torch.Sin,
    nn.Identity, nn.Softplus(threshold=float('inf'))), or an ntp.torch.MLP.
    x: [batch, d_in] (or [batch] for one input), of the parameters' dtype
    (float32/float64) and device; a non-contiguous x is copied. direction:
    [d_in]; None means v = 1 and needs d_in = 1. Parameters are read from
    net at every call."""
    d = _describe_cached(net)
    widths = d.widths
    params = []
    for m in d.linears:
        params.append(m.weight)
        params.append(m.bias)
    p0 = params[0]
    dtype, cuda = p0.dtype, p0.is_cuda
    for p in params:
        if p is None or p.dtype is not dtype or p.is_cuda is not cuda:
            if p is None:
                _refuse("a Linear layer whose bias is None", "ntp's layers "
                        "have a bias")
            raise Error(ERROR_INVALID_ARGUMENT, "the parameters of net "
                        "mix dtypes or devices (%s on %s and %s on %s)"
                        % (dtype, p0.device, p.dtype, p.device))
    if not isinstance(x, torch.Tensor):
        raise Error(ERROR_INVALID_ARGUMENT, "x must be a tensor, not %s"
                    % type(x).__name__)
    if (x.dtype is not dtype or x.is_cuda is not cuda
            or (cuda and x.get_device() != p0.get_device())):
        raise Error(ERROR_INVALID_ARGUMENT, "x is %s on %s but net's "
                    "parameters are %s on %s" % (x.dtype, x.device, dtype,
                                                 p0.device))
    if x.dim() == 1 and widths[0] == 1:
        x = x.reshape(-1, 1)
    if x.dim() != 2 or x.shape[1] != widths[0]:
        raise Error(ERROR_INVALID_ARGUMENT, "x has shape %s, expected "
                    "[batch, %d]" % (list(x.shape), widths[0]))
    key = (order, dtype, p0.get_device() if cuda else -1)
    kernel = d.kernels.get(key)
    if kernel is None:
        if type(order) is not int or order < 0:
            raise Error(ERROR_INVALID_ARGUMENT, "order must be an int >= 0, "
                        "not %r" % (order,))
        kernel = kernel_for(widths, d.act, order, dtype, p0.device)
        d.kernels[key] = kernel
    x = x.contiguous()
    v = None if direction is None and widths[0] == 1 else _direction(
        x, direction, widths[0])
    if _custom_op is not None and _compiling():
        return _custom_op(x, v, widths, d.act, order, *params)
    if not torch.is_grad_enabled() or not (x.requires_grad or any(
            p.requires_grad for p in params)):
        # Nothing to differentiate: the plain forward, no autograd node.
        with torch.no_grad():
            flat = _flat(params)
        return kernel.forward(x, flat, v)
    return _Jet.apply(kernel, x, v, *params)


#===----------------------------------------------------------------------===#
# torch.compile: a custom op with a fake implementation (torch >= 2.4 only).
# Debian's torch is 1.13, so this path is written but untested here.
#===----------------------------------------------------------------------===#

_custom_op = None


def _compiling():
    c = getattr(torch, "compiler", None)
    return c is not None and hasattr(c, "is_compiling") and c.is_compiling()


def _register_custom_op():
    global _custom_op
    lib = getattr(torch, "library", None)
    if lib is None or not hasattr(lib, "custom_op"):
        return
    from typing import List, Optional

    @lib.custom_op("ntp::jet", mutates_args=())
    def jet_op(x: torch.Tensor, v: Optional[torch.Tensor], widths: List[int],
               activation: str, order: int,
               params: List[torch.Tensor]) -> torch.Tensor:
        k = kernel_for(tuple(widths), activation, order, x.dtype, x.device)
        flat = torch.cat([p.reshape(-1) for p in params])
        return k.forward(x, flat, v)

    @jet_op.register_fake
    def _(x, v, widths, activation, order, params):
        return x.new_empty((order + 1, x.shape[0], widths[-1]))

    @lib.custom_op("ntp::jet_backward", mutates_args=())
    def jet_backward_op(x: torch.Tensor, v: Optional[torch.Tensor],
                        widths: List[int], activation: str, order: int,
                        params: List[torch.Tensor],
                        g: torch.Tensor) -> List[torch.Tensor]:
        k = kernel_for(tuple(widths), activation, order, x.dtype, x.device)
        flat = torch.cat([p.reshape(-1) for p in params])
        pg, xg = k.backward(x, flat, g.contiguous(), v)
        out, off = [xg], 0
        for p in params:
            out.append(pg[off:off + p.numel()].view(p.shape))
            off += p.numel()
        return out

    @jet_backward_op.register_fake
    def _(x, v, widths, activation, order, params, g):
        return [torch.empty_like(x)] + [torch.empty_like(p) for p in params]

    def setup_context(ctx, inputs, output):
        ctx.inputs = inputs

    def backward(ctx, g):
        x, v, widths, activation, order, params = ctx.inputs
        res = jet_backward_op(x, v, widths, activation, order, params, g)
        return res[0], None, None, None, None, list(res[1:])

    jet_op.register_autograd(backward, setup_context=setup_context)
    _custom_op = lambda x, v, w, a, n, *p: jet_op(x, v, list(w), a, n,
                                                  list(p))


try:
    _register_custom_op()
except Exception:  # an older torch.library than expected: eager only
    _custom_op = None
