#===- torch_modules.py - PyTorch modules of ntp's typed layers -------------===#
#
# Ordinary PyTorch modules for the typed layers of issue 14: a Fourier-feature
# embedding, an adaptive activation (a trainable slope per layer or per
# neuron), a residual block and the modified MLP (gated layer). Their
# forward is plain torch, so a network built from them trains without ntp;
# ntp.torch.jet / ntp.torch.partials recognise them inside an nn.Sequential
# and compile the same network. Each module registers its parameters in
# ntp's flat order, so `net.parameters()` of the nn.Sequential lists them
# exactly as the kernel's parameter vector does (README, "Parameter order").
# Re-exported by ntp.torch; importing this file loads no ntp library.
#
#===----------------------------------------------------------------------===#
import math

import torch
from torch import nn

__all__ = ["FourierFeatures", "AdaptiveActivation", "Residual",
           "ModifiedMLP"]


def _activation_module(activation):
    """A module for `activation`: a module is kept, a name is looked up in
    ntp.torch's activation names (tanh, sigmoid, sin, cos, silu, gelu,
    gelu_tanh, softplus, identity)."""
    if isinstance(activation, nn.Module):
        return activation
    from . import torch as nt  # lazily: ntp.torch imports this file
    make = nt._MODULES.get(activation)
    if make is None:
        raise ValueError("activation must be a module or one of %s, not %r"
                         % (", ".join(sorted(nt._MODULES)), activation))
    return make()


class FourierFeatures(nn.Module):
    """x -> [sin(2 pi x B^T), cos(2 pi x B^T)] (ntp's `fourier m`).

    B [frequencies, in_features] is a parameter drawn from N(0, sigma^2);
    trainable=False makes it a fixed embedding (requires_grad False; it is
    still a parameter, so the flat order is the same). out_features is
    2 * frequencies. ntp takes it as the first module of an nn.Sequential
    only (its embedding acts on the network input)."""

    def __init__(self, in_features, frequencies, sigma=1.0, trainable=True,
                 dtype=None, device=None):
        super().__init__()
        if in_features < 1 or frequencies < 1:
            raise ValueError("FourierFeatures needs in_features >= 1 and "
                             "frequencies >= 1, got %d and %d"
                             % (in_features, frequencies))
        self.in_features, self.frequencies = in_features, frequencies
        self.out_features = 2 * frequencies
        self.B = nn.Parameter(
            sigma * torch.randn(frequencies, in_features, dtype=dtype,
                                device=device), requires_grad=trainable)

    def forward(self, x):
        z = (2 * math.pi) * torch.nn.functional.linear(x, self.B)
        return torch.cat([torch.sin(z), torch.cos(z)], dim=-1)

    def extra_repr(self):
        return "in_features=%d, frequencies=%d, trainable=%s" % (
            self.in_features, self.frequencies, self.B.requires_grad)


class AdaptiveActivation(nn.Module):
    """activation(a * y) with a trainable slope a (DeepXDE, PINA): one
    scalar (per='layer', a of shape [1]) or one per neuron (per='neuron', a
    of shape [features]), initialised to `init`. `activation` is a module
    (nn.Tanh(), nn.SiLU(), nn.GELU(approximate='tanh'), ntp.torch.Sin(),
    ...) or its ntp name ('tanh'). Put it after an nn.Linear: the slope
    follows that layer's bias in the flat order, as in ntp's kernels."""

    def __init__(self, activation="tanh", per="layer", features=None,
                 init=1.0, dtype=None, device=None):
        super().__init__()
        if per not in ("layer", "neuron"):
            raise ValueError("per must be 'layer' or 'neuron', not %r"
                             % (per,))
        if per == "neuron" and (features is None or features < 1):
            raise ValueError("per='neuron' needs features= (the width of the "
                             "layer before it)")
        self.per = per
        self.activation = _activation_module(activation)
        n = 1 if per == "layer" else int(features)
        self.slope = nn.Parameter(torch.full((n,), float(init), dtype=dtype,
                                             device=device))

    def forward(self, y):
        return self.activation(self.slope * y)

    def extra_repr(self):
        return "per=%r, slopes=%d" % (self.per, self.slope.numel())


class Residual(nn.Module):
    """H -> H + body(H), body an nn.Linear(h, h) followed by one activation
    module or AdaptiveActivation (Residual(nn.Linear(32, 32), nn.Tanh())):
    ntp's residual hidden layer. Not the first hidden layer of a network
    for ntp (that one reads the network input)."""

    def __init__(self, *body):
        super().__init__()
        if len(body) == 1 and isinstance(body[0], nn.Sequential):
            body = tuple(body[0])
        self.body = nn.Sequential(*body)

    def forward(self, h):
        return h + self.body(h)


class ModifiedMLP(nn.Module):
    """The modified MLP (Wang, Teng, Perdikaris 2021), layers
    [d, h, ..., h, q] with L = len(layers) - 2 hidden layers:

        U = s(X W_u^T + b_u),  V = s(X W_v^T + b_v),  H_0 = X,
        Z_l = s(a_l * (H_l W_l^T + b_l)),  H_{l+1} = (1 - Z_l) U + Z_l V,
        out = H_L W_out^T + b_out,

    with s one activation (module or ntp name) for U, V and every Z_l, or a
    list with one per hidden layer (then U and V use the first, as ntp's
    gated layer does), and the slopes a_l optional (slopes=None, 'layer',
    'neuron', or a list with one of those / None per hidden layer).
    Parameters in ntp's flat order: W_u, b_u, W_v, b_v, then per
    hidden layer W_l, b_l [, a_l], then W_out, b_out; with a Fourier
    embedding in front (nn.Sequential(FourierFeatures(...),
    ModifiedMLP(...))) B comes first."""

    def __init__(self, layers, activation="tanh", slopes=None, dtype=None,
                 device=None):
        super().__init__()
        layers = [int(w) for w in layers]
        if len(layers) < 3:
            raise ValueError("ModifiedMLP needs at least one hidden layer: "
                             "layers [d, h, ..., h, q], got %s" % layers)
        h = layers[1]
        if any(w != h for w in layers[1:-1]):
            raise ValueError("the hidden layers of a ModifiedMLP all have "
                             "the width of U and V, got %s" % layers)
        hidden = len(layers) - 2
        kinds = slopes if isinstance(slopes, (list, tuple)) else \
            [slopes] * hidden
        if len(kinds) != hidden:
            raise ValueError("slopes lists %d entries for %d hidden layers"
                             % (len(kinds), hidden))
        acts = list(activation) if isinstance(activation, (list, tuple)) \
            else [activation] * hidden
        if len(acts) != hidden:
            raise ValueError("activation lists %d entries for %d hidden "
                             "layers" % (len(acts), hidden))
        self.layers = tuple(layers)
        kw = dict(dtype=dtype, device=device)
        self.u = nn.Linear(layers[0], h, **kw)
        self.v = nn.Linear(layers[0], h, **kw)
        # The activations (parameter-free): U and V use the first.
        mods = [_activation_module(a) for a in acts]
        self.activation = mods[0]
        gates = []
        for l in range(hidden):
            lin = nn.Linear(layers[l], h, **kw)
            if kinds[l] is None or kinds[l] == "none":
                gates.append(nn.Sequential(lin, mods[l]))
            else:
                gates.append(nn.Sequential(lin, AdaptiveActivation(
                    mods[l], kinds[l], h, **kw)))
        self.gates = nn.ModuleList(gates)
        self.out = nn.Linear(h, layers[-1], **kw)

    def forward(self, x):
        u = self.activation(self.u(x))
        v = self.activation(self.v(x))
        h = x
        for gate in self.gates:
            z = gate(h)
            h = (1 - z) * u + z * v
        return self.out(h)
