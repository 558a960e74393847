#!/usr/bin/env python3
"""PyTorch nested-autograd baseline of ntp-layers-bench: typed layers.

Builds the network ntp-layers-bench compiles (a plain MLP, adaptive slopes,
residual layers, a Fourier-feature embedding, or a modified MLP) from
ntp.torch's modules (plain torch; no ntp library is loaded) and times the
jet d^k/dt^k f(x + t v), k = 0..n, by nesting torch.autograd.grad n times
along the direction v (what PINN code does today), on the CPU with the given
thread count. Prints one JSON object per order: {"order", "dtype", "fwd_ms",
"total_ms", "reps"} (the median of at least 3 calls within the budget, or
the faster of 2 calls when one takes longer than the budget); "fwd" is the nested evaluation producing every order
0..n, "total" adds the backward of the sum of all orders with respect to the
parameters (a training step), as benchmarks/torch_nested.py does for
ntp-bench.
"""
import argparse
import json
import os
import statistics
import sys
import time

try:
    import torch
    from torch import nn
except ImportError:
    print(json.dumps({"error": "torch is not installed"}))
    sys.exit(0)

# ntp.torch_modules from this checkout (pure torch; loads no library).
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), "python"))
from ntp.torch_modules import (AdaptiveActivation, FourierFeatures,  # noqa
                               ModifiedMLP, Residual)


def build(layers, fourier, slopes, residual, modified, dtype):
    """The network of ntp-layers-bench's spec: tanh, slopes/residual one
    entry per hidden layer, `fourier` frequencies (0: none)."""
    mods, width = [], layers[0]
    if fourier:
        mods.append(FourierFeatures(layers[0], fourier))
        width = 2 * fourier
    if modified:
        mods.append(ModifiedMLP([width] + layers[1:], nn.Tanh()))
        return nn.Sequential(*mods).to(dtype)
    hidden = len(layers) - 2
    for l in range(hidden + 1):
        lin = nn.Linear(width, layers[l + 1])
        width = layers[l + 1]
        if l == hidden:
            mods.append(lin)
            break
        kind = slopes[l] if slopes else "none"
        act = nn.Tanh() if kind == "none" else AdaptiveActivation(
            nn.Tanh(), kind, width)
        if residual and residual[l]:
            mods.append(Residual(lin, act))
        else:
            mods += [lin, act]
    return nn.Sequential(*mods).to(dtype)


def nested(model, x, v, order):
    t = torch.zeros(x.shape[0], 1, dtype=x.dtype, requires_grad=True)
    y = model(x + t * v)
    outs = [y]
    for _ in range(order):
        (y,) = torch.autograd.grad(y.sum(), t, create_graph=True)
        outs.append(y)
    return outs


def total(model, x, v, order):
    outs = nested(model, x, v, order)
    loss = sum(o.sum() for o in outs)
    model.zero_grad(set_to_none=True)
    loss.backward()


def median_ms(fn, budget_s):
    t0 = time.perf_counter()
    fn()  # warm-up
    first = (time.perf_counter() - t0) * 1e3
    if first > 1e3 * budget_s:  # high orders take seconds: one more call
        t0 = time.perf_counter()
        fn()
        return min(first, (time.perf_counter() - t0) * 1e3), 2
    times = []
    start = time.perf_counter()
    while len(times) < 3 or (time.perf_counter() - start < budget_s
                             and len(times) < 50):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times), len(times)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--layers", default="2,32,32,32,1")
    p.add_argument("--fourier", type=int, default=0)
    p.add_argument("--slopes", default="", help="none/layer/neuron, "
                   "comma-separated, one per hidden layer")
    p.add_argument("--residual", default="", help="0/1 per hidden layer")
    p.add_argument("--modified", action="store_true")
    p.add_argument("--orders", default="1,2,3,4,5,6,7,8,9")
    p.add_argument("--dtype", default="f64", choices=["f32", "f64"])
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--budget-s", type=float, default=1.0,
                   help="time budget per order (at least 3 repetitions)")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    dtype = torch.float32 if a.dtype == "f32" else torch.float64
    layers = [int(w) for w in a.layers.split(",")]
    slopes = [s for s in a.slopes.split(",") if s]
    residual = [s == "1" for s in a.residual.split(",") if s]
    model = build(layers, a.fourier, slopes, residual, a.modified, dtype)
    g = torch.Generator().manual_seed(1)
    x = (torch.rand(a.batch, layers[0], generator=g) * 2 - 1).to(dtype)
    v = torch.full((layers[0],), 1.0 / layers[0] ** 0.5, dtype=dtype)
    for order in [int(o) for o in a.orders.split(",")]:
        fwd, reps = median_ms(lambda: nested(model, x, v, order), a.budget_s)
        tot, _ = median_ms(lambda: total(model, x, v, order), a.budget_s)
        print(json.dumps({"order": order, "dtype": a.dtype, "fwd_ms": fwd,
                          "total_ms": tot, "reps": reps,
                          "torch": torch.__version__}), flush=True)


if __name__ == "__main__":
    main()
