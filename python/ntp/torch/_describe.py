#===- torch/_describe.py - The layers ntp compiles for a network -----------===#
#
# describe_network(net): walks an nn.Sequential (or ntp.torch.MLP,
# ModifiedMLP) and says what ntp compiles for it, a Network (widths,
# activations, typed layers, parameters in ntp's flat order), or raises the
# ntp.Error naming the first module it cannot compile; describe(net) is its
# plain-MLP (widths, activation, linears).
#
#===----------------------------------------------------------------------===#
import math

import torch
from torch import nn

from ntp import Error, ERROR_INVALID_ARGUMENT, ERROR_UNSUPPORTED
from ntp.torch_modules import (FourierFeatures, AdaptiveActivation, Residual,
                               ModifiedMLP)
from ._modules import _ACTIVATIONS, _activation_spec, MLP


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
