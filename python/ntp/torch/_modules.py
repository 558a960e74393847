#===- torch/_modules.py - Sin, Cos and MLP as nn.Modules -------------------===#
#
# The activation modules PyTorch lacks (sin, cos), the activation module of
# each ntp name and back, and ntp.torch.MLP, an nn.Sequential in ntp's shape.
#
#===----------------------------------------------------------------------===#
import math

import torch
from torch import nn

from ntp import Error, ERROR_INVALID_ARGUMENT


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
