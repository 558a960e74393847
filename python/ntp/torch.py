#===- torch.py - ntp kernels as differentiable PyTorch functions -----------===#
#
# ntp.torch.jet(net, x, order) computes the jet of an nn.Sequential MLP with
# a compiled ntp kernel and returns it as a tensor [(order+1), batch, d_out]
# that autograd differentiates with respect to every parameter of net and to
# x: a torch.autograd.Function over ntp_forward_save / ntp_backward_saved
# (ntp's generated reverse mode, no recomputation). ntp.torch.partials(net,
# x, partials, operators) does the same for mixed partial derivatives and
# PDE operators (a partials kernel, CPU). Kernels are compiled
# once per (widths, activation, order, dtype, device) and kept for the
# process (and in the JIT's disk cache across processes).
#
#===----------------------------------------------------------------------===#
import math
import threading
from sys import getrefcount as _refcount
import weakref

import torch
from torch import nn

import ntp
from ntp import Error, ERROR_INVALID_ARGUMENT, ERROR_UNSUPPORTED
from ntp.torch_modules import (FourierFeatures, AdaptiveActivation, Residual,
                               ModifiedMLP)

__all__ = ["jet", "partials", "Sin", "Cos", "MLP", "kernel_for",
           "partials_kernel_for", "describe", "describe_network", "Network",
           "FourierFeatures", "AdaptiveActivation", "Residual",
           "ModifiedMLP"]


class Sin(nn.Module):
    """sin as a module, so that sin networks can be nn.Sequential."""

    def forward(self, x):
        return torch.sin(x)


class Cos(nn.Module):
    """cos as a module, so that cos networks can be nn.Sequential."""

    def forward(self, x):
        return torch.cos(x)


_ACTIVATIONS = {nn.Tanh: "tanh", nn.Sigmoid: "sigmoid", Sin: "sin",
                Cos: "cos", nn.Identity: "identity", nn.SiLU: "silu"}
_MODULES = {"tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "sin": Sin, "cos": Cos,
            "identity": nn.Identity, "silu": nn.SiLU, "gelu": nn.GELU,
            "gelu_tanh": lambda: nn.GELU(approximate="tanh"),
            "softplus": lambda: nn.Softplus(threshold=math.inf)}


def _activation_spec(acts):
    """ntp's spelling of per-hidden-layer activations: the one name when
    every hidden layer has it, else the comma-separated list."""
    if not acts:
        return "identity"
    if all(a == acts[0] for a in acts):
        return acts[0]
    return ",".join(acts)


class MLP(nn.Module):
    """An MLP in ntp's shape: Linear layers with an activation between
    them (none after the last): one name for every hidden layer, or a list
    (or comma-separated string) with one per hidden layer. `net` is the
    nn.Sequential; MLP(x) is net(x) and ntp.torch.jet(mlp, x, n) its jet."""

    def __init__(self, layers, activation="tanh", dtype=None, device=None):
        super().__init__()
        hidden = max(len(layers) - 2, 0)
        acts = (activation.split(",") if isinstance(activation, str)
                else list(activation))
        if len(acts) == 1:
            acts = acts * hidden
        if len(acts) != hidden:
            raise Error(ERROR_INVALID_ARGUMENT,
                        "activation lists %d names for %d hidden layers"
                        % (len(acts), hidden))
        for a in acts:
            if a not in _MODULES:
                raise Error(ERROR_INVALID_ARGUMENT,
                            "activation must be one of %s, not %r" % (
                                ", ".join(sorted(_MODULES)), a))
        mods = []
        for i in range(len(layers) - 1):
            mods.append(nn.Linear(layers[i], layers[i + 1], dtype=dtype,
                                  device=device))
            if i + 2 < len(layers):
                mods.append(_MODULES[acts[i]]())
        self.net = nn.Sequential(*mods)
        self.layers = tuple(layers)
        self.activation = _activation_spec(acts)

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
    if type(m) is nn.GELU:
        approximate = getattr(m, "approximate", "none")
        if approximate == "tanh":
            return "gelu_tanh"
        if approximate == "none":
            return "gelu"
        _refuse(where + " (nn.GELU(approximate=%r))" % approximate,
                "ntp has the exact GELU and its tanh approximation")
    for cls, name in _ACTIVATIONS.items():
        if type(m) is cls:
            return name
    _refuse(where + " (%s)" % type(m).__name__,
            "not an activation ntp has (nn.Tanh, nn.Sigmoid, nn.SiLU, "
            "nn.GELU, nn.GELU(approximate='tanh'), "
            "nn.Softplus(threshold=inf), nn.Identity, ntp.torch.Sin, "
            "ntp.torch.Cos)")


def _flatten(net, prefix):
    for name, m in net.named_children():
        where = "%s.%s" % (prefix, name) if prefix else name
        if type(m) is nn.Sequential:
            yield from _flatten(m, where)
        else:
            yield where, m


# Whether the compiler this package drives has ntp.mlp's `gated` (the
# modified MLP, issue 14).
_HAS_GATED = True


class Network:
    """What ntp compiles for a PyTorch network (describe_network): widths
    (input to output), activations (one ntp name per hidden layer),
    activation (ntp's spelling: one name, or comma-separated), the typed
    layers (fourier: frequencies or 0; slopes: "none"/"layer"/"neuron" per
    hidden layer; residual: a flag per hidden layer; gated: a modified MLP),
    params: (where, module, attribute name, shape) in ntp's flat order,
    which is the order of net.parameters() (unless a module is shared), and
    linears: the layers' nn.Linear modules in order (of a ModifiedMLP, its
    gates' and the output layer's)."""

    def __init__(self):
        self.widths, self.activations, self.linears = [], [], []
        self.fourier, self.slopes, self.residual = 0, [], []
        self.gated, self.params = None, []

    @property
    def activation(self):
        return _activation_spec(self.activations)

    @property
    def typed(self):
        """Whether any typed layer is present (else a plain MLP)."""
        return bool(self.fourier or self.gated is not None or
                    any(s != "none" for s in self.slopes) or
                    any(self.residual))

    def attributes(self):
        """The typed layers as ntp.compile's keywords (fourier, slopes,
        residual, gated) in a tuple: () for a plain MLP."""
        if not self.typed:
            return ()
        if self.gated is not None and not _HAS_GATED:
            _refuse("module %s (ModifiedMLP)" % (self.gated or "net"),
                    "this build of ntp has no modified-MLP gated layer yet "
                    "(issue 14); the module trains in plain PyTorch, but "
                    "ntp cannot compile its jets")
        return (self.fourier,
                tuple(self.slopes) if any(s != "none" for s in self.slopes)
                else None,
                tuple(self.residual) if any(self.residual) else None,
                self.gated is not None)


def _param(n, where, m, name, shape):
    p = getattr(m, name, None)
    if p is None:
        _refuse("module %s (%s without %s)" % (where, type(m).__name__, name),
                "ntp's layers have every parameter of their kind")
    n.params.append((where, m, name, torch.Size(shape)))


def _linear(n, where, m):
    """An nn.Linear: its widths chained to the previous layer's."""
    if m.bias is None:
        _refuse("module %s (Linear without bias)" % where,
                "ntp's layers have a bias; use bias=True (zero it if "
                "you want none)")
    if n.widths and m.in_features != n.widths[-1]:
        _refuse("module %s" % where, "in_features %d does not match "
                "the previous layer's %d" % (m.in_features, n.widths[-1]))
    if not n.widths:
        n.widths.append(m.in_features)
    n.widths.append(m.out_features)
    n.linears.append(m)
    _param(n, where, m, "weight", (m.out_features, m.in_features))
    _param(n, where, m, "bias", (m.out_features,))


def _hidden_activation(n, where, m):
    """The activation of a hidden layer, plain or adaptive."""
    if isinstance(m, AdaptiveActivation):
        act = _activation_of(m.activation, "module %s.activation" % where)
        width = n.widths[-1]
        if m.per not in ("layer", "neuron"):
            _refuse("module %s (AdaptiveActivation(per=%r))" % (where, m.per),
                    "a slope is per 'layer' or per 'neuron'")
        shape = (1,) if m.per == "layer" else (width,)
        if m.slope is None or tuple(m.slope.shape) != shape:
            _refuse("module %s (AdaptiveActivation)" % where,
                    "its slope has shape %s, but per=%r after a layer of "
                    "width %d needs %s" % (
                        None if m.slope is None else list(m.slope.shape),
                        m.per, width, list(shape)))
        n.activations.append(act)
        n.slopes.append(m.per)
        _param(n, where, m, "slope", shape)
    else:
        n.activations.append(_activation_of(m, "module " + where))
        n.slopes.append("none")


def _residual(n, where, m):
    body = list(_flatten(m.body, where + ".body"))
    if (len(body) != 2 or not isinstance(body[0][1], nn.Linear)):
        _refuse("module %s (Residual)" % where,
                "ntp's residual layer is one nn.Linear followed by one "
                "activation (or AdaptiveActivation), got %s" % ", ".join(
                    type(b).__name__ for _, b in body))
    if not n.activations:
        _refuse("module %s (Residual)" % where,
                "the first hidden layer cannot be residual: it reads the "
                "network input%s, not a hidden layer of its width" % (
                    " (the Fourier embedding)" if n.fourier else ""))
    lin = body[0][1]
    if lin.in_features != lin.out_features:
        _refuse("module %s (Residual)" % where,
                "its Linear maps %d features to %d, but a residual layer "
                "keeps its width" % (lin.in_features, lin.out_features))
    _linear(n, body[0][0], lin)
    _hidden_activation(n, body[1][0], body[1][1])
    n.residual.append(True)


def _modified_mlp(n, where, m):
    """A ModifiedMLP: its parameters in ntp's gated order (W_u, b_u, W_v,
    b_v, per hidden layer W_l, b_l [, a_l], W_out, b_out)."""
    where = where or "net"
    act = _activation_of(m.activation, "module %s.activation" % where)
    if not n.widths:
        n.widths.append(m.u.in_features)
    d = n.widths[0] if not n.fourier else 2 * n.fourier
    h = m.u.out_features
    for name in ("u", "v"):
        lin = getattr(m, name)
        if not isinstance(lin, nn.Linear) or lin.bias is None or \
                lin.in_features != d or lin.out_features != h:
            _refuse("module %s.%s" % (where, name),
                    "the gated layer's U and V are nn.Linear(%d, %d) with "
                    "a bias" % (d, h))
        _param(n, "%s.%s" % (where, name), lin, "weight", (h, d))
        _param(n, "%s.%s" % (where, name), lin, "bias", (h,))
    n.widths = [n.widths[0]]
    width = d
    for i, gate in enumerate(m.gates):
        at = "%s.gates.%d" % (where, i)
        kids = list(gate) if isinstance(gate, nn.Sequential) else []
        if len(kids) != 2 or not isinstance(kids[0], nn.Linear):
            _refuse("module %s" % at, "a gate of a ModifiedMLP is one "
                    "nn.Linear followed by its activation")
        lin = kids[0]
        if lin.bias is None or lin.in_features != width or \
                lin.out_features != h:
            _refuse("module %s.0" % at, "the gated layer's gate %d is "
                    "nn.Linear(%d, %d) with a bias" % (i, width, h))
        n.linears.append(lin)
        n.widths.append(h)
        _param(n, at + ".0", lin, "weight", (h, width))
        _param(n, at + ".0", lin, "bias", (h,))
        _hidden_activation(n, at + ".1", kids[1])
        if i == 0 and n.activations[-1] != act:
            _refuse("module %s.1" % at, "ntp's U and V use the first gate's "
                    "activation, but the module's activation is %s and the "
                    "first gate's %s" % (act, n.activations[-1]))
        n.residual.append(False)
        width = h
    if not isinstance(m.out, nn.Linear) or m.out.in_features != h:
        _refuse("module %s.out" % where, "the gated network ends with an "
                "nn.Linear(%d, q)" % h)
    n.widths.append(m.out.out_features)
    n.linears.append(m.out)
    _param(n, where + ".out", m.out, "weight", (m.out.out_features, h))
    _param(n, where + ".out", m.out, "bias", (m.out.out_features,))
    n.gated = where


def describe_network(net):
    """The Network ntp compiles for `net`, or ntp.Error naming the first
    module it cannot compile. net: an nn.Sequential (nested ones are
    flattened) of, in this order,
    - optionally a FourierFeatures embedding (first only),
    - either a ModifiedMLP, or nn.Linear layers alternating with one
      activation module (nn.Tanh, nn.Sigmoid, nn.SiLU, nn.GELU (exact or
      approximate='tanh'), nn.Softplus(threshold=inf), nn.Identity,
      ntp.torch.Sin, ntp.torch.Cos) or an AdaptiveActivation of one, with
      Residual blocks (nn.Linear(h, h) + activation) as hidden layers after
      the first, ending with an nn.Linear;
    or an ntp.torch.MLP, or a ModifiedMLP alone."""
    if isinstance(net, MLP):
        net = net.net
    if isinstance(net, ModifiedMLP):
        mods = [("", net)]
    elif type(net) is not nn.Sequential:
        _refuse("a %s" % type(net).__name__,
                "ntp.torch.jet takes an nn.Sequential of nn.Linear and "
                "activation modules and ntp.torch's layer modules (or an "
                "ntp.torch.MLP or ModifiedMLP); a model with its own forward "
                "could compute anything")
    else:
        mods = list(_flatten(net, ""))
    if not mods:
        _refuse("an empty nn.Sequential", "there is no layer")
    n = Network()
    expect_linear = True
    for i, (where, m) in enumerate(mods):
        if isinstance(m, FourierFeatures):
            if i != 0:
                _refuse("module %s (FourierFeatures)" % where,
                        "a Fourier embedding must be the first module: "
                        "ntp's embeds the network input")
            d, freq = m.in_features, m.frequencies
            _param(n, where, m, "B", (freq, d))
            n.fourier = freq
            n.widths.append(d)
            continue
        if isinstance(m, ModifiedMLP):
            if i != len(mods) - 1 or (i > 0 and not n.fourier):
                _refuse("module %s (ModifiedMLP)" % where,
                        "a ModifiedMLP is the whole network (optionally "
                        "after a FourierFeatures embedding)")
            _modified_mlp(n, where, m)
            return n
        if expect_linear:
            if isinstance(m, Residual):
                _residual(n, where, m)
                continue
            if not isinstance(m, nn.Linear):
                _refuse("module %s (%s)" % (where, type(m).__name__),
                        "expected an nn.Linear (or ntp.torch.Residual) here "
                        "(ntp's networks alternate Linear layers and one "
                        "activation)")
            if n.fourier and len(n.widths) == 1 and \
                    m.in_features != 2 * n.fourier:
                _refuse("module %s" % where, "in_features %d does not "
                        "match the Fourier embedding's %d (2 x %d "
                        "frequencies)" % (m.in_features, 2 * n.fourier,
                                          n.fourier))
            if n.fourier and len(n.widths) == 1:
                # The embedding's width is not one of ntp's layer widths.
                n.linears.append(m)
                n.widths.append(m.out_features)
                _param(n, where, m, "weight", (m.out_features,
                                               m.in_features))
                if m.bias is None:
                    _refuse("module %s (Linear without bias)" % where,
                            "ntp's layers have a bias; use bias=True (zero "
                            "it if you want none)")
                _param(n, where, m, "bias", (m.out_features,))
            else:
                _linear(n, where, m)
            expect_linear = False
        else:
            _hidden_activation(n, where, m)
            n.residual.append(False)
            expect_linear = True
    where, m = mods[-1]
    if expect_linear:  # ended on an activation, a Residual or the embedding
        _refuse("module %s (%s)" % (where, type(m).__name__),
                "%s; ntp's networks end with a Linear layer" % (
                    "a residual layer cannot be the output layer"
                    if isinstance(m, Residual) else
                    "there is no layer after the embedding"
                    if isinstance(m, FourierFeatures) else
                    "an activation after the last Linear layer"))
    return n


def describe(net):
    """(widths, activation, [nn.Linear...]) of a plain MLP ntp can compile,
    or ntp.Error naming the first module it cannot. activation is ntp's
    spelling: one name, or one per hidden layer separated by commas. A
    network with typed layers (Fourier features, adaptive slopes, residual
    blocks, a modified MLP) is described by describe_network."""
    n = describe_network(net)
    if n.typed:
        raise Error(ERROR_INVALID_ARGUMENT, "ntp.torch.describe returns "
                    "(widths, activation, linears) of a plain MLP, but this "
                    "network has typed layers that those cannot say; use "
                    "ntp.torch.describe_network")
    return tuple(n.widths), n.activation, n.linears


_cache = {}
_cache_lock = threading.Lock()

try:  # one C++ call instead of a reshape per parameter and a cat (the
    # function behind torch._utils._flatten_dense_tensors, one frame less)
    _flat = torch._C._nn.flatten_dense_tensors
except AttributeError:  # pragma: no cover
    def _flat(params):
        return torch.cat([p.reshape(-1) for p in params])


def kernel_for(widths, activation, order, dtype, device, typed=()):
    """The process-wide kernel for this network shape (compiled once).
    typed: the typed layers as (fourier, slopes, residual, gated),
    ntp.compile's keywords (Network.attributes()); () for a plain MLP."""
    dname = {torch.float32: "float32", torch.float64: "float64"}.get(dtype)
    if dname is None:
        raise Error(ERROR_INVALID_ARGUMENT, "ntp computes in float32 or "
                    "float64, not %s" % dtype)
    key = (widths, activation, int(order), dname, str(device), typed)
    k = _cache.get(key)
    if k is None:
        with _cache_lock:  # one compile per key, even from many threads
            k = _cache.get(key)
            if k is None:
                fourier, slopes, residual, gated = typed or (0, None, None,
                                                             False)
                k = ntp.compile(list(widths), activation, int(order), dname,
                                device.type,
                                backward=(device.type == "cpu"),
                                fourier=fourier, slopes=slopes,
                                residual=residual, gated=gated)
                _cache[key] = k
    return k


# The per-call path below runs on every training step, so it is written for
# speed (benchmarks/python_step.py measures it): what does not change between
# calls (the module walk, the kernel, the expected shapes) is kept per net and
# revalidated by identity; what can change (every parameter tensor, its
# dtype, device, shape and requires_grad; x; Softplus attributes) is read and
# checked at every call, and a failed check goes to the slow path that says
# exactly what is wrong.

_Linear, _Sequential, _Tensor = nn.Linear, nn.Sequential, torch.Tensor
_empty, _empty_like, _uint8 = torch.empty, torch.empty_like, torch.uint8
_grad_enabled = torch.is_grad_enabled
_ones = {}  # dtype -> a CPU tensor [1] holding 1: the default direction


def _ones_ptr(dtype):
    t = _ones.get(dtype)
    if t is None:
        t = _ones.setdefault(dtype, torch.ones(1, dtype=dtype))
    return t.data_ptr()


# Above this many bytes of workspace per call, autograd runs the forward
# alone (ntp_forward / ntp_partials, a partials kernel's own lowering) and
# the backward that recomputes the jets tile by tile on the stack
# (ntp_backward_full / ntp_partials_backward) instead of saving them: the
# same gradients for the same cotangent, without a workspace of tens of MB
# that the backward streams back from memory (faster here even with the
# workspace reused: order 9, batch 4096, f64, 48 MB; the d = 8 Laplacian
# at batch 1024, 77 MB). ntp.jax.RECOMPUTE_ABOVE_BYTES says the same for
# JAX.
RECOMPUTE_ABOVE_BYTES = 32 << 20


class _Fast:
    """What the per-call path needs of a CPU kernel, in attributes of its
    own: the C entry points, the handle, the output's trailing shape, the
    workspace sizes by batch, and a few free workspaces by batch (reused
    only once nothing else holds them, see _workspace)."""

    def __init__(self, k):
        lib = k._lib
        self.kernel, self.h = k, k._h
        self.forward, self.forward_save = lib.ntp_forward, lib.ntp_forward_save
        self.backward_saved = lib.ntp_backward_saved
        self.backward_full = lib.ntp_backward_full
        self.rows, self.cols, self.num_params = (k.order + 1, k.output_dim,
                                                 k.num_params)
        self.free = {}  # batch -> [workspace tensors]
        self.pooled = 0  # bytes of the workspaces in `free`


_POOL_PER_BATCH, _POOL_BATCHES, _POOL_MAX_BYTES = 2, 16, 1 << 28


def _workspace(fast, n):
    """A workspace for n points: one that an earlier call used if nothing
    holds it any more (its ctx is gone, so only the pool's list, our local
    and getrefcount's argument refer to it), else a new one. list.pop and
    list.insert are atomic under the GIL and a buffer in use is always also
    referenced by its user, so two calls never share one. Two per batch (a
    training loop's previous jet is still alive during the next call), at
    most 256 MiB in all per kernel: a fresh workspace is not free, glibc
    maps every block over 32 MiB anew and the kernel then pages it in (a
    training step of 1-24-24-24-1 at order 9, batch 4096, f64, 48 MB of
    workspace: 2x slower with a fresh one, benchmarks/results/)."""
    pool = fast.free.get(n)
    if pool is not None:
        for _ in range(len(pool)):
            try:
                ws = pool.pop()
            except IndexError:
                break
            pool.insert(0, ws)
            if _refcount(ws) == 3:  # pool, ws and getrefcount's argument
                return ws
    size = fast.kernel._ws_size(n)
    ws = _empty(size, dtype=_uint8)
    if fast.pooled + size <= _POOL_MAX_BYTES:
        if pool is None and len(fast.free) < _POOL_BATCHES:
            pool = fast.free.setdefault(n, [])
        if pool is not None and len(pool) < _POOL_PER_BATCH:
            pool.insert(0, ws)
            fast.pooled += size
    return ws


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
        if fast.kernel._ws_size(n) > RECOMPUTE_ABOVE_BYTES:
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
            if p0 is None:
                p0 = p
            if p.dtype is not p0.dtype or p.device != p0.device:
                raise Error(ERROR_INVALID_ARGUMENT, "the parameters of net "
                            "mix dtypes or devices (%s on %s and %s on %s)"
                            % (p0.dtype, p0.device, p.dtype, p.device))
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
            if p0 is None:
                p0 = p
            if p.dtype is not p0.dtype or p.device != p0.device:
                raise Error(ERROR_INVALID_ARGUMENT, "the parameters of net "
                            "mix dtypes or devices (%s on %s and %s on %s)"
                            % (p0.dtype, p0.device, p.dtype, p.device))
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
    last_ref, d = _last  # the common case first: the same net as last time
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


#===----------------------------------------------------------------------===#
# Partials kernels: mixed partials and PDE operators, differentiable
#===----------------------------------------------------------------------===#

_partials_cache = {}


def partials_kernel_for(widths, activation, partials, operators, dtype,
                        lowering="auto", typed=()):
    """The process-wide partials kernel (CPU, with its reverse mode) for this
    network shape, request and forward lowering (ntp.compile's
    partials_lowering), compiled once (typed: as for kernel_for)."""
    dname = {torch.float32: "float32", torch.float64: "float64"}.get(dtype)
    if dname is None:
        raise Error(ERROR_INVALID_ARGUMENT, "ntp computes in float32 or "
                    "float64, not %s" % dtype)
    key = (tuple(widths), activation, partials, operators, dname, lowering,
           typed)
    k = _partials_cache.get(key)
    if k is None:
        with _cache_lock:
            k = _partials_cache.get(key)
            if k is None:
                fourier, slopes, residual, gated = typed or (0, None, None,
                                                             False)
                k = ntp.compile(list(widths), activation, 0, dname, "cpu",
                                partials=[list(r) for r in partials] or None,
                                operators=list(operators) or None,
                                partials_lowering=lowering,
                                fourier=fourier, slopes=slopes,
                                residual=residual, gated=gated)
                _partials_cache[key] = k
    return k


class _PartialsPool:
    """The free workspaces of one partials kernel, by batch (_workspace)."""

    def __init__(self, k):
        self.kernel, self.free, self.pooled = k, {}, 0


_partials_pools = {}  # id(kernel) -> _PartialsPool (kernels live forever)


class _Partials(torch.autograd.Function):
    """forward: ntp_partials_save into a pooled workspace; backward:
    ntp_partials_backward_saved on the same buffers (the runtime checks the
    workspace's header against x and params). Above RECOMPUTE_ABOVE_BYTES:
    ntp_partials, then ntp_partials_backward."""

    @staticmethod
    def forward(ctx, k, x, *params):
        flat = _flat(params)  # a copy: later in-place updates do not matter
        n = x.shape[0]
        if k._ws_size(n) > RECOMPUTE_ABOVE_BYTES:
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


def partials(net, x, partials=(), operators=(), partials_lowering="auto"):
    """Partial derivatives of `net` at the points x by one fused ntp kernel:

        out[p, b, j] = D^alpha_p net(x_b)_j,

    the multi-indices `partials` (e.g. [[2, 0], [1, 1], [0, 0]]; [0, 0] is
    net itself) in order, then the named `operators` ("laplacian",
    "biharmonic", "laplacian:0,1" for a subset), as a tensor [P, batch,
    d_out] that autograd differentiates with respect to every parameter of
    net and to x (not twice), through the kernel's generated reverse mode
    (ntp_partials_save / ntp_partials_backward_saved). net as for jet; x
    [batch, d_in] on the CPU, of the parameters' dtype. partials_lowering:
    how the forward without autograd propagates its rays ("auto",
    "per-ray", "multi-direction", "collapsed"; ntp.compile); with autograd
    the forward is ntp_partials_save, whose rays are per-ray, unless its
    workspace would exceed RECOMPUTE_ABOVE_BYTES: then it is this lowering's
    forward and the backward recomputes the rays (the same gradients)."""
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
    if not isinstance(partials_lowering, str):
        raise Error(ERROR_INVALID_ARGUMENT, "partials_lowering must be one "
                    "of 'auto', 'per-ray', 'multi-direction', 'collapsed', "
                    "not %r" % (partials_lowering,))
    k = partials_kernel_for(widths, d.act, rows, ops, x.dtype,
                            partials_lowering, d.typed)
    x = x.contiguous()
    if not (grad_p or x.requires_grad) or not _grad_enabled():
        return k.partials(x, _flat(params))
    return _Partials.apply(k, x, *params)


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
