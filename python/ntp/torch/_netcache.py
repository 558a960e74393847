#===- torch/_netcache.py - What the per-call path keeps per network --------===#
#
# _describe_cached(net): describe_network(net) kept while net's modules stay
# the same objects (_Described: the expected parameter shapes, the kernels
# by order, dtype and device); _typed_params reads a typed network's
# parameters live; _explain is the slow path that says which argument
# failed the per-call checks of jet and partials.
#
#===----------------------------------------------------------------------===#
import math
import threading
import weakref

import torch
from torch import nn

import ntp
from ntp import Error, ERROR_INVALID_ARGUMENT
from ntp.torch_modules import ModifiedMLP
from ._describe import _activation_of, _refuse, describe_network
from ._modules import MLP

_Sequential, _Tensor = nn.Sequential, torch.Tensor


class _Described:
    """describe_network(net), kept while net's modules stay the same
    objects: the children of every nn.Sequential in it (of every module in
    it, for a network with typed layers; compared by identity at each
    call), the parameters with the shapes they must have, the Softplus and
    GELU modules (their attributes are checked at each call), and the
    kernels for this structure by (order, dtype, device)."""

    def __init__(self, net):
        n = describe_network(net)
        self.widths, self.act, self.linears = (tuple(n.widths), n.activation,
                                               n.linears)
        # The typed layers as (fourier, slopes, residual, gated), () for a
        # plain MLP; refuses what this build cannot compile.
        self.typed = n.attributes()
        self.seqs = []
        stack = [net]
        while stack:
            s = stack.pop()
            kids = tuple(s._modules.values())
            self.seqs.append((s, kids))
            stack.extend(m for m in kids
                         if self.typed or type(m) is _Sequential)
        # Every parameter in the flat order: (module, attribute, shape) and
        # where it is, for the sentences of _explain.
        self.params = tuple((m, name, shape) for _, m, name, shape in n.params)
        self.where = tuple(where for where, _, _, _ in n.params)
        w = self.widths
        self.layers = () if self.typed else tuple(
            (m, torch.Size((w[i + 1], w[i])), torch.Size((w[i + 1],)))
            for i, m in enumerate(self.linears))
        # Modules whose attributes decide the activation (Softplus's
        # threshold, GELU's approximate), with what they were described as.
        self.softplus = [(m, _activation_of(m, "a %s module"
                                            % type(m).__name__))
                         for _, kids in self.seqs for m in kids
                         if isinstance(m, (nn.Softplus, nn.GELU))]
        # Where each parameter's gradient lies in the flat one: sizes for
        # split_with_sizes and (index in backward's result, shape) of the
        # parameters that are not vectors.
        self.layout = (
            [math.prod(shape) for _, _, shape in self.params],
            [(3 + i, shape) for i, (_, _, shape) in enumerate(self.params)
             if len(shape) != 1])
        self.kernels = {}  # (order, dtype[, device]) -> (Kernel, _Fast)

    def current(self):
        for s, kids in self.seqs:
            if tuple(s._modules.values()) != kids:
                return False
        return True


def _typed_params(d, x):
    """The parameters of a network with typed layers, read live and checked
    as jet() checks a plain MLP's (dtype, device, shape); and whether any
    needs a gradient."""
    dtype, cuda = x.dtype, x.is_cuda
    params, grad_p = [], False
    for m, name, shape in d.params:
        p = getattr(m, name)
        if (p is None or p.dtype is not dtype or p.is_cuda is not cuda
                or p.shape != shape):
            _explain(d, x)
        if p.requires_grad:
            grad_p = True
        params.append(p)
    return params, grad_p


_described = weakref.WeakKeyDictionary()
_described_lock = threading.Lock()
_last = (lambda: None, None)  # (weakref to the last net, its _Described)


def _describe_cached(net):
    global _last
    if type(net) is not _Sequential:
        if isinstance(net, MLP):
            net = net.net
        if type(net) is not _Sequential and not isinstance(net, ModifiedMLP):
            describe_network(net)  # raises, naming what net is
    last_ref, d = _last  # one tuple: read together even across threads
    if last_ref() is not net:
        d = _described.get(net)
        if d is not None:
            _last = (weakref.ref(net), d)
    if d is None or not d.current():
        d = _Described(net)
        with _described_lock:
            _described[net] = d
        _last = (weakref.ref(net), d)
    for m, act in d.softplus:  # attributes are not structure: check again
        if _activation_of(m, "a %s module" % type(m).__name__) != act:
            d = _Described(net)  # e.g. GELU's approximate was changed
            with _described_lock:
                _described[net] = d
            _last = (weakref.ref(net), d)
            break
    return d


def _first_kind(p0, p):
    """p0, the first parameter (p if there is none yet); refuses a p of
    another dtype or device."""
    if p0 is None:
        return p
    if p.dtype is not p0.dtype or p.device != p0.device:
        raise Error(ERROR_INVALID_ARGUMENT, "the parameters of net mix "
                    "dtypes or devices (%s on %s and %s on %s)"
                    % (p0.dtype, p0.device, p.dtype, p.device))
    return p0


def _explain(d, x):
    """Raises the ntp.Error for the parameters or x that failed jet()'s
    fast checks (the same conditions, one at a time, with the reason)."""
    if not isinstance(x, _Tensor):
        raise Error(ERROR_INVALID_ARGUMENT, "x must be a tensor, not %s"
                    % type(x).__name__)
    p0 = None
    if d.typed:
        for where, (m, name, shape) in zip(d.where, d.params):
            p = getattr(m, name)
            if p is None:
                _refuse("module %s, whose %s is None" % (where, name),
                        "ntp's layers have every parameter of their kind")
            p0 = _first_kind(p0, p)
            if p.shape != shape:
                raise Error(ERROR_INVALID_ARGUMENT, "module %s's %s has "
                            "shape %s but the network needs %s; a "
                            "parameter has the wrong shape" % (
                                where, name, list(p.shape), list(shape)))
    for i, (m, ws, bs) in enumerate(d.layers):
        for name, p, shape in (("weight", m.weight, ws), ("bias", m.bias,
                                                          bs)):
            if p is None:
                _refuse("a Linear layer whose %s is None" % name,
                        "ntp's layers have a weight and a bias")
            p0 = _first_kind(p0, p)
            if p.shape != shape:
                raise Error(ERROR_INVALID_ARGUMENT, "Linear layer %d's %s "
                            "has shape %s but the layers %s need %s; a "
                            "weight or bias has the wrong shape" % (
                                i, name, list(p.shape), list(d.widths),
                                list(shape)))
    if x.dtype is not p0.dtype or x.device != p0.device:
        raise Error(ERROR_INVALID_ARGUMENT, "x is %s on %s but net's "
                    "parameters are %s on %s" % (x.dtype, x.device,
                                                 p0.dtype, p0.device))
    raise Error(ntp.ERROR_INTERNAL, "ntp.torch.jet refused its arguments "
                "without finding why")  # pragma: no cover
