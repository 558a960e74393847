#===- burgers_problem.py - The paper's Burgers PINN loss in PyTorch --------===#
#
# The k-th smooth self-similar profile of Burgers' equation (paper, Section
# IV-C; examples/burgers/README.md):
#   R = -lambda U + ((1 + lambda) X + U) U' = 0,  X in [-2, 2],
#   loss = (U(-2) - 1)^2 + (U(2) + 1)^2 + 0.3 MSE(R) + 0.3 MSE(R')
#          + 0.2 MSE(R^(2k+3) on 31 points in [-0.075, 0.075]),
# U = 1.15 N(X), N a 1-24-24-24-1 tanh MLP in f64 (the paper's set-up, the
# C++ example's --odd 0), lambda = lo + (hi - lo)(tanh(s) + 1)/2 in
# [1/(2k+3), 1/(2k+1)]. U's jets come from a jet function (ntp.torch.jet, or
# the PyTorch baselines); R's derivatives from them by the Leibniz rule.
#
# The loss is written as a sum of per-point terms so that it shards: a
# process holding some of the points computes `partial_loss`, and the
# partial losses of all shards (the boundary terms in exactly one) add up
# to the loss over all points.
#
#===----------------------------------------------------------------------===#
import math

import torch
from torch import nn

SCALE = 1.15
_LEIBNIZ = {}


def _leibniz(m, dtype):
    """Index and coefficient tensors of sum_j C(i, j) U^(j) U^(i+1-j) for
    i = 0..m, as [m+1, m+1] (j > i: coefficient 0)."""
    key = (m, dtype)
    if key not in _LEIBNIZ:
        j = torch.arange(m + 1).expand(m + 1, m + 1)
        i = torch.arange(m + 1).unsqueeze(1).expand(m + 1, m + 1)
        coef = torch.tensor([[math.comb(a, b) if b <= a else 0
                              for b in range(m + 1)] for a in range(m + 1)],
                            dtype=dtype)
        _LEIBNIZ[key] = (j, (i + 1 - j).clamp(min=0), coef,
                         torch.arange(m + 1, dtype=dtype).unsqueeze(1))
    return _LEIBNIZ[key]


def grid(dtype=torch.float64):
    return torch.linspace(-2, 2, 301, dtype=dtype).reshape(-1, 1)


def near(dtype=torch.float64):
    return torch.linspace(-0.075, 0.075, 31, dtype=dtype).reshape(-1, 1)


class BurgersPINN(nn.Module):
    def __init__(self, k=0, dtype=torch.float64, seed=0):
        super().__init__()
        torch.manual_seed(seed)
        layers = [1, 24, 24, 24, 1]
        mods = []
        for i in range(len(layers) - 1):
            mods.append(nn.Linear(layers[i], layers[i + 1]))
            if i + 2 < len(layers):
                mods.append(nn.Tanh())
        self.net = nn.Sequential(*mods).to(dtype)
        self.s = nn.Parameter(torch.zeros((), dtype=dtype))
        self.k = k
        self.lo, self.hi = 1.0 / (2 * k + 3), 1.0 / (2 * k + 1)

    def lam(self):
        return self.lo + (self.hi - self.lo) * (torch.tanh(self.s) + 1) / 2

    def residual_jet(self, jet, x, m):
        """[R, R', ..., R^(m)] at x ([m+1, batch]) from U's jet up to order
        m + 1, by the Leibniz rule:
        R^(i) = -lambda U^(i) + (1 + lambda)(X U^(i+1) + i U^(i))
                + sum_j C(i, j) U^(j) U^(i+1-j)."""
        u = SCALE * jet(self.net, x, m + 1)[:, :, 0]  # [(m+2), batch]
        j_idx, l_idx, coef, i_vec = _leibniz(m, u.dtype)
        quad = (coef.unsqueeze(-1) * u[j_idx] * u[l_idx]).sum(1)
        lam, X = self.lam(), x[:, 0]
        return (-lam * u[:m + 1] + (1 + lam) * (X * u[1:] + i_vec * u[:m + 1])
                + quad)

    def partial_loss(self, jet, xg, xn, boundary, n_grid, n_near):
        """This shard's part of the loss: its grid points xg and near points
        xn out of n_grid and n_near, and the boundary terms if `boundary`."""
        order = 2 * self.k + 3
        r = self.residual_jet(jet, xg, 1)
        loss = (0.3 * r[0].square().sum() + 0.3 * r[1].square().sum()) / n_grid
        rn = self.residual_jet(jet, xn, order)[order]
        loss = loss + 0.2 * rn.square().sum() / n_near
        if boundary:
            xb = torch.tensor([[-2.0], [2.0]], dtype=xg.dtype)
            ub = SCALE * jet(self.net, xb, 2)[0, :, 0]
            loss = loss + (ub[0] - 1).square() + (ub[1] + 1).square()
        return loss

    def loss(self, jet):
        xg, xn = grid(self.s.dtype), near(self.s.dtype)
        return self.partial_loss(jet, xg, xn, True, len(xg), len(xn))


class ShardLoss(nn.Module):
    """The module DistributedDataParallel wraps: forward() is this rank's
    partial loss times the world size, because DDP averages the gradients
    over ranks and the loss is their sum."""

    def __init__(self, pinn, jet, rank, world):
        super().__init__()
        self.pinn, self.jet, self.rank, self.world = pinn, jet, rank, world
        xg, xn = grid(pinn.s.dtype), near(pinn.s.dtype)
        self.n_grid, self.n_near = len(xg), len(xn)
        # Contiguous shards (torch.tensor_split: sizes differ by at most 1).
        self.xg = xg.tensor_split(world)[rank].contiguous()
        self.xn = xn.tensor_split(world)[rank].contiguous()

    def forward(self):
        return self.world * self.pinn.partial_loss(
            self.jet, self.xg, self.xn, self.rank == 0, self.n_grid,
            self.n_near)
